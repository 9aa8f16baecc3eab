"""Readable text of expressions: a short program of einsum calls.

Shared intermediates get names (``t0``, ``t1``, ...); everything used once
is written inline, and nested single-use contractions appear as the one
flattened einsum the evaluator will run. A part whose text would exceed
1,000 characters is named too, so deep expressions print in linear time as
one line per part. The text is deterministic.

>>> import ricci
>>> W, x = ricci.Tensor("W", (4, 3)), ricci.Tensor("x", (3, 5))
>>> print(ricci.tanh(ricci.einsum("ij,jb->ib", W, x)))
tanh(einsum("ab,bc->ac", W, x))
"""
import functools
import math
from collections import Counter
from fractions import Fraction

import numpy as np

from .calls import _atom, _slice_text, call_text
from .expr import Add, Apply, Constant, Delta, Tensor, Zeros
from .plan import schedule
from .symbolic import Size

ATOM, POWER, PRODUCT, SUM = 0, 1, 2, 3  # precedence of a rendered piece (Python's)
_NEST_LIMIT = 1000  # a part written longer than this is named instead of nested in its user


def _number(value):
    """A number's exact text: ``2``, ``0.25``, ``1/6``, ``1/sqrt(5)``, or the shortest repr that
    round-trips — never a rounded value (``0.447214`` for 1/√5 would not evaluate back)."""
    if isinstance(value, complex):
        return repr(value)
    if not isinstance(value, (int, float, np.integer, np.floating)):
        return format(value)  # a structured param (axes, a slice spec): its own short text
    value = float(value) if not isinstance(value, int) else value
    if isinstance(value, int) or value != value or value in (math.inf, -math.inf):
        return repr(value) if value == value else "nan"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    sign, x = ("-", -value) if value < 0 else ("", value)
    text = repr(x)
    if len(text) <= 6:  # a short decimal (0.5, 0.125, 1e-05) is already exact and clear
        return sign + text
    exact = _exact_form(x)
    return sign + (exact if exact is not None else text)


@functools.lru_cache(maxsize=4096)
def _exact_form(x):
    """``p/q`` or ``[p/]sqrt(d)``/``1/sqrt(d)`` when that evaluates to exactly ``x`` in float64."""
    q = Fraction(x).limit_denominator(1000)
    if q.denominator > 1 and q.numerator / q.denominator == x:
        return f"{q.numerator}/{q.denominator}"
    found = []  # (d, preference, text): the smallest d wins, then 1/sqrt(d) over sqrt(d)/k
    for k in range(1, 100):  # k·sqrt(d), sqrt(d)/k and 1/sqrt(d) for d ≤ 10⁶ not a square
        for d, form in ((round(x * x / (k * k)), 1), (round(x * x * k * k), 2),
                        (round(1 / (x * x)) if k == 1 else 0, 0)):
            if not 1 < d <= 10**6 or math.isqrt(d) ** 2 == d:
                continue
            r = math.sqrt(d)
            if form == 0 and 1 / r == x:
                found.append((d, 0, f"1/sqrt({d})"))
            elif form == 1 and k * r == x:
                found.append((d, 1, f"sqrt({d})" if k == 1 else f"{k}*sqrt({d})"))
            elif form == 2 and k > 1 and r / k == x:
                found.append((d, 2, f"sqrt({d})/{k}"))
    if found:
        return min(found)[2]
    return None


def _shape(shape):
    return str(shape[0]) if len(shape) == 1 else str(shape)


def _wrap(piece, limit):
    text, prec = piece
    return f"({text})" if prec > limit else text


def _scaled(scale, piece):
    if scale == 1:
        return piece
    if scale == -1:
        return f"-{_wrap(piece, PRODUCT)}", SUM
    return f"{_number(scale)}*{_wrap(piece, PRODUCT)}", PRODUCT


class _Printer:
    def __init__(self, roots):
        self.roots = roots
        self.steps = schedule(roots)
        self.uses = Counter(d for _, _, deps in self.steps for d in deps) + Counter(roots)
        self.pieces, self.lines, self.constants = {}, [], 0
        self.implicit = {}  # broadcast views as numpy's implicit broadcasting writes them

    def leaf(self, node):
        if isinstance(node, Tensor):
            return node.name, ATOM
        if isinstance(node, Zeros):
            return f"zeros({_shape(node.shape)})", ATOM
        if isinstance(node, Delta):
            return f"eye({node.n})", ATOM
        if isinstance(node, Size):  # a named dimension's size: its name
            return node.text, ATOM
        value = node.value
        if node.name is not None:  # a named constant: its name, bound in a header line
            self.lines.append(f"{node.name} = {constant_header(node)}")
            return node.name, ATOM
        if value.ndim == 0:
            return _number(value.item()), ATOM
        if value.size and np.all(value == 1):
            return f"ones({_shape(value.shape)})", ATOM
        name = f"C{self.constants}"
        self.constants += 1
        self.lines.append(f"{name} = <constant of shape {value.shape}>")
        return name, ATOM

    def render(self, node, net, deps):
        arg = lambda n: self.pieces[n]  # noqa: E731
        if isinstance(node, (Tensor, Constant, Zeros, Delta, Size)):
            return self.leaf(node)
        if isinstance(node, Apply):
            if node.primitive.name == "power":
                exponent = _number(node.params[0])
                exponent = f"({exponent})" if "/" in exponent or "*" in exponent else exponent
                return f"{_wrap(arg(node.children[0]), ATOM)}**{exponent}", POWER
            text = call_text(node, [arg(c)[0] for c in node.children], _number)
            if text is not None:
                return text, ATOM
            args = ", ".join(arg(c)[0] for c in node.children)
            params = "".join(f", {_number(p)}" for p in node.params)
            return f"{node.primitive.name}({args}{params})", ATOM
        if isinstance(node, Add):
            parts = [_number(node.offset)] if node.offset else []
            if any(child not in self.implicit for _, child in node.terms):  # numpy broadcasts the views
                arg = lambda n: self.implicit.get(n) or self.pieces[n]  # noqa: E731
            for coef, child in node.terms:
                real = isinstance(coef, (int, float))  # a complex coefficient is written whole
                text, _ = _scaled(abs(coef) if real else coef, arg(child))
                sign = "-" if real and coef < 0 else "+"
                if not parts:
                    parts.append(text if sign == "+" else f"-{text}" if _scaled(1, arg(child))[1] < SUM or abs(coef) != 1 else f"-({arg(child)[0]})")
                else:
                    parts.append(f"{sign} {_wrap((text, PRODUCT if abs(coef) != 1 else arg(child)[1]), PRODUCT)}")
            return " ".join(parts), SUM
        if not net.factors:
            return _scaled(net.scale, (f"ones({_shape(node.shape)})", ATOM))
        subscripts, present = net.subscripts()
        inner = self._einsum(net, subscripts, present, [arg(f) for f, _ in net.factors])
        if len(present) == len(net.out):
            return _scaled(net.scale, inner)
        # an output index no operand carries: a broadcast view, written as numpy writes one
        if all(net.sizes[lab] == 1 for lab in net.out if lab not in present):  # keepdims: exact
            return _scaled(net.scale, _expand(inner, net.out, present, exact=True))
        view = _expand(inner, net.out, present)
        self.implicit[node] = _scaled(net.scale, view)
        full = ", ".join(str(d) for d in node.shape) + ("," if node.ndim == 1 else "")
        return _scaled(net.scale, (f"broadcast_to({view[0]}, ({full}))", ATOM))

    def _einsum(self, net, subscripts, present, operands):
        """The einsum over the carried indices (an operand itself when it is the identity)."""
        if len(net.factors) == 1:
            child, labs = net.factors[0]
            base = self.pieces.get(child.children[0]) if isinstance(child, Apply) and child.children else None
            indexed = base and _integer_index(base[0], child, labs, present, net.sizes)
            if indexed is not None:  # x[::2, 3]: a slice whose size-1 axes are summed away
                return indexed, ATOM
            if len(set(labs)) == len(labs) and sorted(labs, key=str) == sorted(present, key=str) \
                    and len(labs) == len(present):
                if labs == present:  # the identity: the operand itself
                    return operands[0]
                perm = tuple(labs.index(lab) for lab in present)  # a transpose, written as numpy does
                if perm == (1, 0):
                    return f"{_wrap(operands[0], ATOM)}.T", ATOM
                return f"transpose({operands[0][0]}, {perm})", ATOM
        return f'einsum("{subscripts}", {", ".join(text for text, _ in operands)})', ATOM

    def text(self):
        names = 0
        for node, net, deps in self.steps:
            piece = self.render(node, net, deps)
            leaf = isinstance(node, (Tensor, Constant, Zeros, Delta, Size))
            root = len(self.roots) == 1 and node is self.roots[0]
            # shared parts get a name; so do parts too long to nest (text stays linear in size)
            if not leaf and not root and (self.uses[node] > 1 or len(piece[0]) > _NEST_LIMIT):
                name = f"t{names}"
                names += 1
                self.lines.append(f"{name} = {piece[0]}")
                piece = (name, ATOM)
            self.pieces[node] = piece
        if len(self.roots) == 1:
            return "\n".join(self.lines + [self.pieces[self.roots[0]][0]])
        outs = [f"out{i} = {self.pieces[r][0]}" for i, r in enumerate(self.roots)]
        return "\n".join(self.lines + outs)


def _integer_index(base, child, labs, present, sizes):
    """``Z[::2, 3]`` for a sum over the size-1 axes of a slice ``Z[::2, 3:4]`` (numpy's int index);
    ``base`` is the text of the sliced operand."""
    if not (isinstance(child, Apply) and child.primitive.name == "slice") or len(set(labs)) != len(labs):
        return None
    summed = [i for i, lab in enumerate(labs) if lab not in present]
    if not summed or tuple(lab for lab in labs if lab in present) != tuple(present):
        return None
    (spec,) = child.params
    shape = child.children[0].shape
    lead = len(shape) - len(spec)
    if any(i < lead or sizes[labs[i]] != 1 for i in summed):
        return None
    keys = [":"] * lead
    for i, s in enumerate(spec):
        keys.append(str(s[0]) if lead + i in summed else _slice_text(*s, shape[lead + i]))
    while keys and keys[-1] == ":":
        keys.pop()
    return f"{_atom(base)}[{', '.join(keys)}]"


def _expand(piece, out, present, exact=False):
    """``piece`` (over the ``present`` labels) indexed with None where ``out`` has a free label;
    leading free labels are left to numpy's broadcasting unless ``exact``; trailing ``:`` are dropped."""
    keys = ["None" if lab not in present else ":" for lab in out]
    while keys and keys[0] == "None" and not exact:
        keys.pop(0)
    while keys and keys[-1] == ":":
        keys.pop()
    if not keys:
        return piece
    return f"{_wrap(piece, ATOM)}[{', '.join(keys)}]", ATOM


def to_text(roots):
    """The program text of one or more expressions."""
    return _Printer(list(roots)).text()


def constant_header(node):
    """What a named constant's header line says it is: ``<constant (8, 10) float64>``."""
    return f"<constant {node.value.shape} {node.value.dtype}>"


def short_name(node):
    """A one-word label for a node in a drawing or a graph."""
    if isinstance(node, Tensor):
        return node.name
    if isinstance(node, Apply):
        return node.primitive.name
    if isinstance(node, Delta):
        return "δ"
    if isinstance(node, Size):
        return node.text
    if isinstance(node, Constant):
        if node.name is not None:
            return node.name
        return _number(node.value.item()) if node.value.ndim == 0 else "const"
    return node.kind
