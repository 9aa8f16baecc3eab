"""``ricci.compile``: a callable that checks its inputs and runs a cached compiled program.

>>> import numpy as np, ricci
>>> W, x = ricci.Tensor("W", (2, 3)), ricci.Tensor("x", (3,))
>>> f = ricci.compile([ricci.einsum("ij,j->i", W, x), ricci.grad(ricci.norm2(W @ x), x)])
>>> [r.shape for r in f(W=np.ones((2, 3)), x=np.ones(3))]
[(2,), (3,)]
>>> print(f.source)
def program(x0, x1):
    # x0: input 'W' (2, 3) float64
    # x1: input 'x' (3,) float64
    t0 = x0 @ x1  # ab,b->a
    t1 = x0.T @ t0  # ab,a->b
    t1 *= 2.0
    return [t0, t1]
"""
import difflib
import gc
import threading
from collections import OrderedDict

import numpy as np

from ..backends import BACKENDS, backend_of, device_of, namespace, numpy_dtype
from ..errors import (
    DtypeError,
    InputError,
    InputShapeError,
    MemoryBudgetError,
    MissingInputError,
    UnknownInputError,
)
from ..expr import Expr, _merge_inputs, tensor_name_exists
from .budget import check_budget, current_budget, get_budget
from .paths import check_optimize
from .program import Program

_programs = OrderedDict()  # (roots, signature, optimize) -> Program
_lock = threading.Lock()
CACHE_SIZE = 256


def program(roots, signature, optimize, backend=("numpy", None)):
    """The cached :class:`Program` for these roots, input signature and ``(backend, device)``
    (built once, thread-safe)."""
    key = (roots, signature, optimize, backend)
    with _lock:
        prog = _programs.get(key)
        if prog is not None:
            _programs.move_to_end(key)
            return prog
    prog = Program(roots, signature, optimize, namespace(*backend))
    with _lock:
        prog = _programs.setdefault(key, prog)
        while len(_programs) > CACHE_SIZE:
            _programs.popitem(last=False)
    return prog


def as_roots(exprs):
    """``(tuple of expressions, whether one was given alone)``; anything else is an InputError."""
    single = isinstance(exprs, Expr)
    if not single and not isinstance(exprs, (list, tuple)):
        raise InputError(f"expected a ricci expression or a list of them, got {type(exprs).__name__}")
    roots = (exprs,) if single else tuple(exprs)
    for i, r in enumerate(roots):
        if not isinstance(r, Expr):
            raise InputError(f"item {i} to evaluate is a {type(r).__name__}, not a ricci expression")
    return roots, single


def as_array(name, value, backend="numpy"):
    """The user's input as a numeric numpy array (or, for another backend, that backend's
    array as it is), or an InputError naming it."""
    if backend != "numpy" and not isinstance(value, (np.ndarray, np.generic, list, tuple, int, float, complex)):
        return value
    if isinstance(value, np.ndarray):
        array = value
    else:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise InputError(f"input {name!r} is not a rectangular numeric array ({exc})") from None
    if array.dtype.kind not in "biufc":
        raise InputError(f"input {name!r} has dtype {array.dtype}; a numeric array is needed")
    return array


class Function:
    """Compiled expressions: call with the input arrays by name (a dict or keywords).

    Returns one array for one expression, a list for a list. A program is
    compiled once per input dtype signature and cached; ``source`` shows it
    (for float64 inputs of the declared shapes). Over named dimensions
    (:mod:`ricci.symbolic`) the sizes are bound from the inputs (or given as
    ``sizes={"batch": 7}``) and a concrete function is cached per binding
    (:meth:`at`). Torch, jax, cupy and dask inputs run on their own library
    (:mod:`ricci.backends`).

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x_fn_doc", (3,))
    >>> f = ricci.compile(ricci.exp(x))
    >>> f, f.names, f(x_fn_doc=np.zeros(3))
    (<ricci.Function of 1 expression(s) of inputs ['x_fn_doc']>, ('x_fn_doc',), array([1., 1., 1.]))
    """

    def __init__(self, exprs, optimize="auto", memory_budget=None):
        self.roots, self.single = as_roots(exprs)
        self.optimize = check_optimize(optimize)
        self.memory_budget = None if memory_budget is None else current_budget(memory_budget)
        self.tensors = _merge_inputs(list(self.roots))
        self.names = tuple(sorted(self.tensors))
        self._shapes = tuple(self.tensors[n].shape for n in self.names)
        self._programs = {}
        from ..symbolic import dimension_names

        self.dimensions = dimension_names(self.roots)  # named dimensions (empty: a concrete function)
        self._bound = OrderedDict()  # binding items -> the concrete Function at those sizes
        self._foreign = {}  # (type, dtype, shape, device) per input -> Program: repeated calls on torch/jax/...

    def _signature(self, dtypes):
        return tuple((n, self.tensors[n].shape, d.str) for n, d in zip(self.names, dtypes))

    def program_for(self, dtypes, backend=("numpy", None)):
        """The :class:`Program` for inputs of these dtypes (in ``names`` order) on ``(backend, device)``."""
        key = tuple(dtypes) if backend[0] == "numpy" else (tuple(dtypes), backend)
        prog = self._programs.get(key)
        if prog is None:
            prog = self._programs[key] = program(self.roots, self._signature(tuple(dtypes)), self.optimize, backend)
        return prog

    @property
    def source(self):
        """The program's source text for float64 inputs of the declared shapes."""
        if self.dimensions:
            raise InputShapeError(
                f"this function has named dimensions {sorted(self.dimensions)}: its program depends on "
                f"their sizes; see f.at({{{sorted(self.dimensions)[0]!r}: n}}).source")
        return self.program_for([np.dtype(np.float64)] * len(self.names)).source

    def at(self, sizes):
        """The concrete :class:`Function` at these sizes of the named dimensions (cached).

        >>> import numpy as np, ricci
        >>> x = ricci.Tensor("at_doc", ("n",))
        >>> f = ricci.compile(ricci.einsum("i,i->", x, x))
        >>> f.at({"n": 3}).names, f.at({"n": 3}).tensors["at_doc"].shape
        (('at_doc',), (3,))
        """
        from ..symbolic import bind

        return self._at(bind(self.tensors, {}, self.dimensions, sizes))

    def _at(self, binding):
        key = tuple(binding.items())
        with _lock:
            f = self._bound.get(key)
            if f is not None:
                self._bound.move_to_end(key)
                return f
        from ..symbolic import specialize

        f = Function(list(specialize(self.roots, binding)), optimize=self.optimize, memory_budget=self.memory_budget)
        f.single = self.single
        with _lock:
            f = self._bound.setdefault(key, f)
            while len(self._bound) > 32:
                self._bound.popitem(last=False)
        return f

    def _call_symbolic(self, given, memory_budget, sizes, backend=None):
        """Bind the named dimensions from the inputs (and ``sizes``); run the function at those sizes."""
        from ..symbolic import bind

        tensors = self.tensors
        if len(given) != len(self.names) or not all(name in tensors for name in given):
            self._unknown_or_missing(given)
        shapes = {}
        backend = backend_of([given[n] for n in self.names], self.names) if backend is None else backend
        for name in self.names:
            value = given[name]
            shapes[name] = tuple((value if type(value) is np.ndarray else as_array(name, value, backend)).shape)
        tensors, shapes = with_lost_inputs(tensors, shapes, given)
        return self._at(bind(tensors, shapes, self.dimensions, sizes))(given, memory_budget=memory_budget,
                                                                      backend=backend)

    def arrays(self, inputs, backend="numpy"):
        """Check the inputs and return them as arrays in ``names`` order (numpy arrays, or for
        another backend its arrays as given and numpy ones as they are)."""
        tensors = self.tensors
        if len(inputs) != len(self.names) or not all(name in tensors for name in inputs):
            self._unknown_or_missing(inputs)
        out = []
        for name, shape in zip(self.names, self._shapes):
            value = inputs[name]
            if type(value) is np.ndarray and value.dtype.kind in "fciub":
                array = value
            else:
                array = as_array(name, value, backend)
            if tuple(array.shape) != shape:
                raise InputShapeError(
                    f"input {name!r} has shape {array.shape} but its Tensor was declared with shape {shape}"
                )
            out.append(array)
        return out

    def _unknown_or_missing(self, inputs):
        tensors = self.tensors
        for name in inputs:
            if name not in tensors and not tensor_name_exists(name):
                close = difflib.get_close_matches(str(name), list(tensors), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise UnknownInputError(
                    f"unknown input {name!r}: no Tensor has that name (this expression's inputs are "
                    f"{sorted(tensors)}){hint}"
                )
        missing = [n for n in self.names if n not in inputs]
        if missing:
            listed = ", ".join(f"{n!r} of shape {tensors[n].shape}" for n in missing)
            raise MissingInputError(f"missing input(s) to evaluate: {listed}")

    def __call__(self, inputs=None, *, memory_budget=None, sizes=None, backend=None, **named_inputs):
        if inputs is None:
            given = named_inputs
        elif type(inputs) is dict and not named_inputs:
            given = inputs
        elif isinstance(inputs, dict):
            given = dict(inputs, **named_inputs)
        else:
            raise InputError(f"inputs must be a dict of name -> array, got {type(inputs).__name__}")
        if self.dimensions or sizes is not None:
            if not self.dimensions:
                from ..symbolic import bind

                bind(self.tensors, {}, self.dimensions, sizes)  # (refuses sizes of names it does not have)
            else:
                return self._call_symbolic(given, memory_budget, sizes, _check_backend(backend))
        if backend is None:
            for v in given.values():
                if type(v) is not np.ndarray:  # numpy arrays only: the fast path
                    if self._foreign and memory_budget is None and len(given) == len(self.names):
                        results = self._call_known(given)
                        if results is not None:
                            return results
                    backend = backend_of([given[n] for n in self.names if n in given], self.names)
                    break
            else:
                backend = "numpy"
        else:
            backend = _check_backend(backend)
        arrays = self.arrays(given, backend)
        if backend != "numpy":
            return self._call_backend(arrays, given, backend, memory_budget)
        dtypes = tuple([a.dtype for a in arrays])
        prog = self._programs.get(dtypes)
        if prog is None:
            prog = self.program_for(dtypes)
        if len(given) > len(arrays) or any(d.kind not in "fc" for d in dtypes):
            self._check_wrt(given)
        if memory_budget is None and self.memory_budget is None:
            if prog.largest[0] > get_budget():
                check_budget(prog, get_budget())
        else:
            check_budget(prog, current_budget(self.memory_budget if memory_budget is None else memory_budget))
        results = prog.fn(*arrays)
        return results[0] if self.single else results

    @staticmethod
    def _key(values):
        return tuple([(type(v), v.dtype, v.shape, getattr(v, "device", None)) for v in values])

    def _call_known(self, given):
        """A repeated call on non-numpy arrays of a seen type, dtype, shape and device: run the program."""
        try:
            values = [given[n] for n in self.names]
        except KeyError:
            return None
        prog = self._foreign.get(self._key(values))
        if prog is None or (self.memory_budget is None and prog.largest[0] > get_budget()):
            return None
        results = prog.fn(*values)
        return results[0] if self.single else results

    def _call_backend(self, arrays, given, backend, memory_budget):
        """Run on torch/jax/cupy/dask arrays: numpy inputs are converted to the backend (on the
        device of its arrays), and the results are that backend's arrays."""
        device = next((device_of(a) for a in arrays if not isinstance(a, (np.ndarray, np.generic))), None)
        ns = namespace(backend, device)
        arrays = [ns.convert(np.asarray(a)) if isinstance(a, (np.ndarray, np.generic)) else a for a in arrays]
        dtypes = tuple(numpy_dtype(a) for a in arrays)
        prog = self.program_for(dtypes, (backend, device))
        if any(d.kind not in "fc" for d in dtypes):
            self._check_wrt({n: np.empty(0, d) for n, d in zip(self.names, dtypes)})
        if backend != "dask":  # a dask graph is never in memory whole: its chunks are dask's to size
            budget = get_budget() if memory_budget is None and self.memory_budget is None else \
                current_budget(self.memory_budget if memory_budget is None else memory_budget)
            if prog.largest[0] > budget:
                check_budget(prog, budget)
        if memory_budget is None and self.memory_budget is None and backend != "dask" and len(self._foreign) < 64 \
                and all(a is given[n] for a, n in zip(arrays, self.names)):  # no numpy input to convert
            try:
                self._foreign[self._key(arrays)] = prog
            except TypeError:  # an unhashable device or dtype: no fast path
                pass
        results = prog.fn(*arrays)
        return results[0] if self.single else results

    def _check_wrt(self, given):
        """Derivatives with respect to an integer input have no meaning: say to pass floats."""
        from .. import derivatives

        derived_wrt = getattr(derivatives, "derived_wrt", lambda node: ())
        for name in sorted(frozenset().union(*(derived_wrt(r) for r in self.roots))):
            if name in given:
                kind = np.asarray(given[name]).dtype
                if kind.kind not in "fc":
                    raise DtypeError(
                        f"cannot differentiate with respect to input {name!r} of dtype {kind}: derivatives "
                        f"need floating-point (or complex) inputs; pass floats, e.g. {name}=array.astype(float)"
                    )

    def cost(self, inputs=None, *, sizes=None):
        """Planned FLOPs and largest tensor (see :func:`ricci.cost`)."""
        from ..evaluate import cost

        return cost(list(self.roots), inputs, optimize=self.optimize, sizes=sizes)

    def __repr__(self):
        return f"<ricci.Function of {len(self.roots)} expression(s) of inputs {list(self.names)}>"


def with_lost_inputs(tensors, shapes, given, shape_of=None):
    """``(tensors, shapes)`` extended by the given inputs the expression lost (``jacobian(X, X)``
    is δ⊗δ: X is not in it), whose declared shapes still bind the named sizes."""
    extra = [n for n in given if n not in tensors]
    if not extra:
        return tensors, shapes
    tensors, shapes = dict(tensors), dict(shapes)
    for name, tensor in _declared(extra).items():
        value = given[name]
        shape = shape_of(value) if shape_of else tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
        if len(shape) == tensor.ndim:
            tensors[name], shapes[name] = tensor, shape
    return tensors, shapes


def _declared(names):
    """The live Tensors of these names that have named dimensions (one per name, if unambiguous)."""
    from ..expr import _interned_refs

    enabled = gc.isenabled()
    gc.disable()  # a collection's weakref callbacks would remove keys while we copy
    try:
        items = list(_interned_refs.items())
    finally:
        if enabled:
            gc.enable()
    found = {}
    for key, ref in items:
        if type(key) is tuple and len(key) == 3 and key[0] == "tensor" and key[1] in names \
                and any(type(d) is str for d in key[2]):
            node = ref()
            if node is not None:
                found.setdefault(key[1], []).append(node)
    return {name: nodes[0] for name, nodes in found.items() if len(nodes) == 1}


def _check_backend(backend):
    if backend is None or backend in BACKENDS:
        return backend
    raise InputError(f"unknown backend {backend!r}; the backends are {list(BACKENDS)} (None: the inputs' own)")


def compile(exprs, *, optimize="auto", memory_budget=None):
    """Compile expressions into one straight-line program; returns a callable :class:`Function`.

    Shared work is done once; each contraction runs as pairwise matmul /
    broadcast kernels along a planned path; dead intermediates are released
    as soon as possible. ``f.source`` is the program's text.

    >>> import numpy as np, ricci
    >>> A = ricci.Tensor("A", (3, 3))
    >>> f = ricci.compile(ricci.einsum("ij,jk->ik", A, A))
    >>> f(A=np.eye(3)).tolist() == np.eye(3).tolist()
    True
    """
    return Function(exprs, optimize=optimize, memory_budget=memory_budget)


__all__ = ["Function", "MemoryBudgetError", "compile", "program"]
