"""The ricci exception hierarchy.

Every error ricci raises on bad input is a :class:`RicciError`, and also a
``ValueError``/``TypeError``/``MemoryError`` so that generic handlers work.

>>> import ricci
>>> try:
...     ricci.einsum("ij,jk->ikk", ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4)))
... except ricci.SubscriptError as e:
...     print(type(e).__name__, isinstance(e, ValueError))
SubscriptError True
"""
import numpy as np


class RicciError(Exception):
    """Base class of every error raised by ricci."""


class SubscriptError(RicciError, ValueError):
    """A malformed einsum subscript string."""


class SublistError(SubscriptError, TypeError):
    """A sublist of the interleaved einsum form that is not a sequence of ints and ``Ellipsis``.

    A :class:`ricci.SubscriptError` that is also a ``TypeError``, as numpy raises a TypeError here.
    """


class OperandError(RicciError, ValueError):
    """The number of operands does not match the subscripts."""


class OperandTypeError(RicciError, TypeError):
    """An operand is neither an expression, an array nor a number."""


class ShapeError(RicciError, ValueError):
    """Dimensions disagree: a shared index, an arithmetic pair, or two Tensors of one name."""


class InputError(RicciError, ValueError):
    """Base class of problems with the inputs passed to ``evaluate``."""


class MissingInputError(InputError):
    """An input the expression needs was not given."""


class UnknownInputError(InputError):
    """An input name that is not a variable of the expression nor of any Tensor."""


class InputShapeError(InputError):
    """An input array does not have the shape declared by its Tensor."""


class NotScalarError(RicciError, ValueError):
    """``grad`` was asked of a non-scalar expression."""


class WrtError(RicciError, TypeError):
    """The variable to differentiate with respect to is not a ``ricci.Tensor``."""


class MemoryBudgetError(RicciError, MemoryError):
    """Evaluating would allocate more than the memory budget allows."""


class ArgumentError(RicciError, ValueError, TypeError):
    """A bad argument to a ricci function: an unknown optimizer, a non-positive budget, ..."""


class DtypeError(RicciError, TypeError):
    """An operation the inputs' dtype does not allow: a derivative with respect to an integer
    input, or a non-holomorphic function (abs, relu, sign, step) of a complex one."""


class SingularMatrixError(RicciError, np.linalg.LinAlgError):
    """A matrix that ``inv``, ``solve`` or ``det``'s derivative needs to invert is singular."""


class IndexingError(RicciError, IndexError):
    """An index numpy would refuse with an ``IndexError``: out of range, too many indices,
    arrays that do not broadcast, or an index of a kind that is not an index at all.

    An ``IndexError``, so ``list(expr)`` (Python's sequence protocol) stops at the end of axis 0.
    """


class UnsupportedFunctionError(RicciError, TypeError):
    """A numpy function, ufunc, ufunc method or keyword argument that ricci does not map.

    Raised when ``numpy.<name>`` is called on a ricci expression (through
    ``__array_ufunc__``/``__array_function__``, see :mod:`ricci.numpy_api`); the message
    names the numpy function and what to use instead when something close exists.
    """


class BackendError(RicciError, TypeError):
    """An operation the backend of the input arrays (torch, jax, cupy, dask) cannot run.

    The message names the operation and the backend; evaluating with numpy arrays (or
    ``backend="numpy"``) runs it.
    """
