"""Matrix notation, part 2: the rewrite rules that turn an einsum network into matrix terms.

A network is a list of items ``(term, labels)``, each with at most two
labels (a term's rows carry ``labels[0]``, its columns ``labels[1]``), and
its output labels. :func:`_reduce` applies the first rule of :data:`RULES`
that matches, then tries them all again, until none matches; what is left is
assembled by ``_Matrix.finish`` (:mod:`ricci.notation.matrix`). The terms
are built with the constructors of :mod:`ricci.notation.matrix_terms`, which
simplify as they go.
"""
from collections import Counter

from .matrix_terms import _T, _cost, _had, _ones, _ones_row, _prod, _T_of, _tr

__all__ = ["RULES"]


# Each rule is ``rule(items, out_set, counts) -> bool``: it rewrites ``items`` in place and says so.
# ``counts`` tells how many items carry each label; ``out_set`` holds the output labels.
def _trace_or_diagonal(items, out_set, counts):
    for k, (x, labs) in enumerate(items):
        if len(labs) == 2 and labs[0] == labs[1]:
            i = labs[0]
            items[k] = (_tr(x), ()) if i not in out_set and counts[i] == 2 else (_T("dvec", (x,), "c"), (i,))
            return True
    return False


def _hadamard(items, out_set, counts):
    def exclusive(labs):  # every label summed and only on this pair
        return all(lab not in out_set and counts[lab] == 2 for lab in labs)

    for k in range(len(items)):
        for l in range(k + 1, len(items)):
            (x, lx), (y, ly) = items[k], items[l]
            if lx and set(lx) == set(ly) and not exclusive(lx):
                y = y if ly == lx else _T_of(y)
                items[k] = (_had([x, y]), lx)
                del items[l]
                return True
    return False


def _matrix_product(items, out_set, counts):
    for lab in sorted(counts, key=lambda lab: _first(items, lab)):
        if lab in out_set or counts[lab] != 2:
            continue
        holders = [k for k, (_, labs) in enumerate(items) if lab in labs]
        if len(holders) != 2:
            continue
        k, l = holders
        (x, lx), (y, ly) = items[k], items[l]
        items[k] = _contract_pair(x, lx, y, ly, lab, out_set)
        del items[l]
        return True
    return False


def _sum_with_ones(items, out_set, counts):
    for k, (x, labs) in enumerate(items):
        alone = [lab for lab in labs if lab not in out_set and counts[lab] == 1]
        if not alone:
            continue
        sizes = out_set.sizes
        if len(labs) == 1:
            items[k] = (_prod([_ones_row(sizes[labs[0]]), x]), ())
        elif len(alone) == 2:
            items[k] = (_prod([_ones_row(sizes[labs[0]]), x, _ones(sizes[labs[1]])]), ())
        elif labs[1] == alone[0]:
            items[k] = (_prod([x, _ones(sizes[labs[1]])]), (labs[0],))
        else:
            items[k] = (_prod([_T_of(x), _ones(sizes[labs[0]])]), (labs[1],))
        return True
    return False


def _diagonal_scaling(items, out_set, counts):
    for k, (v, lv) in enumerate(items):
        if len(lv) != 1:
            continue
        j = lv[0]
        if j not in out_set and counts[j] < 3:
            continue
        for l, (m, lm) in enumerate(items):
            if l != k and len(lm) == 2 and j in lm:
                d = _T("diag", (v,), "m")
                items[l] = (_prod([m, d]) if lm[1] == j else _prod([d, m]), lm)
                del items[k]
                return True
    return False


RULES = (  # (name, what it writes, rule), tried in this order
    ("trace or diagonal", "X_ii -> tr(X) (i summed, only here), else diag(X) as a vector", _trace_or_diagonal),
    ("Hadamard product", ("X_ij Y_ij -> X ⊙ Y; X_ij Y_ji -> X ⊙ Yᵀ (unless all their indices are summed and "
                          "only on the pair: that becomes tr(XᵀY))"), _hadamard),
    ("matrix product", ("X_ij Y_jk -> XY, u_j v_j -> uᵀv, u_j u_j -> ‖u‖² (j summed, on exactly two tensors; "
                        "of XY and (YᵀXᵀ)ᵀ the one showing fewer transposes)"), _matrix_product),
    ("sum with ones", ("Σ_j X_ij -> X 1, Σ_i X_ij -> Xᵀ 1, Σ_ij X_ij -> 1ᵀ X 1, Σ_i u_i -> 1ᵀ u (an index "
                       "summed on one tensor only)"), _sum_with_ones),
    ("diagonal scaling", "M_ij v_j -> M diag(v), v_i M_ij -> diag(v) M (j kept, or on a third tensor)",
     _diagonal_scaling),
)


def _reduce_step(items, out_set):
    """Apply one rewrite to the items of a network; False when none applies.

    Items are ``(term, labels)`` with at most two labels; a term's rows carry
    ``labels[0]`` and its columns ``labels[1]``.
    """
    counts = Counter(lab for _, labs in items for lab in labs)
    return any(rule(items, out_set, counts) for _, _, rule in RULES)


def _reduce(items, out, sizes):
    """Rewrite a network's items until no rule applies."""
    out_set = _OutSet(out, sizes)
    while _reduce_step(items, out_set):
        pass


def _first(items, lab):
    for k, (_, labs) in enumerate(items):
        if lab in labs:
            return (k, labs.index(lab))
    return (len(items), 0)


def _contract_pair(x, lx, y, ly, j, out_set):
    """Contract index ``j`` between two terms: returns ``(term, labels)``."""
    if len(lx) == 1 and len(ly) == 1:
        if y.op == "ones" and x.op != "ones":
            x, y = y, x
        if x == y:  # xᵀx = ‖x‖²
            return _T("norm2", (x,), "s"), ()
        return _prod([_T_of(x), y]), ()
    if len(lx) == 1:
        x, lx, y, ly = y, ly, x, lx
    if len(ly) == 1:  # matrix · vector
        m = x if lx[1] == j else _T_of(x)
        other = lx[0] if lx[1] == j else lx[1]
        return _prod([m, y]), (other,)
    a = lx[0] if lx[1] == j else lx[1]
    b = ly[1] if ly[0] == j else ly[0]
    options = []
    for first, lf, second, ls, rows, cols in ((x, lx, y, ly, a, b), (y, ly, x, lx, b, a)):
        left = first if lf[1] == j else _T_of(first)
        right = second if ls[0] == j else _T_of(second)
        term = _prod([left, right])
        final = term
        if rows in out_set and cols in out_set and rows != cols:
            final = term if _out_order(out_set, rows, cols) else _T_of(term)
        options.append((_cost(final), len(options), term, (rows, cols)))
    _, _, term, labels = min(options, key=lambda o: (o[0], o[1]))
    return term, labels


def _out_order(out_set, rows, cols):
    order = getattr(out_set, "order", None)
    if order is None:
        return True
    return order.index(rows) < order.index(cols)


class _OutSet(set):
    """The output labels, remembering their order, and the sizes of all labels."""

    def __init__(self, out, sizes):
        super().__init__(out)
        self.order = list(out)
        self.sizes = sizes
