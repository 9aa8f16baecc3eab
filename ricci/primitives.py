"""Primitive functions and their derivative rules, in one table.

Each element-wise primitive is one row of :data:`ELEMENTWISE`: its name, its
numpy implementation, and its derivative f'(x) written as a ricci
expression of the argument ``x`` and the result ``y`` (so derivatives of
derivatives work). The chain rule for every row is the same network: f'(x)
joined to the cotangent by a hyperedge on the indices of x.

A primitive that is not element-wise subclasses :class:`Primitive` and
supplies its own ``vjp`` and ``jvp`` networks; :func:`register` adds it.

>>> import numpy as np, ricci
>>> x = ricci.Tensor("x", (3,))
>>> ricci.grad(ricci.einsum("i->", ricci.tanh(x)), x)(x=np.zeros(3))
array([1., 1., 1.])
"""
import numpy as np

from .backends import array_namespace, is_complex, numpy_dtype
from .expr import Apply, Zeros, add, apply, as_expr, contract

PRIMITIVES = {}


def register(primitive):
    """Add a primitive to the registry (its name must be new)."""
    if primitive.name in PRIMITIVES:
        raise ValueError(f"a primitive named {primitive.name!r} is already registered")
    PRIMITIVES[primitive.name] = primitive
    return primitive


def outer_labels(k):
    """Labels of the k leading 'outer' axes a cotangent may carry (Jacobians, Hessians)."""
    return tuple(("outer", i) for i in range(k))


class Primitive:
    """A function node type: value, output shape and derivative networks."""

    name = "primitive"

    def output_shape(self, arg_shapes, params):
        raise NotImplementedError

    def evaluate(self, values, params):
        raise NotImplementedError

    def vjp(self, node, cotangent, k, needed):
        """Yield ``(argument index, contribution)`` for each needed argument.

        ``cotangent`` has shape ``outer + node.shape`` with ``k`` outer axes;
        each contribution has shape ``outer + argument.shape``.
        """
        raise NotImplementedError

    def jvp(self, node, tangents):
        """The tangent of ``node`` given its arguments' tangents (None = zero)."""
        raise NotImplementedError

    def specialize_params(self, params, binding):
        """``params`` with named dimensions replaced by their sizes (``binding``: name -> int).

        For evaluation with symbolic dimensions (:mod:`ricci.symbolic`); only a
        primitive whose params hold shapes or sizes needs to override it.
        """
        return params

    def __repr__(self):
        return f"<primitive {self.name}>"


class WeightedElementwise(Primitive):
    """An element-wise function of equal-shape arguments whose partial derivatives are
    expressions (``weights(node)``, one per argument): its vjp is each weight joined to the
    cotangent on a hyperedge, its jvp the weighted sum of the tangents. logaddexp, maximum
    and minimum are such functions."""

    def weights(self, node):
        raise NotImplementedError

    def vjp(self, node, cotangent, k, needed):
        o, own = outer_labels(k), tuple(range(node.ndim))
        for i, (child, weight) in enumerate(zip(node.children, self.weights(node))):
            if child in needed:
                yield i, contract(o + own, [(weight, own), (cotangent, o + own)])

    def jvp(self, node, tangents):
        own = tuple(range(node.ndim))
        terms = [(1.0, contract(own, [(weight, own), (tangent, own)]))
                 for weight, tangent in zip(self.weights(node), tangents) if tangent is not None]
        return add(terms) if terms else Zeros(node.shape)


class Elementwise(Primitive):
    """A unary element-wise function with a derivative given as an expression."""

    def __init__(self, name, function, derivative, zero_at_zero, doc):
        self.name = name
        self.function = function
        self.derivative = derivative  # (x, y, *params) -> f'(x) as an Expr, or None for 0
        self.zero_at_zero = zero_at_zero  # (*params) -> whether f(0) == 0
        self.doc = doc

    def output_shape(self, arg_shapes, params):
        return arg_shapes[0]

    def evaluate(self, values, params):
        return self.function(values[0], *params)

    def derivative_of(self, node):
        """f'(x) for this application, as an expression of x's shape."""
        x = node.children[0]
        if self.derivative is None:
            return Zeros(x.shape)
        return self.derivative(x, node, *node.params)

    def vjp(self, node, cotangent, k, needed):
        outer, own = outer_labels(k), tuple(range(node.ndim))
        yield 0, contract(outer + own, [(self.derivative_of(node), own), (cotangent, outer + own)])

    def jvp(self, node, tangents):
        own = tuple(range(node.ndim))
        return contract(own, [(self.derivative_of(node), own), (tangents[0], own)])

    def __call__(self, x, *params):
        x = as_expr(x, f"argument of {self.name}")
        if isinstance(x, Zeros) and self.zero_at_zero(*params):
            return x
        return apply(self, [x], tuple(params))


# -- implementations that need care (numpy, or the backend of x: ricci.backends) ------
def _sigmoid(x):
    """1/(1+e⁻ˣ) with relative accuracy in both tails and no overflow: e^{-|x|} never overflows."""
    xp = array_namespace(x)
    if is_complex(x):
        return 0.5 * (xp.tanh(0.5 * x) + 1.0)  # holomorphic form for complex arguments
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0, e) / (1.0 + e)


def _relu(x):
    xp = array_namespace(x)
    return np.maximum(x, 0) if xp is np else xp.clip(x, 0, None)


def _step(x):
    xp = array_namespace(x)
    dtype = np.result_type(numpy_dtype(x), np.float32)
    return (x > 0).astype(dtype) if xp is np else xp.astype(x > 0, dtype)


def _power(x, p):
    if p < 0 and numpy_dtype(x).kind in "iub":  # numpy refuses integers to negative integer powers
        x = x.astype(np.float64) if type(x) is np.ndarray else array_namespace(x).astype(x, np.float64)
    return x**p  # ndarray.__pow__ takes numpy's fast paths for 2, 0.5, -1


# -- the table ----------------------------------------------------------------
# name, numpy function, f'(x) from (x, y=f(x), *params), whether f(0) == 0, doc
ELEMENTWISE = [
    ("tanh", np.tanh, lambda x, y: 1 - y**2, lambda: True, "Hyperbolic tangent; tanh' = 1 - tanh²."),
    ("exp", np.exp, lambda x, y: y, lambda: False, "Exponential; exp' = exp."),
    ("log", np.log, lambda x, y: x**-1, lambda: False, "Natural logarithm (x > 0); log' = 1/x."),
    ("sigmoid", _sigmoid, lambda x, y: y - y**2, lambda: False, "Logistic sigmoid 1/(1+e⁻ˣ); σ' = σ(1-σ)."),
    ("relu", _relu, lambda x, y: step(x), lambda: True, "max(x, 0); its derivative at 0 is taken as 0."),
    ("step", _step, None, lambda: True, "Heaviside step (1 where x > 0, else 0); derivative 0."),
    ("sqrt", np.sqrt, lambda x, y: 0.5 * y**-1, lambda: True, "Square root (x ≥ 0); sqrt' = 1/(2 sqrt)."),
    ("abs", np.abs, lambda x, y: sign(x), lambda: True, "Absolute value; its derivative at 0 is 0."),
    ("sign", np.sign, None, lambda: True, "Sign (-1, 0, 1); derivative 0."),
    ("sin", np.sin, lambda x, y: cos(x), lambda: True, "Sine; sin' = cos."),
    ("cos", np.cos, lambda x, y: -sin(x), lambda: False, "Cosine; cos' = -sin."),
    ("power", _power, lambda x, y, p: p * x ** (p - 1), lambda p: p > 0, "x**p for a constant p."),
]

for _name, _function, _derivative, _zero, _doc in ELEMENTWISE:
    register(Elementwise(_name, _function, _derivative, _zero, _doc))


def _public(name):
    primitive = PRIMITIVES[name]

    def function(x):
        return primitive(x)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"""{primitive.doc}

    Applied element-wise to an expression, array or number.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2,))
    >>> ricci.{name}(x).shape
    (2,)
    """
    return function


tanh, exp, log, sigmoid, relu, step, sqrt, abs, sign, sin, cos = (
    _public(n) for n in ("tanh", "exp", "log", "sigmoid", "relu", "step", "sqrt", "abs", "sign", "sin", "cos")
)


def power(x, p):
    """``x ** p`` element-wise for a constant number ``p``.

    >>> import numpy as np, ricci
    >>> x = ricci.Tensor("x", (2,))
    >>> (x ** 2)(x=np.array([3.0, 4.0]))
    array([ 9., 16.])
    """
    x = as_expr(x, "base of **")
    if p == 1:
        return x
    if p == 0:
        return add([(1.0, Zeros(x.shape))], offset=1.0)
    if isinstance(x, Apply) and x.primitive.name == "power" and float(p).is_integer() and float(x.params[0]).is_integer():
        return power(x.children[0], x.params[0] * p)  # (x**m)**n = x**(m·n) for integers, for every real x
    return PRIMITIVES["power"](x, p)
