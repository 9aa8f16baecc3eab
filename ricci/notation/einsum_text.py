"""Einsum programs: an expression as the short program of einsum calls that ``str(expr)`` shows."""
from ..printing import to_text
from .common import _check_expr
from .runnable import bind_constants, preamble

__all__ = ["to_einsum"]


def to_einsum(expr, name=None, imports=True):
    """The expression as a short program of einsum calls (shared parts named ``t0, t1, ...``)
    that runs under numpy: with ``imports`` (the default) it starts with the lines that bind
    what it calls (numpy's functions, one-line numpy definitions of ricci's others, see
    :mod:`ricci.notation.runnable`), and constants that have no value in the text are
    ``C0 = ...`` lines saying what to bind. ``imports=False`` gives the bare program, as
    ``str(expr)`` shows it.

    With ``name``, the last line is an assignment ``name = ...``.

    >>> import numpy as np, ricci
    >>> A, B = ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4))
    >>> print(ricci.einsum("ij,jk->ik", A, B).to_einsum())
    import numpy
    from numpy import einsum
    einsum("ab,bc->ac", A, B)
    >>> scope = {"A": np.ones((2, 3)), "B": np.ones((3, 4))}
    >>> exec(ricci.sigmoid(A @ B).to_einsum(name="out"), scope); scope["out"].shape   # our own text
    (2, 4)
    """
    text = to_text([_check_expr(expr)])
    if name is not None:
        lines = text.split("\n")
        lines[-1] = f"{name} = {lines[-1]}"
        text = "\n".join(lines)
    if not imports:
        return text
    return preamble(text) + "\n" + bind_constants(text)
