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
"""
import itertools
import re
from collections import Counter

import numpy as np

from ..errors import RicciError
from ..expr import Add, Apply, Constant, Contract, Delta, Expr, Tensor, Zeros
from ..plan import flatten, uses_of
from ..printing import constant_header, to_text
from ..symbolic import Size

__all__ = ["to_einsum", "to_latex", "to_matrix", "index_notation", "matrix_or_none", "short_formula",
           "NotationError"]


class NotationError(RicciError, ValueError):
    """An expression has no matrix notation (raised by ``to_matrix(..., strict=True)``)."""


class _NotMatrix(Exception):
    """Internal: why the matrix renderer gave up."""


# ---------------------------------------------------------------------------
# einsum programs
# ---------------------------------------------------------------------------
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


def _check_expr(expr):
    if not isinstance(expr, Expr):
        raise NotationError(f"expected a ricci expression, got {type(expr).__name__}")
    return expr


def _number(value, unicode_minus=False):
    if isinstance(value, complex):
        return repr(value)
    text = f"{value:g}"
    return text.replace("-", "−") if unicode_minus else text


def _size_latex(node):
    """A :class:`ricci.symbolic.Size` in LaTeX: ``\\mathrm{batch}``, ``\\frac{1}{\\mathrm{batch}}``."""
    name = r"\mathrm{" + node.dim.replace("_", r"\_") + "}"
    e = node.exponent
    if e == 1:
        return name
    if e == -1:
        return r"\frac{1}{" + name + "}"
    return name + "^{" + _number(e) + "}"


def _is_ones(node):
    """An unnamed all-ones constant (written as a 1 vector or dropped); a named one keeps its name."""
    return (isinstance(node, Constant) and node.name is None and node.value.size > 0
            and bool(np.all(node.value == 1)))


def _constant_name(constants, node):
    """The display name of a non-scalar constant: its own name, or the next ``C<k>`` of the unnamed."""
    name = constants.get(node)
    if name is None:
        name = constants[node] = node.name if node.name is not None else (
            f"C{sum(1 for c in constants if c.name is None)}")
    return name


# ---------------------------------------------------------------------------
# index notation (LaTeX or plain text)
# ---------------------------------------------------------------------------
_LETTERS = "ijklmnpqrstuvwxyzabcdefgh"
_LATEX_FUNCTIONS = {
    "tanh": r"\tanh", "exp": r"\exp", "log": r"\log", "sin": r"\sin", "cos": r"\cos",
    "sigmoid": r"\sigma", "relu": r"\operatorname{relu}", "step": r"\operatorname{step}",
    "sign": r"\operatorname{sign}",
}
_AXIS_PARAM = ("softmax", "logsumexp", "log_softmax")  # primitives whose parameter is an axis
_SUPERSCRIPTS = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")


def _latex_name(name):
    """A Tensor name as LaTeX: ``W_c`` -> ``W_{c}``, ``c_prev`` -> ``c_{\\mathrm{prev}}``."""
    base, _, sub = name.partition("_")

    def word(text):
        text = re.sub(r"([\\{}$&#%^~])", r"\\\1", text).replace("_", r"\_")
        return text if len(text) <= 1 else rf"\mathrm{{{text}}}"

    return word(base) + (f"_{{{word(sub)}}}" if sub else "")


class _Index:
    """Render expressions in index notation; ``latex`` chooses LaTeX or plain text."""

    def __init__(self, roots, latex, name):
        self.latex, self.name = latex, name
        self.order, self.uses = uses_of(roots)
        self.bound = {}  # node -> binding name, for shared non-leaf nodes
        self.nets = {}  # contraction -> its flattened network
        self.constants = {}
        self.letters = iter(())
        self.roots = roots
        self.defining = None

    # -- small pieces ------------------------------------------------------
    def fresh(self):
        return next(self.letters)

    def _letter_pool(self):
        yield from _LETTERS
        k = 1
        while True:
            for ch in _LETTERS:
                yield f"{ch}{k}" if not self.latex else f"{ch}_{{{k}}}"
            k += 1

    def indices(self, letters):
        if not letters:
            return ""
        joined = "".join(letters) if all(len(x) == 1 for x in letters) else ",".join(letters)
        return f"_{{{joined}}}" if self.latex else f"[{joined}]"

    def tensor(self, name, letters):
        if self.latex:
            base = _latex_name(name)
            if "_" in name and letters:
                base = f"{{{base}}}"
            return base + self.indices(letters)
        return name + self.indices(letters)

    def paren(self, text):
        return rf"\left({text}\right)" if self.latex else f"({text})"

    def minus(self):
        return "-" if self.latex else "−"

    # -- nodes ---------------------------------------------------------------
    def render(self, node, letters):
        """``(text, precedence)`` of ``node`` with its axes named ``letters``."""
        if node in self.bound and node is not self.defining:
            return self.bound[node] + self.indices(letters), 0
        if isinstance(node, Tensor):
            return self.tensor(node.name, letters), 0
        if isinstance(node, Delta):
            return (r"\delta" if self.latex else "δ") + self.indices(letters), 0
        if isinstance(node, Zeros):
            return "0", 0
        if isinstance(node, Size):  # a named dimension's size: its name
            return (_size_latex(node) if self.latex else node.text), 0
        if isinstance(node, Constant):
            if node.value.ndim == 0 and node.name is None:
                return _number(node.value.item()), 0
            if _is_ones(node):
                return (r"\mathbf{1}" if self.latex else "1") + self.indices(letters), 0
            return self.tensor(_constant_name(self.constants, node), letters), 0
        if isinstance(node, Contract):
            return self.network(self.net(node), letters)
        if isinstance(node, Add):
            return self.add(node, letters)
        return self.apply(node, letters)

    def net(self, node):
        net = self.nets.get(node)
        if net is None:
            net = self.nets[node] = flatten(node, self.uses)
        return net

    def deps(self, node):
        """The nodes ``render(node)`` writes inside its text."""
        if isinstance(node, (Tensor, Delta, Zeros, Constant, Size)):
            return ()
        if isinstance(node, Contract):
            return [f for f, _ in self.net(node).factors]
        if isinstance(node, Add):
            return [t for _, t in node.terms]
        return node.children

    def network(self, net, letters):
        names = dict(zip(net.out, letters))
        carried = Counter(lab for _, labs in net.factors for lab in labs)
        parts = []
        for child, labs in net.factors:
            # a ones factor only broadcasts: drop it when its indices are free or carried elsewhere
            if _is_ones(child) and all(lab in names or carried[lab] > labs.count(lab) for lab in labs):
                continue
            for lab in labs:
                if lab not in names:
                    names[lab] = self.fresh()
            text, prec = self.render(child, [names[lab] for lab in labs])
            parts.append(self.paren(text) if prec >= 2 else text)
        body = " ".join(parts) if parts else "1"
        return self.scaled(net.scale, body, 1 if len(parts) > 1 else 0)

    def scaled(self, scale, text, prec):
        if scale == 1:
            return text, prec
        if scale == -1:
            return f"{self.minus()}{self.paren(text) if prec >= 2 else text}", 2
        sep = r"\," if self.latex else " "
        return f"{_number(scale)}{sep}{self.paren(text) if prec >= 2 else text}", 1

    def add(self, node, letters):
        parts = [_number(node.offset)] if node.offset else []
        for coef, child in node.terms:
            text, prec = self.render(child, letters)
            text = self.paren(text) if prec >= 2 and abs(coef) != 1 else text
            magnitude = "" if abs(coef) == 1 else _number(abs(coef)) + (r"\," if self.latex else " ")
            if coef < 0:
                parts.append(f"{self.minus()} {magnitude}{text}" if parts else f"{self.minus()}{magnitude}{text}")
            else:
                parts.append(f"+ {magnitude}{text}" if parts else f"{magnitude}{text}")
        return " ".join(parts), 2

    def apply(self, node, letters):
        name, args = node.primitive.name, node.children
        if name == "power":
            text, prec = self.render(args[0], letters)
            base = self.paren(text) if prec > 0 else text
            p = node.params[0]
            if self.latex:
                return f"{base}^{{{_number(p)}}}", 0
            sup = _number(p).translate(_SUPERSCRIPTS) if float(p).is_integer() else f"^{_number(p)}"
            return f"{base}{sup}", 0
        if len(args) == 1 and args[0].shape == node.shape and not node.params and name not in ("inv",):
            inner, _ = self.render(args[0], letters)
            if name == "sqrt" and self.latex:
                return rf"\sqrt{{{inner}}}", 0
            if name == "abs":
                return (rf"\left|{inner}\right|" if self.latex else f"|{inner}|"), 0
            fn = _LATEX_FUNCTIONS.get(name, rf"\operatorname{{{name}}}") if self.latex else name
            return f"{fn}{self.paren(inner)}", 0
        return self.matrix_function(node, letters)

    def matrix_function(self, node, letters):
        """inv, det, logdet and other whole-argument functions: the argument in matrix form."""
        name, arg = node.primitive.name, node.children[0]
        inner = self.whole(arg)
        if name == "inv":
            base = inner if _simple(inner) else self.paren(inner)
            text = f"{base}^{{-1}}" if self.latex else f"{base}⁻¹"
            return (self.paren(text) + self.indices(letters) if letters else text), 0
        if name in ("det", "logdet"):
            fn = {"det": r"\det", "logdet": r"\log\det"}[name] if self.latex else {"det": "det", "logdet": "log det"}[name]
            return f"{fn}{self.paren(inner)}", 0
        params = ", ".join(_number(p) if isinstance(p, (int, float)) else str(p) for p in node.params)
        if name in _AXIS_PARAM and params:
            params = f"axis={params}"
        if name == "solve":  # its parameters say which axis of B is solved for and whether Aᵀ
            params = ""
            if node.params[1]:
                base = inner if _simple(inner) else self.paren(inner)
                inner = rf"{base}^{{\top}}" if self.latex else f"{base}ᵀ"
        if len(node.children) > 1:  # every argument, not only the first
            inner = ", ".join([inner] + [self.whole(c) for c in node.children[1:]])
        fn = rf"\operatorname{{{name}}}" if self.latex else name
        text = f"{fn}{self.paren(inner + (', ' + params if params else ''))}"
        return (self.paren(text) + self.indices(letters) if letters else text), 0

    def whole(self, arg):
        """An argument as a whole tensor: matrix notation if possible, else ``[... ]_{indices}``."""
        if arg in self.bound:
            return self.bound[arg]
        try:
            return _Matrix([arg], latex=self.latex, uses=self.uses, raw=self.bound).render_inline(arg)
        except _NotMatrix:
            saved = self.letters
            self.letters = self._letter_pool()
            own = [self.fresh() for _ in arg.shape]
            text, _ = self.render(arg, own)
            self.letters = saved
            if self.latex:
                return rf"\left[{text}\right]" + self.indices(own)
            return f"[{text}]" + self.indices(own)

    # -- whole program -----------------------------------------------------
    def text(self):
        written = self.written()
        size = {}  # nodes each written part holds inline: a part above the limit gets a name
        for node in self.order:
            if node not in written:
                continue
            leaf = isinstance(node, (Tensor, Constant, Delta, Zeros, Size))
            size[node] = 1 + sum(1 if d in self.bound else size[d] for d in self.deps(node))
            if leaf or (len(self.roots) == 1 and node is self.roots[0]):
                continue
            if self.uses[node] > 1:
                if isinstance(node, Apply) and all(isinstance(c, (Tensor, Constant, Delta)) for c in node.children):
                    continue  # f(X) is as short as a name: repeat it
            elif size[node] <= _INLINE_LIMIT:
                continue
            self.bound[node] = (f"{{t^{{({len(self.bound)})}}}}" if self.latex else f"t{len(self.bound)}")
        lines = []
        for node in self.order:
            if node in self.bound:
                lines.append(self.definition(self.bound[node], node))
        for i, root in enumerate(self.roots):
            name = self.name if len(self.roots) == 1 else f"{self.name}{i}"
            lhs = rf"\mathrm{{{name}}}" if self.latex and len(name) > 1 else name
            self.bound.pop(root, None)
            lines.append(self.definition(lhs, root))
        if self.latex and len(lines) > 1:
            body = r" \\ ".join(line.replace(" = ", " &= ", 1) for line in lines)
            return rf"\begin{{aligned}} {body} \end{{aligned}}"
        return "\n".join(lines)

    def written(self):
        """The nodes that appear in the text (the rest are spliced into networks); no recursion."""
        seen, stack = set(self.roots), list(self.roots)
        while stack:
            for d in self.deps(stack.pop()):
                if d not in seen:
                    seen.add(d)
                    stack.append(d)
        return seen

    def definition(self, name, node):
        self.letters = self._letter_pool()
        letters = [self.fresh() for _ in node.shape]
        self.defining = node
        rhs, _ = self.render(node, letters)
        self.defining = None
        return f"{name}{self.indices(letters)} = {rhs}"


def _simple(text):
    return bool(re.fullmatch(r"[A-Za-z]|\\?[A-Za-z]+(_\{[^{}]*\})?|[A-Za-z]_\{\\mathrm\{[^{}]*\}\}", text))


def to_latex(expr, name="out"):
    """Index notation as LaTeX, with the summation convention.

    The result's free indices are written on ``name``; every other index on
    the right-hand side is summed. Shared parts become ``t^{(k)}`` lines of
    an ``aligned`` block.

    >>> import ricci
    >>> W, x = ricci.Tensor("W", (4, 3)), ricci.Tensor("x", (3,))
    >>> print(ricci.tanh(ricci.einsum("ij,j->i", W, x)).to_latex())
    \\mathrm{out}_{i} = \\tanh\\left(W_{ij} x_{j}\\right)
    """
    return _Index([_check_expr(expr)], latex=True, name=name).text()


def index_notation(expr, name="out"):
    """Index notation as plain text, e.g. ``out[ij] = A[ik] B[kj]`` (free indices on ``name``).

    >>> import ricci
    >>> a, b = ricci.Tensor("a", (3,)), ricci.Tensor("b", (3,))
    >>> index_notation(ricci.einsum("i,i->i", a, b))
    'out[i] = a[i] b[i]'
    """
    return _Index([_check_expr(expr)], latex=False, name=name).text()


# ---------------------------------------------------------------------------
# matrix notation: a small term language
# ---------------------------------------------------------------------------
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

    __slots__ = ("op", "args", "form", "_key", "_hash", "size", "cost")

    def __init__(self, op, args, form, size=None):
        self.op, self.args, self.form = op, tuple(args), form
        self._key = (op, self.args, form)
        self._hash = hash(self._key)
        subs = list(_sub_terms(self.args))
        self.size = 1 + sum(t.size for t in subs) if size is None else size
        if op == "inv" and self.args[0].op == "T":  # X⁻ᵀ shows no transpose
            self.cost = self.args[0].args[0].cost
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


_SHORT = 8  # shared parts this short are written out, not named
_INLINE_LIMIT = 120  # a part bigger than this (in term nodes) is named: no text nests deeper
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
    """``coef · Π scalars · x`` (``x`` None for a pure scalar)."""
    scalars = tuple(scalars)
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
        factored = _factor(terms)
        if factored is not None:
            return _scale(common, (), factored)
    return _scale(common, (), _T("sum", (tuple(terms), offset), form))


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
            short = len(self.render(t)[0]) <= _SHORT
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
            return _number(value, not L), (0 if value >= 0 else 2)
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
            text = self.render(inner)[0]
            if L:
                if name == "sqrt":
                    return rf"\sqrt{{{text}}}", 0
                if name == "abs":
                    return rf"\left|{text}\right|", 0
                return _LATEX_FUNCTIONS.get(name, rf"\operatorname{{{name}}}") + rf"\left({text}\right)", 0
            if name == "abs":
                return f"|{text}|", 0
            return f"{name}({text})", 0
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
        if op == "sum":
            terms, offset = t.args
            minus = "-" if L else "−"
            parts = [_number(offset, not L)] if offset else []
            for coef, term in terms:
                piece = self.render(term)
                if abs(coef) != 1:
                    body = self.wrap(piece, 2)[0]
                    text = f"{_number(abs(coef))}{'·' if body[:1].isdigit() and not L else ' '}{body}"
                else:
                    text = self.wrap(piece, 3)[0]
                if coef < 0:
                    parts.append(f"{minus} {text}" if parts else f"{minus}{text}")
                else:
                    parts.append(f"+ {text}" if parts else text)
            return " ".join(parts), 4
        raise AssertionError(op)  # pragma: no cover

    def juxtapose(self, pieces):
        if self.latex:
            return " ".join(pieces)
        text = pieces[0]
        for prev, piece in zip(pieces, pieces[1:]):
            text += ("" if _tight(prev) and _tight(piece) else " ") + piece
        return text


_DECORATION = "ᵀ⁻¹²³⁴⁵⁶⁷⁸⁹⁰"


def _tight(text):
    """Whether a product factor may touch its neighbour without a space (X, Aᵀ, (A + B))."""
    core = text.rstrip(_DECORATION)
    if len(core) == 1 and core.isalpha():
        return True
    return core.startswith("(") and core.endswith(")")


def _reduce_step(items, out_set):
    """Apply one rewrite to the items of a network; False when none applies.

    Items are ``(term, labels)`` with at most two labels; a term's rows carry
    ``labels[0]`` and its columns ``labels[1]``.
    """
    counts = Counter(lab for _, labs in items for lab in labs)

    # diagonals and traces: X_ii
    for k, (x, labs) in enumerate(items):
        if len(labs) == 2 and labs[0] == labs[1]:
            i = labs[0]
            items[k] = (_tr(x), ()) if i not in out_set and counts[i] == 2 else (_T("dvec", (x,), "c"), (i,))
            return True

    def exclusive(labs):  # every label summed and only on this pair
        return all(lab not in out_set and counts[lab] == 2 for lab in labs)

    # Hadamard products: two tensors on the same indices
    for k in range(len(items)):
        for l in range(k + 1, len(items)):
            (x, lx), (y, ly) = items[k], items[l]
            if lx and set(lx) == set(ly) and not exclusive(lx):
                y = y if ly == lx else _T_of(y)
                items[k] = (_had([x, y]), lx)
                del items[l]
                return True

    # matrix products: a summed index on exactly two tensors
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

    # sums: a summed index on one tensor only
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
    # a vector on a kept index of a matrix: M diag(v)
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


def _reduce(items, out, sizes):
    """Rewrite a network's items until no rule applies."""
    out_set = _OutSet(out, sizes)
    while _reduce_step(items, out_set):
        pass


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
