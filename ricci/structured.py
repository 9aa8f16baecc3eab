"""Factored results: a dense core times Kronecker deltas.

Many Jacobians and Hessians are mostly identity: ∂²‖UVᵀ − Y‖²/∂U² is
2 δ_ac (VᵀV)_bd, an m×m identity times a k×k matrix, not an (mk)² array.
``expr.evaluate(inputs, structured=True)`` returns such a result as a
:class:`Structured` — the small core and the delta pattern — whenever the
expression's top-level network holds deltas between its free indices;
``todense()`` materializes it under the memory budget, and ``dot(v)``
applies it to a tensor without materializing it.

>>> import numpy as np, ricci
>>> U, V = ricci.Tensor("U", (1000, 20)), ricci.Tensor("V", (300, 20))
>>> H = ricci.hessian(ricci.norm2(ricci.einsum("ik,jk->ij", U, V)), U)
>>> h = H.evaluate({"U": np.ones((1000, 20)), "V": np.ones((300, 20))}, structured=True)
>>> h.shape, h.core.shape, h.deltas
((1000, 20, 1000, 20), (20, 20), ((0, 2),))
"""
import functools

import numpy as np
import opt_einsum

from .errors import MemoryBudgetError
from .expr import Add, Constant, Contract, Delta, contract


@functools.lru_cache(maxsize=256)
def factor(expr):
    """Split ``expr`` into ``(core expression, core axes, delta axis pairs)``, or None if it has no deltas.

    Indices tied by a delta are one index in the core: ``x_a δ_ab`` is stored
    as the vector ``x``, not as the matrix ``diag(x)``.
    """
    scale, node = 1.0, expr
    if isinstance(node, Add) and node.offset == 0 and len(node.terms) == 1:
        scale, node = node.terms[0]
    if isinstance(node, Delta):
        return Constant(1.0) * scale, (), ((0, 1),)
    if not isinstance(node, Contract) or not any(isinstance(c, Delta) for c in node.children):
        return None
    deltas = [labs for c, labs in node.factors if isinstance(c, Delta)]
    representative = {lab: lab for lab in node.out}
    for a, b in deltas:  # union of delta-tied indices; the first in output order represents them
        ra, rb = sorted((_find(representative, a), _find(representative, b)), key=node.out.index)
        representative[rb] = ra
    rep = {lab: _find(representative, lab) for lab in node.out}
    plain = [(c, tuple(rep.get(lab, lab) for lab in labs)) for c, labs in node.factors if not isinstance(c, Delta)]
    carried = {lab for _, labs in plain for lab in labs}
    in_deltas = {lab for labs in deltas for lab in labs}
    core_out = tuple(lab for lab in node.out if rep[lab] == lab and (lab in carried or lab not in in_deltas))
    core = contract(core_out, plain, dict(enumerate(node.sizes))) * scale
    position = {lab: i for i, lab in enumerate(node.out)}
    pairs = sorted(tuple(sorted((position[a], position[b]))) for a, b in deltas)
    return core, tuple(position[lab] for lab in core_out), tuple(pairs)


def _count(shape):
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _find(parent, lab):
    while parent[lab] != lab:
        lab = parent[lab]
    return lab


class Structured:
    """``T[i…] = core[i at core_axes] · Π δ(i_a, i_b)`` for each delta pair ``(a, b)`` of axes.

    What ``evaluate(..., structured=True)`` returns for a result that is mostly identity:
    the core is stored, the deltas are not.

    >>> import numpy as np, ricci
    >>> U, V = ricci.Tensor("U_st_doc", (100, 2)), ricci.Tensor("V_st_doc", (5, 2))
    >>> H = ricci.hessian(ricci.squared_norm(ricci.einsum("ik,jk->ij", U, V)), U)   # 2 δ ⊗ VᵀV
    >>> h = H.evaluate({"U_st_doc": np.ones((100, 2)), "V_st_doc": np.ones((5, 2))}, structured=True)
    >>> h.shape, h.core.shape, h.deltas, h.nbytes, h.dense_nbytes
    ((100, 2, 100, 2), (2, 2), ((0, 2),), 32, 320000)
    """

    def __init__(self, core, core_axes, deltas, shape):
        self.core, self.core_axes, self.deltas, self.shape = core, tuple(core_axes), tuple(deltas), tuple(shape)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def dtype(self):
        return self.core.dtype

    @property
    def nbytes(self):
        """Bytes actually stored (the core)."""
        return self.core.nbytes

    @property
    def dense_nbytes(self):
        """Bytes the materialized tensor would take (an exact integer: no overflow)."""
        return _count(self.shape) * self.core.dtype.itemsize

    def _network(self, extra_axes=()):
        """Einsum operands and subscripts: the core and one identity per delta."""
        letters = [opt_einsum.get_symbol(i) for i in range(self.ndim + len(extra_axes))]
        subscripts = ["".join(letters[a] for a in self.core_axes)]
        operands = [self.core]
        for a, b in self.deltas:
            subscripts.append(letters[a] + letters[b])
            operands.append(np.eye(self.shape[a], dtype=self.dtype))
        return subscripts, operands, letters

    def todense(self, memory_budget=None):
        """The materialized array (refused over the memory budget)."""
        from .engine.budget import current_budget
        from .engine.budget import format_bytes as _format_bytes

        budget = current_budget(memory_budget)
        if self.dense_nbytes > budget:
            raise MemoryBudgetError(
                f"materializing this {self.shape} tensor ({_count(self.shape):,} elements) needs "
                f"{self.dense_nbytes:,} bytes ({_format_bytes(self.dense_nbytes)}), over the "
                f"memory budget of {_format_bytes(budget)}; keep it factored (it stores "
                f"{_format_bytes(self.nbytes)}) and use .dot(v), or raise the budget"
            )
        subscripts, operands, letters = self._network()
        out = "".join(letters[: self.ndim])
        return opt_einsum.contract(",".join(subscripts) + "->" + out, *operands)

    def __array__(self, dtype=None, copy=None):
        dense = self.todense()
        return dense if dtype is None else dense.astype(dtype)

    def dot(self, v, memory_budget=None):
        """Contract the trailing ``v.ndim`` axes with ``v`` (e.g. a Hessian-vector product).

        Delta-tied axes are merged, so nothing of the dense size is formed
        unless both ends of a delta stay in the result.

        >>> import numpy as np
        >>> s = Structured(np.array([[2.0]]), (1, 3), ((0, 2),), (3, 1, 3, 1))
        >>> s.dot(np.ones((3, 1)))[:, 0]
        array([2., 2., 2.])
        """
        from .engine.budget import current_budget, refuse
        from .errors import ShapeError

        v = np.asarray(v)
        lead = self.ndim - v.ndim
        if lead < 0 or self.shape[lead:] != v.shape:
            raise ShapeError(f"cannot contract a tensor of shape {self.shape} with one of shape {v.shape}")
        budget = current_budget(memory_budget)
        itemsize = np.result_type(self.core, v).itemsize
        out_shape = self.shape[:lead]
        if _count(out_shape) * itemsize > budget:
            refuse("the result of Structured.dot", out_shape, _count(out_shape), _count(out_shape) * itemsize, budget)
        for a, b in self.deltas:
            if a < lead and b < lead and self.shape[a] ** 2 * itemsize > budget:
                n = self.shape[a]
                refuse("an identity factor", (n, n), n * n, n * n * itemsize, budget)
        letter = [opt_einsum.get_symbol(i) for i in range(self.ndim)]
        identities = []
        for a, b in self.deltas:
            if a < lead and b < lead:  # both in the result: an identity factor of the result's size
                identities.append((a, b))
                continue
            keep, drop = (a, b) if a < lead or b >= lead else (b, a)
            old, new = letter[drop], letter[keep]
            letter = [new if lab == old else lab for lab in letter]
        subscripts = ["".join(letter[a] for a in self.core_axes)]
        operands = [self.core]
        for a, b in identities:
            subscripts.append(letter[a] + letter[b])
            operands.append(np.eye(self.shape[a], dtype=self.dtype))
        subscripts.append("".join(letter[lead:]))
        expression = ",".join(subscripts) + "->" + "".join(letter[:lead])
        return opt_einsum.contract(expression, *operands, v)

    def __repr__(self):
        from .evaluate import _format_bytes

        pairs = ", ".join(f"δ(axis {a}, axis {b})" for a, b in self.deltas)
        return (
            f"Structured(shape={self.shape}: core of shape {self.core.shape} on axes {self.core_axes} "
            f"times {pairs}; stores {_format_bytes(self.nbytes)} instead of {_format_bytes(self.dense_nbytes)})"
        )
