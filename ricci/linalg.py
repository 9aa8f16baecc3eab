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

from .backends import array_namespace
from .errors import ShapeError
from .expr import add, apply, as_expr, contract
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
        return array_namespace(values[0]).linalg.inv(values[0])

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
        xp = array_namespace(values[0])
        return np.asarray(np.linalg.det(values[0])) if xp is np else xp.linalg.det(values[0])

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
        xp = array_namespace(values[0])
        sign, logabs = xp.linalg.slogdet(values[0])
        return np.asarray(np.where(sign > 0, logabs, np.nan)) if xp is np else xp.where(sign > 0, logabs, np.nan)

    def vjp(self, node, cotangent, k, needed):  # G X⁻ᵀ
        o, inverse = outer_labels(k), inv(node.children[0])
        yield 0, contract(o + ("a", "b"), [(cotangent, o), (inverse, ("b", "a"))])

    def jvp(self, node, tangents):  # tr(X⁻¹ T)
        return contract((), [(inv(node.children[0]), ("a", "b")), (tangents[0], ("b", "a"))])


class Solve(Primitive):
    """``Z = A⁻¹ B`` (or ``A⁻ᵀ B`` when transposed), contracting axis ``axis`` of B.

    The result's axes are A's row index followed by B's other axes, in order.
    """

    name = "solve"

    def output_shape(self, arg_shapes, params):
        a, b = arg_shapes
        axis, _ = params
        _square([a], "solve")
        if not b or b[axis] != a[0]:
            raise ShapeError(f"solve: the matrix has shape {a} but the right-hand side has shape {b}")
        return (a[0],) + b[:axis] + b[axis + 1:]

    def evaluate(self, values, params):
        a, b = values
        axis, transposed = params
        xp = array_namespace(b)
        rhs = xp.moveaxis(b, axis, 0)
        flat = rhs.reshape(rhs.shape[0], -1)
        return xp.linalg.solve(a.T if transposed else a, flat).reshape(rhs.shape)

    @staticmethod
    def _labels(node):
        axis, transposed = node.params
        rest = tuple(range(2, node.children[1].ndim + 1))  # B's other axes
        b_labels = rest[:axis] + ("k",) + rest[axis:]
        a_labels = ("k", "r") if transposed else ("r", "k")  # Z_r… = (A⁻¹)_rk B_k… or (A⁻ᵀ)_rk B_k…
        return a_labels, b_labels, ("r",) + rest

    def vjp(self, node, cotangent, k, needed):
        # Z = M⁻¹ B with M = A or Aᵀ:  Ḡ_B = M⁻ᵀ Ḡ,  Ḡ_M = −(M⁻ᵀ Ḡ) Zᵀ
        a, b = node.children
        a_labels, b_labels, z_labels = self._labels(node)
        o = outer_labels(k)
        solved = contract(o + b_labels, [(inv(a), a_labels), (cotangent, o + z_labels)])  # M⁻ᵀ Ḡ, over B's axes
        if a in needed:
            m_labels = ("k", "s") if not node.params[1] else ("s", "k")
            z_as = tuple("s" if lab == "r" else lab for lab in z_labels)
            yield 0, -contract(o + m_labels, [(solved, o + b_labels), (node, z_as)])
        if b in needed:
            yield 1, solved

    def jvp(self, node, tangents):
        # dZ = M⁻¹ (dB − dM Z)
        a, b = node.children
        a_labels, b_labels, z_labels = self._labels(node)
        ta, tb = tangents
        terms = []
        if tb is not None:
            terms.append((1.0, contract(z_labels, [(inv(a), a_labels), (tb, b_labels)])))
        if ta is not None:
            dm = ("k", "s") if not node.params[1] else ("s", "k")
            dmz = contract(b_labels, [(ta, dm), (node, tuple("s" if lab == "r" else lab for lab in z_labels))])
            terms.append((-1.0, contract(z_labels, [(inv(a), a_labels), (dmz, b_labels)])))
        return add(terms)


for _primitive in (Inverse(), Determinant(), LogDeterminant(), Solve()):
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


def solve(a, b):
    """The solution Z of A Z = B for a square A and B of shape (n,) or (n, …), as numpy.linalg.solve.

    >>> import numpy as np, ricci
    >>> A, b = ricci.Tensor("A", (2, 2)), ricci.Tensor("b", (2,))
    >>> ricci.solve(A, b)(A=np.diag([2.0, 4.0]), b=np.ones(2))
    array([0.5 , 0.25])
    """
    a, b = as_expr(a, "matrix of solve"), as_expr(b, "right-hand side of solve")
    return apply(PRIMITIVES["solve"], [a, b], (0, False))
