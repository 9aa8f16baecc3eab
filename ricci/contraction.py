"""Building contractions: :func:`contract` and the simplifications it applies at construction.

A :class:`ricci.expr.Contract` is never made directly: :func:`contract` takes
``(expr, labels)`` factors with any hashable labels and returns the simplest
node of the same value, through one pipeline (each pass is skipped when every
factor is *plain*, that is, none of them can change it):

1. **check**: every label has one size; output labels no factor carries are
   broadcast indices whose sizes are given. A zero factor makes the result
   :class:`ricci.expr.Zeros`.
2. **fold scalars** (:func:`_fold_scalars`): 0-d constants and the
   coefficients of scaled terms leave the network as one scale, so
   ``(-X)·Y`` and ``X·(-Y)`` are both ``-(X·Y)``.
3. **inline products** (:func:`_inline_products`): child contractions that
   sum nothing (Hadamard and outer products, diagonals) are spliced in, so
   ``a·(b·c)`` and ``(a·b)·c`` are one node.
4. **hoist deltas** (:func:`_hoist`): a child ``core ⊗ δ`` becomes the shared
   ``core`` plus its deltas relabelled here, so deltas float to the top;
   steps 2 and 3 then run once more (a hoisted core can be scaled or a product).
5. **eliminate deltas** (:func:`_eliminate_deltas`): labels joined by a delta
   are merged unless both are output labels; a delta that alone carried a
   summed index contributes that index's size (Σ_ab δ_ab = n).
6. **build** (:func:`_make_contract`): a zero scale is Zeros, no factors a
   Constant, a lone factor already in output order the factor itself;
   otherwise labels are renumbered canonically (so networks equal up to factor
   order and index names are one interned node), the factors are kept in a
   readable order that depends only on content (:func:`_readable_order`), and
   a scale other than 1 wraps the node in a one-term sum (:func:`ricci.expr.add`).

:func:`matmul` (``@``) and :func:`hadamard` are contractions written for two
common cases. Sums are built in :mod:`ricci.sums`, which uses :func:`contract`
to factor common parts out of their terms.

>>> import ricci
>>> from ricci.expr import contract
>>> x = ricci.Tensor("x", (3,))
>>> contract((), [(x, ("i",)), (2 * x, ("i",))]).terms[0][0]
2
"""
from .errors import ShapeError
from .expr import (
    Add,
    Constant,
    Contract,
    Delta,
    Expr,
    Zeros,
    _find,
    _intern,
    _ints_text,
    as_expr,
)


def _fold_scalars(factors):
    """Pull scalars out of the factors: 0-d constants and the coefficients of scaled terms.

    Returns ``(scale, factors)``; ``(-X)·Y`` and ``X·(-Y)`` both become ``-(X·Y)``.
    """
    scale, kept = 1, []
    for child, labels in factors:
        if isinstance(child, Add) and child.offset == 0 and len(child.terms) == 1:
            coef, child = child.terms[0]
            scale = scale * coef
        if isinstance(child, Constant) and child.value.ndim == 0:
            scale = scale * child.value.item()
        else:
            kept.append((child, labels))
    return scale, kept


def _is_product(node):
    """A contraction that sums nothing (a Hadamard or outer product, or a diagonal)."""
    return isinstance(node, Contract) and node._product  # noted at construction (_make_contract)


def _inline_products(factors, out, dims):
    """Splice child products into this network: they sum nothing, so no work is repeated
    beyond element-wise multiplication, and a·(b·c) and (a·b)·c become one node.

    Returns ``(scale, factors)``: an index a product only broadcasts (no factor of it
    carries it), that no factor here carries either and that is summed, is its size.
    """
    for c, _ in factors:
        if not c._plain and isinstance(c, Contract) and c._product:
            break
    else:
        return 1, factors
    result, broadcast = [], []
    for child, labels in factors:
        if _is_product(child):
            mapping = dict(zip(child.out, labels))
            carried = set()
            for c, labs in child.factors:
                result.append((c, tuple([mapping[lab] for lab in labs])))
                carried.update(labs)
            broadcast.extend(mapping[lab] for lab in child.out if lab not in carried)
        else:
            result.append((child, labels))
    scale = 1
    if broadcast:
        carried = {lab for _, labs in result for lab in labs}
        for lab in dict.fromkeys(broadcast):
            if lab not in carried and lab not in out:  # summed over a broadcast: its size
                if type(dims[lab]) is str:
                    from .symbolic import Size

                    result.append((Size(dims[lab]), ()))
                else:
                    scale *= dims[lab]
    return scale, result


def _hoistable(node):
    """A contraction holding deltas, or nothing at all (a pure broadcast)."""
    return isinstance(node, Contract) and node._hoistable  # noted at construction (_make_contract)


def _hoist(out, factors, dims):
    """Pull deltas (and pure broadcasts) out of child contractions into this one.

    A child ``core ⊗ δ`` becomes the factor ``core`` (one shared node) plus
    the deltas relabelled to this network, so deltas always float to the top
    where they can be merged away or, in a Jacobian, kept as its structure.
    Returns ``(scale, factors)``.
    """
    for child, _ in factors:
        if not child._plain and (_hoistable(child) or (
                isinstance(child, Add) and child.offset == 0 and len(child.terms) == 1
                and _hoistable(child.terms[0][1]))):
            break
    else:
        return 1, factors  # nothing to hoist
    result, scale, routed = [], 1, set()
    for child, labels in factors:
        coef, inner = 1, child
        if isinstance(child, Add) and child.offset == 0 and len(child.terms) == 1 and _hoistable(child.terms[0][1]):
            coef, inner = child.terms[0]
        if not _hoistable(inner):
            result.append((child, labels))
            continue
        scale *= coef
        routed.update(labels)
        mapping, tag = dict(zip(inner.out, labels)), object()
        name = lambda lab: mapping[lab] if lab in mapping else (tag, lab)  # noqa: B023, SIM401 (this pass's)
        for lab, dim in enumerate(inner.sizes):
            dims.setdefault(name(lab), dim)
        plain = [(c, labs) for c, labs in inner.factors if not isinstance(c, Delta)]
        deltas = [(c, labs) for c, labs in inner.factors if isinstance(c, Delta)]
        if plain:
            carried = {lab for _, labs in plain for lab in labs}
            in_deltas = {lab for _, labs in deltas for lab in labs}
            core_out = tuple(lab for lab in inner.out if lab in carried or lab not in in_deltas)
            core = contract(core_out, plain, dict(enumerate(inner.sizes)))
            result.append((core, tuple(name(lab) for lab in core_out)))
        result.extend((c, tuple(name(lab) for lab in labs)) for c, labs in deltas)
    carried = {lab for _, labs in result for lab in labs}
    for lab in routed:
        if lab not in carried and lab not in out:  # summed over a broadcast: its size
            if type(dims[lab]) is str:  # a named size: a factor bound at evaluation
                from .symbolic import Size

                result.append((Size(dims[lab]), ()))
            else:
                scale *= dims[lab]
    return scale, result


def _eliminate_deltas(out, factors, sizes):
    """Merge index labels joined by a delta unless both are output indices.

    Returns ``(scale, factors)``: a delta that was the only carrier of a
    summed index contributes that index's size (Σ_ab δ_ab = n).
    """
    out_set = set(out)
    scale = 1
    changed = True
    while changed:
        changed = False
        for pos, (child, labels) in enumerate(factors):
            if not isinstance(child, Delta):
                continue
            a, b = labels
            if b not in out_set or a == b:
                factors, kept = _rename(factors, b, a), a
            elif a not in out_set:
                factors, kept = _rename(factors, a, b), b
            else:
                continue
            del factors[pos]
            if kept not in out_set and not any(kept in labs for _, labs in factors):
                if type(child.n) is str:  # a named size: a (float) factor bound at evaluation
                    from .symbolic import Size

                    factors.append((Size(child.n, 1.0), ()))
                else:
                    scale *= float(child.n)  # a delta is a float identity matrix
            changed = True
            break
    return scale, factors


def _rename(factors, old, new):
    return [(c, tuple(new if lab == old else lab for lab in labs)) for c, labs in factors]


def _plain_or_delta(factors):
    for c, _ in factors:
        if not c._plain and not isinstance(c, Delta):
            return False
    return True


def contract(out, factors, sizes=None):
    """Build (and simplify) the contraction of ``factors`` onto ``out``.

    ``factors`` is a list of ``(expr, labels)`` with hashable labels, ``out``
    the output labels; ``sizes`` gives dimensions of output labels that no
    factor carries (broadcast indices).
    """
    out = tuple(out)
    dims = dict(sizes) if sizes else {}
    factors = [(c if isinstance(c, Expr) else as_expr(c), labs if type(labs) is tuple else tuple(labs))
               for c, labs in factors]
    plain = True
    for child, labels in factors:
        shape = child.shape
        if len(labels) != len(shape):
            raise ShapeError(f"{len(labels)} labels given for an operand of shape {child.shape}")
        for lab, dim in zip(labels, shape):
            if dims.setdefault(lab, dim) != dim:
                raise ShapeError(f"index {lab!r} has sizes {dims[lab]} and {dim}")
        if plain and not child._plain:
            plain = False
    try:
        shape = tuple([dims[lab] for lab in out])
    except KeyError:
        missing = [lab for lab in out if lab not in dims]
        raise ShapeError(f"output indices {missing} have no size") from None
    scale = 1
    if not plain:  # every pass below is the identity on plain factors (and deltas but the last)
        has_delta = has_other = False
        for c, _ in factors:
            if c._plain:
                continue
            if isinstance(c, Delta):
                has_delta = True
            elif isinstance(c, Zeros):
                return Zeros(shape)
            else:
                has_other = True
        # Normal form: scalars out, products spliced in, deltas hoisted up (twice,
        # since a hoisted core can itself be a scaled term or a product), deltas merged.
        if has_other:
            scale, factors = _fold_scalars(factors)
            if not _plain_or_delta(factors):
                inline_scale, factors = _inline_products(factors, out, dims)
                hoist_scale, factors = _hoist(out, factors, dims)
                const_scale, factors = _fold_scalars(factors)
                inline_scale2, factors = _inline_products(factors, out, dims)
                scale = scale * inline_scale * hoist_scale * const_scale * inline_scale2
            has_delta = any(isinstance(c, Delta) for c, _ in factors)  # a scaled δ, or hoisted ones
        if has_delta:
            trace_scale, factors = _eliminate_deltas(out, factors, dims)
            scale = scale * trace_scale
    if scale == 0:
        return Zeros(shape)
    if not factors and not out:
        return Constant(scale)
    if len(factors) == 1 and factors[0][1] == out and len(set(out)) == len(out):
        node = factors[0][0]
    else:
        node = _make_contract(out, factors, dims, shape)
    return node if scale == 1 else add([(scale, node)])


def _by_fingerprint(factor):
    return factor[0].fingerprint


def _leaf_name(node):
    """Inputs and named constants sort by name among factors that meet the output alike; the
    rest after them ("~" sorts after letters and digits), by content."""
    name = getattr(node, "name", None)
    return name if isinstance(name, str) else "~"


def _readable_order(factors, first, rank):
    """A factor order that depends only on content and reads like the maths: start with the
    factor whose legs meet the output first, then walk along shared indices (A, B, C for a
    chain A B C), each time taking the neighbour that meets the output earliest, inputs by
    name (u ⊙ v ⊙ w), the rest by content."""
    n = len(factors)
    if n < 2:
        return list(range(n))
    static = sorted(range(n), key=lambda i: (first[i], _leaf_name(factors[i][0]), rank[i]))
    if n > 64:  # wide networks: the static order (the walk is quadratic)
        return static
    labels = [set(labs) for _, labs in factors]
    placed, left = [], list(static)
    while left:
        pick = left[0]
        if placed:
            last = labels[placed[-1]]
            for i in left:
                if labels[i] & last:
                    pick = i
                    break
        placed.append(pick)
        left.remove(pick)
    return placed


def _make_contract(out, factors, dims, shape, n_big=1 << 30):
    # Labels are numbered in a canonical factor order (by content, then by how
    # legs meet the output), so contractions equal up to factor order and index
    # names are one node; the node keeps the factors in the order given.
    n = len(factors)
    if n > 1:
        fps = [c.fingerprint for c, _ in factors]
        if len(set(fps)) == n:
            order = sorted(range(n), key=fps.__getitem__)
        else:  # equal factors: then by how their legs meet the output
            where = {lab: i for i, lab in enumerate(out)}
            order = sorted(range(n), key=lambda i: (fps[i], tuple([where.get(lab, -1) for lab in factors[i][1]])))
    else:
        order = range(n)
    canon = {}
    for lab in out:
        if lab not in canon:
            canon[lab] = len(canon)
    has_delta = False
    pairs = [None] * n  # the relabelled factors, shared by the key (canonical order) and the node (given order)
    for i in order:
        c, labs = factors[i]
        c_labs = []
        for lab in labs:
            j = canon.get(lab)
            if j is None:
                j = canon[lab] = len(canon)
            c_labs.append(j)
        pairs[i] = (c, tuple(c_labs))
        if not has_delta and isinstance(c, Delta):
            has_delta = True
    # The node keeps its factors in an order that depends only on content, so the same
    # expression prints the same whatever was built first (see _readable_order).
    where_out = {lab: i for i, lab in enumerate(out)}
    first = [min([where_out.get(lab, n_big) for lab in labs], default=n_big) for _, labs in factors]
    rank = {i: r for r, i in enumerate(order)}
    readable = _readable_order(factors, first, rank)
    c_factors = tuple([pairs[i] for i in readable])
    c_ordered = tuple([pairs[i] for i in order])
    if c_ordered == c_factors:  # (pairs compare by identity first)
        c_ordered = c_factors
    c_out = tuple([canon[lab] for lab in out])
    c_sizes = tuple([dims[lab] for lab in canon])
    key = ("contract", c_out, c_ordered, c_sizes)
    node = _find(key)
    if node is not None:
        return node
    n_out = len(c_out)
    product = not has_delta and all([lab < n_out for _, labs in c_factors for lab in labs])  # noqa: C419
    hoistable = not factors or has_delta

    def text():  # _stable_text(key), written out
        parts = ",".join(["(" + c.fingerprint + "," + _ints_text(labs) + ")" for c, labs in c_ordered])
        return "('contract'," + _ints_text(c_out) + ",(" + parts + ")," + _ints_text(c_sizes) + ")"

    return _intern(
        Contract, key, tuple([c for c, _ in c_factors]), shape, text=text, out=c_out, factors=c_factors,
        sizes=c_sizes, _product=product, _hoistable=hoistable, _plain=not (product or hoistable),
    )


def matmul(a, b):
    """``a @ b`` for 1-D and 2-D operands, with numpy's rules (vectors are not transposed).

    >>> import numpy as np, ricci
    >>> A, x = ricci.Tensor("A", (2, 3)), ricci.Tensor("x", (3,))
    >>> (A @ x).shape, (x @ A.T).shape
    ((2,), (2,))
    """
    a, b = as_expr(a, "left operand of @"), as_expr(b, "right operand of @")
    if not (1 <= a.ndim <= 2 and 1 <= b.ndim <= 2):
        raise ShapeError(
            f"@ takes 1-D or 2-D operands here, got shapes {a.shape} and {b.shape}; write batched "
            "products with ricci.einsum"
        )
    if a.shape[-1] != b.shape[0]:
        raise ShapeError(f"@ cannot multiply shapes {a.shape} and {b.shape}: {a.shape[-1]} != {b.shape[0]}")
    left = ("i", "k")[2 - a.ndim:]
    right = ("k", "j")[: b.ndim]
    out = left[:-1] + right[1:]
    return contract(out, [(a, left), (b, right)])


def hadamard(*exprs):
    """Element-wise product of same-shape expressions (one hyperedge per index)."""
    labels = tuple(range(exprs[0].ndim))
    return contract(labels, [(e, labels) for e in exprs])


# ricci.sums builds on contract, so it is imported once contract exists
from .sums import add
