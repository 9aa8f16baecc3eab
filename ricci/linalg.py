"""Matrix functions of square 2-D expressions, with network derivative rules.

==========  =============================  ================================
function    value                          differential (its network rule)
==========  =============================  ================================
inv(X)      X⁻¹                            d X⁻¹ = −X⁻¹ dX X⁻¹
det(X)      det X                          d det X = det X · tr(X⁻¹ dX)
logdet(X)   log det X  (det X > 0)         d logdet X = tr(X⁻¹ dX)
==========  =============================  ================================

``logdet`` is defined where ``det X > 0`` (for instance X positive
definite); elsewhere its value is ``nan``, as ``log(det X)`` would be. The
rules are contractions with ``inv(X)`` nodes, so derivatives of any order
work. ``trace(X)`` is ``einsum("ii->", X)``.

>>> import numpy as np, ricci
>>> X = ricci.Tensor("X", (2, 2))
>>> ricci.grad(ricci.logdet(X), X)(X=np.diag([2.0, 4.0]))   # X⁻ᵀ
array([[0.5 , 0.  ],
       [0.  , 0.25]])
"""
import numpy as np

from .errors import ShapeError
from .expr import apply, as_expr, contract
from .primitives import PRIMITIVES, Primitive, outer_labels, register


def _square(shapes, name):
    (shape,) = shapes
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ShapeError(f"{name} needs a square 2-D argument, got shape {shape}")
    return shape


class Inverse(Primitive):
    name = "inv"

    def output_shape(self, arg_shapes, params):
        return _square(arg_shapes, "inv")

    def evaluate(self, values, params):
        return np.linalg.inv(values[0])

    def vjp(self, node, cotangent, k, needed):  # -Yᵀ G Yᵀ
        o = outer_labels(k)
        yield 0, -contract(o + ("a", "b"), [(node, ("c", "a")), (cotangent, o + ("c", "d")), (node, ("b", "d"))])

    def jvp(self, node, tangents):  # -Y T Y
        return -contract(("a", "d"), [(node, ("a", "b")), (tangents[0], ("b", "c")), (node, ("c", "d"))])


class Determinant(Primitive):
    name = "det"

    def output_shape(self, arg_shapes, params):
        _square(arg_shapes, "det")
        return ()

    def evaluate(self, values, params):
        return np.asarray(np.linalg.det(values[0]))

    def vjp(self, node, cotangent, k, needed):  # G det(X) X⁻ᵀ
        o, inverse = outer_labels(k), inv(node.children[0])
        yield 0, contract(o + ("a", "b"), [(cotangent, o), (node, ()), (inverse, ("b", "a"))])

    def jvp(self, node, tangents):  # det(X) tr(X⁻¹ T)
        inverse = inv(node.children[0])
        return contract((), [(node, ()), (inverse, ("a", "b")), (tangents[0], ("b", "a"))])


class LogDeterminant(Primitive):
    name = "logdet"

    def output_shape(self, arg_shapes, params):
        _square(arg_shapes, "logdet")
        return ()

    def evaluate(self, values, params):
        sign, logabs = np.linalg.slogdet(values[0])
        return np.asarray(np.where(sign > 0, logabs, np.nan))

    def vjp(self, node, cotangent, k, needed):  # G X⁻ᵀ
        o, inverse = outer_labels(k), inv(node.children[0])
        yield 0, contract(o + ("a", "b"), [(cotangent, o), (inverse, ("b", "a"))])

    def jvp(self, node, tangents):  # tr(X⁻¹ T)
        return contract((), [(inv(node.children[0]), ("a", "b")), (tangents[0], ("b", "a"))])


for _primitive in (Inverse(), Determinant(), LogDeterminant()):
    register(_primitive)


def inv(x):
    """Matrix inverse of a square 2-D expression.

    >>> import numpy as np, ricci
    >>> X = ricci.Tensor("X", (2, 2))
    >>> ricci.inv(X)(X=np.diag([2.0, 4.0]))
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """
    return apply(PRIMITIVES["inv"], [as_expr(x, "argument of inv")])


def det(x):
    """Determinant of a square 2-D expression.

    >>> import numpy as np, ricci
    >>> round(float(ricci.det(ricci.Tensor("X", (2, 2)))(X=np.diag([2.0, 4.0]))), 12)
    8.0
    """
    return apply(PRIMITIVES["det"], [as_expr(x, "argument of det")])


def logdet(x):
    """log det X for a square 2-D expression with det X > 0 (``nan`` elsewhere).

    >>> import numpy as np, ricci
    >>> round(float(ricci.logdet(ricci.Tensor("X", (2, 2)))(X=np.diag([1.0, np.e]))), 12)
    1.0
    """
    return apply(PRIMITIVES["logdet"], [as_expr(x, "argument of logdet")])


def trace(x):
    """Trace of a square 2-D expression, ``einsum("ii->", x)``.

    >>> import numpy as np, ricci
    >>> float(ricci.trace(ricci.Tensor("X", (2, 2)))(X=np.eye(2)))
    2.0
    """
    x = as_expr(x, "argument of trace")
    _square([x.shape], "trace")
    return contract((), [(x, ("i", "i"))])
