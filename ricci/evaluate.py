"""Numeric evaluation through opt_einsum, with cached plans and a memory budget.

Each distinct node is computed once per call and freed as soon as its last
consumer is done. Contraction paths depend only on shapes, so a compiled
:class:`Program` is cached per (expressions, dtype, optimizer). Before any
allocation, the program's largest tensor is checked against the memory
budget (2 GiB unless changed with :func:`set_memory_budget`).

>>> import numpy as np, ricci
>>> x = ricci.Tensor("x", (3,))
>>> ricci.evaluate([x * 2, ricci.einsum("i->", x)], {"x": np.ones(3)})
[array([2., 2., 2.]), array(3.)]
"""
import difflib
import functools
from collections import Counter, OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import opt_einsum

from .errors import InputError, InputShapeError, MemoryBudgetError, MissingInputError, UnknownInputError
from .expr import Add, Apply, Constant, Delta, Expr, Tensor, Zeros, _merge_inputs, tensor_name_exists
from .plan import absorb_steps, schedule
from .structured import Structured, factor

_budget = [2 * 2**30]


def set_memory_budget(nbytes):
    """Set the largest tensor (in bytes) evaluation may allocate; returns the old value.

    >>> import ricci
    >>> old = ricci.set_memory_budget(2**30); _ = ricci.set_memory_budget(old)
    """
    if not isinstance(nbytes, (int, float)) or nbytes <= 0:
        raise ValueError(f"the memory budget must be a positive number of bytes, got {nbytes!r}")
    old, _budget[0] = _budget[0], int(nbytes)
    return old


def get_memory_budget():
    """The current memory budget in bytes (default 2 GiB)."""
    return _budget[0]


@lru_cache(maxsize=1024)
def _contraction(subscripts, shapes, optimize):
    """Plan once per (subscripts, shapes, optimizer).

    Two candidate paths: the optimizer's own, and the optimizer's after
    absorption steps (which keep hyperedges from misleading it into outer
    products); the one with fewer FLOPs, then the smaller largest
    intermediate, wins.
    """
    lhs, output = subscripts.split("->")
    inputs = lhs.split(",")
    candidates = []
    for absorb in (False, True):
        steps, rest = absorb_steps(inputs, output) if absorb else ([], inputs)
        if absorb and not steps:
            continue
        if len(rest) > 1:
            size = {lab: dim for labs, shape in zip(inputs, shapes) for lab, dim in zip(labs, shape)}
            rest_shapes = [tuple(size[lab] for lab in labs) for labs in rest]
            rest_path, _ = opt_einsum.contract_path(
                ",".join(rest) + "->" + output, *rest_shapes, shapes=True, optimize=optimize
            )
            path = steps + list(rest_path)
        else:
            path = steps or [(0,)]
        _, info = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=path)
        candidates.append(((int(info.opt_cost), int(info.largest_intermediate)), path, info))
    _, path, info = min(candidates, key=lambda c: c[0])
    return opt_einsum.contract_expression(subscripts, *shapes, optimize=path), info


def _as_matmul(subscripts, shapes):
    """A two-operand contraction that is one matrix product, compiled to transpose-reshape-``@``.

    Returns None unless every index is either free on one side or summed
    between the two (no traces, diagonals or batch indices).

    >>> f = _as_matmul("ab,cb->ac", ((2, 3), (4, 3)))
    >>> f(np.ones((2, 3)), np.ones((4, 3))).shape
    (2, 4)
    """
    lhs, out = subscripts.split("->")
    terms = lhs.split(",")
    if len(terms) != 2:
        return None
    a, b = terms
    if len(set(a)) != len(a) or len(set(b)) != len(b) or len(set(out)) != len(out):
        return None
    summed = [lab for lab in a if lab in b]
    if any(lab in out for lab in summed) or set(out) != set(a + b) - set(summed):
        return None
    size = dict(zip(a, shapes[0]), **dict(zip(b, shapes[1])))
    a_free = [lab for lab in a if lab not in summed]
    b_free = [lab for lab in b if lab not in summed]
    a_perm = tuple(a.index(lab) for lab in a_free + summed)
    b_perm = tuple(b.index(lab) for lab in summed + b_free)
    rows, inner, cols = (_size(tuple(size[lab] for lab in group)) for group in (a_free, summed, b_free))
    product_shape = tuple(size[lab] for lab in a_free + b_free)
    out_perm = tuple((a_free + b_free).index(lab) for lab in out)

    def matmul(x, y):
        z = x.transpose(a_perm).reshape(rows, inner) @ y.transpose(b_perm).reshape(inner, cols)
        return z.reshape(product_shape).transpose(out_perm)

    return matmul


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


def _format_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


# Below this many multiply-adds (the product of all index sizes), one direct
# numpy.einsum call beats planning pairwise steps: the fixed cost dominates.
DIRECT_EINSUM_LIMIT = 2**15


class Program:
    """Compiled steps for some expressions at one dtype and optimizer.

    Each step is compiled once into a function of the values computed so far,
    so a call does no dispatching beyond running them in order.
    """

    def __init__(self, roots, dtype, optimize):
        self.roots, self.dtype = roots, dtype
        self.steps = []
        self.flops = 0
        self.largest = (0, None)  # (elements, node)
        for node, net, deps in schedule(roots):
            self.steps.append((node, self._compile(node, net, optimize), deps))
            if not isinstance(node, (Tensor, Constant, Zeros)):
                self._note(node.size, node)
        self.uses = Counter(d for _, _, deps in self.steps for d in deps)

    def _note(self, elements, node):
        if elements > self.largest[0]:
            self.largest = (elements, node)

    def _compile(self, node, net, optimize):
        dtype = self.dtype
        if isinstance(node, Tensor):
            name = node.name
            return lambda values, arrays: arrays[name]
        if isinstance(node, Constant):
            value = node.value
            value = value.astype(dtype) if value.dtype.kind in "fc" and value.dtype != dtype else value
            return lambda values, arrays: value
        if isinstance(node, Zeros):
            return lambda values, arrays: np.broadcast_to(np.zeros((), dtype), node.shape)
        if isinstance(node, Delta):
            return lambda values, arrays: np.eye(node.n, dtype=dtype)
        if isinstance(node, Apply):
            self.flops += node.size * len(node.children)
            evaluate, children, params = node.primitive.evaluate, node.children, node.params
            return lambda values, arrays: evaluate([values[c] for c in children], params)
        if isinstance(node, Add):
            self.flops += node.size * max(1, len(node.terms))
            return lambda values, arrays: _linear_combination(node, values, dtype)
        if not net.factors:  # nothing but broadcast indices
            return lambda values, arrays: np.broadcast_to(np.asarray(net.scale, dtype=dtype), node.shape)
        subscripts, present = net.subscripts()
        shapes = tuple(f.shape for f, _ in net.factors)
        expression, info = _contraction(subscripts, shapes, optimize)
        self.flops += int(info.opt_cost)
        self._note(int(info.largest_intermediate), node)
        gemm = _as_matmul(subscripts, shapes)
        if gemm is not None:
            expression = gemm
        elif _size(tuple(net.sizes[lab] for lab in net.carried())) <= DIRECT_EINSUM_LIMIT:
            expression = functools.partial(np.einsum, subscripts)
        factors = [f for f, _ in net.factors]
        return lambda values, arrays: _finish(node, net, present, expression, [values[f] for f in factors])

    def check_budget(self, budget):
        elements, node = self.largest
        nbytes = elements * np.dtype(self.dtype).itemsize
        if nbytes > budget:
            raise MemoryBudgetError(
                f"evaluating would allocate a tensor of {elements:,} elements ({_format_bytes(nbytes)}, "
                f"for a result of shape {node.shape}), over the memory budget of {_format_bytes(budget)}. "
                "A generalized Jacobian this large is best never formed: contract it with a cotangent "
                "using ricci.vjp or ricci.grad (or ricci.hvp for Hessians), or raise the budget with "
                "ricci.set_memory_budget(nbytes) / evaluate(..., memory_budget=nbytes)"
            )

    def run(self, arrays):
        values, remaining = {}, Counter(self.uses)
        pinned = set(self.roots)
        for node, compute, deps in self.steps:
            values[node] = compute(values, arrays)
            for dep in deps:
                remaining[dep] -= 1
                if remaining[dep] == 0 and dep not in pinned:
                    del values[dep]
        owners = {id(_owner(a)) for a in arrays.values()}
        return [_as_result(values[r], owners) for r in self.roots]


def _linear_combination(node, values, dtype):
    terms = node.terms
    if len(terms) >= 2 and terms[0][0] == 1 and abs(terms[1][0]) == 1:  # one pass for a ± b
        combine = np.add if terms[1][0] == 1 else np.subtract
        result = combine(values[terms[0][1]], values[terms[1][1]], dtype=np.result_type(values[terms[0][1]], dtype))
        terms = terms[2:]
    else:
        result = None
    for coef, child in terms:
        value = values[child]
        if result is None:
            result = np.multiply(value, coef, dtype=np.result_type(value, dtype))
        elif coef == 1:
            result += value
        elif coef == -1:
            result -= value
        else:
            result += coef * value
    if result is None:
        return np.full(node.shape, node.offset, dtype=dtype)
    if node.offset:
        result += node.offset
    return result


def _owner(array):
    """The array that owns the memory ``array`` views."""
    while isinstance(array, np.ndarray) and array.base is not None:
        array = array.base
    return array


def _as_result(value, input_owners):
    """The user's copy: broadcast views and views of inputs are copied, fresh arrays are not."""
    value = np.asarray(value)
    fresh = value.flags.writeable and id(_owner(value)) not in input_owners
    return value if fresh else np.array(value)


def _finish(node, net, present, expression, operands):
    """Run a contraction, apply its scale, and broadcast indices no factor carries."""
    result = expression(*operands)
    if net.scale != 1:
        if _private(result, operands):
            result *= net.scale
        else:
            result = result * net.scale
    if len(present) != len(net.out):
        for axis, lab in enumerate(net.out):
            if lab not in present:
                result = np.expand_dims(result, axis)
        result = np.broadcast_to(result, node.shape)
    return result


def _private(result, operands):
    """Whether ``result`` is a fresh writeable array (not a view of an operand)."""
    return (
        isinstance(result, np.ndarray)
        and result.flags.writeable
        and not any(np.may_share_memory(result, op) for op in operands)
    )


_programs = OrderedDict()


def program(roots, dtype, optimize):
    """The cached compiled program for these expressions."""
    key = (tuple(roots), np.dtype(dtype).str, optimize)
    prog = _programs.get(key)
    if prog is None:
        prog = _programs[key] = Program(tuple(roots), np.dtype(dtype), optimize)
        if len(_programs) > 128:
            _programs.popitem(last=False)
    else:
        _programs.move_to_end(key)
    return prog


def _as_roots(exprs):
    single = isinstance(exprs, Expr)
    roots = [exprs] if single else list(exprs)
    for i, r in enumerate(roots):
        if not isinstance(r, Expr):
            raise InputError(f"item {i} to evaluate is a {type(r).__name__}, not a ricci expression")
    return roots, single


def _check_inputs(roots, inputs, shapes_only=False):
    """Validate the user's inputs; returns (arrays or shapes by name, dtype)."""
    wanted = _merge_inputs(roots)
    for name in inputs:
        if name not in wanted and not tensor_name_exists(name):
            close = difflib.get_close_matches(str(name), list(wanted), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownInputError(
                f"unknown input {name!r}: no Tensor has that name (this expression's inputs are "
                f"{sorted(wanted)}){hint}"
            )
    missing = [name for name in wanted if name not in inputs]
    if missing:
        listed = ", ".join(f"{n!r} of shape {wanted[n].shape}" for n in sorted(missing))
        raise MissingInputError(f"missing input(s) to evaluate: {listed}")
    given, dtypes = {}, []
    for name, tensor in wanted.items():
        value = inputs[name]
        if shapes_only and isinstance(value, (tuple, list)) and all(isinstance(d, int) for d in value):
            shape = tuple(value)
        else:
            value = np.asarray(value)
            if value.dtype.kind not in "biufc":
                raise InputError(f"input {name!r} has dtype {value.dtype}; a numeric array is needed")
            dtypes.append(value.dtype)
            shape = value.shape
        if shape != tensor.shape:
            raise InputShapeError(f"input {name!r} has shape {shape} but its Tensor was declared with shape {tensor.shape}")
        given[name] = value
    dtype = np.result_type(*dtypes) if dtypes else np.dtype(np.float64)
    if dtype.kind not in "fc":
        dtype = np.dtype(np.float64)
    return given, dtype


def evaluate(exprs, inputs=None, *, optimize="auto", memory_budget=None, structured=False, **named_inputs):
    """Evaluate one expression or a list of them; shared subexpressions are computed once.

    With ``structured=True``, a result whose network holds deltas between its
    free indices comes back factored, as a :class:`ricci.Structured`.

    >>> import numpy as np, ricci
    >>> W = ricci.Tensor("W", (2, 2))
    >>> g1, g2 = ricci.grad(ricci.einsum("ij,ij->", W, W), [W, W])
    >>> [a.tolist() for a in ricci.evaluate([g1, g2], W=np.eye(2))]
    [[[2.0, 0.0], [0.0, 2.0]], [[2.0, 0.0], [0.0, 2.0]]]
    """
    roots, single = _as_roots(exprs)
    inputs = dict(inputs or {}, **named_inputs)
    arrays, dtype = _check_inputs(roots, inputs)
    arrays = {name: a.astype(dtype, copy=False) for name, a in arrays.items()}
    factors = [factor(r) if structured else None for r in roots]
    cores = [r if f is None else f[0] for r, f in zip(roots, factors)]
    prog = program(cores, dtype, optimize)
    prog.check_budget(get_memory_budget() if memory_budget is None else memory_budget)
    results = [
        value if f is None else Structured(value, f[1], f[2], root.shape)
        for value, f, root in zip(prog.run(arrays), factors, roots)
    ]
    return results[0] if single else results


@dataclass(frozen=True)
class Cost:
    """What evaluating will cost: FLOPs and the largest tensor computed (elements and bytes)."""

    flops: int
    largest_intermediate: int
    largest_bytes: int
    dtype: str

    def __str__(self):
        return (
            f"{self.flops:,} FLOPs; largest intermediate {self.largest_intermediate:,} elements "
            f"({_format_bytes(self.largest_bytes)} as {self.dtype})"
        )


def cost(exprs, inputs=None, *, optimize="auto"):
    """Planned cost of evaluating expressions; ``inputs`` may give arrays or shapes by name."""
    roots, _ = _as_roots(exprs)
    if inputs is None:
        dtype = np.dtype(np.float64)
    else:
        _, dtype = _check_inputs(roots, dict(inputs), shapes_only=True)
    prog = program(roots, dtype, optimize)
    elements = prog.largest[0]
    return Cost(prog.flops, elements, elements * dtype.itemsize, dtype.name)
