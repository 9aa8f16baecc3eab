"""Compiling expressions into straight-line programs.

For a list of root expressions and one input signature (each input's shape
and dtype), :class:`Program` schedules the DAG (:func:`ricci.plan.schedule`),
infers every value's shape and dtype, lowers each contraction to pairwise
kernels (:mod:`ricci.engine.lower`), element-wise and linear-algebra nodes to
their numpy calls, and emits and compiles the Python source
(:mod:`ricci.engine.emit`). It records exactly (Python ints) the FLOPs and
the largest tensor it will allocate, so a call over the memory budget is
refused before anything is allocated. dtypes follow numpy's promotion over
inputs, constants and coefficients (Python numbers are weak, as in numpy).

>>> import numpy as np, ricci
>>> A, B = ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4))
>>> p = Program((ricci.einsum("ij,jk->ik", A, B),), (("A", (2, 3), "float64"), ("B", (3, 4), "float64")))
>>> print(p.source)
def program(x0, x1):
    # x0: input 'A' (2, 3) float64
    # x1: input 'B' (3, 4) float64
    t0 = x0 @ x1  # ab,bc->ac
    return [t0]
"""
import gc

import numpy as np
from opt_einsum.paths import linear_to_ssa

from ..errors import DtypeError, SingularMatrixError
from ..expr import Add, Apply, Constant, Delta, Tensor, Zeros
from ..plan import schedule
from .emit import Builder
from .lower import _transposed, _tuple, contract_pair, reduce_alone
from .paths import pair_flops, plan_path

NON_HOLOMORPHIC = frozenset({"abs", "relu", "sign", "step"})
LINALG = frozenset({"inv", "solve"})


def _size(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _describe(node, limit=80):
    """A one-line description of a node for error messages."""
    if isinstance(node, Tensor):
        return f"Tensor {node.name!r}"
    try:
        text = " ".join(str(node).split())
    except Exception:  # noqa: BLE001 (a description must never fail)
        text = node.kind
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _literal(b, x):
    """Source text of a Python number (exact: repr), binding non-finite values as constants."""
    if isinstance(x, complex):
        return repr(x) if np.isfinite(x) else b.bind(x, "k")
    if isinstance(x, (bool, np.bool_)):
        return repr(bool(x))
    if isinstance(x, (int, np.integer)):
        return repr(int(x))
    x = float(x)
    return repr(x) if np.isfinite(x) else b.bind(x, "k")


def _guarded(evaluate, node):
    """A linear-algebra kernel that turns numpy's LinAlgError into a ricci error naming the operand."""

    def kernel(values, params):
        try:
            return evaluate(values, params)
        except Exception as exc:  # numpy's LinAlgError, torch's and cupy's equivalents
            if "LinAlgError" not in type(exc).__name__ and not isinstance(exc, np.linalg.LinAlgError):
                raise
            raise SingularMatrixError(
                f"{node.primitive.name}: the matrix {_describe(node.children[0])} is singular ({exc})"
            ) from None

    kernel.__name__ = node.primitive.name
    return kernel


class Program:
    """The compiled program for ``roots`` at one input signature.

    ``signature`` is a tuple of ``(name, shape, dtype)`` for every input the
    roots need, sorted by name; the function takes the arrays in that order.
    Attributes: ``fn`` (the compiled function returning a list), ``source``,
    ``flops``, ``largest`` (``(bytes, elements, shape, description, is_result, node)``).
    """

    def __init__(self, roots, signature, optimize="auto", xp=np):
        enabled = gc.isenabled()
        gc.disable()  # building a program makes many small objects and no cycles worth collecting
        try:
            self._build(roots, signature, optimize, xp)
        finally:
            if enabled:
                gc.enable()

    def _build(self, roots, signature, optimize, xp):
        self.roots, self.signature, self.optimize = tuple(roots), tuple(signature), optimize
        params = [f"x{i}" for i in range(len(signature))]
        self.b = b = Builder(params, xp)
        self.flops = 0
        self.largest = (0, 0, (), None, False, None)
        self._eyes = {}
        self._root_set = set(self.roots)
        self._pairs = {}  # pairwise products computed so far, for reuse
        self._pair_keys = {}  # value name -> its key in _pairs
        self._node_names = set()  # names holding a node's value (not a network's inner temporary)
        self._shared = set()  # names of values reused by several networks: never written in place
        by_name = {name: (param, shape, np.dtype(dtype)) for param, (name, shape, dtype) in zip(params, signature)}
        floats = [d for _, _, d in by_name.values() if d.kind in "fc"]
        self.default_dtype = np.result_type(*floats) if floats else np.dtype(np.float64)
        values = {}
        self._current = None
        steps = schedule(self.roots)
        self.uses = {}
        for _, _, deps in steps:
            for d in deps:
                self.uses[d] = self.uses.get(d, 0) + 1
        for r in self.roots:
            self.uses[r] = self.uses.get(r, 0) + 1
        for node, net, _deps in steps:
            self._current = node
            if isinstance(node, Tensor):
                param, shape, dtype = by_name[node.name]
                values[node] = b.input(param, shape, dtype)
            elif isinstance(node, Constant):
                values[node] = b.constant(node.value)
            elif isinstance(node, Zeros):
                zero = b.bind(np.zeros((), self.default_dtype), "z")
                values[node] = b.assign(f"np.broadcast_to({zero}, {_tuple(node.shape) if node.shape else '()'})",
                                        [], node.shape, self.default_dtype, owner="extern")
            elif isinstance(node, Delta):
                values[node] = self._eye(node.n, self.default_dtype)
            elif isinstance(node, Apply):
                values[node] = self._apply(node, [values[c] for c in node.children])
            elif isinstance(node, Add):
                values[node] = self._add(node, [values[c] for _, c in node.terms])
            else:
                values[node] = self._contract(node, net, values)
            self._node_names.add(values[node].name)
        self._current = None
        outputs = self._outputs([values[r] for r in self.roots])
        b.header = [f"{param}: input {name!r} {tuple(shape)} {np.dtype(dtype).name}"
                    for param, (name, shape, dtype) in zip(params, signature)]
        self.dtypes = tuple(v.dtype for v in outputs)
        self.fn, self._source = b.compile(outputs)
        if not callable(self._source):
            self.b = None  # the builder is not needed once compiled

    @property
    def source(self):
        """The program's text (deterministic for the same roots and signature)."""
        if callable(self._source):
            self._source, self.b = self._source(), None
        return self._source

    # -- bookkeeping ----------------------------------------------------------
    def _note(self, value, description=None, node=None):
        """Record an allocation: the largest one is what the memory budget checks."""
        nbytes = value.size * value.dtype.itemsize
        if nbytes > self.largest[0] or (nbytes == self.largest[0] and self.largest[3] is None):
            node = node if node is not None else self._current
            self.largest = (nbytes, value.size, value.shape, description, False, node)
        return value

    def _eye(self, n, dtype):
        b = self.b
        dt = b.bind(np.dtype(dtype), "dt")
        value = b.assign(f"np.eye({n}, dtype={dt})", [], (n, n), dtype, comment="δ")
        return self._note(value, f"the identity δ of size {n}×{n}")

    # -- nodes ------------------------------------------------------------------
    def _apply(self, node, args):
        b, prim = self.b, node.primitive
        if prim.name in NON_HOLOMORPHIC and any(a.dtype.kind == "c" for a in args):
            raise DtypeError(
                f"{prim.name} is not holomorphic, so it has no complex derivative; its argument "
                f"{_describe(node.children[0])} is complex ({args[0].dtype}). Use real inputs"
            )
        function = getattr(prim, "function", None)
        if function is not None and len(args) == 1:  # element-wise
            with np.errstate(all="ignore"):
                dtype = np.asarray(prim.evaluate([np.ones(1, args[0].dtype)], node.params)).dtype
            if prim.name == "power" and not (node.params[0] < 0 and args[0].dtype.kind in "iub"):
                text = f"{args[0].name} ** {_literal(b, node.params[0])}"
            elif isinstance(function, np.ufunc):
                text = f"np.{function.__name__}({args[0].name})"
            else:
                text = f"{b.bind(function, prim.name + '_')}({', '.join([args[0].name] + [_literal(b, p) for p in node.params])})"
        else:
            dtype = np.result_type(*[a.dtype for a in args])
            if dtype.kind not in "fc":
                dtype = np.dtype(np.float64)
            kernel = _guarded(prim.evaluate, node) if prim.name in LINALG else prim.evaluate
            name = b.bind(kernel, prim.name + "_")
            text = f"{name}([{', '.join(a.name for a in args)}], {node.params!r})"
        self.flops += _size(node.shape) * max(1, len(args))
        return self._note(b.assign(text, args, node.shape, dtype))

    def _add(self, node, values):
        b = self.b
        coefs = [coef for coef, _ in node.terms]
        dtype = np.result_type(*[v.dtype for v in values], *coefs, node.offset)
        if len(values) == 1 and not node.offset and self._private(node.terms[0][1], values[0], dtype):
            self._written(values[0])
            b.inplace(f"{values[0].name} *= {_literal(b, coefs[0])}", values)  # a scaled term used only here
            self.flops += _size(node.shape)
            return values[0]
        if not values:  # a constant offset of the node's shape
            dt = b.bind(dtype, "dt")
            text = f"np.full({_tuple(node.shape) if node.shape else '()'}, {_literal(b, node.offset)}, dtype={dt})"
            return self._note(b.assign(text, [], node.shape, dtype))
        common = coefs[0]
        if len(values) >= 2 and not node.offset and common not in (1, -1) and all(c == common for c in coefs) \
                and all(type(c) is type(common) for c in coefs):
            # c·a + c·b + … = c·(a + b + …): one multiplication instead of one per term
            total, writable = self._sum(node, values, [1] * len(values), 0)
            if writable and np.result_type(total.dtype, common) == total.dtype and total.shape:
                b.inplace(f"{total.name} *= {_literal(b, common)}", [total])
                return total
            return self._note(b.assign(f"{total.name} * {_literal(b, common)}", [total], node.shape, dtype))
        return self._sum(node, values, coefs, node.offset)[0]

    def _sum(self, node, values, coefs, offset):
        """``offset + Σ coef·value``: accumulated in place into a fresh first term, else one expression.

        Returns ``(value, whether the program may write it in place)``.
        """
        b = self.b
        dtype = np.result_type(*[v.dtype for v in values], *coefs, offset)
        pieces = []
        for coef, v in zip(coefs, values):
            if coef == 1:
                pieces.append(("+", v.name))
            elif coef == -1:
                pieces.append(("-", v.name))
            elif isinstance(coef, (int, float)) and coef < 0:
                pieces.append(("-", f"{_literal(b, -coef)} * {v.name}"))
            else:
                pieces.append(("+", f"{_literal(b, coef)} * {v.name}"))
        if offset:
            off = offset
            negative = isinstance(off, (int, float)) and off < 0
            pieces.append(("-" if negative else "+", _literal(b, -off if negative else off)))
        if pieces[0][0] == "-":  # a - b rather than -b + a: one pass fewer
            first_plus = next((k for k, (sign, _) in enumerate(pieces) if sign == "+"), None)
            if first_plus is not None:
                pieces.insert(0, pieces.pop(first_plus))
        self.flops += _size(node.shape) * max(1, len(values))
        terms = [(c, child) for c, child in node.terms]
        first = terms[0][1]
        if len(values) >= 2 and pieces[0] == ("+", values[0].name) and self._private(first, values[0], dtype):
            # accumulate into the first term's fresh array: no temporaries
            self._written(values[0])
            for sign, piece in pieces[1:]:
                b.inplace(f"{values[0].name} {sign}= {piece}", [values[0]] + [v for v in values[1:] if v.name in piece])
            return values[0], True
        sign, head = pieces[0]
        text = head if sign == "+" else f"-{head}"
        for sign, piece in pieces[1:]:
            text += f" {sign} {piece}"
        if len(pieces) == 1:  # a scaled term alone, or a term plus nothing: make a fresh array
            text = f"np.array({text})" if text == values[0].name else text
        return self._note(b.assign(text, values, node.shape, dtype)), True

    def _private(self, child, value, dtype):
        """Whether ``value`` (of ``child``) may be overwritten: fresh, ours, used once, of ``dtype``."""
        if not self.b.numpy:
            return False  # other backends: no writes (immutable, lazy or autograd-tracked arrays)
        base = value.base()
        if base == "extern" or (base is not value and base.name in self._node_names):
            return False  # an input's memory, or a view of another node's value
        return (self.uses.get(child, 0) == 1 and child not in self._root_set and value.dtype == dtype
                and value.shape != () and value.name not in self._shared and base.name not in self._shared)

    def _pair(self, left, right, keep, sizes, letter, want=None):
        """A pairwise product, reused when the same two values meet the same way again.

        Networks flattened from one expression often share a pairwise product
        (the cotangent of a shared layer feeds the gradients of its weight and
        of its input): it is computed once. Returns ``((value, labels), fresh)``.
        """
        (x, lx), (y, ly) = left, right
        canon = {}
        for lab in lx + ly:
            canon.setdefault(lab, len(canon))
        key = (x.name, tuple(canon[lab] for lab in lx), y.name, tuple(canon[lab] for lab in ly),
               tuple(sorted(canon[lab] for lab in canon if lab in keep)))
        hit = self._pairs.get(key)
        if hit is not None:
            value, labels = hit
            back = {v: k for k, v in canon.items()}
            self._shared.add(value.name)
            return (value, tuple(back[lab] for lab in labels)), False
        value, labels = contract_pair(self.b, left, right, keep, sizes, letter, want)
        self._pairs[key] = (value, tuple(canon[lab] for lab in labels))
        self._pair_keys[value.name] = key
        return (value, labels), True

    def _written(self, value):
        """``value`` is about to be overwritten in place: it can no longer be reused."""
        base = value.base()
        if base != "extern":
            key = self._pair_keys.pop(base.name, None)
            if key is not None:
                self._pairs.pop(key, None)

    def _delta_operand(self, node, dtype):
        key = (node.n, np.dtype(dtype).str)
        if key not in self._eyes:
            self._eyes[key] = self._eye(node.n, dtype)
        return self._eyes[key]

    def _contract(self, node, net, values):
        b, sizes = self.b, net.sizes
        plain = [values[f].dtype for f, _ in net.factors if not isinstance(f, Delta)]
        if not plain:
            dtype = self.default_dtype
        elif all(d == plain[0] for d in plain):
            dtype = plain[0]
        else:
            dtype = np.result_type(*plain)
        ops = [(self._delta_operand(f, dtype) if isinstance(f, Delta) else values[f], labs) for f, labs in net.factors]
        created = set()
        out = net.out
        carried = {lab for _, labs in ops for lab in labs}
        present = tuple(lab for lab in out if lab in carried)
        if not ops:
            dt = b.bind(np.result_type(self.default_dtype, net.scale), "dt")
            v = b.assign(f"np.full({_tuple(node.shape) if node.shape else '()'}, {_literal(b, net.scale)}, dtype={dt})",
                         [], node.shape, np.result_type(self.default_dtype, net.scale))
            return self._note(v)
        # reduce what each factor alone carries, then contract pairwise along the planned path
        counts = dict.fromkeys(out, 2)
        for _, labs in ops:
            for lab in labs:
                counts[lab] = counts.get(lab, 0) + 1
        reduced = []
        for i, (v, labs) in enumerate(ops):
            if len(set(labs)) == len(labs) and all(counts[lab] > 1 for lab in labs):
                reduced.append((v, labs))
                continue
            keep = set(out).union(*(set(l2) for j, (_, l2) in enumerate(ops) if j != i))
            nv, nl = reduce_alone(b, v, labs, keep)
            if nv is not v:
                created.add(nv.name)
                self.flops += v.size
                self._note(nv, "an intermediate")
            reduced.append((nv, nl))
        ops = reduced
        scale = net.scale
        if scale != 1 and len(ops) > 1:  # scale the smallest factor when that is cheaper than the result
            i = min(range(len(ops)), key=lambda k: ops[k][0].size)
            v, labs = ops[i]
            if v.size < _size(node.shape):
                nv = b.assign(f"{v.name} * {_literal(b, scale)}", [v], v.shape, np.result_type(v.dtype, scale))
                created.add(nv.name)
                self._note(nv, "an intermediate")
                ops[i] = (nv, labs)
                scale = 1
        path = plan_path([labs for _, labs in ops], present, sizes, self.optimize)
        letter = net.letters() if len(sizes) <= 26 and len(b.lines) < 20000 else None
        # Walk the path in static single assignment form, counting how many operands hold
        # each label, so each step costs its own size, not the network's.
        live = dict(enumerate(ops))
        holders = {}
        for _, labs in ops:
            for lab in set(labs):
                holders[lab] = holders.get(lab, 0) + 1
        out_set, next_id = set(out), len(ops)
        for i, j in (linear_to_ssa(path) if len(path) > 1 else path):
            a, c = live.pop(i), live.pop(j)
            la, lc = set(a[1]), set(c[1])
            keep = {lab for lab in la | lc
                    if lab in out_set or holders[lab] - (lab in la) - (lab in lc) > 0}
            self.flops += pair_flops(a[1], c[1], keep, sizes)
            new, fresh = self._pair(a, c, keep, sizes, letter, present if not live else None)
            if fresh:
                created.add(new[0].name)
                self._note(new[0], "an intermediate")
            for lab in la | lc:
                holders[lab] -= (lab in la) + (lab in lc)
            for lab in set(new[1]):
                holders[lab] += 1
            live[next_id] = new
            next_id += 1
        (v, labs), = live.values()
        if tuple(labs) != present:
            perm = [labs.index(lab) for lab in present]
            owner = v if v.owner != "extern" else "extern"
            v = b.assign(_transposed(v.name, perm, b.permute), [v], tuple(sizes[lab] for lab in present), v.dtype,
                         owner=owner)
        if scale != 1:
            target = np.result_type(v.dtype, scale)
            base = v.base()
            if (base != "extern" and base.name in created and base.name not in self._shared
                    and target == v.dtype and v.shape):
                self._written(v)
                b.inplace(f"{v.name} *= {_literal(b, scale)}", [v])
            else:
                v = b.assign(f"{v.name} * {_literal(b, scale)}", [v], v.shape, target)
                self._note(v)
        if len(present) != len(out):  # output indices no factor carries: a broadcast view
            index = ", ".join(":" if lab in carried else "None" for lab in out)
            v = b.assign(f"np.broadcast_to({v.name}[{index}], {_tuple(node.shape)})", [v], node.shape, v.dtype,
                         owner="extern")
        self._note(v)
        return v

    def _outputs(self, values):
        """The returned values: fresh arrays, none aliasing an input, a constant or another output."""
        b, outs, owners = self.b, [], set()
        for root, v in zip(self.roots, values):
            base = v.base()
            shared = base == "extern" or base.name in owners
            if shared:
                v = b.assign(f"np.array({v.name})", [v], v.shape, v.dtype)
            elif not v.shape:
                v = b.assign(f"np.asarray({v.name})", [v], v.shape, v.dtype, owner=v)
            owners.add(v.base().name)
            nbytes = v.size * v.dtype.itemsize
            if nbytes >= self.largest[0]:
                self.largest = (nbytes, v.size, v.shape, "the result", True, root)
            outs.append(v)
        return outs
