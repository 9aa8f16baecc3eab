"""Lowering one planned contraction to pairwise kernels.

Each pairwise step becomes the kernel a careful person would write:

- indices shared and summed → ``@`` on operands reshaped to (batch, rows,
  inner) and (batch, inner, cols), the matrix product BLAS runs (a
  transposed layout is passed as a view, not copied, where it allows);
- nothing summed → a broadcasting ``*`` (Hadamard, outer and batched
  products, hyperedges);
- an index on one operand alone → ``.sum(axis)``; a repeated index (a
  diagonal) → a one-operand ``np.einsum``, the only einsum ever emitted.

So no kernel sees more than two operands, and no limit on operands or
labels applies other than memory.

>>> import numpy as np
>>> from ricci.engine.emit import Builder
>>> b = Builder(["x0", "x1"])
>>> A, B = b.input("x0", (2, 3), np.float64), b.input("x1", (4, 3), np.float64)
>>> out = contract_pair(b, (A, ("i", "j")), (B, ("k", "j")), {"i", "k"}, {"i": 2, "j": 3, "k": 4})
>>> b.lines[-1][1], out[1]
('x0 @ x1.T', ('i', 'k'))
"""
import numpy as np


def _tuple(items):
    items = tuple(items)
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(map(str, items))})"


def _transposed(name, perm, method="transpose"):
    """Text of ``name`` with axes permuted (nothing for the identity, ``.T`` for a 2-D swap).

    ``method`` is the array method taking a permutation (torch calls it ``permute``).
    """
    perm = tuple(perm)
    if perm == tuple(range(len(perm))):
        return name
    if perm == (1, 0):
        return f"{name}.T"
    return f"{name}.{method}{_tuple(perm)}"


def _prod(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def _view_owner(value):
    return value.owner if value.owner == "extern" else value


def reduce_alone(b, value, labels, keep):
    """Sum the axes whose labels are not in ``keep``, and take repeated labels' diagonals.

    Returns ``(value, labels)`` with distinct labels, all in ``keep``.
    """
    if len(set(labels)) == len(labels):
        axes = tuple(i for i, lab in enumerate(labels) if lab not in keep)
        if not axes:
            return value, labels
        kept = tuple(lab for lab in labels if lab in keep)
        shape = tuple(d for d, lab in zip(value.shape, labels) if lab in keep)
        extra = f", dtype={value.name}.dtype" if value.dtype.kind in "iub" else ""
        text = f"{value.name}.sum(axis={_tuple(axes)}{extra})"
        return b.assign(text, [value], shape, value.dtype, comment="sum"), kept
    from opt_einsum import get_symbol

    letter = {lab: get_symbol(i) for i, lab in enumerate(dict.fromkeys(labels))}
    kept = tuple(lab for lab in dict.fromkeys(labels) if lab in keep)
    spec = "".join(letter[lab] for lab in labels) + "->" + "".join(letter[lab] for lab in kept)
    size = dict(zip(labels, value.shape))
    # einsum may return a view (a diagonal): not owned by the program
    out = b.assign(f'np.einsum("{spec}", {value.name})', [value], tuple(size[lab] for lab in kept),
                   value.dtype, owner=_view_owner(value), comment="diagonal")
    return out, kept


def contract_pair(b, left, right, keep, sizes, letter=None, want=None):
    """Contract two ``(value, labels)`` operands, keeping the labels in ``keep``.

    ``want`` is the label order the caller needs in the end: the operands are
    swapped when that gives it directly (``B Aᵀ`` rather than ``(A Bᵀ)ᵀ``).
    Returns ``(value, labels)`` of the product.
    """
    (x, lx), (y, ly) = left, right
    if want is not None and len(set(lx)) == len(lx) and len(set(ly)) == len(ly):
        sy = set(ly)
        batch = [lab for lab in lx if lab in sy and lab in keep]
        xf = [lab for lab in lx if lab not in sy and lab in keep]
        yf = [lab for lab in ly if lab not in set(lx) and lab in keep]
        summed = any(lab in sy and lab not in keep for lab in lx)
        if summed and tuple(batch + yf + xf) == tuple(want) and tuple(batch + xf + yf) != tuple(want):
            (x, lx), (y, ly) = right, left
    x, lx = reduce_alone(b, x, lx, keep | set(ly))
    y, ly = reduce_alone(b, y, ly, keep | set(lx))
    sx, sy = set(lx), set(ly)
    dtype = np.result_type(x.dtype, y.dtype)
    summed = [lab for lab in lx if lab in sy and lab not in keep]
    if not summed:
        return _product(b, x, lx, y, ly, sizes, dtype)
    batch = [lab for lab in lx if lab in sy and lab in keep]
    xf = [lab for lab in lx if lab not in sy]
    yf = [lab for lab in ly if lab not in sx]
    rows, inner, cols = (_prod(sizes[lab] for lab in g) for g in (xf, summed, yf))
    nb = _prod(sizes[lab] for lab in batch)
    left_text = _operand(x, lx, batch, xf, summed, nb, rows, inner, "left", b.permute)
    right_text = _operand(y, ly, batch, yf, summed, nb, cols, inner, "right", b.permute)
    out_labels = tuple(batch + xf + yf)
    shape = tuple(sizes[lab] for lab in out_labels)
    text = f"{left_text} @ {right_text}"
    lead = (nb,) if batch else ()
    natural = lead + ((rows,) if xf or batch else ()) + ((cols,) if yf or batch else ())
    if natural != shape:
        text = f"({text}).reshape{_tuple(shape)}"
    comment = None
    if letter is not None and len(lx) + len(ly) + len(out_labels) <= 40:
        word = lambda labs: "".join(letter[lab] for lab in labs)
        comment = f"{word(lx)},{word(ly)}->{word(out_labels)}"
    return b.assign(text, [x, y], shape, dtype, comment=comment), out_labels


def _operand(v, labels, batch, free, summed, nb, nfree, inner, side, method):
    """Text of one matmul operand: (batch, free, summed) on the left, (batch, summed, free) on the right.

    Without batch or free indices the operand is a vector (1-D); a layout that
    is already the transpose of what is needed is passed as a transposed view,
    which BLAS reads without a copy.
    """
    pos = {lab: i for i, lab in enumerate(labels)}
    identity = list(range(len(labels)))
    if not batch and not free:
        return _reshaped(_transposed(v.name, [pos[lab] for lab in summed], method), v, (inner,))
    groups, sizes = ((free, summed), (nfree, inner)) if side == "left" else ((summed, free), (inner, nfree))
    lead = (nb,) if batch else ()
    want = [pos[lab] for lab in batch + groups[0] + groups[1]]
    if want == identity:
        return _reshaped(v.name, v, lead + sizes)
    if [pos[lab] for lab in batch + groups[1] + groups[0]] == identity:
        text = _reshaped(v.name, v, lead + sizes[::-1])
        return f"{_paren(text)}.T" if not batch else f"{_paren(text)}.swapaxes(-1, -2)"
    return _reshaped(_transposed(v.name, want, method), v, lead + sizes)


def _paren(text):
    return text if text.isidentifier() else f"({text})"


def _reshaped(text, v, shape):
    """``text`` reshaped to ``shape`` (nothing when ``text`` is ``v`` itself, already of that shape)."""
    if text == v.name and tuple(shape) == v.shape:
        return text
    return f"{_paren(text)}.reshape{_tuple(shape)}"


def _product(b, x, lx, y, ly, sizes, dtype):
    """A contraction that sums nothing: broadcasting ``*`` in x's label order, then y's new labels."""
    if tuple(lx) == tuple(ly):
        return b.assign(f"{x.name} * {y.name}", [x, y], x.shape, dtype), tuple(lx)
    out = tuple(lx) + tuple(lab for lab in ly if lab not in set(lx))
    nx = len(out) - len(lx)
    x_text = x.name if nx == 0 else f"{x.name}[(...{', None' * nx})]"
    pos = {lab: i for i, lab in enumerate(ly)}
    order = [lab for lab in out if lab in pos]
    y_t = _transposed(y.name, [pos[lab] for lab in order], b.permute)
    index = ["None" if lab not in pos else ":" for lab in out]
    while index and index[0] == "None":  # leading new axes come from broadcasting
        index.pop(0)
    if "None" in index:
        y_t = f"{_paren(y_t)}[{', '.join(index)}]"
    shape = tuple(sizes[lab] for lab in out)
    if not lx:
        x_text = x.name
    return b.assign(f"{x_text} * {y_t}", [x, y], shape, dtype), out
