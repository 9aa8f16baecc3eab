"""Step-by-step derivations: which node is removed, which rule applies, the network after each step.

:func:`explain` walks the expression DAG the way :func:`ricci.grad` does
(reverse accumulation, the same rule table) and narrates each step. Its
result is the same expression that ``grad``/``vjp`` return.

>>> import ricci
>>> A, x = ricci.Tensor("A", (3, 3)), ricci.Tensor("x", (3,))
>>> text = explain(ricci.einsum("i,ij,j->", x, A, x), x)
>>> "total derivative" in text and "(A + Aᵀ)x" in text
True
"""
import textwrap

from .derivatives import ONE, _check_expr, _check_wrt, _depending_on
from .errors import NotScalarError, ShapeError
from .expr import Add, Apply, Constant, Contract, Delta, Tensor, Zeros, add, as_expr, topological_order
from .network import assign_letters
from .notation import NotationError, to_einsum, to_matrix
from .plan import Network
from .printing import _number, constant_header
from .rules import RULES
from .symbolic import Size

__all__ = ["explain", "Explanation", "Step"]

_RULE_TEXT = {
    "inv": "d X⁻¹ = −X⁻¹ dX X⁻¹, so ḡ(X) = −X⁻ᵀ ḡ X⁻ᵀ",
    "det": "d det X = det X · tr(X⁻¹ dX), so ḡ(X) = ḡ · det X · X⁻ᵀ",
    "logdet": "d log det X = tr(X⁻¹ dX), so ḡ(X) = ḡ · X⁻ᵀ",
}


class Step:
    """One step of a derivation: the node, the rule, narration lines and the contributions made."""

    def __init__(self, title, rule, lines, contributions):
        self.title, self.rule, self.lines, self.contributions = title, rule, lines, contributions

    def __repr__(self):
        return f"<Step {self.title!r}: {self.rule}>"


class Explanation(str):
    """The derivation text (a ``str``), with ``.steps``, ``.result`` and ``.draw()``."""

    def __new__(cls, text, steps, result):
        self = super().__new__(cls, text)
        self.steps, self.result = steps, result
        return self

    def draw(self, path_pattern=None, depth=1):
        """One drawing per step's network (``path_pattern`` like ``"step{}.png"`` saves them).

        Returns the list of matplotlib figures.
        """
        from .draw import draw

        figures = []
        for k, step in enumerate(s for s in self.steps if s.contributions):
            _, expr = step.contributions[-1]
            path = None if path_pattern is None else path_pattern.format(k + 1)
            figures.append(draw(expr, path, depth=depth, title=f"{step.title}: {step.rule}"))
        return figures


class _Names:
    """Display names: leaves by name, forward nodes v1, v2, ..., cotangents ḡ(·)."""

    def __init__(self):
        self.names = {}

    def show(self, expr, top=True):
        """An expression as einsum text over named operands (named nodes are not opened).

        Unnamed parts are written out children first with an explicit stack,
        so any depth works; a part longer than 1,000 characters, or nested more
        than 12 unnamed levels deep, is shown as ``<expression of shape ...>``,
        so each call costs O(1) in the depth of the expression.
        """
        memo = {}
        stack = [(expr, top, False, 0)]
        while stack:
            node, is_top, ready, depth = stack.pop()
            if (node, is_top) in memo:
                continue
            short = self._short(node, is_top)
            if short is None and depth > _DEPTH_LIMIT:
                short = f"<expression of shape {node.shape}>"
            if short is not None:
                memo[node, is_top] = short
                continue
            kids = self._kids(node)
            if not ready:
                stack.append((node, is_top, True, depth))
                stack.extend((c, False, False, depth + 1) for c in kids if (c, False) not in memo)
                continue
            texts = {c: _capped(memo[c, False], c) for c in kids}
            memo[node, is_top] = self._compose(node, texts)
        return memo[expr, top]

    def _short(self, expr, top):
        """The text of a node that needs no parts, or None."""
        if expr in self.names and not top:
            return self.names[expr]
        if isinstance(expr, Tensor):
            return expr.name
        if isinstance(expr, Constant):
            if expr in self.names:
                return self.names[expr]
            if expr.name is not None:
                return expr.name
            value = expr.value
            if value.ndim == 0:
                return _number(value.item())
            if value.size and (value == 1).all():
                return f"ones({value.shape[0] if value.ndim == 1 else value.shape})"
            return f"<constant {value.shape}>"
        if isinstance(expr, Delta):
            return f"eye({expr.n})"
        if isinstance(expr, Zeros):
            return f"zeros({expr.shape})"
        if isinstance(expr, Size):  # a named dimension's size: its name
            return expr.text
        return None

    @staticmethod
    def _kids(expr):
        if isinstance(expr, Add):
            return [t for _, t in expr.terms]
        if isinstance(expr, Contract):
            return [c for c, _ in expr.factors]
        return list(expr.children)

    def _compose(self, expr, texts):
        if isinstance(expr, Apply):
            args = [texts[c] for c in expr.children]
            if expr.primitive.name == "power":
                base = args[0] if _atomic(args[0]) else f"({args[0]})"
                return f"{base}**{_number(expr.params[0])}"
            params = "".join(f", {_number(p) if isinstance(p, float) else p}" for p in expr.params)
            return f"{expr.primitive.name}({', '.join(args)}{params})"
        if isinstance(expr, Add):
            parts = [_number(expr.offset)] if expr.offset else []
            for coef, term in expr.terms:
                text = texts[term]
                text = text if _atomic(text) or abs(coef) == 1 else f"({text})"
                body = text if abs(coef) == 1 else f"{_number(abs(coef))}*{text}"
                parts.append(("- " if coef < 0 else "+ ") + body if parts else ("-" if coef < 0 else "") + body)
            return " ".join(parts)
        return self.einsum(expr, texts=texts)

    def einsum(self, expr, out_letters=None, prefer=None, texts=None):
        net = Network(expr.out, list(expr.factors), dict(enumerate(expr.sizes)), 1.0)
        letters = assign_letters(net, out_letters, prefer)
        lhs = ",".join("".join(letters[lab] for lab in labs) for _, labs in expr.factors)
        carried = {lab for _, labs in expr.factors for lab in labs}
        operands = [texts[child] if texts is not None else _capped(self.show(child, False), child)
                    for child, _ in expr.factors]
        for lab in expr.out:  # broadcast indices: a ones vector
            if lab not in carried:
                lhs += "," + letters[lab]
                operands.append(f"ones({expr.sizes[lab]})")
        rhs = "".join(letters[lab] for lab in expr.out)
        return f'einsum("{lhs}->{rhs}", {", ".join(operands)})'

    def letters_of(self, node):
        """The einsum letters of a contraction node's factors, as shown in its definition."""
        net = Network(node.out, list(node.factors), dict(enumerate(node.sizes)), 1.0)
        return assign_letters(net)


_PART_LIMIT = 1000
_DEPTH_LIMIT = 12


def _capped(text, node):
    """A part's text, or a placeholder when it is too long to repeat inside another."""
    return text if len(text) <= _PART_LIMIT else f"<expression of shape {node.shape}>"


def _atomic(text):
    return text.replace("_", "").replace("(", "").replace(")", "").isalnum() or text.startswith("einsum(")


def explain(expr, wrt, cotangent=None, width=100):
    """Derive ``expr`` with respect to the Tensor ``wrt`` step by step, as text.

    A scalar ``expr`` gives the gradient; otherwise pass the ``cotangent``
    (``expr``'s shape) to explain the vector-Jacobian product. The result is
    an :class:`Explanation`: a string, with ``.steps``, ``.result`` (the
    same expression ``ricci.grad``/``ricci.vjp`` return) and ``.draw()``.

    >>> import ricci
    >>> W, x = ricci.Tensor("W", (2, 3)), ricci.Tensor("x", (3,))
    >>> print(explain(ricci.einsum("i,i->", ricci.tanh(ricci.einsum("ij,j->i", W, x)), [1., 1.]), W).splitlines()[0])
    Derivative of L with respect to W (shape (2, 3)), by reverse accumulation:
    """
    _check_expr(expr, "the function to differentiate")
    _check_wrt(wrt)
    if cotangent is None:
        if expr.ndim != 0:
            raise NotScalarError(
                f"explain needs a scalar expression or a cotangent; got shape {expr.shape}: "
                "pass cotangent= (an expression or array of that shape)"
            )
        seed = ONE
    else:
        seed = as_expr(cotangent, "cotangent")
        if seed.shape != expr.shape:
            raise ShapeError(f"the cotangent has shape {seed.shape} but the output has shape {expr.shape}")

    order = topological_order([expr])
    needed = _depending_on(order, {wrt})
    names = _Names()
    root_name = "L" if expr.ndim == 0 else "y"
    count = 0
    forward = []
    constants = 0
    for node in order:
        if isinstance(node, Constant) and node.name is not None:  # a named constant: by its name
            names.names[node] = node.name
            forward.append(f"  {node.name} = {constant_header(node)}")
        elif isinstance(node, Constant) and node.value.ndim and not (node.value == 1).all():
            constants += 1
            names.names[node] = f"C{constants}"
            forward.append(f"  C{constants} = <constant of shape {node.shape}>")
        if isinstance(node, (Tensor, Constant, Delta, Zeros, Size)):
            continue
        if node is expr:
            name = root_name
        else:
            count += 1
            name = f"v{count}"
        forward.append(f"  {name} = {names.show(node)}")
        names.names[node] = name
    for node in order:
        if isinstance(node, Tensor):
            names.names[node] = node.name

    lines = [f"Derivative of {root_name} with respect to {wrt.name} (shape {wrt.shape}), by reverse accumulation:"]
    if forward:
        lines.append("The expression, one node per line (each shared node once):")
        lines += forward
    else:
        lines.append(f"  {root_name} = {names.show(expr)}")
    seed_text = "1" if seed is ONE else names.show(seed, False)
    lines.append(f"Start: ḡ({root_name}) = {seed_text} (the cotangent of the output; ḡ(v) means ∂{root_name}/∂v).")
    if wrt not in needed:
        lines.append(f"{wrt.name} does not occur in the expression: the derivative is zero.")
        result = Zeros(wrt.shape)
        return Explanation("\n".join(lines) + "\n", [], result)

    pending = {expr: [seed]} if expr in needed else {}
    steps, result = [], None
    for node in reversed(order):
        contributions = pending.pop(node, None)
        if not contributions:
            continue
        name = names.names.get(node, names.show(node))
        cotangent_node = add([(1.0, c) for c in contributions])
        step_lines = []
        if len(contributions) > 1:
            step_lines.append(
                f"total derivative: {name} is used {len(contributions)} times, so ḡ({name}) is the sum "
                f"of the {len(contributions)} contributions:")
            step_lines.append(f"    ḡ({name}) = {names.show(cotangent_node)}")
        if cotangent_node not in names.names:
            names.names[cotangent_node] = f"ḡ({name})"
        if node is wrt:
            result = cotangent_node
            if step_lines:
                steps.append(Step(f"reach {name}", "total derivative", step_lines, [(wrt, cotangent_node)]))
            continue
        rule = RULES.get(type(node))
        if rule is None or isinstance(cotangent_node, Zeros):
            continue
        made = list(rule[0](node, cotangent_node, 0, needed))
        title, rule_text, narration = _narrate(node, name, made, names, cotangent_node)
        step_lines += narration
        steps.append(Step(title, rule_text, step_lines, [(node.children[pos], c) for pos, c in made]))
        for pos, contribution in made:
            pending.setdefault(node.children[pos], []).append(contribution)
    if result is None:
        result = Zeros(wrt.shape)

    for k, step in enumerate(steps, 1):
        lines.append(f"Step {k}. {step.title} — {step.rule}")
        lines += [_indent(line, width) for line in step.lines]
    lines.append(f"Result: ∂{root_name}/∂{wrt.name} =")
    lines += ["  " + line for line in to_einsum(result).split("\n")]
    try:
        lines.append(f"In matrix notation: {to_matrix(result, strict=True)}")
    except NotationError:
        pass
    return Explanation("\n".join(lines) + "\n", steps, result)


def _indent(line, width):
    return textwrap.fill(line, width=width, initial_indent="  ", subsequent_indent="      ",
                         break_long_words=False, break_on_hyphens=False)


def _narrate(node, name, made, names, cotangent):
    """``(title, rule, lines)`` for the contributions a node's rule made."""
    lines = []
    if isinstance(node, Contract):
        letters = names.letters_of(node)
        out = "".join(letters[lab] for lab in node.out)
        occurrences = {}
        for pos, _ in made:
            occurrences.setdefault(node.children[pos], []).append(pos)
        for pos, contribution in made:
            child, labels = node.factors[pos]
            child_name = names.names.get(child, names.show(child, False))
            legs = "".join(letters[lab] for lab in labels)
            where = ""
            if len(occurrences[child]) > 1:
                where = f" (occurrence {occurrences[child].index(pos) + 1} of {len(occurrences[child])})"
            attach = f"ḡ({name}) on the open legs {out}" if out else f"the scalar ḡ({name})"
            lines.append(f"remove {child_name}[{legs}]{where}: its legs {legs or '(none)'} become free indices; "
                         f"attach {attach}:")
            lines.append(f"    ḡ({child_name}) += {_show_contribution(contribution, legs, node, letters, names, cotangent)}")
            if len(set(labels)) < len(labels):
                lines.append(f"    (a repeated index on {child_name}: a δ keeps its legs equal — a diagonal)")
        lines.append("    (the δ's joining each new free leg to its old index were eliminated by merging labels)")
        return f"{name} = {names.show(node)}", "remove a node from the network", lines
    if isinstance(node, Add):
        for pos, contribution in made:
            coef, child = node.terms[pos]
            child_name = names.names.get(child, names.show(child, False))
            factor = "" if coef == 1 else f" × {_number(coef)}"
            lines.append(f"ḡ({child_name}) += ḡ({name}){factor}  =  {names.show(contribution)}")
        return f"{name} = {names.show(node)}", "sum rule: each term receives the cotangent times its coefficient", lines
    primitive = node.primitive
    if hasattr(primitive, "derivative_of"):
        arg = names.names.get(node.children[0], names.show(node.children[0], False))
        derivative = primitive.derivative_of(node)
        indices = "".join(chr(ord("a") + i) for i in range(node.ndim))
        join = f"on a hyperedge over its indices {indices}" if indices else "(a scalar product)"
        lines.append(f"{primitive.name}'({arg}) = {names.show(derivative)}, joined to ḡ({name}) {join}:")
        for pos, contribution in made:
            lines.append(f"    ḡ({arg}) += {names.show(contribution)}")
        return f"{name} = {names.show(node)}", f"chain rule through {primitive.name} (element-wise)", lines
    rule = _RULE_TEXT.get(primitive.name, f"the network rule of {primitive.name}")
    for pos, contribution in made:
        arg = names.names.get(node.children[pos], names.show(node.children[pos], False))
        lines.append(f"ḡ({arg}) += {names.show(contribution)}")
    return f"{name} = {names.show(node)}", f"chain rule through {primitive.name}: {rule}", lines


def _show_contribution(contribution, legs, node, letters, names, cotangent):
    """A contribution in the letters of the network it came from (the removed legs as output)."""
    inner, scale = contribution, 1.0
    if isinstance(inner, Add) and len(inner.terms) == 1 and inner.offset == 0:
        scale, inner = inner.terms[0]
    if not isinstance(inner, Contract):
        return names.show(contribution)
    prefer = {cotangent: "".join(letters[lab] for lab in node.out)}
    for child, labels in node.factors:
        prefer.setdefault(child, "".join(letters[lab] for lab in labels))
    text = names.einsum(inner, out_letters=legs if len(set(legs)) == len(legs) else None, prefer=prefer)
    return text if scale == 1 else f"{_number(scale)}*{text}"
