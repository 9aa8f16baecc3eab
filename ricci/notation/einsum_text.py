"""Einsum programs: an expression as the short program of einsum calls that ``str(expr)`` shows."""
from ..printing import to_text
from .common import _check_expr

__all__ = ["to_einsum"]


def to_einsum(expr, name=None):
    """The expression as a short program of einsum calls (shared parts named ``t0, t1, ...``).

    With ``name``, the last line is an assignment ``name = ...``.

    >>> import ricci
    >>> A, B = ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4))
    >>> print(ricci.einsum("ij,jk->ik", A, B).to_einsum())
    einsum("ab,bc->ac", A, B)
    """
    text = to_text([_check_expr(expr)])
    if name is None:
        return text
    lines = text.split("\n")
    lines[-1] = f"{name} = {lines[-1]}"
    return "\n".join(lines)
