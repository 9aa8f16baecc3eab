"""Expression nodes: the tensor network DAG.

Every expression is an immutable, interned node, so building the same
expression twice gives the same object: shared subexpressions are shared
nodes, and identical terms of a sum are merged. The node kinds are

- :class:`Tensor` (a named input), :class:`Constant` (an array),
  :class:`Zeros` and :class:`Delta` (the identity matrix δ),
- :class:`Contract` (one einsum over child expressions; its labels are
  canonical integers),
- :class:`Add` (a linear combination of same-shape terms plus a constant),
- :class:`Apply` (a primitive function from :mod:`ricci.primitives`).

Simplification happens here, at construction: Kronecker deltas are
eliminated by merging index labels, zero terms vanish, scalar constants fold
into coefficients and identical terms are merged.

>>> import ricci
>>> x = ricci.Tensor("x", (3,))
>>> (x + x) is (2 * x)
True
"""
import hashlib
from hashlib import blake2b
import itertools
import numbers
import threading
import weakref
from _weakref import _remove_dead_weakref  # what WeakValueDictionary uses: drops a key only if its ref is dead

import numpy as np

from .dims import assumed, assumed_count, is_symbolic
from .errors import ArgumentError, OperandTypeError, ShapeError
from .operators import NumpyOperators, _is_scalar, _scalar  # noqa: F401 (re-exported)

_serial = itertools.count()
# key -> weak reference to the one node of that key (a WeakValueDictionary without its
# Python-level overhead: a dead node's callback removes its key, only while it is dead)
_interned_refs = {}
_lock = threading.RLock()  # guards interning and the name registry (construction from many threads)
_declared_names = set()  # every Tensor name ever declared: typo checks never depend on the GC
_NO_INPUTS = {}
_LAZY = None  # Expr._inputs of a big node: its inputs are collected on demand
_EAGER_LIMIT = 64  # nodes with more inputs than this collect them lazily (linear-size construction)


def _conflict(name, have, tensor):
    return ShapeError(
        f"two different Tensors named {name!r} meet in one expression, "
        f"with shapes {have.shape} and {tensor.shape}; give them different names"
    )


def _eager_inputs(children):
    """The merged input dicts of ``children``, or ``_LAZY`` when they are big or not at hand.

    Small expressions keep their inputs eagerly, so two Tensors of one name
    meeting in them are refused at construction; big ones defer the union
    (and the check) to :attr:`Expr.inputs`, so building stays O(1) per node.
    """
    dicts = []
    for child in children:
        d = child._inputs
        if d is _LAZY:
            return _LAZY
        if d:
            dicts.append(d)
    if not dicts:
        return _NO_INPUTS
    if len(dicts) == 1:
        return dicts[0] if len(dicts[0]) <= _EAGER_LIMIT else _LAZY
    if sum(map(len, dicts)) > _EAGER_LIMIT:
        return _LAZY
    return _union(dicts)


def _union(dicts):
    big = max(dicts, key=len)
    merged = None
    for d in dicts:
        if d is big:
            continue
        for name, tensor in d.items():
            have = (big if merged is None else merged).get(name)
            if have is None:
                if merged is None:
                    merged = dict(big)
                merged[name] = tensor
            elif have is not tensor:
                raise _conflict(name, have, tensor)
    return big if merged is None else merged


def _collect_inputs(roots):
    """Every input Tensor under ``roots`` by name (iterative; refuses two Tensors of one name)."""
    found, seen = {}, set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        d = node._inputs
        if d is _LAZY:
            cached = node.__dict__.get("_inputs_cache")
            if cached is None:
                stack.extend(node.children)
                continue
            d = cached
        for name, tensor in d.items():
            have = found.setdefault(name, tensor)
            if have is not tensor:
                raise _conflict(name, have, tensor)
    return found


def _merge_inputs(children):
    """Union of the input Tensors (name -> Tensor) of ``children``, refusing two Tensors of one name.

    >>> import ricci
    >>> a, b = ricci.Tensor("a", (2,)), ricci.Tensor("b", (2,))
    >>> sorted(_merge_inputs([a + b, a]))
    ['a', 'b']
    """
    dicts = [c._inputs for c in children]
    if any(d is _LAZY for d in dicts):
        return _collect_inputs(children)
    dicts = [d for d in dicts if d]
    return _union(dicts) if dicts else _NO_INPUTS


def _stable_text(part):
    """Deterministic text of a key (``repr`` keeps ``2`` and ``2.0`` apart)."""
    if type(part) is tuple:
        return _tuple_text(part)
    if isinstance(part, Expr):
        return part.fingerprint
    return repr(part)


def _tuple_text(part):
    """``_stable_text`` of a tuple: ``(a,b)``, with no recursion for the leaves (ints, strings, nodes)."""
    texts = []
    for p in part:
        kind = type(p)
        if kind is int or kind is str:
            texts.append(repr(p))
        elif kind is tuple:
            texts.append(_tuple_text(p))
        elif isinstance(p, Expr):
            texts.append(p.fingerprint)
        else:
            texts.append(repr(p))
    return "(" + ",".join(texts) + ")"


def _ints_text(values):
    """``_stable_text`` of a flat tuple of non-tuple, non-node values (labels, sizes)."""
    return "(" + ",".join(map(repr, values)) + ")"


def _typed(value):
    """A number (or a tuple of them) as an interning key: 2, 2.0 and True are different keys."""
    if isinstance(value, tuple):
        return tuple(_typed(v) for v in value)
    return (type(value).__name__, value)


def _fingerprint(key):
    """A content hash of a node, the same in every process (orders factors canonically)."""
    return _hash_text(_stable_text(key))


def _hash_text(text):
    return blake2b(text.encode(), digest_size=8).hexdigest()


def _find(key):
    """The live interned node of ``key``, or None."""
    ref = _interned_refs.get(key)
    return None if ref is None else ref()


class _Ref(weakref.ref):
    """A weak reference that knows its key (one GC-tracked object per node, no closure)."""

    __slots__ = ("key",)


def _forget(ref):
    """The callback of a dead node: drop its key (unless a new node took it meanwhile)."""
    _remove_dead_weakref(_interned_refs, ref.key)


def _intern(cls, key, children, shape, fingerprint_key=None, own_name=None, text=None, **attrs):
    """The one node of ``key``: looked up, or made complete and then published (thread-safe).

    ``own_name`` makes the node its own input (a Tensor); ``text``, when given, is
    ``_stable_text`` of the fingerprint key (callable: made only for a new node).
    """
    ref = _interned_refs.get(key)
    if ref is not None:
        node = ref()
        if node is not None:
            return node
    node = object.__new__(cls)
    node.shape = shape
    node.children = children
    if text is not None:
        node.fingerprint = _hash_text(text())
    else:
        node.fingerprint = _fingerprint(key if fingerprint_key is None else fingerprint_key)
    node._inputs = {own_name: node} if own_name is not None else (
        _eager_inputs(children) if children else _NO_INPUTS)
    for name, value in attrs.items():  # (setattr keeps them inline: no __dict__ object, one GC object less)
        setattr(node, name, value)
    with _lock:  # publish only complete nodes, and only one per key
        ref = _interned_refs.get(key)
        if ref is not None:
            existing = ref()
            if existing is not None:
                return existing
        node.serial = next(_serial)
        ref = _Ref(node, _forget)
        ref.key = key
        _interned_refs[key] = ref
        if own_name is not None:
            _declared_names.add(own_name)
    return node


class Expr(NumpyOperators):
    """A symbolic tensor expression: a node of the tensor-network DAG.

    Build expressions with :class:`Tensor`, :func:`ricci.einsum`, element-wise
    functions and arithmetic; derive with :func:`ricci.grad` and friends;
    evaluate with :meth:`evaluate` or by calling the expression.

    >>> import numpy as np, ricci
    >>> A = ricci.Tensor("A", (2, 2))
    >>> e = ricci.einsum("ij,ij->", A, A)
    >>> float(e(A=np.eye(2)))
    2.0
    """

    __slots__ = ("shape", "children", "serial", "fingerprint", "_inputs", "__weakref__", "__dict__")
    kind = "expr"
    # As a factor of a contraction, no simplification pass of contract() changes it
    # (not a delta, zeros, 0-d constant, scaled term, product or hoistable contraction):
    # contract() skips its passes when every factor is plain.
    _plain = True

    @property
    def inputs(self):
        """The input Tensors of the expression, by name (a dict; do not modify it).

        >>> import ricci
        >>> sorted(ricci.einsum("i,i->", ricci.Tensor("a", (2,)), ricci.Tensor("b", (2,))).inputs)
        ['a', 'b']
        """
        d = self._inputs
        if d is not _LAZY:
            return d
        cached = self.__dict__.get("_inputs_cache")
        if cached is None:
            cached = _collect_inputs(self.children)
            self.__dict__["_inputs_cache"] = cached
        return cached

    @property
    def ndim(self):
        """Number of dimensions (free indices)."""
        return len(self.shape)

    @property
    def size(self):
        """Number of elements of the value (a :class:`ricci.ShapeError` for a symbolic shape).

        >>> import ricci
        >>> ricci.Tensor("size_doc", (2, 3)).size
        6
        """
        if is_symbolic(self.shape):
            raise ShapeError(
                f"an expression of shape {self.shape} has no number of elements until its named "
                "dimensions are bound (at evaluation); use ricci.symbolic.count(shape) for it as an expression"
            )
        return int(np.prod(self.shape, dtype=np.int64))

    # -- evaluation -----------------------------------------------------
    def evaluate(self, inputs=None, *, optimize="auto", memory_budget=None, structured=False, sizes=None,
                 **named_inputs):
        """Evaluate to a numpy array.

        ``inputs`` maps Tensor names to arrays (keywords work too);
        ``optimize`` is any opt_einsum path optimizer name; ``structured=True``
        returns Jacobians/Hessians with delta structure factored
        (:class:`ricci.Structured`); ``sizes`` gives sizes of named dimensions
        that no input has (:mod:`ricci.symbolic`).

        >>> import numpy as np, ricci
        >>> x = ricci.Tensor("x", (3,))
        >>> ricci.einsum("i,i->", x, x).evaluate({"x": np.arange(3.0)})
        array(5.)
        """
        from .evaluate import evaluate

        return evaluate(
            self, inputs, optimize=optimize, memory_budget=memory_budget, structured=structured, sizes=sizes,
            **named_inputs
        )

    def __call__(self, inputs=None, **named_inputs):
        return self.evaluate(inputs, **named_inputs)

    def cost(self, inputs=None, *, optimize="auto", sizes=None):
        """The planned cost of evaluating: FLOPs and the largest intermediate.

        ``inputs`` may map names to arrays or shapes (checked against the
        declared shapes; arrays also set the dtype, float64 otherwise).

        >>> import ricci
        >>> A, B = ricci.Tensor("A", (10, 20)), ricci.Tensor("B", (20, 30))
        >>> ricci.einsum("ij,jk->ik", A, B).cost().largest_intermediate
        300
        """
        from .evaluate import cost

        return cost([self], inputs, optimize=optimize, sizes=sizes)

    # -- views ----------------------------------------------------------
    def network(self):
        """The top-level tensor network as a ``networkx.MultiGraph``.

        >>> import ricci
        >>> A, B = ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4))
        >>> sorted(d["kind"] for _, d in ricci.einsum("ij,jk->ik", A, B).network().nodes(data=True))
        ['input', 'input', 'open', 'open']
        """
        from .network import network

        return network(self)

    def to_einsum(self, name=None, imports=True):
        """The expression as a short program of einsum calls that runs under numpy
        (:func:`ricci.notation.to_einsum`; ``imports=False``: the bare program ``str`` shows)."""
        from .notation import to_einsum

        return to_einsum(self, name=name, imports=imports)

    def to_latex(self, name="out"):
        """Index notation with the summation convention, as LaTeX, the free indices on ``name``
        (:func:`ricci.notation.to_latex`)."""
        from .notation import to_latex

        return to_latex(self, name=name)

    def to_matrix(self, names=None, strict=False, latex=False):
        r"""Conventional matrix notation where possible; ``names`` names intermediates, ``latex``
        writes LaTeX (:func:`ricci.notation.to_matrix`).

        >>> import ricci
        >>> A, B = ricci.Tensor("Atmdoc", (2, 3)), ricci.Tensor("Btmdoc", (3, 4))
        >>> print((A @ B).to_matrix(), "|", (A @ B).to_matrix(latex=True))
        Atmdoc Btmdoc | \mathrm{Atmdoc} \mathrm{Btmdoc}
        """
        from .notation import to_matrix

        return to_matrix(self, names=names, strict=strict, latex=latex)

    def to_dot(self):
        """Graphviz DOT text of the tensor-network drawing (see :mod:`ricci.draw`)."""
        from .draw import to_dot

        return to_dot(self)

    def _repr_latex_(self):
        from .notation import to_latex

        return f"$${to_latex(self)}$$"

    def __str__(self):
        from .printing import to_text

        return to_text([self])

    def __repr__(self):
        """One line, as numpy's reprs are: ``<ricci.Contract shape=(4, 3): einsum("ab,bc->ac", A, B)>``;
        a long or multi-line text is cut (``str(expr)`` prints it whole)."""
        text = str(self)
        if "\n" in text or len(text) > 120:
            lines = text.splitlines()
            head = lines[-1] if len(lines[-1]) <= 100 else lines[-1][:97] + "..."
            more = f" (+{len(lines) - 1} line{'s' if len(lines) > 2 else ''}; print() shows all)" if len(lines) > 1 else ""
            text = head + more
        return f"<ricci.{type(self).__name__} shape={self.shape}: {text}>"

    def __bool__(self):
        raise TypeError("the truth value of a ricci expression is undefined; evaluate it first")


def as_expr(value, what="operand"):
    """Return ``value`` as an expression: Exprs pass, arrays and numbers become Constants."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, (np.ndarray, numbers.Number, list, tuple)) and not isinstance(value, (bool, np.bool_)):
        return Constant(value, what)
    raise OperandTypeError(
        f"{what} is a {type(value).__name__}; expected a ricci expression, a numpy array or a number"
    )


# -- leaves ---------------------------------------------------------------
def _check_shape(shape, what):
    """A shape as a tuple of dimensions: non-negative Python ints (not bools) or names.

    A name (a string that is a Python identifier, such as ``"batch"``) is a symbolic
    dimension, bound at evaluation (see :mod:`ricci.symbolic`).

    >>> _check_shape((2, np.int64(3)), "x"), _check_shape(("batch", 3), "x")
    ((2, 3), ('batch', 3))
    >>> try:
    ...     _check_shape((2.5,), "x")
    ... except ShapeError as error:
    ...     print(error)
    shape of x has a non-integer entry 2.5 (of type float) at position 0; dimensions are non-negative ints or names such as 'batch'
    """
    if not isinstance(shape, (tuple, list)):
        raise ShapeError(f"shape of {what} must be a tuple of integers such as (3,) or (2, 3), "
                         f"got {type(shape).__name__} {shape!r}")
    dims = []
    for pos, d in enumerate(shape):
        if isinstance(d, str):
            if not d.isidentifier():
                raise ShapeError(f"shape of {what} has the dimension name {d!r} at position {pos}; a named "
                                 "dimension must be a Python identifier such as 'batch'")
            dims.append(d)
            continue
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise ShapeError(f"shape of {what} has a non-integer entry {d!r} (of type {type(d).__name__}) "
                             f"at position {pos}; dimensions are non-negative ints or names such as 'batch'")
        if d < 0:
            raise ShapeError(f"shape of {what} has a negative dimension {int(d)} at position {pos}: {tuple(shape)}")
        dims.append(int(d))
    return tuple(dims)


class Tensor(Expr):
    """A named symbolic input of a fixed shape.

    The name is a non-empty string, the shape a tuple of non-negative ints and
    dimension names (``("batch", 10)``: a symbolic dimension, the same size
    wherever the name appears, bound from the input arrays at evaluation).

    >>> import ricci
    >>> W = ricci.Tensor("W", (4, 3))
    >>> W.shape, W.name
    ((4, 3), 'W')
    """

    kind = "input"

    def __new__(cls, name, shape):
        if not isinstance(name, str) or not name:
            raise ArgumentError(f"a Tensor name must be a non-empty string, got {name!r}")
        shape = _check_shape(shape, f"Tensor {name!r}")
        return _intern(cls, ("tensor", name, shape), (), shape, own_name=name, name=name)


def tensor_name_exists(name):
    """Whether a Tensor of this name was ever declared (in this process; never forgotten).

    >>> import ricci
    >>> _ = ricci.Tensor("declared_once", (1,))
    >>> tensor_name_exists("declared_once"), tensor_name_exists("never_declared_anywhere")
    (True, False)
    """
    return name in _declared_names


def declared_names():
    """A snapshot of every Tensor name declared so far (for did-you-mean suggestions)."""
    with _lock:
        return frozenset(_declared_names)


class Constant(Expr):
    """A constant array (copied at construction, so later edits do not leak in).

    ``name``, a non-empty string, is how printers and drawings show the constant
    (``Y`` instead of ``C0``); it is part of the node's identity: equal values with
    different names, or with and without a name, are different nodes (equal values
    with the same name, or both unnamed, are one). ``what`` describes the value in
    error messages. A named 0-d constant that is a factor of a product, or the only
    term of a sum, is folded into the coefficient like any number (its name is gone).
    Ragged lists and non-numeric arrays are refused with :class:`ricci.OperandTypeError`.

    >>> import numpy as np, ricci
    >>> Y = ricci.Constant(np.ones((2, 3)), name="Y")
    >>> Y.name, Y is ricci.Constant(np.ones((2, 3)), name="Y"), Y is ricci.Constant(np.ones((2, 3)))
    ('Y', True, False)
    >>> print(ricci.einsum("ij,ij->", ricci.Tensor("X", (2, 3)), Y))
    Y = <constant (2, 3) float64>
    einsum("ab,ab->", X, Y)
    """

    kind = "constant"

    def __new__(cls, value, what="constant", *, name=None):
        if name is not None and (not isinstance(name, str) or not name):
            raise ArgumentError(f"a Constant name must be a non-empty string, got {name!r}")
        if name is not None and what == "constant":
            what = f"constant {name!r}"
        try:
            array = np.array(value)
        except (ValueError, TypeError) as error:  # ragged nesting, unconvertible objects
            raise OperandTypeError(f"{what} is not a rectangular numeric array: {error}") from None
        if array.dtype.kind not in "biufc":
            raise OperandTypeError(f"{what} has dtype {array.dtype}; constants must be numeric arrays")
        if array.dtype.kind == "b":
            array = array.astype(np.float64)
        array.setflags(write=False)
        # Equal values are one node, so an expression built twice with np.ones(m) shares its work;
        # a name is part of the key (two names are two nodes, so neither name is lost).
        content = ("constant", array.shape, array.dtype.str, hashlib.blake2b(array.tobytes()).hexdigest())
        if name is not None:
            content += (name,)
        existing = _find(content)
        if existing is not None and not np.array_equal(existing.value, array):  # a hash collision
            content = ("constant", id(array)) + (() if name is None else (name,))
        return _intern(cls, content, (), array.shape, value=array, name=name, _plain=array.ndim != 0)


class Zeros(Expr):
    """The all-zero tensor of a shape (what a derivative of a constant is)."""

    kind = "zeros"
    _plain = False

    def __new__(cls, shape):
        shape = tuple(shape)
        return _intern(cls, ("zeros", shape), (), shape)


class Delta(Expr):
    """The identity matrix δ_ij of size n; it renames an index and simplification removes it."""

    kind = "delta"
    _plain = False

    def __new__(cls, n):
        node = _deltas.get(n)
        if node is None:
            node = _deltas[n] = _intern(cls, ("delta", n), (), (n, n), n=n)
        return node


_deltas = {}  # n -> Delta(n), kept alive: every derivative uses and drops a few (one per size)


# -- contraction ----------------------------------------------------------
class Contract(Expr):
    """One einsum over child expressions.

    ``factors`` is a tuple of ``(child, labels)`` and ``out`` the output
    labels; labels are integers numbered in order of first appearance (output
    first), so two contractions that differ only by index names are one node.
    ``sizes[label]`` is the dimension of each label.
    """

    kind = "contract"


def _fold_scalars(factors):
    """Pull scalars out of the factors: 0-d constants and the coefficients of scaled terms.

    Returns ``(scale, factors)``; ``(-X)·Y`` and ``X·(-Y)`` both become ``-(X·Y)``.
    """
    scale, kept = 1, []
    for child, labels in factors:
        if isinstance(child, Add) and child.offset == 0 and len(child.terms) == 1:
            coef, child = child.terms[0]
            scale = scale * coef
        if isinstance(child, Constant) and child.value.ndim == 0:
            scale = scale * child.value.item()
        else:
            kept.append((child, labels))
    return scale, kept


def _is_product(node):
    """A contraction that sums nothing (a Hadamard or outer product, or a diagonal)."""
    return isinstance(node, Contract) and node._product  # noted at construction (_make_contract)


def _inline_products(factors, out, dims):
    """Splice child products into this network: they sum nothing, so no work is repeated
    beyond element-wise multiplication, and a·(b·c) and (a·b)·c become one node.

    Returns ``(scale, factors)``: an index a product only broadcasts (no factor of it
    carries it), that no factor here carries either and that is summed, is its size.
    """
    for c, _ in factors:
        if not c._plain and isinstance(c, Contract) and c._product:
            break
    else:
        return 1, factors
    result, broadcast = [], []
    for child, labels in factors:
        if _is_product(child):
            mapping = dict(zip(child.out, labels))
            carried = set()
            for c, labs in child.factors:
                result.append((c, tuple([mapping[lab] for lab in labs])))
                carried.update(labs)
            broadcast.extend(mapping[lab] for lab in child.out if lab not in carried)
        else:
            result.append((child, labels))
    scale = 1
    if broadcast:
        carried = {lab for _, labs in result for lab in labs}
        for lab in dict.fromkeys(broadcast):
            if lab not in carried and lab not in out:  # summed over a broadcast: its size
                if type(dims[lab]) is str:
                    from .symbolic import Size

                    result.append((Size(dims[lab]), ()))
                else:
                    scale *= dims[lab]
    return scale, result


def _hoistable(node):
    """A contraction holding deltas, or nothing at all (a pure broadcast)."""
    return isinstance(node, Contract) and node._hoistable  # noted at construction (_make_contract)


def _hoist(out, factors, dims):
    """Pull deltas (and pure broadcasts) out of child contractions into this one.

    A child ``core ⊗ δ`` becomes the factor ``core`` (one shared node) plus
    the deltas relabelled to this network, so deltas always float to the top
    where they can be merged away or, in a Jacobian, kept as its structure.
    Returns ``(scale, factors)``.
    """
    for child, _ in factors:
        if not child._plain and (_hoistable(child) or (
                isinstance(child, Add) and child.offset == 0 and len(child.terms) == 1
                and _hoistable(child.terms[0][1]))):
            break
    else:
        return 1, factors  # nothing to hoist
    result, scale, routed = [], 1, set()
    for child, labels in factors:
        coef, inner = 1, child
        if isinstance(child, Add) and child.offset == 0 and len(child.terms) == 1 and _hoistable(child.terms[0][1]):
            coef, inner = child.terms[0]
        if not _hoistable(inner):
            result.append((child, labels))
            continue
        scale *= coef
        routed.update(labels)
        mapping, tag = dict(zip(inner.out, labels)), object()
        name = lambda lab: mapping[lab] if lab in mapping else (tag, lab)  # noqa: E731
        for lab, dim in enumerate(inner.sizes):
            dims.setdefault(name(lab), dim)
        plain = [(c, labs) for c, labs in inner.factors if not isinstance(c, Delta)]
        deltas = [(c, labs) for c, labs in inner.factors if isinstance(c, Delta)]
        if plain:
            carried = {lab for _, labs in plain for lab in labs}
            in_deltas = {lab for _, labs in deltas for lab in labs}
            core_out = tuple(lab for lab in inner.out if lab in carried or lab not in in_deltas)
            core = contract(core_out, plain, dict(enumerate(inner.sizes)))
            result.append((core, tuple(name(lab) for lab in core_out)))
        result.extend((c, tuple(name(lab) for lab in labs)) for c, labs in deltas)
    carried = {lab for _, labs in result for lab in labs}
    for lab in routed:
        if lab not in carried and lab not in out:  # summed over a broadcast: its size
            if type(dims[lab]) is str:  # a named size: a factor bound at evaluation
                from .symbolic import Size

                result.append((Size(dims[lab]), ()))
            else:
                scale *= dims[lab]
    return scale, result


def _eliminate_deltas(out, factors, sizes):
    """Merge index labels joined by a delta unless both are output indices.

    Returns ``(scale, factors)``: a delta that was the only carrier of a
    summed index contributes that index's size (Σ_ab δ_ab = n).
    """
    out_set = set(out)
    scale = 1
    changed = True
    while changed:
        changed = False
        for pos, (child, labels) in enumerate(factors):
            if not isinstance(child, Delta):
                continue
            a, b = labels
            if b not in out_set or a == b:
                factors, kept = _rename(factors, b, a), a
            elif a not in out_set:
                factors, kept = _rename(factors, a, b), b
            else:
                continue
            del factors[pos]
            if kept not in out_set and not any(kept in labs for _, labs in factors):
                if type(child.n) is str:  # a named size: a (float) factor bound at evaluation
                    from .symbolic import Size

                    factors.append((Size(child.n, 1.0), ()))
                else:
                    scale *= float(child.n)  # a delta is a float identity matrix
            changed = True
            break
    return scale, factors


def _rename(factors, old, new):
    return [(c, tuple(new if lab == old else lab for lab in labs)) for c, labs in factors]


def _plain_or_delta(factors):
    for c, _ in factors:
        if not c._plain and not isinstance(c, Delta):
            return False
    return True


def contract(out, factors, sizes=None):
    """Build (and simplify) the contraction of ``factors`` onto ``out``.

    ``factors`` is a list of ``(expr, labels)`` with hashable labels, ``out``
    the output labels; ``sizes`` gives dimensions of output labels that no
    factor carries (broadcast indices).
    """
    out = tuple(out)
    dims = dict(sizes) if sizes else {}
    factors = [(c if isinstance(c, Expr) else as_expr(c), labs if type(labs) is tuple else tuple(labs))
               for c, labs in factors]
    plain = True
    for child, labels in factors:
        shape = child.shape
        if len(labels) != len(shape):
            raise ShapeError(f"{len(labels)} labels given for an operand of shape {child.shape}")
        for lab, dim in zip(labels, shape):
            if dims.setdefault(lab, dim) != dim:
                raise ShapeError(f"index {lab!r} has sizes {dims[lab]} and {dim}")
        if plain and not child._plain:
            plain = False
    try:
        shape = tuple([dims[lab] for lab in out])
    except KeyError:
        missing = [lab for lab in out if lab not in dims]
        raise ShapeError(f"output indices {missing} have no size") from None
    scale = 1
    if not plain:  # every pass below is the identity on plain factors (and deltas but the last)
        has_delta = has_other = False
        for c, _ in factors:
            if c._plain:
                continue
            if isinstance(c, Delta):
                has_delta = True
            elif isinstance(c, Zeros):
                return Zeros(shape)
            else:
                has_other = True
        # Normal form: scalars out, products spliced in, deltas hoisted up (twice,
        # since a hoisted core can itself be a scaled term or a product), deltas merged.
        if has_other:
            scale, factors = _fold_scalars(factors)
            if not _plain_or_delta(factors):
                inline_scale, factors = _inline_products(factors, out, dims)
                hoist_scale, factors = _hoist(out, factors, dims)
                const_scale, factors = _fold_scalars(factors)
                inline_scale2, factors = _inline_products(factors, out, dims)
                scale = scale * inline_scale * hoist_scale * const_scale * inline_scale2
            has_delta = any(isinstance(c, Delta) for c, _ in factors)  # a scaled δ, or hoisted ones
        if has_delta:
            trace_scale, factors = _eliminate_deltas(out, factors, dims)
            scale = scale * trace_scale
    if scale == 0:
        return Zeros(shape)
    if not factors and not out:
        return Constant(scale)
    if len(factors) == 1 and factors[0][1] == out and len(set(out)) == len(out):
        node = factors[0][0]
    else:
        node = _make_contract(out, factors, dims, shape)
    return node if scale == 1 else add([(scale, node)])


def _by_fingerprint(factor):
    return factor[0].fingerprint


def _leaf_name(node):
    """Inputs and named constants sort by name among factors that meet the output alike; the
    rest after them ("~" sorts after letters and digits), by content."""
    name = getattr(node, "name", None)
    return name if isinstance(name, str) else "~"


def _readable_order(factors, first, rank):
    """A factor order that depends only on content and reads like the maths: start with the
    factor whose legs meet the output first, then walk along shared indices (A, B, C for a
    chain A B C), each time taking the neighbour that meets the output earliest, inputs by
    name (u ⊙ v ⊙ w), the rest by content."""
    n = len(factors)
    if n < 2:
        return list(range(n))
    static = sorted(range(n), key=lambda i: (first[i], _leaf_name(factors[i][0]), rank[i]))
    if n > 64:  # wide networks: the static order (the walk is quadratic)
        return static
    labels = [set(labs) for _, labs in factors]
    placed, left = [], list(static)
    while left:
        pick = left[0]
        if placed:
            last = labels[placed[-1]]
            for i in left:
                if labels[i] & last:
                    pick = i
                    break
        placed.append(pick)
        left.remove(pick)
    return placed


def _make_contract(out, factors, dims, shape, n_big=1 << 30):
    # Labels are numbered in a canonical factor order (by content, then by how
    # legs meet the output), so contractions equal up to factor order and index
    # names are one node; the node keeps the factors in the order given.
    n = len(factors)
    if n > 1:
        fps = [c.fingerprint for c, _ in factors]
        if len(set(fps)) == n:
            order = sorted(range(n), key=fps.__getitem__)
        else:  # equal factors: then by how their legs meet the output
            where = {lab: i for i, lab in enumerate(out)}
            order = sorted(range(n), key=lambda i: (fps[i], tuple([where.get(lab, -1) for lab in factors[i][1]])))
    else:
        order = range(n)
    canon = {}
    for lab in out:
        if lab not in canon:
            canon[lab] = len(canon)
    has_delta = False
    pairs = [None] * n  # the relabelled factors, shared by the key (canonical order) and the node (given order)
    for i in order:
        c, labs = factors[i]
        c_labs = []
        for lab in labs:
            j = canon.get(lab)
            if j is None:
                j = canon[lab] = len(canon)
            c_labs.append(j)
        pairs[i] = (c, tuple(c_labs))
        if not has_delta and isinstance(c, Delta):
            has_delta = True
    # The node keeps its factors in an order that depends only on content, so the same
    # expression prints the same whatever was built first (see _readable_order).
    where_out = {lab: i for i, lab in enumerate(out)}
    first = [min([where_out.get(lab, n_big) for lab in labs], default=n_big) for _, labs in factors]
    rank = {i: r for r, i in enumerate(order)}
    readable = _readable_order(factors, first, rank)
    c_factors = tuple([pairs[i] for i in readable])
    c_ordered = tuple([pairs[i] for i in order])
    if c_ordered == c_factors:  # (pairs compare by identity first)
        c_ordered = c_factors
    c_out = tuple([canon[lab] for lab in out])
    c_sizes = tuple([dims[lab] for lab in canon])
    key = ("contract", c_out, c_ordered, c_sizes)
    node = _find(key)
    if node is not None:
        return node
    n_out = len(c_out)
    product = not has_delta and all([lab < n_out for _, labs in c_factors for lab in labs])
    hoistable = not factors or has_delta

    def text():  # _stable_text(key), written out
        parts = ",".join(["(" + c.fingerprint + "," + _ints_text(labs) + ")" for c, labs in c_ordered])
        return "('contract'," + _ints_text(c_out) + ",(" + parts + ")," + _ints_text(c_sizes) + ")"

    return _intern(
        Contract, key, tuple([c for c, _ in c_factors]), shape, text=text, out=c_out, factors=c_factors,
        sizes=c_sizes, _product=product, _hoistable=hoistable, _plain=not (product or hoistable),
    )


def matmul(a, b):
    """``a @ b`` for 1-D and 2-D operands, with numpy's rules (vectors are not transposed).

    >>> import numpy as np, ricci
    >>> A, x = ricci.Tensor("A", (2, 3)), ricci.Tensor("x", (3,))
    >>> (A @ x).shape, (x @ A.T).shape
    ((2,), (2,))
    """
    a, b = as_expr(a, "left operand of @"), as_expr(b, "right operand of @")
    if not (1 <= a.ndim <= 2 and 1 <= b.ndim <= 2):
        raise ShapeError(
            f"@ takes 1-D or 2-D operands here, got shapes {a.shape} and {b.shape}; write batched "
            "products with ricci.einsum"
        )
    if a.shape[-1] != b.shape[0]:
        raise ShapeError(f"@ cannot multiply shapes {a.shape} and {b.shape}: {a.shape[-1]} != {b.shape[0]}")
    left = ("i", "k")[2 - a.ndim:]
    right = ("k", "j")[: b.ndim]
    out = left[:-1] + right[1:]
    return contract(out, [(a, left), (b, right)])


def hadamard(*exprs):
    """Element-wise product of same-shape expressions (one hyperedge per index)."""
    labels = tuple(range(exprs[0].ndim))
    return contract(labels, [(e, labels) for e in exprs])


# -- sums -----------------------------------------------------------------
class Add(Expr):
    """``offset + Σ coef·term`` over same-shape terms."""

    kind = "add"


_SPLICE_LIMIT = 64  # a sum with more terms is kept whole inside another sum


def add(terms, offset=0):
    """Build a simplified linear combination ``offset + Σ coef·expr``.

    Terms that are small sums are spliced in, so equal terms merge
    (``x + x`` is ``2*x``); a sum of more than 64 terms stays one term of the
    new sum, so a long sum built term by term costs O(1) per term, not O(n).

    >>> import ricci
    >>> x, y = ricci.Tensor("x", (2,)), ricci.Tensor("y", (2,))
    >>> [(c, t.name) for c, t in ((x + y) - 3 * x).terms]
    [(-2, 'x'), (1, 'y')]
    """
    shape = terms[0][1].shape
    merged = {}
    for coef, expr in terms:
        if expr.shape != shape:
            raise ShapeError(f"cannot add shapes {shape} and {expr.shape}")
        if isinstance(expr, Add) and len(expr.terms) <= _SPLICE_LIMIT:
            offset = offset + coef * expr.offset
            for inner_coef, inner in expr.terms:
                merged[inner] = merged.get(inner, 0) + coef * inner_coef
        elif not isinstance(expr, Zeros):
            merged[expr] = merged.get(expr, 0) + coef
    kept = tuple((coef, expr) for expr, coef in merged.items() if coef != 0)
    if not kept and offset == 0:
        return Zeros(shape)
    if offset == 0 and len(kept) == 1 and kept[0][0] == 1:
        return kept[0][1]
    if offset == 0 and len(kept) == 1 and isinstance(kept[0][1], Constant) and kept[0][1].value.ndim == 0:
        return Constant(kept[0][0] * kept[0][1].value)
    if offset == 0 and len(kept) > 1:  # (both need two terms)
        common = _common_factor(kept)
        if common is not None:
            return _factor_out(kept, common, shape)
        shared = _common_summed_factor(kept, shape)
        if shared is not None:
            return _factor_out_summed(kept, shared, shape)
    ordered = sorted(kept, key=lambda t: t[1].fingerprint) if len(kept) > 1 else kept
    if type(offset) is tuple or any(type(c) is tuple for c, _ in kept):
        key, text = ("add", tuple((_typed(c), e) for c, e in ordered), _typed(offset), shape), None
    else:  # numbers (always, in practice): the key and its _stable_text written out
        key = ("add", tuple([((type(c).__name__, c), e) for c, e in ordered]), (type(offset).__name__, offset), shape)

        def text():
            parts = ",".join(["(('" + type(c).__name__ + "'," + repr(c) + ")," + e.fingerprint + ")" for c, e in ordered])
            return "('add',(" + parts + "),('" + type(offset).__name__ + "'," + repr(offset) + ")," + _ints_text(shape) + ")"

    return _intern(
        Add, key, tuple(e for _, e in kept), shape, text=text, terms=kept, offset=offset,
        _plain=not (offset == 0 and len(kept) == 1),  # a scaled term: _fold_scalars takes its coefficient
    )


def _as_factors(expr):
    """A term as a contraction: its factors and label sizes (a bare term is its own only factor)."""
    if isinstance(expr, Contract):
        return expr.factors, expr.sizes
    return ((expr, tuple(range(expr.ndim))),), expr.shape


def _common_factor(terms):
    """A factor on output indices only that every term holds (at least one term a contraction), or None."""
    if len(terms) < 2 or not any(isinstance(e, Contract) for _, e in terms):
        return None
    n = len(terms[0][1].shape)
    common = None
    for _, e in terms:
        here = {(c, labs) for c, labs in _as_factors(e)[0] if all(lab < n for lab in labs)}
        common = here if common is None else common & here
    return min(common, key=lambda f: (f[0].fingerprint, f[1])) if common else None


def _factor_out(terms, common, shape):
    """Distributivity, a·b + a·c = a·(b + c): the sum shrinks to the indices the rests carry."""
    n = len(shape)
    rests = []
    for coef, e in terms:
        factors, sizes = _as_factors(e)
        others = list(factors)
        others.remove(common)
        rests.append((coef, others, sizes))
    carried = {lab for _, others, _ in rests for _, labs in others for lab in labs if lab < n}
    out_r = tuple(lab for lab in range(n) if lab in carried)
    offset = sum(coef for coef, others, _ in rests if not others)  # a rest of nothing is 1
    summands = [(coef, contract(out_r, others, dict(enumerate(sizes)))) for coef, others, sizes in rests if others]
    total = add(summands, offset) if summands else Constant(offset)
    return contract(tuple(range(n)), [common, (total, out_r)], dict(enumerate(shape)))


def _summed_pattern(child, labels, n):
    """A factor up to the names of its summed indices (labels ``>= n``; outputs are ``0..n-1``)."""
    local = {}
    return child, tuple(lab if lab < n else ("s", local.setdefault(lab, len(local))) for lab in labels)


def _common_summed_factor(terms, shape):
    """A factor with a summed index that every term (a contraction) holds, when factoring it out pays.

    ``Xᵀ a + Xᵀ b`` is ``Xᵀ (a + b)``: one sweep over X instead of two (the
    logistic-regression HVP). Taken only when the sum of the rests is no
    larger than the factor itself. Returns ``(pattern, [position in each term])`` or None.
    """
    if len(terms) < 2 or len(terms) > 64 or not all(isinstance(e, Contract) for _, e in terms):
        return None
    n = len(shape)
    common, where = None, []
    for _, e in terms:
        here = {}
        for i, (c, labs) in enumerate(e.factors):
            if any(lab >= n for lab in labs) and not isinstance(c, Delta):
                here.setdefault(_summed_pattern(c, labs, n), i)
        common = set(here) if common is None else common & set(here)
        if not common:
            return None
        where.append(here)
    for pattern in sorted(common, key=lambda k: (k[0].fingerprint, repr(k[1]))):
        child, labs = pattern
        positions = [here[pattern] for here in where]
        carried, size = set(), 1
        for (_, e), pos in zip(terms, positions):
            for j, (_, other) in enumerate(e.factors):
                if j != pos:
                    carried.update(lab for lab in other if lab < n)
        summed = {lab for lab in labs if isinstance(lab, tuple)}
        for lab in carried:  # (a named dimension counts as ricci.dims.ASSUMED_SIZE: size-independent)
            size *= assumed(shape[lab])
        for k, lab in enumerate(labs):
            if isinstance(lab, tuple) and lab in summed:
                size *= assumed(child.shape[k])
                summed.discard(lab)
        if size <= assumed_count(child.shape):
            return pattern, positions
    return None


def _factor_out_summed(terms, shared, shape):
    """``Σ c_t · (F ⊗ R_t) = F ⊗ Σ c_t R_t`` for a factor F with summed indices (see above)."""
    (child, pattern), positions = shared
    n = len(shape)
    s_labels = tuple(dict.fromkeys(lab for lab in pattern if isinstance(lab, tuple)))
    rests, carried = [], set()
    for (coef, e), pos in zip(terms, positions):
        _, own = e.factors[pos]
        rename = dict(zip(own, pattern))
        others = [(c, tuple(rename.get(lab, lab) for lab in labs)) for j, (c, labs) in enumerate(e.factors) if j != pos]
        carried.update(lab for _, labs in others for lab in labs if not isinstance(lab, tuple) and lab < n)
        sizes = {rename.get(lab, lab): dim for lab, dim in enumerate(e.sizes)}
        rests.append((coef, others, sizes))
    out_r = tuple(lab for lab in range(n) if lab in carried) + s_labels
    summands = []
    offset = 0
    for coef, others, sizes in rests:
        if others:
            summands.append((coef, contract(out_r, others, sizes)))
        else:
            offset = offset + coef
    if offset:  # a rest of nothing is 1, broadcast over the rests' indices
        dims = dict(rests[0][2])
        summands.append((offset, contract(out_r, [], {lab: dims[lab] for lab in out_r})))
    total = add(summands)
    dims = dict(enumerate(shape))
    dims.update({lab: child.shape[k] for k, lab in enumerate(pattern) if isinstance(lab, tuple)})
    return contract(tuple(range(n)), [(child, pattern), (total, out_r)], dims)


# -- primitive applications -------------------------------------------------
class Apply(Expr):
    """A primitive function (see :mod:`ricci.primitives`) applied to arguments."""

    kind = "function"


def apply(primitive, args, params=()):
    """Apply ``primitive`` to argument expressions with constant ``params``."""
    args = tuple(args)
    shape = primitive.output_shape([a.shape for a in args], params)
    key = ("apply", primitive.name, args, _typed(params))
    return _intern(Apply, key, args, shape, primitive=primitive, params=params)


def topological_order(roots):
    """All nodes under ``roots``, children before parents (iterative: deep DAGs are fine)."""
    order, seen = [], set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root.children))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(child.children)))
                    break
            else:
                order.append(node)
                stack.pop()
    return order
