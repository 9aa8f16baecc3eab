"""Differential operators: grad, vjp, jvp, jacobian, hessian, hvp.

Two sweeps do all the work. :func:`backprop` accumulates cotangents in
reverse topological order over the expression DAG (each shared node is
visited once, so the derivative grows linearly with the expression);
:func:`forward` pushes tangents in topological order. Everything else is a
composition: a Jacobian is a vjp whose seed is the identity (a product of
deltas) carried on extra outer axes; a Hessian is the Jacobian of a
gradient. Results are expressions like any other: nothing is evaluated and
no generalized Jacobian exists until the user evaluates a Jacobian.

>>> import numpy as np, ricci
>>> W, x = ricci.Tensor("W", (2, 3)), ricci.Tensor("x", (3,))
>>> L = ricci.einsum("i,i->", ricci.einsum("ij,j->i", W, x), ricci.einsum("ij,j->i", W, x))
>>> ricci.grad(L, x).shape, ricci.jacobian(ricci.einsum("ij,j->i", W, x), W).shape
((3,), (2, 2, 3))

Every result also records what it was derived for (:func:`derived_wrt`,
:func:`is_jacobian`), so the evaluator can word its errors.
"""
import contextlib
import gc
import threading
import weakref

from .errors import NotScalarError, ShapeError, WrtError
from .expr import Constant, Delta, Expr, Tensor, Zeros, add, as_expr, contract, topological_order
from .primitives import outer_labels
from .rules import RULES

ONE = Constant(1.0)

# result node -> (names of the Tensors it is a derivative with respect to, generalized Jacobian?)
_provenance = weakref.WeakKeyDictionary()
_provenance_lock = threading.Lock()


def _register(results, wrts, jacobian=False):
    """Note that ``results[i]`` is a derivative with respect to ``wrts[i]`` (a Tensor or a
    tuple of them), in union with earlier notes; returns ``results``.

    Nodes are interned, so one node may come from several calls; a node is a
    generalized Jacobian if any call made it one.
    """
    with _provenance_lock:
        for node, wrt in zip(results, wrts):
            names = frozenset(w.name for w in (wrt if isinstance(wrt, tuple) else (wrt,)))
            have_names, have_jacobian = _provenance.get(node, (frozenset(), False))
            _provenance[node] = (have_names | names, have_jacobian or jacobian)
    return results


def derived_wrt(node):
    """The names of the Tensors ``node`` was returned as a derivative with respect to.

    Empty for an expression no differential operator returned.

    >>> import ricci
    >>> x, y = ricci.Tensor("x", (2,)), ricci.Tensor("y", (2,))
    >>> sorted(derived_wrt(ricci.grad(ricci.einsum("i,i->", ricci.sin(x), ricci.sin(y)), x)))
    ['x']
    >>> derived_wrt(ricci.sin(x))
    frozenset()
    """
    with _provenance_lock:
        return _provenance.get(node, (frozenset(), False))[0]


def is_jacobian(node):
    """Whether ``node`` was returned by ``jacobian``/``hessian`` with outer axes (an identity seed).

    >>> import ricci
    >>> x = ricci.Tensor("x", (2,))
    >>> is_jacobian(ricci.jacobian(ricci.tanh(x), x)), is_jacobian(ricci.vjp(ricci.tanh(x), x, [1., 2.]))
    (True, False)
    """
    with _provenance_lock:
        return _provenance.get(node, (frozenset(), False))[1]


def _check_wrt(wrt):
    if not isinstance(wrt, Tensor):
        what = type(wrt).__name__ if not isinstance(wrt, Expr) else f"a derived expression of shape {wrt.shape}"
        raise WrtError(
            f"can only differentiate with respect to a ricci.Tensor, got {what}; "
            "introduce the quantity as a Tensor to differentiate with respect to it"
        )
    return wrt


def _check_expr(y, what):
    if not isinstance(y, Expr):
        raise WrtError(f"{what} must be a ricci expression, got {type(y).__name__}")
    return y


def _depending_on(order, wrts):
    needed = set()
    for node in order:
        if node in wrts or any(c in needed for c in node.children):
            needed.add(node)
    return needed


@contextlib.contextmanager
def _no_gc():
    """Pause the cyclic garbage collector: a sweep makes many small acyclic nodes, and
    repeated full collections over a large live expression made deep derivations
    superlinear (10,000 layers: 3.5 s instead of 2.4 s).

    After a big sweep its new objects go straight to the oldest generation
    (``gc.freeze(); gc.unfreeze()``, O(1)), unless the program froze objects of
    its own: otherwise the first young collections after it scan every one of
    them twice, and a full collection follows (10,000 layers: about 1 s).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_count()[0] > _BIG_SWEEP and gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


_BIG_SWEEP = 100_000  # new GC-tracked objects (a few thousand nodes)


def backprop(y, seed, k, wrts):
    """Cotangents of ``wrts`` given cotangent ``seed`` of ``y`` (with ``k`` outer axes).

    Returns a dict from each variable to its cotangent expression of shape
    ``seed.shape[:k] + variable.shape``. The building block of :func:`vjp`,
    :func:`grad` and :func:`jacobian` (``k`` > 0 seeds a Jacobian's identity).

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x_bp_doc", (3,))
    >>> g = ricci.backprop(ricci.sin(x), ricci.Constant(np.ones(3)), 0, [x])
    >>> g[x](x_bp_doc=np.zeros(3))
    array([1., 1., 1.])
    """
    with _no_gc():
        return _backprop(y, seed, k, wrts)


def _backprop(y, seed, k, wrts):
    order = topological_order([y])
    variables = set(wrts)  # a set: membership is tested at every node (a list made this quadratic)
    needed = _depending_on(order, variables)
    outer_shape = seed.shape[:k]
    pending = {y: [seed]} if y in needed else {}
    result = {}
    for node in reversed(order):
        contributions = pending.pop(node, None)
        if not contributions:
            continue
        cotangent = contributions[0] if len(contributions) == 1 else add([(1.0, c) for c in contributions])
        if node in variables:
            result[node] = cotangent
        rule = RULES.get(type(node))
        if rule is None or isinstance(cotangent, Zeros):
            continue
        for pos, contribution in rule[0](node, cotangent, k, needed):
            pending.setdefault(node.children[pos], []).append(contribution)
    return {w: result[w] if w in result else Zeros(outer_shape + w.shape) for w in wrts}


def forward(y, tangents):
    """Tangent of ``y`` given tangents of some variables (a dict variable -> Expr); the
    building block of :func:`jvp` (variables without a tangent are held fixed).

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x_fw_doc", (3,))
    >>> t = ricci.forward(ricci.sin(x), {x: ricci.Constant(np.array([1.0, 2.0, 3.0]))})
    >>> t(x_fw_doc=np.zeros(3))
    array([1., 2., 3.])
    """
    with _no_gc():
        return _forward(y, tangents)


def _forward(y, tangents):
    order = topological_order([y])
    needed = _depending_on(order, set(tangents))
    pushed = {}
    for node in order:
        if node not in needed:
            continue
        if node in tangents:
            pushed[node] = tangents[node]
            continue
        child_tangents = [pushed.get(c) for c in node.children]
        pushed[node] = RULES[type(node)][1](node, child_tangents)
    return pushed.get(y, Zeros(y.shape))


def _identity(shape):
    """The seed of a Jacobian: δ over each axis, shape ``shape + shape``."""
    if not shape:
        return ONE
    outer, inner = outer_labels(len(shape)), tuple(range(len(shape)))
    return contract(outer + inner, [(Delta(n), (o, i)) for o, i, n in zip(outer, inner, shape)])


def _as_list(wrt):
    return (list(wrt), True) if isinstance(wrt, (list, tuple)) else ([wrt], False)


def grad(L, wrt):
    """Gradient of a scalar expression: an expression of ``wrt``'s shape.

    ``wrt`` may be a list of Tensors; then a list of gradients is returned,
    sharing their common work (evaluate them together with ricci.evaluate).

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (3,))
    >>> ricci.grad(ricci.einsum("i,i->", x, x), x)(x=np.array([1., 2., 3.]))
    array([2., 4., 6.])
    """
    _check_expr(L, "the function to differentiate")
    if L.ndim != 0:
        raise NotScalarError(
            f"grad needs a scalar expression, got one of shape {L.shape}; "
            "use ricci.vjp(y, x, cotangent) or ricci.jacobian(y, x) for non-scalar outputs"
        )
    wrts, many = _as_list(wrt)
    for w in wrts:
        _check_wrt(w)
    result = backprop(L, ONE, 0, wrts)
    grads = _register([result[w] for w in wrts], wrts)
    return grads if many else grads[0]


def vjp(y, wrt, cotangent):
    """Vector-Jacobian product: ``cotangent`` (y's shape) contracted with dy/d(wrt).

    The result has ``wrt``'s shape; the Jacobian is never formed. ``cotangent`` is an
    array (a constant) or an expression — pass a :class:`ricci.Tensor` to derive once
    and evaluate for many cotangents: derivation (milliseconds) happens once, and each
    evaluation runs the cached compiled program (microseconds), whereas an array
    cotangent builds a new expression on every call.

    >>> import numpy as np, ricci
    >>> W, x = ricci.Tensor("W", (2, 3)), ricci.Tensor("x", (3,))
    >>> ricci.vjp(ricci.einsum("ij,j->i", W, x), W, np.ones(2)).shape
    (2, 3)
    >>> g = ricci.Tensor("g_vjp_doc", (2,))          # a symbolic cotangent: derive once ...
    >>> dW = ricci.vjp(ricci.einsum("ij,j->i", W, x), W, g)
    >>> dW(x=np.array([1., 2., 3.]), g_vjp_doc=np.array([1., -1.]))   # ... evaluate for each g
    array([[ 1.,  2.,  3.],
           [-1., -2., -3.]])
    """
    _check_expr(y, "the function to differentiate")
    wrts, many = _as_list(wrt)
    for w in wrts:
        _check_wrt(w)
    cotangent = as_expr(cotangent, "cotangent")
    if cotangent.shape != y.shape:
        named = any(type(d) is str for d in y.shape) and " (a named dimension: pass a ricci.Tensor cotangent with the same names)"
        raise ShapeError(f"the cotangent has shape {cotangent.shape} but the output has shape {y.shape}{named or ''}")
    result = backprop(y, cotangent, 0, wrts)
    out = _register([result[w] for w in wrts], wrts)
    return out if many else out[0]


def jvp(y, wrt, tangent):
    """Jacobian-vector product: the directional derivative of ``y`` along ``tangent``.

    ``tangent`` is an array or an expression; a :class:`ricci.Tensor` tangent derives
    the product once for every direction (see :func:`vjp`).

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2,))
    >>> ricci.jvp(ricci.sin(x), x, np.ones(2))(x=np.zeros(2))
    array([1., 1.])
    >>> t = ricci.Tensor("t_jvp_doc", (2,))
    >>> ricci.jvp(ricci.sin(x), x, t)(x=np.zeros(2), t_jvp_doc=np.array([2., 3.]))
    array([2., 3.])
    """
    _check_expr(y, "the function to differentiate")
    _check_wrt(wrt)
    tangent = as_expr(tangent, "tangent")
    if tangent.shape != wrt.shape:
        raise ShapeError(
            f"the tangent has shape {tangent.shape} but the variable {wrt.name!r} has shape {wrt.shape}"
        )
    return _register([forward(y, {wrt: tangent})], [wrt])[0]


def jacobian(y, wrt):
    """The generalized Jacobian dy/d(wrt), of shape ``y.shape + wrt.shape``.

    It is lazy: evaluating it materializes it (guarded by the memory budget);
    contract it into something smaller, or use vjp/grad, to avoid that.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2,))
    >>> ricci.jacobian(ricci.tanh(x), x)(x=np.zeros(2))
    array([[1., 0.],
           [0., 1.]])
    """
    _check_expr(y, "the function to differentiate")
    wrts, many = _as_list(wrt)
    for w in wrts:
        _check_wrt(w)
    result = backprop(y, _identity(y.shape), y.ndim, wrts)
    out = _register([result[w] for w in wrts], wrts, jacobian=y.ndim > 0)
    return out if many else out[0]


def hessian(L, wrt, wrt2=None):
    """Second derivative of a scalar: shape ``wrt.shape + wrt2.shape`` (wrt2 defaults to wrt).

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2,))
    >>> ricci.hessian(ricci.einsum("i,i->", x, x), x)(x=np.ones(2))
    array([[2., 0.],
           [0., 2.]])
    """
    g = grad(L, wrt)
    wrt2 = _check_wrt(wrt if wrt2 is None else wrt2)
    return _register([jacobian(g, wrt2)], [(wrt, wrt2)], jacobian=g.ndim > 0)[0]


def hvp(L, wrt, vector):
    """Hessian-vector product, as one network (forward over reverse; no Hessian formed).

    For many directions (Newton-CG, Lanczos, influence functions) pass a
    :class:`ricci.Tensor` as ``vector``: the product is derived and compiled once and
    each direction is one evaluation. On logistic regression (softplus loss, one BLAS
    thread, a new direction per call) that is 0.015 ms per direction against 0.82 ms for
    an array ``vector``, which re-derives and re-plans the network on every call (55×) at
    200 × 20, 15× at 2,000 × 50 and 1.2× at 20,000 × 200, where the products themselves
    dominate (``python -m benchmarks.hvp_directions``).

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2,))
    >>> ricci.hvp(ricci.einsum("i,i,i->", x, x, x), x, np.ones(2))(x=np.array([1., 2.]))
    array([ 6., 12.])
    >>> v = ricci.Tensor("v_hvp_doc", (2,))           # derive once ...
    >>> Hv = ricci.compile(ricci.hvp(ricci.einsum("i,i,i->", x, x, x), x, v))
    >>> [Hv(x=np.array([1., 2.]), v_hvp_doc=d).tolist() for d in np.eye(2)]   # ... one run per direction
    [[6.0, 0.0], [0.0, 12.0]]
    """
    return jvp(grad(L, wrt), wrt, vector)  # registered by jvp
