"""What a drawing shows: the diagram as a networkx graph, and the labels of its nodes.

:func:`diagram` opens the expression into frames (the top network; the
argument of a function, the terms of a sum, a shared sub-network), each with
panels side by side (one per term of a sum), each panel an einsum network
from :func:`ricci.network.network`. Positions are added by
:mod:`ricci.drawing.layout`.
"""
import re

import networkx as nx

from ..errors import RicciError
from ..expr import Add, Apply, Constant, Contract, Delta, Expr, Tensor
from ..network import network
from ..notation import matrix_or_none, short_formula
from ..plan import uses_of
from ..printing import _number, short_name
from .layout import _extent, _layout

_MAX_WIDTH = 38.0  # layout units (24 inches): a wider drawing keeps its deepest frames closed

__all__ = ["DrawError", "diagram"]


class DrawError(RicciError, ValueError):
    """A drawing cannot be made as asked (unknown file type, no matplotlib, bad argument)."""


DrawError.__module__ = "ricci.draw"  # its public home (tracebacks and pickles name it so)


_ELEMENTWISE_BOX = ("function", "add", "contract")
_DOTS = ("hyperedge", "sum", "broadcast")


def _check(expr, what="expr"):
    if not isinstance(expr, Expr):
        raise DrawError(f"{what} must be a ricci expression, got {type(expr).__name__}")
    return expr


def diagram(expr, depth=None, holes=(), max_nodes=60, letters=None, prefer=None, first_name=0):
    """The drawing as a networkx MultiGraph with positions: what :func:`draw` and :func:`to_dot` show.

    Nodes are keyed ``(box, panel, key)``; attributes: ``kind`` (``input``,
    ``constant``, ``delta``, ``function``, ``add``, ``contract``, ``hole``,
    ``open``, ``hyperedge``, ``sum``, ``broadcast``), ``label``, ``pos``,
    ``box``. Index edges have ``kind="index"``, ``index`` (letter) and
    ``size``; dashed links from a node to the frame of its argument have
    ``kind="argument"``. ``graph.graph["boxes"]`` lists the frames and
    ``graph.graph["texts"]`` the signs between the terms of a sum.
    ``depth`` limits how many levels of function arguments are opened;
    without it, levels are opened while the drawing keeps at most
    ``max_nodes`` nodes (deeper parts stay collapsed into one labelled box).
    A frame used from several places is drawn once and named (``t0 = …``);
    its uses are labelled with the name instead of a dashed link; names start
    at ``t<first_name>`` (drawings shown together do not reuse a name).
    Nodes in ``holes`` (Tensors) are drawn as removed. ``letters`` names the
    free indices and ``prefer`` maps tensors to letters for their axes.

    >>> import ricci
    >>> a, b, c = (ricci.Tensor(n, (3,)) for n in "abc")
    >>> g = diagram(ricci.einsum("i,i,i->i", a, b, c))
    >>> sorted(d["kind"] for _, d in g.nodes(data=True))
    ['hyperedge', 'input', 'input', 'input', 'open']
    """
    _check(expr)
    holes = set(holes)
    if depth is not None:
        return _finish(_build(expr, depth, holes, letters, prefer), first_name)
    # open one more level at a time while the drawing stays within max_nodes and _MAX_WIDTH
    graph = _finish(_build(expr, 0, holes, letters, prefer), first_name)
    level = 0
    while True:
        level += 1
        deeper = _build(expr, level, holes, letters, prefer)
        if max(b["depth"] for b in deeper.graph["boxes"]) < level or _size(deeper) > max_nodes:
            return graph if _size(deeper) > max_nodes else _finish(deeper, first_name)
        deeper = _finish(deeper, first_name)
        x0, x1, _, _ = _extent(deeper)
        if x1 - x0 > _MAX_WIDTH:
            return graph
        graph = deeper


def _finish(graph, first_name=0):
    _name_shared(graph, first_name)
    _layout(graph)
    return graph


def _size(graph):
    return sum(1 for _, d in graph.nodes(data=True) if d["kind"] != "frame")


def _build(expr, depth, holes, letters, prefer):
    uses = uses_of([expr])[1]
    graph = nx.MultiGraph(boxes=[], texts=[])
    queue = [(expr, None, letters, "", 0)]  # (expression, parent node key, letters, title, depth)
    opened = {}  # expression -> box id (shared parts are opened once)
    used = set()  # index letters drawn so far: a frame's own summed indices get new ones
    while queue:
        sub, parent, letters, title, level = queue.pop(0)
        if sub in opened and parent is not None:
            graph.add_edge(parent, ("box", opened[sub]), kind="argument")
            continue
        box = len(graph.graph["boxes"])
        opened[sub] = box
        info = {"id": box, "title": title, "depth": level, "parent": parent, "panels": [], "expr": sub}
        graph.graph["boxes"].append(info)
        if parent is not None:  # a frame node, the end of the dashed link from its parent
            graph.add_node(("box", box), kind="frame", label=title, box=box)
            graph.add_edge(parent, ("box", box), kind="argument")
        for panel, (sign, term) in enumerate(_terms(sub, level == 0)):
            info["panels"].append(sign)
            if term is None:  # the constant offset of a sum
                graph.add_node((box, panel, "offset"), kind="number", label=sign[1], box=box, panel=panel)
                continue
            sub_graph = network(term, letters=letters, uses=uses, prefer=prefer, avoid=used)
            used.update(d["index"] for _, _, d in sub_graph.edges(data=True))
            for key, data in sub_graph.nodes(data=True):
                node_key = (box, panel, key)
                attrs = {k: v for k, v in data.items() if k not in ("label", "kind")}
                node = data.get("expr")
                kind = data["kind"]
                opens = kind in _ELEMENTWISE_BOX and (depth is None or level < depth)
                label = data["label"] if node is None else _node_label(node, uses, opened=opens or node is None)
                if node is not None and node in holes:
                    kind = "hole"
                openings = _openings(node, data.get("legs", ()), uses) if kind in _ELEMENTWISE_BOX else []
                graph.add_node(node_key, **attrs, kind=kind, label=label, box=box, panel=panel,
                               targets=tuple(c for c, _, _ in openings))
                if opens:
                    for child, child_letters, child_title in openings:
                        queue.append((child, node_key, child_letters, child_title, level + 1))
            for u, v, data in sub_graph.edges(data=True):
                graph.add_edge((box, panel, u), (box, panel, v), kind="index", **data)
    return graph


def _name_shared(graph, count=0):
    """A frame that two or more nodes refer to (opened there or left closed) is named ``t0``, ``t1``, …:
    its title says what it is (``t0 = W X + b 1ᵀ``), the nodes that use it show the name in place
    of · (``tanh(t0)``, or ``t0`` for a sum or a network) and need no dashed link."""
    frames = {info["expr"]: info for info in graph.graph["boxes"] if info["depth"] > 0}
    refs = {}
    for key, d in graph.nodes(data=True):
        for target in d.get("targets", ()):
            if target in frames:
                refs.setdefault(frames[target]["id"], []).append(key)
    for info in graph.graph["boxes"]:
        users = refs.get(info["id"], [])
        if len(users) < 2:
            continue
        name = info["name"] = f"t{count}"
        count += 1
        formula = matrix_or_none(info["expr"])
        if info["title"].startswith("argument of ") and formula is not None and len(formula) <= 28 \
                and not re.search(r"\d\.\d{4}", formula):
            info["title"] = formula
        info["title"] = f"{name} = {info['title']}"
        graph.nodes[("box", info["id"])]["label"] = info["title"]
        for user in users:
            d = graph.nodes[user]
            single = len(d["targets"]) == 1
            d["label"] = name if d["kind"] in ("add", "contract") or not single or "·" not in d["label"] \
                else d["label"].replace("·", name, 1)
            while graph.has_edge(user, ("box", info["id"])):
                graph.remove_edge(user, ("box", info["id"]))
    for key in list(graph.nodes):
        graph.nodes[key].pop("targets", None)
    for info in graph.graph["boxes"]:
        info.pop("expr", None)


def _terms(expr, top):
    """The panels of a frame: ``[(sign, term)]``; a sum shows its terms side by side."""
    if not isinstance(expr, Add):
        return [(("", ""), expr)]
    panels = []
    if expr.offset:
        panels.append((("", _num(expr.offset)), None))
    for coef, term in expr.terms:
        first = not panels
        if coef == 1:
            sign = "" if first else "+"
        elif coef == -1:
            sign = "−"
        else:
            sign = ("−" if coef < 0 else ("" if first else "+")) + f"{_num(abs(coef))}·"
        panels.append(((sign, ""), term))
    return panels


def _num(value):
    """A scalar's exact text (``1/6``, ``1/sqrt(5)``, ``1e−05``) with a typographic minus."""
    return _number(value).replace("-", "−")


_SUPER = {2: "²", 3: "³", -1: "⁻¹", -2: "⁻²", 0.5: "^½"}


def _elementwise(node):
    return (isinstance(node, Apply) and len(node.children) == 1 and node.children[0].shape == node.shape
            and node.primitive.name != "inv")


def _chain(node, uses):
    """A node's chain of element-wise functions (single-use links) and the innermost argument."""
    chain = [node]
    while _elementwise(chain[-1]) and _elementwise(chain[-1].children[0]) and uses.get(chain[-1].children[0]) == 1:
        chain.append(chain[-1].children[0])
    return chain, chain[-1].children[0]


def _function_label(chain):
    """``tanh(·)²`` for power(tanh(x), 2): the chain of functions with the argument as ·."""
    text = "·"
    for node in reversed(chain):
        name = node.primitive.name
        if name == "power":
            p = node.params[0]
            base = text if text.endswith(")") and text != "·" else f"({text})"
            text = base + _SUPER.get(p, f"^{_num(p)}")
        elif name == "inv":
            text = f"({text})⁻¹"
        else:
            short = {"sigmoid": "σ", "logdet": "log det"}.get(name, name)
            text = f"{short}({text})"
    return text


def _node_label(node, uses, opened=True):
    """A node's label; a compound node left closed (not opened into a frame) shows its formula."""
    if isinstance(node, Tensor):
        return node.name
    if isinstance(node, Constant):
        return short_name(node).replace("-", "−")
    if not opened and isinstance(node, (Apply, Add, Contract)):
        text = matrix_or_none(node)
        if text is not None and len(text) <= 18:
            return text
    if isinstance(node, Apply):
        return _function_label(_chain(node, uses)[0])
    if isinstance(node, Add):
        return _skeleton(node, uses)
    if isinstance(node, Delta):
        return "δ"
    return short_formula(node, limit=12)


def _skeleton(node, uses, limit=16):
    """A sum as a short formula whose compound parts are · (``1 − tanh(·)²``), or ``Σ n terms``."""
    parts = [_num(node.offset)] if node.offset else []
    for coef, term in node.terms:
        if isinstance(term, Tensor):
            text = term.name
        elif isinstance(term, Apply):
            text = _function_label(_chain(term, uses)[0])
        else:
            text = matrix_or_none(term)
            text = text if text is not None and len(text) <= 8 and " " not in text else "(·)"
        if abs(coef) != 1:
            text = f"{_num(abs(coef))}·{text}"
        sign = "−" if coef < 0 else "+"
        parts.append(text if not parts and sign == "+" else (f"−{text}" if not parts else f"{sign} {text}"))
    label = " ".join(parts)
    return label if len(label) <= limit else f"Σ {len(parts)} terms"


def _openings(node, legs, uses):
    """What a compound node opens into: ``[(expression, letters, frame title)]``."""
    if isinstance(node, Apply):
        chain, argument = _chain(node, uses)
        title = f"argument of {_function_label(chain[-1:])}"  # the innermost function's argument
        if _elementwise(chain[-1]):
            return [(argument, tuple(legs), title)]
        return [(c, None, title) for c in chain[-1].children]
    if isinstance(node, Add):
        return [(node, tuple(legs), _skeleton(node, uses, limit=40))]
    if isinstance(node, Contract):
        formula = short_formula(node, limit=20)
        return [(node, tuple(legs), formula if formula != "contract" else "shared network")]
    return []
