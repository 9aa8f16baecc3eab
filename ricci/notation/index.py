"""Index notation (LaTeX or plain text) with the summation convention.

:func:`to_latex` and :func:`index_notation` write the result's free indices
on its name; every other index on the right-hand side is summed. Shared
parts, and parts too large to write inline, become numbered lines
(``t0[...] = ...``; in LaTeX ``t^{(0)}`` lines of an ``aligned`` block).
Whole-matrix functions (inv, det, solve, ...) show their argument in matrix
notation when it has one (:mod:`ricci.notation.matrix`).
"""
import re
from collections import Counter

from ..expr import Add, Apply, Constant, Contract, Delta, Tensor, Zeros
from ..plan import flatten, uses_of
from ..symbolic import Size
from .common import (
    _INLINE_LIMIT,
    _LATEX_FUNCTIONS,
    _check_expr,
    _constant_name,
    _is_ones,
    _latex_name,
    _NotMatrix,
    _number,
)
from .matrix import _Matrix

__all__ = ["index_notation", "to_latex"]

_LETTERS = "ijklmnpqrstuvwxyzabcdefgh"
_AXIS_PARAM = ("softmax", "logsumexp", "log_softmax")  # primitives whose parameter is an axis
_SUPERSCRIPTS = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")


def _size_latex(node):
    """A :class:`ricci.symbolic.Size` in LaTeX: ``\\mathrm{batch}``, ``\\frac{1}{\\mathrm{batch}}``."""
    name = r"\mathrm{" + node.dim.replace("_", r"\_") + "}"
    e = node.exponent
    if e == 1:
        return name
    if e == -1:
        return r"\frac{1}{" + name + "}"
    return name + "^{" + _number(e) + "}"


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
