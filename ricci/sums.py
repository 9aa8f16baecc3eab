"""Building sums: :func:`add` and the simplifications it applies at construction.

An :class:`ricci.expr.Add` is ``offset + Σ coef·term`` over same-shape terms, and
:func:`add` returns the simplest node of that value: small sums among the terms
are spliced in so that equal terms merge (``x + x`` is ``2*x``), zero terms and
zero coefficients vanish, a lone term with coefficient 1 is that term and a
scaled 0-d constant a constant. Two distributive rules shrink sums of
contractions (built with :func:`ricci.contraction.contract`):

- a factor on output indices that every term holds comes out,
  ``a·b + a·c = a·(b + c)`` (:func:`_factor_out`);
- a factor with a summed index that every term holds comes out when the sum of
  the rests is no larger than it, ``Xᵀa + Xᵀb = Xᵀ(a + b)``: one sweep over
  ``X`` instead of two (:func:`_common_summed_factor`, :func:`_factor_out_summed`).

The terms of a sum are ordered by content (fingerprint), so the same sum is one
interned node whatever order its terms were given in.
"""
from .contraction import contract
from .dims import assumed, assumed_count
from .errors import ShapeError
from .expr import Add, Constant, Contract, Delta, Zeros, _intern, _ints_text, _typed

_SPLICE_LIMIT = 64  # a sum with more terms is kept whole inside another sum


def add(terms, offset=0):
    """Build a simplified linear combination ``offset + Σ coef·expr``.

    Terms that are small sums are spliced in, so equal terms merge
    (``x + x`` is ``2*x``); a sum of more than 64 terms stays one term of the
    new sum, so a long sum built term by term costs O(1) per term, not O(n).

    >>> import ricci
    >>> x, y = ricci.Tensor("x", (2,)), ricci.Tensor("y", (2,))
    >>> [(c, t.name) for c, t in ((x + y) - 3 * x).terms]
    [(-2, 'x'), (1, 'y')]
    """
    shape = terms[0][1].shape
    merged = {}
    for coef, expr in terms:
        if expr.shape != shape:
            raise ShapeError(f"cannot add shapes {shape} and {expr.shape}")
        if isinstance(expr, Add) and len(expr.terms) <= _SPLICE_LIMIT:
            offset = offset + coef * expr.offset
            for inner_coef, inner in expr.terms:
                merged[inner] = merged.get(inner, 0) + coef * inner_coef
        elif not isinstance(expr, Zeros):
            merged[expr] = merged.get(expr, 0) + coef
    kept = tuple((coef, expr) for expr, coef in merged.items() if coef != 0)
    if not kept and offset == 0:
        return Zeros(shape)
    if offset == 0 and len(kept) == 1 and kept[0][0] == 1:
        return kept[0][1]
    if offset == 0 and len(kept) == 1 and isinstance(kept[0][1], Constant) and kept[0][1].value.ndim == 0:
        return Constant(kept[0][0] * kept[0][1].value)
    if offset == 0 and len(kept) > 1:  # (both need two terms)
        common = _common_factor(kept)
        if common is not None:
            return _factor_out(kept, common, shape)
        shared = _common_summed_factor(kept, shape)
        if shared is not None:
            return _factor_out_summed(kept, shared, shape)
    ordered = sorted(kept, key=lambda t: t[1].fingerprint) if len(kept) > 1 else kept
    if type(offset) is tuple or any(type(c) is tuple for c, _ in kept):
        key, text = ("add", tuple((_typed(c), e) for c, e in ordered), _typed(offset), shape), None
    else:  # numbers (always, in practice): the key and its _stable_text written out
        key = ("add", tuple([((type(c).__name__, c), e) for c, e in ordered]), (type(offset).__name__, offset), shape)

        def text():
            parts = ",".join(["(('" + type(c).__name__ + "'," + repr(c) + ")," + e.fingerprint + ")" for c, e in ordered])
            return "('add',(" + parts + "),('" + type(offset).__name__ + "'," + repr(offset) + ")," + _ints_text(shape) + ")"

    return _intern(
        Add, key, tuple(e for _, e in kept), shape, text=text, terms=kept, offset=offset,
        _plain=not (offset == 0 and len(kept) == 1),  # a scaled term: _fold_scalars takes its coefficient
    )


def _as_factors(expr):
    """A term as a contraction: its factors and label sizes (a bare term is its own only factor)."""
    if isinstance(expr, Contract):
        return expr.factors, expr.sizes
    return ((expr, tuple(range(expr.ndim))),), expr.shape


def _common_factor(terms):
    """A factor on output indices only that every term holds (at least one term a contraction), or None."""
    if len(terms) < 2 or not any(isinstance(e, Contract) for _, e in terms):
        return None
    n = len(terms[0][1].shape)
    common = None
    for _, e in terms:
        here = {(c, labs) for c, labs in _as_factors(e)[0] if all(lab < n for lab in labs)}
        common = here if common is None else common & here
    return min(common, key=lambda f: (f[0].fingerprint, f[1])) if common else None


def _factor_out(terms, common, shape):
    """Distributivity, a·b + a·c = a·(b + c): the sum shrinks to the indices the rests carry."""
    n = len(shape)
    rests = []
    for coef, e in terms:
        factors, sizes = _as_factors(e)
        others = list(factors)
        others.remove(common)
        rests.append((coef, others, sizes))
    carried = {lab for _, others, _ in rests for _, labs in others for lab in labs if lab < n}
    out_r = tuple(lab for lab in range(n) if lab in carried)
    offset = sum(coef for coef, others, _ in rests if not others)  # a rest of nothing is 1
    summands = [(coef, contract(out_r, others, dict(enumerate(sizes)))) for coef, others, sizes in rests if others]
    total = add(summands, offset) if summands else Constant(offset)
    return contract(tuple(range(n)), [common, (total, out_r)], dict(enumerate(shape)))


def _summed_pattern(child, labels, n):
    """A factor up to the names of its summed indices (labels ``>= n``; outputs are ``0..n-1``)."""
    local = {}
    return child, tuple(lab if lab < n else ("s", local.setdefault(lab, len(local))) for lab in labels)


def _common_summed_factor(terms, shape):
    """A factor with a summed index that every term (a contraction) holds, when factoring it out pays.

    ``Xᵀ a + Xᵀ b`` is ``Xᵀ (a + b)``: one sweep over X instead of two (the
    logistic-regression HVP). Taken only when the sum of the rests is no
    larger than the factor itself. Returns ``(pattern, [position in each term])`` or None.
    """
    if len(terms) < 2 or len(terms) > 64 or not all(isinstance(e, Contract) for _, e in terms):
        return None
    n = len(shape)
    common, where = None, []
    for _, e in terms:
        here = {}
        for i, (c, labs) in enumerate(e.factors):
            if any(lab >= n for lab in labs) and not isinstance(c, Delta):
                here.setdefault(_summed_pattern(c, labs, n), i)
        common = set(here) if common is None else common & set(here)
        if not common:
            return None
        where.append(here)
    for pattern in sorted(common, key=lambda k: (k[0].fingerprint, repr(k[1]))):
        child, labs = pattern
        positions = [here[pattern] for here in where]
        carried, size = set(), 1
        for (_, e), pos in zip(terms, positions):
            for j, (_, other) in enumerate(e.factors):
                if j != pos:
                    carried.update(lab for lab in other if lab < n)
        summed = {lab for lab in labs if isinstance(lab, tuple)}
        for lab in carried:  # (a named dimension counts as ricci.dims.ASSUMED_SIZE: size-independent)
            size *= assumed(shape[lab])
        for k, lab in enumerate(labs):
            if isinstance(lab, tuple) and lab in summed:
                size *= assumed(child.shape[k])
                summed.discard(lab)
        if size <= assumed_count(child.shape):
            return pattern, positions
    return None


def _factor_out_summed(terms, shared, shape):
    """``Σ c_t · (F ⊗ R_t) = F ⊗ Σ c_t R_t`` for a factor F with summed indices (see above)."""
    (child, pattern), positions = shared
    n = len(shape)
    s_labels = tuple(dict.fromkeys(lab for lab in pattern if isinstance(lab, tuple)))
    rests, carried = [], set()
    for (coef, e), pos in zip(terms, positions):
        _, own = e.factors[pos]
        rename = dict(zip(own, pattern))
        others = [(c, tuple(rename.get(lab, lab) for lab in labs)) for j, (c, labs) in enumerate(e.factors) if j != pos]
        carried.update(lab for _, labs in others for lab in labs if not isinstance(lab, tuple) and lab < n)
        sizes = {rename.get(lab, lab): dim for lab, dim in enumerate(e.sizes)}
        rests.append((coef, others, sizes))
    out_r = tuple(lab for lab in range(n) if lab in carried) + s_labels
    summands = []
    offset = 0
    for coef, others, sizes in rests:
        if others:
            summands.append((coef, contract(out_r, others, sizes)))
        else:
            offset = offset + coef
    if offset:  # a rest of nothing is 1, broadcast over the rests' indices
        dims = dict(rests[0][2])
        summands.append((offset, contract(out_r, [], {lab: dims[lab] for lab in out_r})))
    total = add(summands)
    dims = dict(enumerate(shape))
    dims.update({lab: child.shape[k] for k, lab in enumerate(pattern) if isinstance(lab, tuple)})
    return contract(tuple(range(n)), [(child, pattern), (total, out_r)], dims)
