"""Matrix notation, part 4: the textbook pass, from normal-form terms to the forms books print.

The terms of :mod:`ricci.notation.matrix_terms` are what the numbers say;
this pass rewrites them, just before they are written, into what a
textbook (the Matrix Cookbook, the tutorials) prints. Every rewrite is an
identity, so the text stays equal to the expression:

=====================================  ==========================================
before                                 after
=====================================  ==========================================
``0.2 Xᵀ(s − y)``                      ``Xᵀ(s − y) / 5`` (a proper fraction's denominator)
``(1 ⊘ sqrt(‖X‖²))X``                  ``X / ‖X‖`` (scalar reciprocals as quotients)
``−0.2 Xᵀ(y − s)``                     ``Xᵀ(s − y) / 5`` (a sign absorbed by a difference)
``diag(w) diag(x^∘−2)``                ``diag(w ⊙ x^∘−2)`` (adjacent diagonals merged)
=====================================  ==========================================

The new operator is ``"frac"``: ``(sign, numerator coefficient, numerator
scalars, body or None, denominator coefficient, denominator scalars)``.
"""
from fractions import Fraction

from .matrix_terms import _T, _had, _prod, _scale, _sub_terms

__all__ = ["textbook", "fraction"]


def fraction(value, limit=1000):
    """``(p, q)`` with ``value == p / q`` exactly in float64 and ``q ≤ limit``, or None."""
    if not isinstance(value, float) and not isinstance(value, int):
        return None
    try:
        q = Fraction(value).limit_denominator(limit)
    except (OverflowError, ValueError):
        return None
    if q.numerator / q.denominator != value:
        return None
    return q.numerator, q.denominator


def _map_args(args, f):
    out = []
    for a in args:
        if isinstance(a, _T):
            out.append(f(a))
        elif isinstance(a, tuple):
            out.append(tuple(f(b) if isinstance(b, _T) else
                             (tuple(f(c) if isinstance(c, _T) else c for c in b) if isinstance(b, tuple) else b)
                             for b in a))
        else:
            out.append(a)
    return tuple(out)


def textbook(t, memo=None):
    """``t`` rewritten into textbook forms (refs are left to be rewritten on their own)."""
    memo = {} if memo is None else memo
    if t in memo:
        return memo[t]
    out = memo[t] = _bottom_up(_bottom_up(t, {}, _lift), {}, _rewrite)
    memo[out] = out  # a written term is not rewritten again
    return out


def _bottom_up(t, memo, rewrite):
    stack, order = [t], []
    while stack:  # children first, without recursion
        x = stack.pop()
        if x in memo or x.op == "ref":
            continue
        order.append(x)
        stack.extend(s for s in _sub_terms(x.args) if s not in memo)
    for x in reversed(order):
        if x in memo:
            continue
        args = _map_args(x.args, lambda s: memo.get(s, s))
        y = x if args == x.args else _T(x.op, args, x.form)
        memo[x] = rewrite(y)
    return memo.get(t, t)


def _lift(t):
    """Scalar factors moved out: diag(−v) = −diag(v), and so out of products and ⊙ products."""
    op = t.op
    if op in ("diag", "dvec") and t.args[0].op == "scale" and t.args[0].args[2] is not None:
        coef, scalars, inner = t.args[0].args
        return _scale(coef, scalars, _T(op, (inner,), t.form))
    if op == "prod" and any(a.op == "scale" for a in t.args):
        return _prod(list(t.args))
    if op == "had" and any(a.op == "scale" for a in t.args):
        return _had(list(t.args))
    if op == "scale" and t.args[2] is not None and t.args[2].op == "scale":
        return _scale(*t.args)
    return t


def _rewrite(t):
    if t.op == "scale":
        return _quotient(*t.args, form=t.form)
    if t.op == "prod" and any(a.op == "diag" and b.op == "diag" for a, b in zip(t.args, t.args[1:])):
        return _merge_diagonals(t)
    return t


def _merge_diagonals(t):
    """diag(a) diag(b) = diag(a ⊙ b): one diagonal, as Parr and Howard write ∂(w ⊘ x)/∂x."""
    out = []
    for a in t.args:
        if out and a.op == "diag" and out[-1].op == "diag":
            out[-1] = _T("diag", (_had([out[-1].args[0], a.args[0]]),), out[-1].form)
        else:
            out.append(a)
    return out[0] if len(out) == 1 else _T("prod", tuple(out), t.form)


def _is_denominator(s):
    return s.form == "s" and (s.op == "recip" or (s.op == "pow" and s.args[1] < 0))


def _base(s):
    if s.op == "recip":
        return s.args[0]
    p = -s.args[1]
    return s.args[0] if p == 1 else _T("pow", (s.args[0], p), "s")


def _quotient(coef, scalars, inner, form):
    """A scale written as a quotient when it has a fractional coefficient or scalar reciprocals."""
    sign = -1 if coef < 0 else 1
    mag = abs(coef)
    if sign < 0 and inner is not None:  # −c·P(a − b) -> c·P(b − a)
        flipped = _flip_difference(inner)
        if flipped is not None:
            sign, inner = 1, flipped
    den_scalars = tuple(_base(s) for s in scalars if _is_denominator(s))
    num_scalars = tuple(s for s in scalars if not _is_denominator(s))
    pq = fraction(mag)
    p, q = (mag, 1) if pq is None or pq[1] == 1 or (pq[0] > pq[1] and not den_scalars) else pq
    if q == 1 and not den_scalars:
        if sign * mag == coef and inner is not None and scalars == num_scalars:
            return _T("scale", (coef, scalars, inner), form) if (coef, inner) != (1, None) else inner
        return _T("scale", (sign * mag, num_scalars, inner), form)
    return _T("frac", (sign, p, num_scalars, inner, q, den_scalars), form)


def _flip_difference(inner):
    """``P(a − b)`` as ``P(b − a)`` negated, when exactly one factor of the product is a difference."""
    factors = list(inner.args) if inner.op == "prod" else [inner]
    if inner.op != "prod":
        return None
    found = [k for k, f in enumerate(factors) if f.op == "sum" and f.args[1] == 0 and len(f.args[0]) == 2
             and f.args[0][0][0] * f.args[0][1][0] < 0]
    if len(found) != 1:
        return None
    k = found[0]
    terms = factors[k].args[0]
    factors[k] = _T("sum", (((-terms[1][0], terms[1][1]), (-terms[0][0], terms[0][1])), 0.0), factors[k].form)
    return _T("prod", tuple(factors), inner.form)
