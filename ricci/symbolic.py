"""Symbolic dimensions: ``ricci.Tensor("X", ("batch", 10))``.

A dimension named by a string is the same size wherever the name appears in an
expression. Building and deriving never need its value (a size that derivation
multiplies by, such as the ``1/n`` of a mean or the trace of a δ, becomes a
:class:`Size` factor); evaluation binds the names from the input arrays'
shapes (:func:`bind`), rewrites the expression with those sizes
(:func:`specialize`, cached) and runs the compiled program of the concrete
expression, so programs are compiled and cached once per concrete size.

>>> import numpy as np, ricci
>>> X, w = ricci.Tensor("X_sym_doc", ("batch", 3)), ricci.Tensor("w_sym_doc", (3,))
>>> L = ricci.mean(ricci.tanh(X @ w))
>>> g = ricci.grad(L, w)                     # derived once
>>> [g(X_sym_doc=np.ones((n, 3)), w_sym_doc=np.zeros(3)).tolist() for n in (2, 5)]
[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
>>> print(L)
einsum("a,->", tanh(einsum("ab,b->a", X_sym_doc, w_sym_doc)), 1/batch)

Sizes may also be given explicitly, ``sizes={"batch": 7}``, to :func:`ricci.evaluate`,
:func:`ricci.cost` and compiled functions; two inputs disagreeing about a
name is an :class:`ricci.InputShapeError` naming both.
"""
import threading
from collections import OrderedDict

import numpy as np

from .errors import ArgumentError, InputShapeError, MissingInputError
from .expr import Add, Apply, Constant, Contract, Delta, Expr, Tensor, Zeros, _intern, _typed, add, apply, contract
from .expr import topological_order

__all__ = ["Size", "count", "dimension_names", "bind", "specialize"]


class Size(Expr):
    """The size of a named dimension as a 0-d factor (``exponent`` -1: its reciprocal).

    Its value is bound at evaluation; it has zero derivative; it prints as its name.
    ``exponent`` is an int (the value an int) or a float (the value a float).

    >>> s = Size("batch", -1.0)
    >>> s.shape, s.dim, s.value_for(4), str(s)
    ((), 'batch', 0.25, '1/batch')
    """

    kind = "size"

    def __new__(cls, dim, exponent=1):
        if not isinstance(dim, str) or not dim.isidentifier():
            raise ArgumentError(f"a Size names a dimension (an identifier such as 'batch'), got {dim!r}")
        return _intern(cls, ("size", dim, _typed(exponent)), (), (), dim=dim, exponent=exponent)

    def value_for(self, n):
        """The value when the dimension has ``n`` elements (``1/0`` is inf, as numpy has it)."""
        e = self.exponent
        if type(e) is int and e >= 0:
            return n**e
        with np.errstate(divide="ignore"):
            return float(np.float64(n) ** float(e))

    @property
    def text(self):
        """``batch``, ``1/batch``, ``batch**2``: how printers write the factor."""
        e = self.exponent
        if e == 1:
            return self.dim
        if e == -1:
            return f"1/{self.dim}"
        return f"{self.dim}**{e:g}"


def count(shape):
    """The number of elements of ``shape``: an int, or an expression when it has names.

    >>> count((2, 3)), str(count(("batch", 3)))
    (6, '3*batch')
    """
    n, names = 1, []
    for d in shape:
        if type(d) is str:
            names.append(d)
        else:
            n *= int(d)
    if not names:
        return n
    factors = [(Size(name), ()) for name in names]
    return n * contract((), factors) if n != 1 else contract((), factors)


def dimension_names(roots):
    """The dimension names used anywhere under ``roots`` (a frozenset; empty when all are concrete).

    >>> import ricci
    >>> sorted(dimension_names([ricci.Tensor("names_doc", ("n", 2, "m"))]))
    ['m', 'n']
    """
    names = set()
    for node in topological_order(roots):
        for d in node.shape:
            if type(d) is str:
                names.add(d)
        kind = type(node)
        if kind is Contract:
            for d in node.sizes:
                if type(d) is str:
                    names.add(d)
        elif kind is Size:
            names.add(node.dim)
    return frozenset(names)


def _check_size(name, value, where):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ArgumentError(f"the size of dimension {name!r} {where} must be a non-negative int, got {value!r}")
    return int(value)


def bind(tensors, shapes, needed, sizes=None):
    """The sizes of the named dimensions ``needed``: a dict name -> int.

    ``tensors`` maps input names to their Tensors, ``shapes`` input names to the
    given arrays' shapes; ``sizes`` (optional) gives sizes explicitly. A name two
    inputs disagree about is an :class:`ricci.InputShapeError` naming both; a
    needed name no input has and ``sizes`` does not give, a :class:`ricci.MissingInputError`.

    >>> import ricci
    >>> X, Y = ricci.Tensor("bind_X", ("n", 2)), ricci.Tensor("bind_Y", ("n",))
    >>> bind({"bind_X": X, "bind_Y": Y}, {"bind_X": (5, 2), "bind_Y": (5,)}, {"n"})
    {'n': 5}
    >>> try:
    ...     bind({"bind_X": X, "bind_Y": Y}, {"bind_X": (5, 2), "bind_Y": (4,)}, {"n"})
    ... except ricci.InputShapeError as error:
    ...     print(error)
    dimension 'n' is 5 in input 'bind_X' (shape (5, 2), declared ('n', 2)) but 4 in input 'bind_Y' (shape (4,), declared ('n',))
    """
    bound, source = {}, {}
    if sizes:
        if not isinstance(sizes, dict):
            raise ArgumentError(f"sizes must be a dict of dimension name -> int, got {type(sizes).__name__}")
        for name, value in sizes.items():
            if name not in needed:
                raise ArgumentError(f"sizes gives dimension {name!r}, which this expression does not have "
                                    f"(its named dimensions are {sorted(needed)})")
            bound[name] = _check_size(name, value, "in sizes=")
            source[name] = None
    for name in sorted(shapes):
        tensor = tensors.get(name)
        if tensor is None:
            continue
        declared, shape = tensor.shape, tuple(shapes[name])
        if len(shape) != len(declared):
            raise InputShapeError(
                f"input {name!r} has shape {shape} but its Tensor was declared with shape {declared}")
        for d, n in zip(declared, shape):
            if type(d) is not str:
                if d != n:
                    raise InputShapeError(
                        f"input {name!r} has shape {shape} but its Tensor was declared with shape {declared}")
                continue
            have = bound.get(d)
            if have is None:
                bound[d], source[d] = n, name
            elif have != n:
                first = source[d]
                where = ("in sizes=" if first is None else
                         f"in input {first!r} (shape {tuple(shapes[first])}, declared {tensors[first].shape})")
                raise InputShapeError(f"dimension {d!r} is {have} {where} but {n} in input {name!r} "
                                      f"(shape {shape}, declared {declared})")
    missing = sorted(set(needed) - set(bound))
    if missing:
        listed = ", ".join(repr(m) for m in missing)
        raise MissingInputError(
            f"dimension(s) {listed} have no size: no input has them; pass sizes={{{missing[0]!r}: n, ...}}")
    return {name: bound[name] for name in sorted(needed)}


_cache = OrderedDict()  # (roots, binding items) -> specialized roots
_lock = threading.Lock()
CACHE_SIZE = 16


def specialize(roots, binding):
    """``roots`` with every named dimension replaced by its size in ``binding`` (a tuple; cached).

    Tensors, deltas, zeros and :class:`Size` factors get the concrete sizes and every
    node above them is rebuilt (so it simplifies as a concrete expression would);
    nodes without names are shared as they are. Iterative: any depth is fine.

    >>> import ricci
    >>> x = ricci.Tensor("spec_doc", ("n",))
    >>> [r.shape for r in specialize((x, ricci.mean(x)), {"n": 4})]
    [(4,), ()]
    """
    roots = tuple(roots)
    key = (roots, tuple(sorted(binding.items())))
    with _lock:
        done = _cache.get(key)
        if done is not None:
            _cache.move_to_end(key)
            return done
    done = _specialize(roots, binding)
    with _lock:
        done = _cache.setdefault(key, done)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return done


def _sub(dims, binding):
    return tuple([binding[d] if type(d) is str else d for d in dims])


def _specialize(roots, binding):
    new = {}
    for node in topological_order(roots):
        kind = type(node)
        if kind is Tensor or kind is Zeros:
            shape = _sub(node.shape, binding)
            if shape == node.shape:
                out = node
            else:
                out = Tensor(node.name, shape) if kind is Tensor else Zeros(shape)
        elif kind is Constant:
            out = node
        elif kind is Delta:
            out = Delta(binding[node.n]) if type(node.n) is str else node
        elif kind is Size:
            out = Constant(node.value_for(binding[node.dim]))
        else:
            children = [new[c] for c in node.children]
            changed = any(c is not o for c, o in zip(children, node.children))
            if kind is Contract:
                sizes = _sub(node.sizes, binding)
                if changed or sizes != node.sizes:
                    out = contract(node.out, [(c, labs) for c, (_, labs) in zip(children, node.factors)],
                                   dict(enumerate(sizes)))
                else:
                    out = node
            elif not changed:
                out = node
            elif kind is Add:
                out = add([(coef, c) for c, (coef, _) in zip(children, node.terms)], node.offset)
            elif kind is Apply:
                params = node.params
                hook = getattr(node.primitive, "specialize_params", None)
                if hook is not None:
                    params = hook(params, binding)
                out = apply(node.primitive, children, params)
            else:
                hook = getattr(node, "specialize", None)
                if hook is None:
                    raise ArgumentError(f"a {node.kind} node cannot be evaluated with named dimensions yet")
                out = hook(children, binding)
        new[node] = out
    return tuple(new[r] for r in roots)
