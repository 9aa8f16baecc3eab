"""Notation for people: einsum programs, index notation and matrix notation.

- :func:`to_einsum` — a short program of einsum calls (``str(expr)``).
- :func:`to_latex` — index notation with the summation convention: the free
  indices are on the result, every other index is summed.
- :func:`to_matrix` — conventional matrix notation (products, ᵀ, ⊙, diag, tr,
  ⁻¹, det, 1 vectors for sums) when the network is a chain of tensors with at
  most two indices; otherwise index notation, saying so.

All output is deterministic.

>>> import ricci
>>> X, W, Y = ricci.Tensor("X", (5, 3)), ricci.Tensor("W", (3, 2)), ricci.Tensor("Y", (5, 2))
>>> R = ricci.einsum("ij,jk->ik", X, W) - Y
>>> ricci.grad(ricci.einsum("ij,ij->", R, R), W).to_matrix()
'2 Xᵀ(XW − Y)'
>>> print(ricci.einsum("ij,jk->ik", X, W).to_latex())
\\mathrm{out}_{ij} = X_{ik} W_{kj}

Where each printer lives:

- :mod:`ricci.notation.einsum_text` — :func:`to_einsum`;
- :mod:`ricci.notation.index` — :func:`to_latex`, :func:`index_notation`;
- :mod:`ricci.notation.matrix_terms` — matrix notation's terms and their
  normal forms (transposes pushed down, common factors taken out);
- :mod:`ricci.notation.matrix_rules` — the rewrite rules from an einsum
  network to matrix terms, in one table (``RULES``);
- :mod:`ricci.notation.matrix` — nodes to terms, terms to text:
  :func:`to_matrix`, :func:`matrix_or_none`, :func:`short_formula`;
- :mod:`ricci.notation.common` — :class:`NotationError` and helpers shared
  by the index and matrix printers.

Every name is importable from ``ricci.notation`` as before the split.
"""
from .common import (  # noqa: F401
    _INLINE_LIMIT,
    _LATEX_FUNCTIONS,
    NotationError,
    _check_expr,
    _constant_name,
    _is_ones,
    _latex_name,
    _NotMatrix,
    _number,
)
from .einsum_text import to_einsum
from .index import (  # noqa: F401
    _AXIS_PARAM,
    _LETTERS,
    _SUPERSCRIPTS,
    _Index,
    _simple,
    _size_latex,
    index_notation,
    to_latex,
)
from .matrix import (  # noqa: F401
    _DECORATION,
    _SHORT,
    _Matrix,
    _matrix_program,
    _more_nodes_than,
    _tight,
    matrix_or_none,
    short_formula,
    to_matrix,
)
from .matrix_rules import (  # noqa: F401
    _contract_pair,
    _first,
    _out_order,
    _OutSet,
    _reduce,
    _reduce_step,
)
from .matrix_terms import (  # noqa: F401
    _FORM_OF_NDIM,
    _RANK,
    _T,
    _TRANSPOSED_FORM,
    _atom,
    _chain,
    _cost,
    _factor,
    _factor_chains,
    _had,
    _is_ones_term,
    _ones,
    _ones_matrix,
    _ones_row,
    _prod,
    _prod_form,
    _scale,
    _sub_terms,
    _sum,
    _T_of,
    _tr,
)

__all__ = [
    "NotationError",
    "index_notation",
    "matrix_or_none",
    "short_formula",
    "to_einsum",
    "to_latex",
    "to_matrix",
]
