"""Helpers shared by the index-notation and matrix-notation printers.

The error a printer raises (:class:`NotationError`) and the internal signal
that matrix notation gave up (``_NotMatrix``); the argument check; how
numbers, all-ones constants, constant names and tensor names are written;
the LaTeX names of element-wise functions; and ``_INLINE_LIMIT``, the size
above which a part is named instead of written inline.
"""
import re

import numpy as np

from ..errors import RicciError
from ..expr import Constant, Expr


class NotationError(RicciError, ValueError):
    """An expression has no matrix notation (raised by ``to_matrix(..., strict=True)``)."""


NotationError.__module__ = "ricci.notation"  # its public home (tracebacks and pickles name it so)


class _NotMatrix(Exception):
    """Internal: why the matrix renderer gave up."""


_INLINE_LIMIT = 120  # a part bigger than this (in term nodes) is named: no text nests deeper
_LATEX_FUNCTIONS = {
    "tanh": r"\tanh", "exp": r"\exp", "log": r"\log", "sin": r"\sin", "cos": r"\cos",
    "sigmoid": r"\sigma", "relu": r"\operatorname{relu}", "step": r"\operatorname{step}",
    "sign": r"\operatorname{sign}",
}


def _check_expr(expr):
    if not isinstance(expr, Expr):
        raise NotationError(f"expected a ricci expression, got {type(expr).__name__}")
    return expr


def _number(value, unicode_minus=False):
    if isinstance(value, complex):
        return repr(value)
    text = f"{value:g}"
    return text.replace("-", "−") if unicode_minus else text


def _is_ones(node):
    """An unnamed all-ones constant (written as a 1 vector or dropped); a named one keeps its name."""
    return (isinstance(node, Constant) and node.name is None and node.value.size > 0
            and bool(np.all(node.value == 1)))


def _constant_name(constants, node):
    """The display name of a non-scalar constant: its own name, or the next ``C<k>`` of the unnamed."""
    name = constants.get(node)
    if name is None:
        name = constants[node] = node.name if node.name is not None else (
            f"C{sum(1 for c in constants if c.name is None)}")
    return name


def _latex_name(name):
    """A Tensor name as LaTeX: ``W_c`` -> ``W_{c}``, ``c_prev`` -> ``c_{\\mathrm{prev}}``."""
    base, _, sub = name.partition("_")

    def word(text):
        text = re.sub(r"([\\{}$&#%^~])", r"\\\1", text).replace("_", r"\_")
        return text if len(text) <= 1 else rf"\mathrm{{{text}}}"

    return word(base) + (f"_{{{word(sub)}}}" if sub else "")
