"""Numeric evaluation: run the compiled program of some expressions.

Each call checks the inputs, finds (or compiles once) the straight-line
program for their shapes and dtypes (:mod:`ricci.engine`), checks its
largest tensor against the memory budget (2 GiB unless changed with
:func:`set_memory_budget`) before allocating anything, and runs it. Shared
subexpressions are computed once; results never alias each other or the
inputs.

>>> import numpy as np, ricci
>>> x = ricci.Tensor("x", (3,))
>>> ricci.evaluate([x * 2, ricci.einsum("i->", x)], {"x": np.ones(3)})
[array([2., 2., 2.]), array(3.)]
"""
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .engine.budget import format_bytes as _format_bytes
from .engine.budget import get_budget, set_budget
from .engine.compiled import Function, as_roots
from .engine.paths import check_optimize
from .errors import InputError, InputShapeError
from .expr import Expr
from .structured import Structured, factor

_functions = OrderedDict()
_single = {}  # expression -> its Function: evaluate()'s fast path for repeated calls
_lock = threading.Lock()


def set_memory_budget(nbytes):
    """Set the largest tensor (in bytes) evaluation may allocate; returns the old value.

    >>> import ricci
    >>> old = ricci.set_memory_budget(2**30); _ = ricci.set_memory_budget(old)
    """
    return set_budget(nbytes)


def get_memory_budget():
    """The current memory budget in bytes (default 2 GiB; see :func:`set_memory_budget`).

    >>> import ricci
    >>> ricci.get_memory_budget() == 2 * 1024**3
    True
    """
    return get_budget()


def function(roots, optimize):
    """The cached :class:`ricci.engine.Function` of these roots."""
    key = (roots, optimize)
    with _lock:
        f = _functions.get(key)
        if f is not None:
            _functions.move_to_end(key)
            return f
    f = Function(list(roots), optimize=optimize)
    with _lock:
        f = _functions.setdefault(key, f)
        while len(_functions) > 256:
            _functions.popitem(last=False)
    return f


def evaluate(exprs, inputs=None, *, optimize="auto", memory_budget=None, structured=False, sizes=None,
             backend=None, **named_inputs):
    """Evaluate one expression or a list of them; shared subexpressions are computed once.

    With ``structured=True``, a result whose network holds deltas between its
    free indices comes back factored, as a :class:`ricci.Structured`. Named
    dimensions (:mod:`ricci.symbolic`) are bound from the inputs' shapes;
    ``sizes={"batch": 7}`` gives sizes explicitly (for names no input has).

    The program runs on the library of the input arrays — numpy, torch (CPU or CUDA),
    jax, cupy or dask (see :mod:`ricci.backends`) — and returns that library's arrays,
    on the inputs' device; numpy inputs and constants are converted to it.
    ``backend="torch"`` (or ``"jax"``, ...) chooses the library whatever the inputs are.

    >>> import numpy as np, ricci
    >>> W = ricci.Tensor("W", (2, 2))
    >>> g1, g2 = ricci.grad(ricci.einsum("ij,ij->", W, W), [W, W])
    >>> [a.tolist() for a in ricci.evaluate([g1, g2], W=np.eye(2))]
    [[[2.0, 0.0], [0.0, 2.0]], [[2.0, 0.0], [0.0, 2.0]]]
    """
    if not structured and optimize == "auto" and not named_inputs and type(inputs) is dict and sizes is None \
            and backend is None:
        f = _single.get(exprs) if isinstance(exprs, Expr) else None
        if f is not None:  # the common repeated call: one expression, its compiled function known
            return f(inputs, memory_budget=memory_budget)[0]
    roots, single = as_roots(exprs)
    optimize = check_optimize(optimize)
    if inputs is not None and not isinstance(inputs, dict):
        raise InputError(f"inputs must be a dict of name -> array, got {type(inputs).__name__}")
    given = dict(inputs, **named_inputs) if inputs else named_inputs
    if structured:  # the structure's deltas need concrete sizes: specialize first
        roots = _concrete(roots, given, sizes)
    factors = [factor(r) if structured else None for r in roots]
    cores = tuple(r if f is None else f[0] for r, f in zip(roots, factors))
    f = function(cores, optimize)
    if structured and backend not in (None, "numpy"):
        raise InputError("structured=True returns numpy factors; it cannot be combined with backend=")
    values = f(given, memory_budget=memory_budget, sizes=None if structured else sizes, backend=backend)
    if single and not structured and optimize == "auto":
        if len(_single) > 256:
            _single.clear()
        _single[roots[0]] = f
    results = [
        value if f is None else Structured(value, f[1], f[2], root.shape)
        for value, f, root in zip(values, factors, roots)
    ]
    return results[0] if single else results


@dataclass(frozen=True)
class Cost:
    """What evaluating will cost: FLOPs and the largest tensor computed (elements and bytes).

    >>> import ricci
    >>> W, v = ricci.Tensor("W_cost_doc", (4, 3)), ricci.Tensor("v_cost_doc", (3,))
    >>> c = ricci.cost(W @ v)
    >>> c.flops, c.largest_intermediate, c.largest_bytes, c.dtype
    (24, 4, 32, 'float64')
    >>> print(c)
    24 FLOPs; largest intermediate 4 elements (32 B as float64)
    """

    flops: int
    largest_intermediate: int
    largest_bytes: int
    dtype: str

    def __str__(self):
        return (
            f"{self.flops:,} FLOPs; largest intermediate {self.largest_intermediate:,} elements "
            f"({_format_bytes(self.largest_bytes)} as {self.dtype})"
        )


def _shape_of(value):
    if isinstance(value, (tuple, list)) and all(isinstance(d, int) for d in value):
        return tuple(value)
    return np.shape(value)


def _concrete(roots, given, sizes):
    """``roots`` at the sizes the inputs (arrays or shapes) and ``sizes`` give their named dimensions."""
    from .expr import _merge_inputs
    from .symbolic import bind, dimension_names, specialize

    names = dimension_names(roots)
    if not names:
        if sizes:
            bind({}, {}, names, sizes)  # (refuses a size of a name the expression does not have)
        return roots
    from .engine.compiled import with_lost_inputs

    tensors = _merge_inputs(list(roots))
    shapes = {name: _shape_of(value) for name, value in given.items() if name in tensors}
    tensors, shapes = with_lost_inputs(tensors, shapes, given, _shape_of)
    return specialize(roots, bind(tensors, shapes, names, sizes))


def cost(exprs, inputs=None, *, optimize="auto", sizes=None):
    """Planned cost of evaluating expressions; ``inputs`` may give arrays or shapes by name.

    Shapes are checked against the declared ones; arrays also give the dtypes
    (float64 otherwise). Nothing is evaluated. Named dimensions take their sizes
    from the inputs given or from ``sizes``:

    >>> import ricci
    >>> A, B = ricci.Tensor("A", (10, 20)), ricci.Tensor("B", (20, 30))
    >>> ricci.cost(ricci.einsum("ij,jk->ik", A, B)).flops
    12000
    >>> X = ricci.Tensor("X_cost_doc", ("batch", 20))
    >>> ricci.cost(ricci.einsum("ij,jk->ik", X, B), sizes={"batch": 10}).flops
    12000
    """
    roots, _ = as_roots(exprs)
    inputs = dict(inputs or {})
    roots = _concrete(roots, inputs, sizes)
    f = function(roots, check_optimize(optimize))
    dtypes = []
    for name in f.names:
        value = inputs.get(name)
        declared = f.tensors[name].shape
        if value is None or (isinstance(value, (tuple, list)) and all(isinstance(d, int) for d in value)):
            shape = declared if value is None else tuple(value)
            dtype = np.dtype(np.float64)
        else:
            array = np.asarray(value)
            shape, dtype = array.shape, array.dtype
        if shape != declared:
            raise InputShapeError(f"input {name!r} has shape {shape} but its Tensor was declared with shape {declared}")
        dtypes.append(dtype)
    prog = f.program_for(dtypes)
    nbytes, elements = prog.largest[0], prog.largest[1]
    dtype = np.result_type(*prog.dtypes) if prog.dtypes else np.dtype(np.float64)
    return Cost(prog.flops, elements, nbytes, dtype.name)
