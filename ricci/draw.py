"""Tensor-network drawings (matplotlib) and Graphviz DOT text of the same diagram.

Conventions: each tensor is a labelled node (inputs are circles, constants
squares, deltas small δ circles, functions and sums rounded boxes); each
contracted index is an edge labelled with its letter; each free index is a
dangling leg; an index shared by three or more tensors is a small black dot
(a copy tensor) joining them. The argument of a function, the terms of a sum
and a shared sub-network are drawn in their own frame, linked to their node
by a dashed line. The layout is deterministic.

matplotlib is needed only to draw (``pip install ricci[draw]``); the diagram
itself (:func:`diagram`, a networkx graph) and :func:`to_dot` need only
networkx.

>>> import ricci
>>> A, B = ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4))
>>> print(to_dot(ricci.einsum("ij,jk->ik", A, B)).splitlines()[0])
graph ricci {
"""
import math
import os
import textwrap

import networkx as nx

from .errors import RicciError
from .expr import Add, Apply, Contract, Delta, Expr, Tensor, topological_order
from .network import network
from .notation import matrix_or_none, short_formula
from .plan import uses_of

__all__ = ["diagram", "draw", "draw_derivative", "to_dot", "to_svg", "DrawError"]


class DrawError(RicciError, ValueError):
    """A drawing cannot be made as asked (unknown file type, no matplotlib, bad argument)."""


_ELEMENTWISE_BOX = ("function", "add", "contract")
_DOTS = ("hyperedge", "sum", "broadcast")
_STYLE = {  # kind -> (shape, fill, edge colour)
    "input": ("circle", "#cfe2f3", "#3d6fa8"),
    "constant": ("square", "#e8e8e8", "#666666"),
    "zeros": ("square", "#ffffff", "#999999"),
    "delta": ("small", "#ffffff", "#555555"),
    "function": ("box", "#fde2c4", "#c26b00"),
    "add": ("box", "#e2f0d9", "#4f8a3a"),
    "contract": ("box", "#ead1f5", "#7d3c98"),
    "hole": ("circle", "#ffffff", "#c0392b"),
}
_LEG = 0.95  # length of a free leg
_SPACING = 1.7  # distance between neighbouring tensors


# ---------------------------------------------------------------------------
# the diagram: boxes of networks, positions, links
# ---------------------------------------------------------------------------
def _check(expr, what="expr"):
    if not isinstance(expr, Expr):
        raise DrawError(f"{what} must be a ricci expression, got {type(expr).__name__}")
    return expr


def diagram(expr, depth=None, holes=(), max_nodes=60, letters=None, prefer=None):
    """The drawing as a networkx MultiGraph with positions: what :func:`draw` and :func:`to_dot` show.

    Nodes are keyed ``(box, panel, key)``; attributes: ``kind`` (``input``,
    ``constant``, ``delta``, ``function``, ``add``, ``contract``, ``hole``,
    ``open``, ``hyperedge``, ``sum``, ``broadcast``), ``label``, ``pos``,
    ``box``. Index edges have ``kind="index"``, ``index`` (letter) and
    ``size``; dashed links from a node to the frame of its argument have
    ``kind="argument"``. ``graph.graph["boxes"]`` lists the frames and
    ``graph.graph["texts"]`` the signs between the terms of a sum.
    ``depth`` limits how many levels of function arguments are opened;
    nodes in ``holes`` (Tensors) are drawn as removed. ``letters`` names the
    free indices and ``prefer`` maps tensors to letters for their axes.

    >>> import ricci
    >>> a, b, c = (ricci.Tensor(n, (3,)) for n in "abc")
    >>> g = diagram(ricci.einsum("i,i,i->i", a, b, c))
    >>> sorted(d["kind"] for _, d in g.nodes(data=True))
    ['hyperedge', 'input', 'input', 'input', 'open']
    """
    _check(expr)
    holes = set(holes)
    uses = uses_of([expr])[1]
    graph = nx.MultiGraph(boxes=[], texts=[])
    queue = [(expr, None, letters, "", 0)]  # (expression, parent node key, letters, title, depth)
    opened = {}  # expression -> box id (shared parts are opened once)
    used = set()  # index letters drawn so far: a frame's own summed indices get new ones
    count = 0
    while queue:
        sub, parent, letters, title, level = queue.pop(0)
        if sub in opened and parent is not None:
            graph.add_edge(parent, ("box", opened[sub]), kind="argument")
            continue
        box = len(graph.graph["boxes"])
        opened[sub] = box
        info = {"id": box, "title": title, "depth": level, "parent": parent, "panels": []}
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
                label = data["label"] if node is None else _node_label(node, uses)
                if node is not None and node in holes:
                    kind = "hole"
                graph.add_node(node_key, **attrs, kind=kind, label=label, box=box, panel=panel)
                count += 1
                if kind in _ELEMENTWISE_BOX and (depth is None or level < depth) and count < max_nodes:
                    for child, child_letters, child_title in _openings(node, data.get("legs", ()), uses):
                        queue.append((child, node_key, child_letters, child_title, level + 1))
            for u, v, data in sub_graph.edges(data=True):
                graph.add_edge((box, panel, u), (box, panel, v), kind="index", **data)
    _layout(graph)
    return graph


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
    return f"{value:g}".replace("-", "−")


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


def _node_label(node, uses):
    if isinstance(node, Tensor):
        return node.name
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
        title = f"argument of {_function_label(chain)}"
        if _elementwise(chain[-1]):
            return [(argument, tuple(legs), title)]
        return [(c, None, title) for c in chain[-1].children]
    if isinstance(node, Add):
        return [(node, tuple(legs), _skeleton(node, uses, limit=40))]
    if isinstance(node, Contract):
        return [(node, tuple(legs), "shared network")]
    return []


# ---------------------------------------------------------------------------
# layout
# ---------------------------------------------------------------------------
def _layout(graph):
    """Positions: panels left to right in a frame; frames in rows by depth, the expression on top."""
    boxes = graph.graph["boxes"]
    frames = []
    for info in boxes:
        x = 0.0
        extents = []
        for panel, sign in enumerate(info["panels"]):
            keys = [k for k, d in graph.nodes(data=True) if d.get("box") == info["id"] and d.get("panel") == panel]
            pos = _layout_panel(graph, keys)
            xs = [p[0] for p in pos.values()] or [0.0]
            ys = [p[1] for p in pos.values()] or [0.0]
            left, right = min(xs) - 0.55, max(xs) + 0.55
            if sign[0]:
                graph.graph["texts"].append({"box": info["id"], "x": x + 0.2 + 0.06 * len(sign[0]),
                                             "y": 0.0, "text": sign[0]})
                x += 0.5 + 0.12 * len(sign[0])
            shift = x - left
            for k, p in pos.items():
                graph.nodes[k]["pos"] = (p[0] + shift, p[1])
            extents.append((min(ys) - 0.5, max(ys) + 0.5))
            x += right - left + 0.2
        low = min((e[0] for e in extents), default=-0.5)
        high = max((e[1] for e in extents), default=0.5)
        frames.append((max(x, 0.6 + 0.09 * len(info["title"])), low, high))
    rows = {}
    for info, frame in zip(boxes, frames):
        rows.setdefault(info["depth"], []).append((info, frame))
    y_top = 0.0
    for depth in sorted(rows):
        row_bottom = y_top
        x0 = 0.0
        for info, (width, low, high) in rows[depth]:
            title_room = 0.45 if info["title"] else 0.0
            dx, dy = x0, y_top - high - title_room
            for k, d in graph.nodes(data=True):
                if d.get("box") == info["id"] and "pos" in d:
                    d["pos"] = (d["pos"][0] + dx, d["pos"][1] + dy)
            for t in graph.graph["texts"]:
                if t["box"] == info["id"]:
                    t["x"], t["y"] = t["x"] + dx, t["y"] + dy
            info["bbox"] = (dx - 0.15, low + dy - 0.1, width + 0.1, high - low + 0.2 + title_room)
            if ("box", info["id"]) in graph:
                graph.nodes[("box", info["id"])]["pos"] = (dx + width / 2, info["bbox"][1] + info["bbox"][3])
            row_bottom = min(row_bottom, info["bbox"][1])
            x0 += width + 0.8
        y_top = row_bottom - 0.9


def _layout_panel(graph, keys):
    """Positions of one network: tensors and dots first, then free legs pointing outwards."""
    if len(keys) == 1 and graph.nodes[keys[0]]["kind"] == "number":
        return {keys[0]: (0.0, 0.0)}
    core = [k for k in keys if graph.nodes[k]["kind"] != "open"]
    simple = nx.Graph()
    simple.add_nodes_from(core)
    for u, v, d in graph.edges(core, data=True):
        if d.get("kind") == "index" and u in simple and v in simple and u != v:
            simple.add_edge(u, v)
    pos = {}
    x = 0.0
    for comp in sorted(nx.connected_components(simple), key=lambda c: min(core.index(k) for k in c)):
        ordered = [k for k in core if k in comp]
        local = _layout_component(simple.subgraph(ordered), ordered)
        xs = [p[0] for p in local.values()]
        shift = x - min(xs)
        for k, p in local.items():
            pos[k] = (p[0] + shift, p[1])
        x = max(xs) + shift + _SPACING + 0.6
    _place_legs(graph, keys, pos)
    return pos


def _layout_component(sub, ordered):
    if len(ordered) == 1:
        return {ordered[0]: (0.0, 0.0)}
    degrees = dict(sub.degree())
    if max(degrees.values()) <= 2 and sub.number_of_edges() == len(ordered) - 1:  # a chain
        ends = [k for k in ordered if degrees[k] == 1]
        start = _chain_start(sub, ends, ordered)
        path = [start]
        while len(path) < len(ordered):
            path.append(next(n for n in sorted(sub.neighbors(path[-1]), key=ordered.index) if n not in path))
        return {k: (i * _SPACING, 0.0) for i, k in enumerate(path)}
    if sub.number_of_edges() == len(ordered) and max(degrees.values()) == 2:  # a ring
        n = len(ordered)
        ring = [ordered[0]]
        while len(ring) < n:
            ring.append(next(x for x in sorted(sub.neighbors(ring[-1]), key=ordered.index) if x not in ring))
        radius = _SPACING / (2 * math.sin(math.pi / n))
        return {k: (radius * math.cos(math.pi - 2 * math.pi * i / n), radius * math.sin(math.pi - 2 * math.pi * i / n))
                for i, k in enumerate(ring)}
    init = {k: (math.cos(2 * math.pi * i / len(ordered)), math.sin(2 * math.pi * i / len(ordered)))
            for i, k in enumerate(ordered)}
    raw = nx.spring_layout(sub, pos=init, seed=7, iterations=300)
    lengths = [math.dist(raw[u], raw[v]) for u, v in sub.edges()]
    scale = _SPACING / (sum(lengths) / len(lengths)) if lengths and sum(lengths) > 0 else 1.0
    return _landscape({k: (float(raw[k][0]) * scale, float(raw[k][1]) * scale) for k in ordered}, ordered)


def _landscape(pos, ordered):
    """Turn a layout so that its long axis is horizontal and the first tensor is on the left."""
    cx = sum(p[0] for p in pos.values()) / len(pos)
    cy = sum(p[1] for p in pos.values()) / len(pos)
    sxx = sum((p[0] - cx) ** 2 for p in pos.values())
    syy = sum((p[1] - cy) ** 2 for p in pos.values())
    sxy = sum((p[0] - cx) * (p[1] - cy) for p in pos.values())
    angle = 0.5 * math.atan2(2 * sxy, sxx - syy)  # the principal axis
    cos, sin = math.cos(-angle), math.sin(-angle)
    turned = {k: ((p[0] - cx) * cos - (p[1] - cy) * sin, (p[0] - cx) * sin + (p[1] - cy) * cos)
              for k, p in pos.items()}
    inputs = [k for k in ordered if k in turned]
    if turned[inputs[0]][0] > 0:  # first operand on the left
        turned = {k: (-p[0], p[1]) for k, p in turned.items()}
    return {k: (round(p[0], 9), round(p[1], 9)) for k, p in turned.items()}


def _chain_start(sub, ends, ordered):
    """The chain starts at the end that comes first (the first operand reads left to right)."""
    return min(ends, key=ordered.index)


def _place_legs(graph, keys, pos):
    """Free legs leave their tensor through the widest gap between its edges; several legs fan out."""
    opens = [k for k in keys if graph.nodes[k]["kind"] == "open"]
    if not pos:
        for i, k in enumerate(opens):
            pos[k] = (i * 0.8, 0.0)
        return
    cx = sum(p[0] for p in pos.values()) / len(pos)
    cy = sum(p[1] for p in pos.values()) / len(pos)
    by_anchor = {}
    for k in opens:
        anchors = [n for n in graph.neighbors(k) if n in pos]
        by_anchor.setdefault(anchors[0] if anchors else None, []).append(k)
    placed = []
    for anchor, legs in by_anchor.items():
        legs = sorted(legs, key=lambda k: graph.nodes[k].get("position", 0))
        ax, ay = pos[anchor] if anchor is not None else (cx, cy)
        for k, angle in zip(legs, _leg_angles(graph, anchor, pos, (cx, cy), len(legs))):
            length = _LEG
            point = (ax + length * math.cos(angle), ay + length * math.sin(angle))
            while any(math.dist(point, q) < 0.55 for q in placed + list(pos.values())) and length < 4:
                length += 0.35
                point = (ax + length * math.cos(angle), ay + length * math.sin(angle))
            pos[k] = point
            placed.append(point)


def _leg_angles(graph, anchor, pos, centre, n):
    """Angles for ``n`` legs of ``anchor``: spread in the widest gap between its edges."""
    if anchor is None:
        return [math.pi - 2 * math.pi * i / n for i in range(n)]
    here = pos[anchor]
    edges = sorted({round(math.atan2(pos[m][1] - here[1], pos[m][0] - here[0]), 9) % (2 * math.pi)
                    for m in graph.neighbors(anchor) if m in pos and m != anchor})
    if not edges:  # a lone tensor: away from the rest of the drawing, or all around
        ux, uy = here[0] - centre[0], here[1] - centre[1]
        if math.hypot(ux, uy) < 1e-6:
            return [math.pi - 2 * math.pi * i / n for i in range(n)] if n > 1 else [math.pi]
        base, gap = math.atan2(uy, ux), math.pi
        return [base + gap * ((i + 1) / (n + 1) - 0.5) for i in range(n)]
    gaps = []
    for i, start in enumerate(edges):
        end = edges[(i + 1) % len(edges)] + (2 * math.pi if i + 1 == len(edges) else 0)
        # widest first; among equal gaps prefer one pointing down, then left
        middle = (start + end) / 2
        gaps.append((-(round(end - start, 6)), round(math.sin(middle), 6), round(math.cos(middle), 6), start, end))
    _, _, _, start, end = min(gaps)
    return [start + (end - start) * (i + 1) / (n + 1) for i in range(n)]


# ---------------------------------------------------------------------------
# Graphviz DOT
# ---------------------------------------------------------------------------
def _dot_quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPES = {
    "input": 'shape=circle, style=filled, fillcolor="#cfe2f3"',
    "constant": 'shape=square, style=filled, fillcolor="#e8e8e8"',
    "zeros": "shape=square",
    "delta": "shape=circle, width=0.3, fixedsize=true",
    "function": 'shape=box, style="rounded,filled", fillcolor="#fde2c4"',
    "add": 'shape=box, style="rounded,filled", fillcolor="#e2f0d9"',
    "contract": 'shape=box, style="rounded,filled", fillcolor="#ead1f5"',
    "hole": 'shape=circle, style=dashed, color="#c0392b", fontcolor="#999999"',
    "hyperedge": "shape=point, width=0.1",
    "sum": "shape=point, width=0.1",
    "broadcast": "shape=point, width=0.1",
    "open": "shape=plaintext",
    "number": "shape=plaintext",
}


def to_dot(expr, depth=None, holes=(), sizes=False):
    """Graphviz DOT text of the drawing (no Graphviz needed to produce it).

    Frames become clusters; render the text with ``dot -Tsvg``.

    >>> import ricci
    >>> x, y = ricci.Tensor("x", (3,)), ricci.Tensor("y", (3,))
    >>> [line.strip() for line in to_dot(ricci.einsum("i,i->", x, y)).splitlines() if " -- " in line]
    ['n0 -- n1 [label="a"];']
    """
    graph = diagram(expr, depth=depth, holes=holes) if isinstance(expr, Expr) else _check(expr)
    return _dot_from_diagram(graph, sizes)


def _dot_from_diagram(graph, sizes=False):
    ids = {}
    for key in graph.nodes:
        ids[key] = f"n{len(ids)}"
    lines = ["graph ricci {", '  graph [compound=true, fontname="Helvetica", nodesep=0.4];',
             '  node [fontname="Helvetica"];', '  edge [fontname="Helvetica", fontsize=10];']
    for info in graph.graph["boxes"]:
        members = [k for k, d in graph.nodes(data=True) if d.get("box") == info["id"] and d["kind"] != "frame"]
        indent = "  "
        if info["depth"] > 0:
            lines.append(f"  subgraph cluster_{info['id']} {{")
            lines.append(f"    label={_dot_quote(info['title'])}; style=\"rounded,dashed\"; color=\"#999999\";")
            indent = "    "
        for panel, sign in enumerate(info["panels"]):
            inner = [k for k in members if graph.nodes[k].get("panel") == panel]
            sub_indent = indent
            if len(info["panels"]) > 1:
                lines.append(f"{indent}subgraph cluster_{info['id']}_{panel} {{")
                lines.append(f"{indent}  label={_dot_quote(sign[0] or '+' if panel else sign[0])}; color=\"#dddddd\";")
                sub_indent = indent + "  "
            for k in inner:
                d = graph.nodes[k]
                label = "" if d["kind"] in _DOTS else d["label"]
                lines.append(f"{sub_indent}{ids[k]} [label={_dot_quote(label)}, {_DOT_SHAPES.get(d['kind'], 'shape=box')}];")
            if len(info["panels"]) > 1:
                lines.append(f"{indent}}}")
        if info["depth"] > 0:
            # an invisible anchor for links into the cluster
            lines.append(f"{indent}{ids[('box', info['id'])]} [shape=point, style=invis];")
            lines.append("  }")
    for u, v, d in graph.edges(data=True):
        if d.get("kind") == "argument":
            parent, frame = (u, v) if graph.nodes[v]["kind"] == "frame" else (v, u)
            cluster = f"cluster_{graph.nodes[frame]['box']}"
            lines.append(f"  {ids[parent]} -- {ids[frame]} [style=dashed, color=\"#999999\", lhead={cluster}];")
            continue
        label = d["index"] + (f" ({d['size']})" if sizes else "")
        hole = "hole" in (graph.nodes[u]["kind"], graph.nodes[v]["kind"])
        colour = ', color="#c0392b", fontcolor="#c0392b"' if hole else ""
        lines.append(f"  {ids[u]} -- {ids[v]} [label={_dot_quote(label)}{colour}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# matplotlib
# ---------------------------------------------------------------------------
def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise DrawError("drawing needs matplotlib: pip install 'ricci[draw]' (to_dot works without it)") from None
    from matplotlib.figure import Figure

    return matplotlib, Figure


def _extent(graph):
    xs, ys = [], []
    for info in graph.graph["boxes"]:
        x, y, w, h = info["bbox"]
        xs += [x, x + w]
        ys += [y, y + h]
    for _, d in graph.nodes(data=True):
        if "pos" in d:
            xs.append(d["pos"][0])
            ys.append(d["pos"][1])
    return min(xs) - 0.4, max(xs) + 0.4, min(ys) - 0.4, max(ys) + 0.4


def _render(graph, ax, sizes=False):
    """Draw a diagram into matplotlib axes."""
    from matplotlib.patches import Circle, FancyBboxPatch, Rectangle

    ax.set_aspect("equal")
    ax.axis("off")
    x0, x1, y0, y1 = _extent(graph)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    for info in graph.graph["boxes"]:
        if info["depth"] == 0:
            continue
        x, y, w, h = info["bbox"]
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.15",
                                    facecolor="#fafafa", edgecolor="#aaaaaa", linewidth=0.8, zorder=0))
        ax.text(x + 0.12, y + h - 0.12, info["title"], ha="left", va="top", fontsize=8,
                style="italic", color="#555555", zorder=5)
    for t in graph.graph["texts"]:
        ax.text(t["x"], t["y"], t["text"], ha="center", va="center", fontsize=13, zorder=5)

    # index edges, grouped so that parallel edges curve apart
    groups = {}
    for u, v, d in graph.edges(data=True):
        if d.get("kind") == "argument":
            parent, frame = (u, v) if graph.nodes[v]["kind"] == "frame" else (v, u)
            (px, py) = graph.nodes[parent]["pos"]
            bx, by, bw, bh = graph.graph["boxes"][graph.nodes[frame]["box"]]["bbox"]
            fx, fy = min(max(px, bx + 0.3), bx + bw - 0.3), by + bh
            ax.plot([px, fx], [py, fy], linestyle=(0, (3, 3)), color="#999999", linewidth=0.9, zorder=1)
            continue
        groups.setdefault(tuple(sorted((u, v), key=repr)), []).append((u, v, d))
    for (u, v), edges in groups.items():
        for k, (a, b, d) in enumerate(edges):
            hole = "hole" in (graph.nodes[a]["kind"], graph.nodes[b]["kind"])
            colour = "#c0392b" if hole else "#333333"
            label = d["index"] + (f"={d['size']}" if sizes else "")
            points, mid = _edge_curve(graph.nodes[u]["pos"], graph.nodes[v]["pos"], k, len(edges), u == v)
            ax.plot([p[0] for p in points], [p[1] for p in points], color=colour, linewidth=1.4,
                    linestyle="--" if hole else "-", zorder=1)
            if graph.nodes[a]["kind"] == "open" or graph.nodes[b]["kind"] == "open":
                open_key = a if graph.nodes[a]["kind"] == "open" else b
                other = b if open_key == a else a
                (ox, oy), (qx, qy) = graph.nodes[open_key]["pos"], graph.nodes[other]["pos"]
                norm = math.hypot(ox - qx, oy - qy) or 1.0
                lx, ly = ox + 0.22 * (ox - qx) / norm, oy + 0.22 * (oy - qy) / norm
                ax.text(lx, ly, label, ha="center", va="center", fontsize=10, color=colour,
                        style="italic", zorder=4)
            else:
                ax.text(mid[0], mid[1], label, ha="center", va="center", fontsize=9, color=colour, style="italic",
                        zorder=4, bbox={"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none"})

    for key, d in graph.nodes(data=True):
        kind, (x, y) = d["kind"], d.get("pos", (0, 0))
        if kind in ("frame", "open"):
            continue
        if kind in _DOTS:
            ax.add_patch(Circle((x, y), 0.07, facecolor="#111111", edgecolor="#111111", zorder=3))
            continue
        if kind == "number":
            ax.text(x, y, d["label"], ha="center", va="center", fontsize=13, zorder=5)
            continue
        shape, fill, edge = _STYLE.get(kind, _STYLE["function"])
        label = d["label"]
        size = 11 if len(label) <= 3 else (9 if len(label) <= 8 else 8)
        if shape == "circle":
            radius = max(0.3, 0.055 * len(label) + 0.12)
            ax.add_patch(Circle((x, y), radius, facecolor=fill, edgecolor=edge, linewidth=1.4, zorder=3,
                                linestyle="--" if kind == "hole" else "-"))
        elif shape == "small":
            ax.add_patch(Circle((x, y), 0.2, facecolor=fill, edgecolor=edge, linewidth=1.1, zorder=3))
        elif shape == "square":
            half = max(0.26, 0.05 * len(label) + 0.1)
            ax.add_patch(Rectangle((x - half, y - 0.26), 2 * half, 0.52, facecolor=fill, edgecolor=edge,
                                   linewidth=1.2, zorder=3))
        else:
            half = max(0.32, 0.06 * len(label) + 0.12)
            ax.add_patch(FancyBboxPatch((x - half, y - 0.24), 2 * half, 0.48,
                                        boxstyle="round,pad=0.02,rounding_size=0.12", facecolor=fill,
                                        edgecolor=edge, linewidth=1.3, zorder=3))
        ax.text(x, y, label, ha="center", va="center", fontsize=size, zorder=4,
                color="#999999" if kind == "hole" else "#111111")


def _edge_curve(p, q, k, n, loop):
    """Points of the k-th of n parallel edges between p and q (a loop when p is q), and a label point."""
    if loop:
        cx, cy, r = p[0], p[1] + 0.45 + 0.2 * k, 0.25 + 0.1 * k
        pts = [(cx + r * math.cos(t / 20 * 2 * math.pi - math.pi / 2), cy + r * math.sin(t / 20 * 2 * math.pi - math.pi / 2))
               for t in range(21)]
        return pts, (cx, cy + r)
    offset = (k - (n - 1) / 2) * 0.45
    mx, my = (p[0] + q[0]) / 2, (p[1] + q[1]) / 2
    dx, dy = q[0] - p[0], q[1] - p[1]
    norm = math.hypot(dx, dy) or 1.0
    cx, cy = mx - dy / norm * offset * 2, my + dx / norm * offset * 2
    pts = [((1 - t) ** 2 * p[0] + 2 * (1 - t) * t * cx + t ** 2 * q[0],
            (1 - t) ** 2 * p[1] + 2 * (1 - t) * t * cy + t ** 2 * q[1]) for t in (i / 24 for i in range(25))]
    return pts, pts[12]


def _figure_for(width, height, ax):
    _, Figure = _matplotlib()
    if ax is not None:
        return ax.figure, ax
    scale = 0.62
    w = min(max(width * scale, 3.0), 24.0)
    h = min(max(height * scale, 2.0), 18.0)
    fig = Figure(figsize=(w, h))
    return fig, fig.add_axes((0.01, 0.01, 0.98, 0.98))


def _save(fig, path):
    if path is None:
        return
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in (".png", ".svg", ".pdf"):
        raise DrawError(f"cannot save a drawing as {ext or 'a file without extension'!r} ({path}); "
                        "use .png, .svg or .pdf (or ricci.draw.to_dot for Graphviz text)")
    matplotlib, _ = _matplotlib()
    with matplotlib.rc_context({"svg.hashsalt": "ricci", "svg.fonttype": "path"}):
        metadata = {"Date": None} if ext in (".svg", ".pdf") else None
        if ext == ".pdf":
            metadata = {"CreationDate": None, "ModDate": None}
        try:
            fig.savefig(path, format=ext[1:], metadata=metadata, dpi=150 if ext == ".png" else None)
        except OSError as error:
            raise DrawError(f"cannot write {str(path)!r}: {error.strerror or error}") from None


def draw(expr, path=None, ax=None, depth=None, sizes=False, title=None, letters=None, prefer=None):
    """Draw ``expr``'s tensor network; save it to ``path`` (.png, .svg or .pdf) and return the figure.

    ``ax`` draws into existing matplotlib axes; ``depth`` limits how many
    levels of function arguments are opened; ``sizes`` adds dimensions to
    the index labels; ``letters`` names the free indices and ``prefer``
    maps Tensors to letters for their axes.

    >>> import ricci
    >>> A, B = ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4))
    >>> fig = draw(ricci.einsum("ij,jk->ik", A, B))   # doctest: +SKIP
    """
    graph = diagram(_check(expr), depth=depth, letters=letters, prefer=prefer)
    x0, x1, y0, y1 = _extent(graph)
    fig, ax = _figure_for(x1 - x0, y1 - y0 + (0.5 if title else 0), ax)
    _render(graph, ax, sizes=sizes)
    if title:
        ax.set_title(title, fontsize=11)
    fig.ricci_diagram = graph
    _save(fig, path)
    return fig


def draw_derivative(expr, wrt, path=None, cotangent=None, depth=None, sizes=False, prefer=None):
    """Two panels: ``expr`` with ``wrt`` drawn as a hole (its legs become the free indices), and the derivative.

    For a scalar ``expr`` the derivative is the gradient; otherwise the
    Jacobian, or — with a ``cotangent`` of ``expr``'s shape attached to the
    open legs — the vector-Jacobian product. ``prefer`` maps Tensors to
    letters for their axes.

    >>> import ricci
    >>> A, B = ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4))
    >>> fig = draw_derivative(ricci.einsum("ij,jk->ik", A, B), B)   # doctest: +SKIP
    """
    from .derivatives import grad, jacobian, vjp
    from .einsum import einsum

    _check(expr)
    if not isinstance(wrt, Tensor):
        raise DrawError(f"wrt must be a ricci.Tensor, got {type(wrt).__name__}")
    if wrt not in topological_order([expr]):
        raise DrawError(f"{wrt.name!r} does not occur in the expression; nothing to remove")
    if cotangent is not None:
        _check(cotangent, "cotangent")
        letters = "".join(chr(ord("a") + i) for i in range(expr.ndim))
        shown = einsum(f"{letters},{letters}->", expr, cotangent)
        result = vjp(expr, wrt, cotangent)
        caption = f"vjp: the network without {wrt.name}, {_name(cotangent)} on the open legs"
    elif expr.ndim == 0:
        shown, result = expr, grad(expr, wrt)
        caption = f"gradient with respect to {wrt.name}"
    else:
        shown, result = expr, jacobian(expr, wrt)
        caption = f"Jacobian with respect to {wrt.name}"
    left = diagram(shown, depth=depth, holes={wrt}, prefer=prefer)
    prefer, hole_legs = dict(prefer or {}), None
    for _, d in sorted(left.nodes(data=True), key=lambda item: item[1].get("box", 0)):
        if d["kind"] == "hole" and hole_legs is None:
            hole_legs = d.get("legs", ())
        elif "expr" in d and d.get("legs") and d["expr"] not in prefer:
            prefer[d["expr"]] = d["legs"]
    letters = None
    if hole_legs is not None:
        top_open = sorted((d["position"], d["label"]) for _, d in left.nodes(data=True)
                          if d["kind"] == "open" and d.get("box") == 0)
        letters = tuple(hole_legs) if result.ndim == wrt.ndim else tuple(x for _, x in top_open) + tuple(hole_legs)
    right = diagram(result, depth=depth, letters=letters, prefer=prefer)
    (a0, a1, b0, b1), (c0, c1, d0, d1) = _extent(left), _extent(right)
    _, Figure = _matplotlib()
    widths = (a1 - a0, c1 - c0)
    height = max(b1 - b0, d1 - d0) + 0.8
    scale = 0.62
    fig = Figure(figsize=(min(max(sum(widths) * scale + 0.6, 5.0), 28.0), min(max(height * scale, 2.5), 18.0)))
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [max(w, 1.0) for w in widths],
                                           "left": 0.01, "right": 0.99, "bottom": 0.01, "top": 0.86})
    _render(left, axes[0], sizes=sizes)
    _render(right, axes[1], sizes=sizes)
    occurrences = sum(1 for _, d in left.nodes(data=True) if d["kind"] == "hole")
    total = f" ({occurrences} occurrences: the derivative sums over them)" if occurrences > 1 else ""
    for ax, text in ((axes[0], f"remove {wrt.name} (dashed): its legs become the free indices{total}"),
                     (axes[1], caption)):
        box = ax.get_position()
        chars = max(int((box.x1 - box.x0) * fig.get_figwidth() * 11), 16)
        fig.text((box.x0 + box.x1) / 2, 0.97, textwrap.fill(text, chars), ha="center", va="top", fontsize=9)
    fig.ricci_diagram = (left, right)
    _save(fig, path)
    return fig


def _name(expr):
    return expr.name if isinstance(expr, Tensor) else "the cotangent"


class SVG(str):
    """SVG text that Jupyter displays as a picture."""

    def _repr_svg_(self):
        return str(self)


def to_svg(expr, depth=None, sizes=False):
    """The drawing as SVG text (Jupyter shows it as a picture).

    >>> import ricci
    >>> to_svg(ricci.Tensor("A", (2, 2))).startswith("<?xml")   # doctest: +SKIP
    True
    """
    import io

    matplotlib, _ = _matplotlib()
    fig = draw(expr, depth=depth, sizes=sizes)
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "ricci", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return SVG(buffer.getvalue())
