"""Matrix notation, part 3: expression nodes to terms, terms to text, and the public printers.

:class:`_Matrix` turns expression nodes (at most two indices each) into
terms of :mod:`ricci.notation.matrix_terms`, bottom-up; an einsum network is
rewritten into terms by the rules of :mod:`ricci.notation.matrix_rules`.
Shared parts become refs, named after ``where`` when they occur more than
once and are not short; :meth:`_Matrix.render` writes a term as text or
LaTeX. Just before a term is written, :func:`ricci.notation.matrix_simplify.textbook`
puts it in the form the textbooks print (fractions, quotients, signs).
:func:`to_matrix`, :func:`matrix_or_none` and :func:`short_formula` are the
public entry points.

``to_matrix(expr, latex=True)`` (``expr.to_matrix(latex=True)``) writes the
same formula as LaTeX for a paper or a notebook: ``^\\top`` and ``^{-\\top}``
for ᵀ and ⁻ᵀ, ``\\odot`` for ⊙, ``\\frac`` for quotients, ``\\operatorname{diag}``,
``\\operatorname{tr}``, ``\\det``, ``\\lVert x \\rVert`` for norms, ``\\sigma`` and
``\\tanh``, ``\\mathbf{1}`` for the all-ones vector, and the shared parts after
``\\quad\\text{where }``. The logistic-regression Hessian (Matrix Cookbook
style: transposes on the factors, s = σ(Xw) named):

>>> import ricci
>>> X, w, y = ricci.Tensor("X", (5, 3)), ricci.Tensor("w", (3,)), ricci.Tensor("y", (5,))
>>> H = ricci.hessian(ricci.mean(ricci.softplus(X @ w) - y * (X @ w)), w)
>>> H.to_matrix()
'Xᵀ diag(s ⊙ (1 − s)) X / 5  where s = σ(Xw)'
>>> print(H.to_matrix(latex=True))
\\frac{1}{5} X^\\top \\operatorname{diag}\\left(s \\odot \\left(1 - s\\right)\\right) X \\quad\\text{where } s = \\sigma\\left(X w\\right)
>>> A, B, Z = (ricci.Tensor(n, (3, 3)) for n in "ABZ")
>>> g = ricci.grad(ricci.trace(A @ Z @ B), Z)  # Matrix Cookbook (102)
>>> g.to_matrix(), g.to_matrix(latex=True)
('AᵀBᵀ', 'A^\\\\top B^\\\\top')
>>> print(ricci.grad(ricci.norm(Z), Z).to_matrix(latex=True))  # Matrix Cookbook (127)
\\frac{Z}{\\left\\lVert Z \\right\\rVert}
"""
import itertools
from collections import Counter

from ..expr import Add, Apply, Constant, Contract, Delta, Expr, Tensor, Zeros
from ..plan import flatten, uses_of
from ..printing import constant_header
from ..symbolic import Size
from .common import (
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
from .matrix_rules import _reduce
from .matrix_simplify import fraction, textbook
from .matrix_terms import (
    _FORM_OF_NDIM,
    _T,
    _atom,
    _had,
    _ones,
    _ones_matrix,
    _ones_row,
    _prod,
    _scale,
    _sub_terms,
    _sum,
    _T_of,
)

__all__ = ["matrix_or_none", "short_formula", "to_matrix"]

_SHORT = 8  # shared parts this short are written out, not named


class _Matrix:
    """Build matrix-notation terms from expression nodes, and render them."""

    def __init__(self, roots, latex=False, names=None, uses=None, raw=None):
        self.latex = latex
        self.roots = set(roots)
        self.uses = uses if uses is not None else uses_of(roots)[1]
        self.memo = {}
        self.nets = {}  # contraction -> its flattened network (made once)
        self.refs = {}  # key -> (node, term)
        self.forced = set()  # keys of refs too big to write inline: always named
        self.measuring = False
        self.bound_names = {}
        self.named = {}  # node -> user-given name
        for name, node in (names or {}).items():
            if not isinstance(node, Expr):
                raise NotationError(f"names must map names to ricci expressions; {name!r} maps to a "
                                    f"{type(node).__name__}")
            self.named[node] = name
        self.raw = raw or {}  # node -> text written as is (names bound by the index printer)
        self.constants = {}
        self.shown = {}  # the textbook pass's memo: term -> the term as written

    # -- nodes to terms ------------------------------------------------------
    def term(self, node):
        """The term of ``node``; its parts are made first, bottom-up without recursion."""
        if node not in self.memo:
            self._warm(node)
        t = self.memo[node]
        if isinstance(t, _NotMatrix):
            raise t
        return t

    def _deps(self, node):
        """The nodes whose terms ``build(node)`` asks for."""
        if node in self.named or node in self.raw or isinstance(node, (Tensor, Constant, Delta, Zeros, Size)):
            return ()
        if node.ndim > 2:
            return ()
        if isinstance(node, Contract):
            return [f for f, _ in self.net(node).factors]
        if isinstance(node, Add):
            return [t for _, t in node.terms]
        return node.children

    def net(self, node):
        net = self.nets.get(node)
        if net is None:
            net = self.nets[node] = flatten(node, self.uses)
        return net

    def _warm(self, root):
        """Make the terms under ``root`` children first (an explicit stack, so any depth works)."""
        stack = [(root, False)]
        while stack:
            node, ready = stack.pop()
            if node in self.memo:
                continue
            if not ready:
                stack.append((node, True))
                stack.extend((d, False) for d in reversed(list(self._deps(node))) if d not in self.memo)
                continue
            try:
                self.memo[node] = self._term_one(node)
            except _NotMatrix as reason:  # raised again when (and if) a parent asks for it
                self.memo[node] = reason

    def _term_one(self, node):
        if node.ndim > 2:
            raise _NotMatrix(f"{self.describe(node)} has {node.ndim} indices")
        form = _FORM_OF_NDIM[node.ndim]
        if node in self.raw:
            return _T("raw", (self.raw[node],), form)
        if node in self.named:
            return _atom(self.named[node], form)
        if isinstance(node, Tensor):
            return _atom(node.name, form)
        t = self.build(node, form)
        if t.size > _INLINE_LIMIT and node not in self.roots:
            t = self.ref(node, t, forced=True)
        elif self.uses.get(node, 0) > 1 and not isinstance(node, (Constant, Delta, Zeros)):
            t = self.maybe_ref(node, t)
        return t

    def maybe_ref(self, node, t):
        """A shared part becomes a ref (named if it occurs twice), unless it is short to write."""
        if t.op in ("atom", "num", "ones", "eye", "zero", "raw", "ref"):
            return t
        if t.size > 4 * _SHORT:  # surely longer than _SHORT characters
            return self.ref(node, t)
        saved, self.bound_names, self.measuring = self.bound_names, {}, True
        try:
            short = len(self.render(t)[0].replace("σ(", "sigmoid(")) <= _SHORT  # σ(Xw) is named: s
        finally:
            self.bound_names, self.measuring = saved, False
        return t if short else self.ref(node, t)

    def ref(self, node, t, forced=False):
        key = len(self.refs)
        self.refs[key] = (node, t)
        if forced:
            self.forced.add(key)
        return _T("ref", (key,), t.form, size=1 if forced else t.size)

    def describe(self, node):
        if isinstance(node, Tensor):
            return node.name
        if isinstance(node, Apply):
            return f"{node.primitive.name}(·) of shape {node.shape}"
        kind = {Add: "sum", Contract: "contraction", Constant: "constant"}.get(type(node), node.kind)
        return f"a {kind} of shape {node.shape}"

    def build(self, node, form):
        if isinstance(node, Delta):
            return _T("eye", (node.n,), "m")
        if isinstance(node, Zeros):
            return _T("zero", (), form)
        if isinstance(node, Size):
            return _atom(node.text, "s")
        if isinstance(node, Constant):
            if node.value.ndim == 0 and node.name is None:
                return _T("num", (node.value.item(),), "s")
            if _is_ones(node):
                return _ones(node.shape[0]) if node.ndim == 1 else _ones_matrix(*node.shape)
            return _atom(_constant_name(self.constants, node), form)
        if isinstance(node, Contract):
            return self.network(self.net(node))
        if isinstance(node, Add):
            return _sum([(c, self.term(t)) for c, t in node.terms], node.offset, form)
        return self.apply(node, form)

    def apply(self, node, form):
        name, args = node.primitive.name, node.children
        if name == "power":
            p = node.params[0]
            base = self.term(args[0])
            if p == 2:
                if base.op != "ref":
                    base = self.maybe_ref(args[0], base)
                return _had([base, base])
            if p == -1:
                return _T("recip", (base,), form)
            return _T("pow", (base, p), form)
        if name == "inv":
            return _T("inv", (self.term(args[0]),), "m")
        if name in ("det", "logdet"):
            return _T(name, (self.term(args[0]),), "s")
        if len(args) == 1 and args[0].shape == node.shape and not node.params:
            return _T("fn", (name, self.term(args[0])), form)
        raise _NotMatrix(f"{name} is not an element-wise or matrix function")

    def network(self, net):
        if len(net.out) > 2:
            raise _NotMatrix(f"the result has {len(net.out)} indices")
        items = []
        for node, labels in net.factors:
            if len(labels) > 2:
                raise _NotMatrix(f"{self.describe(node)} has {len(labels)} indices")
            items.append((self.term(node), tuple(labels)))
        out = tuple(net.out)
        _reduce(items, out, net.sizes)
        return _scale(net.scale, (), self.finish(items, out, net.sizes))

    def finish(self, items, out, sizes):
        scalars = [t for t, labs in items if not labs]
        rest = [(t, labs) for t, labs in items if labs]
        carried = {lab for _, labs in rest for lab in labs}
        if any(len(set(labs)) != len(labs) for _, labs in rest):
            raise _NotMatrix("an index is repeated")
        if any(lab not in out for lab in carried):
            raise _NotMatrix("three or more tensors share a summed index")
        if not rest:
            body = None if not out else (_ones(sizes[out[0]]) if len(out) == 1 else
                                         _ones_matrix(sizes[out[0]], sizes[out[1]]))
        elif len(rest) == 1:
            t, labs = rest[0]
            if labs == out:
                body = t
            elif labs == out[::-1]:
                body = _T_of(t)
            elif len(labs) == 1 and len(out) == 2:  # broadcast along the other index
                body = (_prod([t, _ones_row(sizes[out[1]])]) if labs[0] == out[0]
                        else _prod([_ones(sizes[out[0]]), _T_of(t)]))
            else:
                raise _NotMatrix("the result is not a matrix of these indices")
        elif len(rest) == 2 and all(len(labs) == 1 for _, labs in rest) and len(out) == 2:
            (t1, l1), (t2, l2) = rest
            if (l1[0], l2[0]) == out:
                body = _prod([t1, _T_of(t2)])
            elif (l2[0], l1[0]) == out:
                body = _prod([t2, _T_of(t1)])
            else:
                raise _NotMatrix("an outer product of these indices")
        else:
            raise _NotMatrix(f"the result joins {len(rest)} tensors on {len(out)} indices")
        if body is None:
            return _scale(1.0, scalars, None) if scalars else _T("num", (1.0,), "s")
        return _scale(1.0, scalars, body) if scalars else body

    # -- rendering --------------------------------------------------------------
    def render_inline(self, node):
        """The matrix notation of one node, shared parts inlined (no where-clause).

        Raises ``_NotMatrix`` when a part is too big to write inline.
        """
        t = self.term(node)
        self.bound_names = {}
        return self.render(t)[0]

    def program(self, node, avoid=()):
        """``(main text, [(name, definition text), ...])``."""
        t = self.term(node)
        counts = self._count(t)
        taken = set(avoid) | set(self.named.values())
        pool = (n for n in itertools.chain(["t", "u", "v", "w", "s", "r", "p", "q"],
                                           (f"t{k}" for k in itertools.count(1)))
                if n not in taken)
        self.bound_names = {}
        for key in sorted(self.refs):  # name shared parts, unless they are short; and big parts
            if counts[key] > 1 or (key in self.forced and counts[key]):
                ref = self.refs[key][1]
                if ref.op == "fn" and ref.args[0] == "sigmoid" and "s" not in taken:
                    self.bound_names[key] = "s"  # s = σ(Xw), as the books name it
                    taken.add("s")
                else:
                    self.bound_names[key] = next(pool)
        main = self.render(t)[0]
        defs = [(self.bound_names[k], self.render(self.refs[k][1])[0]) for k in sorted(self.bound_names)]
        consts = [(name, f"<constant of shape {node.shape}>" if node.name is None else constant_header(node))
                  for node, name in self.constants.items()]
        return main, defs + consts

    def _count(self, t):
        """Occurrences of each ref in the term and in the refs it reaches (each ref's term scanned once)."""
        counts = Counter()
        stack = [t]
        while stack:
            t = stack.pop()
            if t.op == "ref":
                key = t.args[0]
                counts[key] += 1
                if counts[key] == 1:
                    stack.append(self.refs[key][1])
                continue
            stack.extend(_sub_terms(t.args))
        return counts

    # precedence: 0 atom, 1 postfix, 2 product, 3 hadamard, 4 sum
    def wrap(self, piece, limit):
        text, prec = piece
        if prec > limit:
            return (rf"\left({text}\right)" if self.latex else f"({text})"), 0
        return text, prec

    def render(self, t):
        t = textbook(t, self.shown)
        L = self.latex
        op = t.op
        if op == "atom":
            return (_latex_name(t.args[0]) if L else t.args[0]), 0
        if op == "raw":
            return t.args[0], 0
        if op == "ref":
            key = t.args[0]
            if key in self.bound_names:
                return self.bound_names[key], 0
            if key in self.forced:
                if self.measuring:
                    return "t", 0  # it will be a name
                raise _NotMatrix("a part is too large to write inline")
            return self.render(self.refs[key][1])
        if op == "num":
            value = t.args[0]
            return _exact(value, not L), (0 if value >= 0 else 2)
        if op == "zero":
            return "0", 0
        if op == "ones":
            return (r"\mathbf{1}" if L else "1"), 0
        if op == "eye":
            return "I", 0
        if op == "T":
            inner = t.args[0]
            if inner.op == "ref" and inner.args[0] not in self.bound_names and inner.args[0] not in self.forced:
                return self.render(_T_of(self.refs[inner.args[0]][1]))
            if inner.op == "inv":
                base = self.wrap(self.render(inner.args[0]), 0)[0]
                return (f"{base}^{{-\\top}}" if L else f"{base}⁻ᵀ"), 1
            base = self.wrap(self.render(inner), 0)[0]
            return (f"{base}^\\top" if L else f"{base}ᵀ"), 1
        if op == "inv":
            inner = t.args[0]
            if inner.op == "T":
                base = self.wrap(self.render(inner.args[0]), 0)[0]
                return (f"{base}^{{-\\top}}" if L else f"{base}⁻ᵀ"), 1
            base = self.wrap(self.render(inner), 0)[0]
            return (f"{base}^{{-1}}" if L else f"{base}⁻¹"), 1
        if op == "pow":
            base = self.wrap(self.render(t.args[0]), 0)[0]
            p = _number(t.args[1], not L)
            return (f"{base}^{{\\circ {p}}}" if L else f"{base}^∘{p}"), 1
        if op == "recip":
            base = self.wrap(self.render(t.args[0]), 1)[0]
            return (rf"\mathbf{{1}} \oslash {base}" if L else f"1 ⊘ {base}"), 3
        if op == "fn":
            name, inner = t.args
            if name == "sqrt" and inner.op == "norm2":  # sqrt(‖x‖²) = ‖x‖
                text = self.render(inner.args[0])[0]
                return (rf"\left\lVert {text} \right\rVert" if L else f"‖{text}‖"), 0
            text = self.render(inner)[0]
            if L:
                if name == "sqrt":
                    return rf"\sqrt{{{text}}}", 0
                if name == "abs":
                    return rf"\left|{text}\right|", 0
                return _LATEX_FUNCTIONS.get(name, rf"\operatorname{{{name}}}") + rf"\left({text}\right)", 0
            if name == "abs":
                return f"|{text}|", 0
            return f"{'σ' if name == 'sigmoid' else name}({text})", 0
        if op == "norm2":
            text = self.render(t.args[0])[0]
            return (rf"\left\lVert {text} \right\rVert^{{2}}" if L else f"‖{text}‖²"), 0
        if op in ("det", "logdet", "tr", "diag", "dvec"):
            text = self.render(t.args[0])[0]
            if L:
                fn = {"det": r"\det", "logdet": r"\log\det", "tr": r"\operatorname{tr}",
                      "diag": r"\operatorname{diag}", "dvec": r"\operatorname{diag}"}[op]
                return rf"{fn}\left({text}\right)", 0
            fn = {"det": "det", "logdet": "log det", "tr": "tr", "diag": "diag", "dvec": "diag"}[op]
            return f"{fn}({text})", 0
        if op == "prod":
            pieces = [self.wrap(self.render(f), 1) for f in t.args]
            return self.juxtapose([p[0] for p in pieces]), 2
        if op == "had":
            sep = r" \odot " if L else " ⊙ "
            return sep.join(self.wrap(self.render(a), 1)[0] for a in t.args), 3
        if op == "scale":
            coef, scalars, inner = t.args
            pieces = [self.wrap(self.render(s), 1)[0] for s in scalars]
            if inner is not None:
                pieces.append(self.wrap(self.render(inner), 2)[0])
            body = self.juxtapose(pieces) if pieces else ""
            minus = "-" if L else "−"
            if coef == 1:
                return body, 2
            if coef == -1 and body:
                return f"{minus}{body}", 2
            number = _number(abs(coef))
            sign = minus if coef < 0 else ""
            sep = "·" if body[:1].isdigit() and not L else " "  # 2·1 1ᵀ, not 2 1 1ᵀ
            return (f"{sign}{number}{sep}{body}" if body else f"{sign}{number}"), 2
        if op == "frac":
            return self.quotient(*t.args)
        if op == "sum":
            terms, offset = t.args
            minus = "-" if L else "−"
            parts = [_exact(offset, not L)] if offset else []
            for coef, term in terms:
                piece = self.render(term)
                if abs(coef) != 1:
                    body = self.wrap(piece, 2)[0]
                    text = f"{_exact(abs(coef))}{'·' if body[:1].isdigit() and not L else ' '}{body}"
                else:
                    text = self.wrap(piece, 3)[0]
                if coef < 0:
                    parts.append(f"{minus} {text}" if parts else f"{minus}{text}")
                else:
                    parts.append(f"+ {text}" if parts else text)
            return " ".join(parts), 4
        raise AssertionError(op)  # pragma: no cover

    def quotient(self, sign, p, num_scalars, inner, q, den_scalars):
        """``sign · p · Π num_scalars · inner / (q · Π den_scalars)``: ``Xᵀ(s − y) / 5``, ``X / ‖X‖``."""
        L = self.latex
        minus = ("-" if L else "−") if sign < 0 else ""
        num = [self.wrap(self.render(s), 1)[0] for s in num_scalars]
        if inner is not None:
            num.append(self.wrap(self.render(inner), 2 if not L or den_scalars else 2)[0])
        den = ([_exact(q)] if q != 1 else []) + [self.wrap(self.render(s), 1)[0] for s in den_scalars]
        den_text = self.juxtapose(den)
        if L:
            if not den_scalars:  # \frac{1}{5} X^\top (...)
                return (f"{minus}\\frac{{{_exact(p)}}}{{{den_text}}} " + self.juxtapose(num)).rstrip(), 2
            top = self.juxtapose(([_exact(p)] if p != 1 or not num else []) + num)
            return f"{minus}\\frac{{{top}}}{{{den_text}}}", 2
        if not num:
            return f"{minus}{_exact(p)}/{den_text}", 2
        top = self.juxtapose(([_exact(p)] if p != 1 else []) + num) if p == 1 else \
            f"{_exact(p)}{'·' if num[0][:1].isdigit() else ' '}{self.juxtapose(num)}"
        if len(den) > 1:
            den_text = f"({den_text})"
        return f"{minus}{top} / {den_text}", 2

    def juxtapose(self, pieces):
        if self.latex:
            return " ".join(pieces)
        text = pieces[0]
        for prev, piece in zip(pieces, pieces[1:]):
            text += ("" if _tight(prev) and _tight(piece) else " ") + piece
        return text


_DECORATION = "ᵀ⁻¹²³⁴⁵⁶⁷⁸⁹⁰"


def _exact(value, unicode_minus=False):
    """A number as written: ``2``, ``0.2``, and ``1/3`` where the decimal would be rounded."""
    text = _number(value, unicode_minus)
    if isinstance(value, float) and len(repr(abs(value))) > 6:
        pq = fraction(abs(value))
        if pq is not None:
            text = ("−" if unicode_minus else "-") * (value < 0) + f"{pq[0]}/{pq[1]}"
    return text


def _tight(text):
    """Whether a product factor may touch its neighbour without a space (X, Aᵀ, (A + B))."""
    core = text.rstrip(_DECORATION)
    if len(core) == 1 and core.isalpha():
        return True
    return core.startswith("(") and core.endswith(")")


def _matrix_program(expr, names, latex):
    m = _Matrix([expr], latex=latex, names=names)
    avoid = set(expr.inputs) if isinstance(expr.inputs, dict) else set()
    return m.program(expr, avoid)


def to_matrix(expr, names=None, strict=False, latex=False):
    """Conventional matrix notation: products, ᵀ, ⊙, diag, tr, ⁻¹, det, 1 vectors for sums.

    Works when the network is a chain of tensors with at most two indices
    (plus hyperedges that are Hadamard products). Otherwise it returns index
    notation and says so — or, with ``strict=True``, raises
    :class:`NotationError`. ``names`` maps display names to subexpressions
    (``{"c": c}`` writes ``c`` wherever ``c`` occurs); other shared parts get
    short names, defined after ``where``. ``latex=True`` gives LaTeX.

    >>> import ricci
    >>> A, x = ricci.Tensor("A", (3, 3)), ricci.Tensor("x", (3,))
    >>> ricci.grad(ricci.einsum("i,ij,j->", x, A, x), x).to_matrix()
    '(A + Aᵀ)x'
    >>> ricci.einsum("ijk->", ricci.Tensor("T", (2, 2, 2))).to_matrix()
    'index notation (not matrix notation: T has 3 indices): out = T[ijk]'
    """
    expr = _check_expr(expr)
    try:
        main, defs = _matrix_program(expr, names, latex)
    except _NotMatrix as reason:
        if strict:
            raise NotationError(f"no matrix notation for this expression: {reason}") from None
        from .index import index_notation, to_latex  # here: index imports this module

        index = to_latex(expr) if latex else index_notation(expr)
        return f"index notation (not matrix notation: {reason}): {index}"
    if not defs:
        return main
    if latex:
        return main + r" \quad\text{where } " + r",\ ".join(f"{n} = {d}" for n, d in defs)
    return main + "  where " + ", ".join(f"{n} = {d}" for n, d in defs)


def matrix_or_none(expr):
    """The matrix notation of ``expr`` with shared parts written out, or None if it has none
    (or is too large to write on one line).

    >>> import ricci
    >>> matrix_or_none(ricci.Tensor("T", (2, 2, 2))) is None
    True
    """
    if _more_nodes_than(expr, _INLINE_LIMIT):  # too large to write inline; don't build it to find out
        return None
    try:
        return _Matrix([expr]).render_inline(expr)
    except _NotMatrix:
        return None


def _more_nodes_than(expr, limit):
    """Whether ``expr`` has more than ``limit`` distinct nodes (stops counting there)."""
    seen, stack = {expr}, [expr]
    while stack:
        for child in stack.pop().children:
            if child not in seen:
                if len(seen) >= limit:
                    return True
                seen.add(child)
                stack.append(child)
    return False


def short_formula(expr, limit=24):
    """A short one-line label for ``expr`` (for drawings): its matrix notation, or its kind.

    >>> import ricci
    >>> short_formula(1 - ricci.tanh(ricci.Tensor("u", (2,))) ** 2)
    '1 − tanh(u) ⊙ tanh(u)'
    >>> short_formula(ricci.einsum("ij,jk,kl->il", *(ricci.Tensor(n, (2, 2)) for n in "ABC")), limit=1)
    'contract'
    """
    if isinstance(expr, Tensor):
        return expr.name
    text = matrix_or_none(expr)
    if text is not None and len(text) <= limit:
        return text
    if isinstance(expr, Apply):
        return {"power": f"(·)^{_number(expr.params[0])}" if expr.params else "power"}.get(
            expr.primitive.name, f"{expr.primitive.name}(·)")
    if isinstance(expr, Add):
        return "sum" if text is None else "Σ " + str(len(expr.terms) + bool(expr.offset)) + " terms"
    if isinstance(expr, Constant):
        if expr.name is not None:
            return expr.name
        return _number(expr.value.item()) if expr.value.ndim == 0 else ("1" if _is_ones(expr) else "const")
    if isinstance(expr, Delta):
        return "δ"
    return text if text is not None and len(text) <= 2 * limit else expr.kind
