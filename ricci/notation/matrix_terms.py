"""Matrix notation, part 1: the term language and its normal forms.

A term (:class:`_T`) is an operator, its arguments and its form: ``"s"``
scalar, ``"c"`` column vector, ``"r"`` row vector, ``"m"`` matrix. Terms are
made only through the constructors below, which keep them in a normal form:

=================  ===============================================================
constructor        simplification
=================  ===============================================================
``_T_of``          transpose pushed down when that shows fewer transposes, and
                   always through products, as textbooks write them: (AB)ᵀ = BᵀAᵀ,
                   (Aᵀ)ᵀ = A, (X⁻¹)ᵀ = X⁻ᵀ; scalars, I, diag(·) unchanged
``_prod``          nested products flattened, scales and scalar factors moved to the
                   front, identity factors dropped
``_scale``         nested scales and numbers merged into one coefficient
``_had``           nested ⊙ flattened, 1 ⊙ x = x, atoms and functions first
``_sum``           common coefficient taken out (2XW − 2Y = 2(XW − Y)); common left
                   or right factor taken out (Ax + Aᵀx = (A + Aᵀ)x); a common ⊙
                   factor taken out (s − s ⊙ s = s ⊙ (1 − s)); A before Aᵀ
``_tr``            tr(AᵀA) = ‖A‖²
``_ones``...       the all-ones vector 1 and matrix 1 1ᵀ that write sums
=================  ===============================================================

The rewrite rules that turn an einsum network into these terms are in
:mod:`ricci.notation.matrix_rules`.
"""


# forms: "s" scalar, "c" column vector, "r" row vector, "m" matrix
def _sub_terms(args):
    """The terms among a term's arguments (they nest up to three tuples deep)."""
    for a in args:
        if isinstance(a, _T):
            yield a
        elif isinstance(a, tuple):
            for b in a:
                if isinstance(b, _T):
                    yield b
                elif isinstance(b, tuple):
                    yield from (c for c in b if isinstance(c, _T))


class _T:
    """A matrix-notation term: an operator, its arguments and its form.

    Each term knows, in O(1) from its arguments, its hash, its ``size`` (nodes
    when written inline: a bound ref counts 1, an inline one its term's size)
    and its ``cost`` (transposes shown), so no operation walks a whole tree.
    """

    __slots__ = ("_hash", "_key", "args", "cost", "form", "op", "size")

    def __init__(self, op, args, form, size=None):
        self.op, self.args, self.form = op, tuple(args), form
        self._key = (op, self.args, form)
        self._hash = hash(self._key)
        subs = list(_sub_terms(self.args))
        self.size = 1 + sum(t.size for t in subs) if size is None else size
        if op == "inv" and self.args[0].op == "T":  # X⁻ᵀ shows no transpose
            self.cost = self.args[0].args[0].cost
        elif op == "T" and self.args[0].op == "prod":  # (BA)ᵀ costs more than AᵀBᵀ: textbooks distribute
            self.cost = 1 + len(self.args[0].args) + self.args[0].cost
        else:
            own = 1 if op == "T" and self.args[0].op != "ones" else 0
            self.cost = own + sum(t.cost for t in subs)

    def __eq__(self, other):
        if self is other:
            return True
        return isinstance(other, _T) and self._hash == other._hash and self._key == other._key

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"_T{self._key!r}"


_TRANSPOSED_FORM = {"s": "s", "c": "r", "r": "c", "m": "m"}
_FORM_OF_NDIM = {0: "s", 1: "c", 2: "m"}


def _atom(name, form):
    return _T("atom", (name,), form)


def _cost(t):
    """How many transposes a term shows (the matrix renderer minimizes it); X⁻ᵀ counts none."""
    if isinstance(t, tuple):
        return sum(_cost(a) for a in t)
    return t.cost if isinstance(t, _T) else 0


def _T_of(x):
    """Transpose, pushed down to atoms when that shows no more transposes."""
    if x.form == "s" or x.op in ("eye", "diag", "num", "zero"):
        return x
    if x.op == "T":
        return x.args[0]
    wrapped = _T("T", (x,), _TRANSPOSED_FORM[x.form])
    pushed = None
    if x.op == "prod":
        pushed = _prod([_T_of(f) for f in reversed(x.args)])
    elif x.op == "had":
        pushed = _had([_T_of(a) for a in x.args])
    elif x.op == "sum":
        terms, offset = x.args
        pushed = _T("sum", (tuple((c, _T_of(t)) for c, t in terms), offset), _TRANSPOSED_FORM[x.form])
    elif x.op == "scale":
        coef, scalars, inner = x.args
        return _T("scale", (coef, scalars, _T_of(inner)), _TRANSPOSED_FORM[x.form])
    elif x.op == "inv":
        return _T("inv", (_T_of(x.args[0]),), x.form)
    elif x.op in ("fn", "pow"):
        a = list(x.args)
        idx = 1 if x.op == "fn" else 0
        a[idx] = _T_of(a[idx])
        pushed = _T(x.op, a, _TRANSPOSED_FORM[x.form])
    if pushed is not None and (_cost(pushed) < _cost(wrapped) or
                               (_cost(pushed) == _cost(wrapped) and x.op not in ("fn", "pow"))):
        return pushed
    return wrapped


def _prod_form(first, last):
    rows = first.form in ("c", "m")
    cols = last.form in ("r", "m")
    return {(True, True): "m", (True, False): "c", (False, True): "r", (False, False): "s"}[(rows, cols)]


def _prod(factors):
    """Matrix product of a chain; scales and scalar factors move to the front."""
    coef, scalars, chain = 1.0, [], []
    for f in factors:
        if f.op == "scale":
            coef *= f.args[0]
            scalars.extend(f.args[1])
            f = f.args[2]
            if f is None:
                continue
        if f.op == "prod" and f.form != "s":
            chain.extend(f.args)
        elif f.form == "s" and len(factors) > 1:
            scalars.append(f)
        else:
            chain.append(f)
    if len(chain) > 1:
        chain = [f for f in chain if f.op != "eye"] or chain[:1]
    if not chain:
        return _scale(coef, scalars, None)
    inner = chain[0] if len(chain) == 1 else _T("prod", chain, _prod_form(chain[0], chain[-1]))
    return _scale(coef, scalars, inner)


def _scale(coef, scalars, x):
    """``coef · Π scalars · x`` (``x`` None for a pure scalar); traces after the other scalar
    factors, as textbooks write ``det(X) tr(X⁻¹ dX)``."""
    scalars = tuple(sorted(scalars, key=lambda t: t.op == "tr"))  # stable: the rest keep their order
    if x is not None and x.op == "scale":
        coef *= x.args[0]
        scalars += x.args[1]
        x = x.args[2]
    if x is not None and x.op == "num" and x.form == "s":
        coef *= x.args[0]
        x = None
    if coef == 1 and not scalars and x is not None:
        return x
    if x is None and coef == 1 and len(scalars) == 1:
        return scalars[0]
    if x is None and not scalars:
        return _T("num", (coef,), "s")
    return _T("scale", (coef, scalars, x), "s" if x is None else x.form)


_RANK = {"atom": 0, "raw": 0, "ref": 0, "T": 0, "ones": 0, "num": 0, "fn": 1, "inv": 1, "pow": 1}


def _had(args):
    coef, scalars, flat = 1.0, (), []
    for a in args:
        if a.op == "scale" and a.args[2] is not None:
            coef *= a.args[0]
            scalars += a.args[1]
            a = a.args[2]
        flat.extend(a.args if a.op == "had" else [a])
    if len(flat) > 1:  # 1 ⊙ x = x
        flat = [a for a in flat if not _is_ones_term(a)] or flat[:1]
    if len(flat) == 1:
        return _scale(coef, scalars, flat[0])
    flat.sort(key=lambda t: _RANK.get(t.op, 2))
    return _scale(coef, scalars, _T("had", flat, flat[0].form))


def _is_ones_term(t):
    if t.op == "ones":
        return True
    if t.op == "T":
        return _is_ones_term(t.args[0])
    return t.op == "prod" and all(_is_ones_term(f) for f in t.args)


def _sum(terms, offset, form):
    """``offset + Σ coef·term``, with common coefficients and common end factors taken out."""
    terms = [(c, t) for c, t in terms]
    if not terms:
        return _T("num", (offset,), form)
    # pull a common coefficient magnitude out: 2XW − 2Y -> 2(XW − Y)
    mags = {abs(c) for c, _ in terms}
    common = 1.0
    if len(mags) == 1 and len(terms) > 1:
        (m,) = mags
        m = -m if terms[0][0] < 0 else m  # −2XW + 2Y -> −2(XW − Y)
        if m != 1 and m != 0:
            common = m
            terms = [(c / m, t) for c, t in terms]
            offset = offset / m
    if len(terms) == 1 and offset == 0:
        c, t = terms[0]
        return _scale(common * c, (), t)
    if offset == 0 and len(terms) > 1:
        factored = _factor(terms) or _factor_had(terms, form)
        if factored is not None:
            return _scale(common, (), factored)
    if len(terms) == 2 and terms[0][0] == terms[1][0] and terms[0][1] == _T_of(terms[1][1]) \
            and terms[0][1].cost > terms[1][1].cost:  # Aᵀ + A -> A + Aᵀ
        terms = terms[::-1]
    return _scale(common, (), _T("sum", (tuple(terms), offset), form))


def _had_parts(t):
    """(coefficient, scalars, ⊙ factors) of a term."""
    coef, scalars = 1.0, ()
    if t.op == "scale" and t.args[2] is not None:
        coef, scalars, t = t.args
    return coef, scalars, (list(t.args) if t.op == "had" else [t])


def _factor_had(terms, form):
    """A factor every term has under ⊙, taken out: s − s ⊙ s -> s ⊙ (1 − s), a ⊙ b + a ⊙ c -> a ⊙ (b + c)."""
    if form == "s":
        return None
    parts = [(c, _had_parts(t)) for c, t in terms]
    if all(len(fs) == 1 for _, (_, _, fs) in parts):
        return None
    first = parts[0][1][2]
    for f in first:
        if f.op in ("num", "ones") or not all(f in fs for _, (_, _, fs) in parts):
            continue
        rest, offset = [], 0.0
        for c, (k, s, fs) in parts:
            left = list(fs)
            left.remove(f)
            if not left and not s:
                offset += c * k
            else:
                rest.append((c, _scale(k, s, _had(left) if left else _T("num", (1.0,), "s"))))
        if not rest:
            return None
        return _had([f, _sum(rest, offset, form)])
    return None


def _chain(t, expand=False):
    """(coefficient, scalars, chain of factors) of a term; ``expand`` opens (AB)ᵀ into BᵀAᵀ."""
    coef, scalars = 1.0, ()
    if t.op == "scale" and t.args[2] is not None:
        coef, scalars, t = t.args
    if expand and t.op == "T" and t.args[0].op == "prod":
        return coef, scalars, [_T_of(f) for f in reversed(t.args[0].args)]
    return coef, scalars, (list(t.args) if t.op == "prod" else [t])


def _factor(terms):
    """A common left or right factor of all terms: Ax + Aᵀx -> (A + Aᵀ)x."""
    for expand in (False, True):
        found = _factor_chains(terms, expand)
        if found is not None:
            return found
    return None


def _factor_chains(terms, expand):
    parts = [(c, _chain(t, expand)) for c, t in terms]
    chains = [ch for _, (_, _, ch) in parts]
    if any(len(ch) < 2 for ch in chains):
        return None
    for side in (-1, 0):
        ends = {ch[side] for ch in chains}
        if len(ends) != 1:
            continue
        (end,) = ends
        rest = []
        for c, (k, s, ch) in parts:
            remaining = ch[:-1] if side == -1 else ch[1:]
            rest.append((c, _scale(k, s, _prod(remaining))))
        inner = _sum(rest, 0.0, rest[0][1].form)
        return _prod([inner, end] if side == -1 else [end, inner])
    return None


def _tr(x):
    if x.op == "prod" and len(x.args) == 2:
        a, b = x.args
        if a == _T_of(b) and a.form == "m":  # tr(AᵀA) = ‖A‖²
            return _T("norm2", (b if a.op == "T" else a,), "s")
    return _T("tr", (x,), "s")


def _ones(n):
    """The all-ones column vector 1 (its size is kept for checking, not shown)."""
    return _T("ones", (n,), "c")


def _ones_row(n):
    return _T("T", (_ones(n),), "r")


def _ones_matrix(rows, cols):
    return _T("prod", (_ones(rows), _ones_row(cols)), "m")
