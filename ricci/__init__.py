"""ricci: derivatives of einsum tensor networks, evaluated without generalized Jacobians.

>>> import numpy as np, ricci
>>> W, x = ricci.Tensor("W", (4, 3)), ricci.Tensor("x", (3, 5))
>>> L = ricci.einsum("ib,ib->", ricci.tanh(ricci.einsum("ij,jb->ib", W, x)), np.ones((4, 5)))
>>> ricci.grad(L, W).shape
(4, 3)
"""
from .derivatives import backprop, forward, grad, hessian, hvp, jacobian, jvp, vjp
from .einsum import einsum, sum
from .errors import (
    ArgumentError,
    BackendError,
    DtypeError,
    IndexingError,
    SingularMatrixError,
    SublistError,
    InputError,
    InputShapeError,
    MemoryBudgetError,
    MissingInputError,
    NotScalarError,
    OperandError,
    OperandTypeError,
    RicciError,
    ShapeError,
    SubscriptError,
    UnknownInputError,
    UnsupportedFunctionError,
    WrtError,
)
from .engine import Function, compile
from .evaluate import Cost, cost, evaluate, get_memory_budget, set_memory_budget
from .expr import Constant, Expr, Tensor
from .draw import draw, draw_derivative
from .explain import explain
from .structured import Structured
from .linalg import det, inv, logdet, solve, trace
from .nn import (binary_cross_entropy, cross_entropy, gelu, log_softmax, logsumexp, norm, norm2, softmax,
                 squared_norm)
from .broadcasting import broadcast_arrays, broadcast_shapes, broadcast_to
from .shaping import expand_dims, mean, moveaxis, squeeze, swapaxes, transpose
from .indexing import concatenate, reshape, stack
from .reductions import max, min  # noqa: A004 (numpy's names)
from .primitives import abs, cos, exp, log, power, relu, sigmoid, sign, sin, sqrt, step, tanh
from .special import erf, erfc, expm1, log1p, log_sigmoid, logaddexp, softplus
from .source import to_source
from .export import jax_function, torch_function
from .select import clip, equal, greater, greater_equal, less, less_equal, maximum, minimum, not_equal, where

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Constant", "Expr", "einsum", "sum",
    "broadcast_shapes", "broadcast_to", "broadcast_arrays",
    "mean", "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze",
    "reshape", "concatenate", "stack", "max", "min", "IndexingError",
    "tanh", "exp", "log", "sigmoid", "relu", "step", "sqrt", "abs", "sign", "sin", "cos", "power",
    "inv", "det", "logdet", "trace", "solve",
    "softmax", "logsumexp", "log_softmax", "cross_entropy", "squared_norm", "norm2", "norm",
    "softplus", "log_sigmoid", "log1p", "expm1", "logaddexp", "erf", "erfc", "binary_cross_entropy", "gelu",
    "grad", "vjp", "jvp", "jacobian", "hessian", "hvp", "backprop", "forward",
    "evaluate", "compile", "Function", "cost", "Cost", "Structured",
    "draw", "draw_derivative", "explain", "set_memory_budget", "get_memory_budget",
    "RicciError", "SubscriptError", "OperandError", "OperandTypeError", "ShapeError",
    "InputError", "MissingInputError", "UnknownInputError", "InputShapeError",
    "NotScalarError", "WrtError", "MemoryBudgetError", "ArgumentError", "DtypeError",
    "SingularMatrixError", "SublistError", "BackendError",
    "less", "less_equal", "greater", "greater_equal", "equal", "not_equal",
    "where", "maximum", "minimum", "clip", "UnsupportedFunctionError",
    "to_source", "torch_function", "jax_function",
]
