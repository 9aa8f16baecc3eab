"""Numerically stable composites: softmax, logsumexp, log_softmax, cross_entropy, norms.

``softmax`` and ``logsumexp`` are primitives whose values are computed with
the max-shift trick (no overflow for logits around ±1000) and whose
derivative rules are small networks of the softmax itself:

- d logsumexp(x) = Σ_axis softmax(x) ⊙ dx
- d softmax(x) = s ⊙ dx − s ⊙ Σ_axis(s ⊙ dx)

``log_softmax`` and ``cross_entropy`` are compositions of those, so their
derivatives stay stable too.

>>> import numpy as np, ricci
>>> z = ricci.Tensor("z", (2, 3))
>>> y = np.array([[1.0, 0, 0], [0, 0, 1.0]])
>>> g = ricci.grad(ricci.cross_entropy(z, y), z)     # softmax(z) - y
>>> np.round(g(z=np.array([[1000.0, 0, -1000], [0, 0, 0]])), 3)
array([[ 0.   ,  0.   ,  0.   ],
       [ 0.333,  0.333, -0.667]])
"""
import numpy as np

from .backends import array_namespace
from .errors import ShapeError
from .expr import apply, as_expr, contract
from .primitives import PRIMITIVES, Primitive, outer_labels, register


def _axis(shape, axis, name):
    if not isinstance(axis, (int, np.integer)) or not -len(shape) <= axis < len(shape):
        raise ShapeError(f"axis {axis!r} of {name} is out of range for shape {shape}")
    return int(axis) % len(shape)


def _labels(node_ndim, axis):
    """Labels of the argument, and the same with the reduced axis renamed."""
    own = tuple(range(node_ndim))
    return own, tuple("j" if i == axis else i for i in own)


class Softmax(Primitive):
    name = "softmax"

    def output_shape(self, arg_shapes, params):
        return arg_shapes[0]

    def evaluate(self, values, params):
        (x,), (axis,) = values, params
        xp = array_namespace(x)
        shifted = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
        return shifted / xp.sum(shifted, axis=axis, keepdims=True)

    def vjp(self, node, cotangent, k, needed):
        o, (own, renamed) = outer_labels(k), _labels(node.ndim, node.params[0])
        direct = contract(o + own, [(node, own), (cotangent, o + own)])
        through_sum = contract(o + own, [(node, own), (node, renamed), (cotangent, o + renamed)])
        yield 0, direct - through_sum

    def jvp(self, node, tangents):
        own, renamed = _labels(node.ndim, node.params[0])
        direct = contract(own, [(node, own), (tangents[0], own)])
        return direct - contract(own, [(node, own), (node, renamed), (tangents[0], renamed)])


class LogSumExp(Primitive):
    name = "logsumexp"

    def output_shape(self, arg_shapes, params):
        return tuple(d for i, d in enumerate(arg_shapes[0]) if i != params[0])

    def evaluate(self, values, params):
        (x,), (axis,) = values, params
        xp = array_namespace(x)
        top = xp.max(x, axis=axis, keepdims=True)
        top = xp.where(xp.isfinite(top), top, 0)
        return xp.squeeze(xp.log(xp.sum(xp.exp(x - top), axis=axis, keepdims=True)) + top, axis=axis)

    def vjp(self, node, cotangent, k, needed):
        x, axis = node.children[0], node.params[0]
        o, own = outer_labels(k), tuple(range(x.ndim))
        reduced = tuple(i for i in own if i != axis)
        yield 0, contract(o + own, [(cotangent, o + reduced), (softmax(x, axis), own)])

    def jvp(self, node, tangents):
        x, axis = node.children[0], node.params[0]
        own = tuple(range(x.ndim))
        reduced = tuple(i for i in own if i != axis)
        return contract(reduced, [(softmax(x, axis), own), (tangents[0], own)])


for _primitive in (Softmax(), LogSumExp()):
    register(_primitive)


def softmax(x, axis=-1):
    """exp(x) / Σ_axis exp(x), computed without overflow.

    >>> import numpy as np, ricci
    >>> ricci.softmax(ricci.Tensor("z", (2,)))(z=np.array([1000.0, 1000.0]))
    array([0.5, 0.5])
    """
    x = as_expr(x, "argument of softmax")
    return apply(PRIMITIVES["softmax"], [x], (_axis(x.shape, axis, "softmax"),))


def logsumexp(x, axis=-1):
    """log Σ_axis exp(x), computed without overflow; the axis is removed.

    >>> import numpy as np, ricci
    >>> ricci.logsumexp(ricci.Tensor("z", (2,)))(z=np.array([1000.0, 1000.0]))
    array(1000.69314718)
    """
    x = as_expr(x, "argument of logsumexp")
    return apply(PRIMITIVES["logsumexp"], [x], (_axis(x.shape, axis, "logsumexp"),))


def log_softmax(x, axis=-1):
    """x − logsumexp(x) broadcast along ``axis``.

    >>> import numpy as np, ricci
    >>> ricci.log_softmax(ricci.Tensor("z", (2,)))(z=np.array([0.0, 0.0]))
    array([-0.69314718, -0.69314718])
    """
    x = as_expr(x, "argument of log_softmax")
    axis = _axis(x.shape, axis, "log_softmax")
    own = tuple(range(x.ndim))
    lse = logsumexp(x, axis)
    return x - contract(own, [(lse, tuple(i for i in own if i != axis))], {axis: x.shape[axis]})


def cross_entropy(logits, labels, axis=-1, reduction="sum"):
    """−Σ labels ⊙ log_softmax(logits): summed (``reduction="sum"``) or averaged over rows ("mean").

    ``labels`` are one-hot rows (or any probabilities) of the logits' shape.

    >>> import numpy as np, ricci
    >>> z = ricci.Tensor("z", (1, 2))
    >>> float(ricci.cross_entropy(z, np.array([[1.0, 0.0]]))(z=np.zeros((1, 2))))
    0.6931471805599453
    """
    logits = as_expr(logits, "logits of cross_entropy")
    labels = as_expr(labels, "labels of cross_entropy")
    if labels.shape != logits.shape:
        raise ShapeError(f"labels of cross_entropy have shape {labels.shape} but the logits {logits.shape}")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    own = tuple(range(logits.ndim))
    total = -contract((), [(labels, own), (log_softmax(logits, axis), own)])
    rows = logits.size // logits.shape[_axis(logits.shape, axis, "cross_entropy")] if logits.ndim else 1
    return total * (1.0 / rows) if reduction == "mean" else total


def squared_norm(x):
    """Squared Frobenius norm Σ x² over every element, a scalar: ``np.sum(x * x)``.

    Not numpy's 2-norm: ``np.linalg.norm(x, 2)`` of a matrix is its largest singular value.
    ``ricci.norm(x)``, the Frobenius norm, is the square root of this. ``ricci.norm2`` is the
    same function under its older name, kept as an alias.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2,))
    >>> float(ricci.squared_norm(x)(x=np.array([3.0, 4.0])))   # 3² + 4²
    25.0
    >>> W = ricci.Tensor("W", (2, 2))
    >>> ricci.grad(ricci.squared_norm(W), W)(W=np.array([[1.0, 2.0], [3.0, 4.0]]))   # 2 W
    array([[2., 4.],
           [6., 8.]])
    >>> ricci.norm2 is ricci.squared_norm
    True
    """
    x = as_expr(x, "argument of squared_norm")
    own = tuple(range(x.ndim))
    return contract((), [(x, own), (x, own)])


#: The older name of :func:`squared_norm` (the squared Frobenius norm Σ x², not numpy's
#: 2-norm); the same function, kept so existing code runs. Prefer ``squared_norm``.
norm2 = squared_norm


def norm(x):
    """Frobenius norm sqrt(Σ x²).

    >>> import numpy as np, ricci
    >>> float(ricci.norm(ricci.Tensor("x", (2,)))(x=np.array([3.0, 4.0])))
    5.0
    """
    from .primitives import sqrt

    return sqrt(squared_norm(x))


# -- stable logistic and Gaussian composites (built on ricci.special) -----------
def binary_cross_entropy(logits, targets, reduction="sum"):
    """Binary cross-entropy of ``targets`` in [0, 1] under sigmoid(``logits``), from the logits.

    Each element is −[t log σ(z) + (1 − t) log(1 − σ(z))] = softplus(z) − t·z,
    computed as (1 − t)·softplus(z) + t·softplus(−z): finite for logits of any
    size (the sigmoid form is ``nan`` at |z| ≈ 1e4) and without cancellation
    for targets in [0, 1]; its gradient is σ(z) − t. ``reduction`` is "sum" (a scalar),
    "mean" (the sum divided by the number of elements, as torch's
    ``BCEWithLogitsLoss``) or "none" (the element-wise losses). ``targets`` broadcast
    against the logits with numpy's rules.

    >>> import numpy as np, ricci
    >>> z = ricci.Tensor("z", (3,))
    >>> t = np.array([1.0, 0.0, 1.0])
    >>> float(ricci.binary_cross_entropy(z, t)(z=np.array([1e4, -1e4, 0.0])))
    0.6931471805599453
    >>> ricci.grad(ricci.binary_cross_entropy(z, t), z)(z=np.array([1e4, -1e4, 0.0]))   # σ(z) − t
    array([ 0. ,  0. , -0.5])
    """
    from .special import softplus

    logits = as_expr(logits, "logits of binary_cross_entropy")
    targets = as_expr(targets, "targets of binary_cross_entropy")
    if targets.shape != logits.shape:  # numpy broadcasting (torch needs equal shapes)
        from .broadcasting import broadcast_arrays

        logits, targets = broadcast_arrays(logits, targets, what="binary_cross_entropy (logits, targets)")
    if reduction not in ("sum", "mean", "none"):
        raise ValueError(f"reduction must be 'sum', 'mean' or 'none', got {reduction!r}")
    own = tuple(range(logits.ndim))
    # softplus(z) − t·z = (1 − t)·softplus(z) + t·softplus(−z): two non-negative terms, so no
    # cancellation (softplus(20) − 20 would lose 7 digits of e⁻²⁰), summed only after
    losses = contract(own, [(1 - targets, own), (softplus(logits), own)]) + contract(
        own, [(targets, own), (softplus(-logits), own)]
    )
    if reduction == "none":
        return losses
    if reduction == "mean":
        from .shaping import mean

        return mean(losses)
    return contract((), [(losses, own)])


def gelu(x):
    """The exact GELU x·Φ(x) = ½ x erfc(−x/√2) element-wise (Φ the standard normal CDF).

    Written with ``erfc`` so it stays accurate for x ≪ 0, where 1 + erf(x/√2)
    cancels; finite with its derivatives for arguments of ±1e4 and ±1e300.
    Not the tanh approximation.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (3,))
    >>> ricci.gelu(x)(x=np.array([-1e4, 1.0, 1e4])).round(6).tolist()
    [-0.0, 0.841345, 10000.0]
    """
    from .special import erfc

    x = as_expr(x, "argument of gelu")
    return 0.5 * (x * erfc(x * (-0.5**0.5)))
