"""Where things go in a drawing: positions of tensors, dots and free legs; frame boxes; edge curves.

:func:`_layout` sets each node's ``pos`` and each frame's ``bbox`` in a
diagram (:mod:`ricci.drawing.diagram`): panels left to right in a frame,
frames in rows by depth. A network is laid out as a chain (on a line, in
operand order), a ring, or else by a seeded spring layout turned to
landscape; free legs leave through the widest gap. :func:`_extent` and
:func:`_edge_curve` are the geometry the renderer uses. Pure geometry: no
matplotlib here.
"""
import math

import networkx as nx

_LEG = 0.95  # length of a free leg (beyond the edge of its tensor)
_SPACING = 1.7  # distance between neighbouring tensors
_UNIT = 0.62  # inches per layout unit in a drawing
_CHAR = 0.6 / (72 * _UNIT)  # layout units per character and point of font size (about 0.6 em a character)
_MAX_ROW = 24.0  # frames wrap into a new row past this width (layout units)


def _font_size(label):
    """The font size of a node's label: small labels larger."""
    return 11 if len(label) <= 3 else (9 if len(label) <= 8 else 8)


def _text_width(text, size):
    return len(text) * size * _CHAR


def _half_size(kind, label):
    """Half the width and half the height of a node's shape (layout units), sized to fit its label."""
    if kind in ("hyperedge", "sum", "broadcast"):
        return 0.07, 0.07
    if kind in ("open", "frame"):
        return 0.0, 0.0
    if kind == "number":
        return 0.5 * _text_width(label, 13) + 0.05, 0.2
    if kind == "delta":
        return 0.2, 0.2
    text = 0.5 * _text_width(label, _font_size(label))
    if kind in ("input", "hole"):
        radius = max(0.3, text + 0.1)
        return radius, radius
    if kind in ("constant", "zeros"):
        return max(0.26, text + 0.1), 0.26
    return max(0.32, text + 0.14), 0.24


def _sizes(graph, keys):
    return {k: _half_size(graph.nodes[k]["kind"], graph.nodes[k].get("label", "")) for k in keys}


def _reach(size, angle):
    """How far a node's shape reaches from its centre in the direction ``angle``."""
    hw, hh = size
    c, s = abs(math.cos(angle)), abs(math.sin(angle))
    if hw == hh:
        return hw
    return min(hw / c if c > 1e-9 else math.inf, hh / s if s > 1e-9 else math.inf)


def _layout(graph):
    """Positions: panels left to right in a frame; frames in rows by depth, the expression on top.

    A frame goes under the node that opens it where the row has room (short, uncrossed dashed
    links); a row past ``_MAX_ROW`` wide wraps."""
    boxes = graph.graph["boxes"]
    frames = []
    for info in boxes:
        x = 0.0
        extents = []
        for panel, sign in enumerate(info["panels"]):
            keys = [k for k, d in graph.nodes(data=True) if d.get("box") == info["id"] and d.get("panel") == panel]
            pos = _layout_panel(graph, keys)
            sizes = _sizes(graph, pos)
            xs = [p[0] - sizes[k][0] for k, p in pos.items()] + [p[0] + sizes[k][0] for k, p in pos.items()]
            ys = [p[1] - sizes[k][1] for k, p in pos.items()] + [p[1] + sizes[k][1] for k, p in pos.items()]
            xs, ys = xs or [0.0], ys or [0.0]
            left, right = min(xs) - 0.3, max(xs) + 0.3
            if sign[0]:
                width = _text_width(sign[0], 13)
                graph.graph["texts"].append({"box": info["id"], "x": x + 0.25 + width / 2, "y": 0.0, "text": sign[0]})
                x += 0.5 + width
            shift = x - left
            for k, p in pos.items():
                graph.nodes[k]["pos"] = (p[0] + shift, p[1])
            extents.append((min(ys) - 0.3, max(ys) + 0.3))
            x += right - left + 0.2
        low = min((e[0] for e in extents), default=-0.5)
        high = max((e[1] for e in extents), default=0.5)
        frames.append((max(x, 0.4 + _text_width(info["title"], 8)), low, high))
    rows = {}
    for info, frame in zip(boxes, frames):
        rows.setdefault(info["depth"], []).append((info, frame))
    y_top = 0.0
    limit = max(_MAX_ROW, frames[0][0] if frames else 0.0)
    for depth in sorted(rows):
        members = sorted(rows[depth], key=lambda item: (_anchor_x(graph, item[0]), item[0]["id"]))
        lines, line, x0 = [], [], 0.0
        for info, frame in members:
            width = frame[0]
            target = _anchor_x(graph, info) - width / 2
            if line and x0 + width > limit:
                lines.append(line)
                line, x0 = [], 0.0
            start = max(x0, min(target, limit - width)) if target != math.inf else x0
            line.append((info, frame, start))
            x0 = start + width + 0.6
        if line:
            lines.append(line)
        for line in lines:
            row_bottom = y_top
            for info, (width, low, high), dx in line:
                title_room = 0.45 if info["title"] else 0.0
                dy = y_top - high - title_room
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
            y_top = row_bottom - 0.9


def _anchor_x(graph, info):
    """Where a frame would like to be: under the first node linked to it (placed rows come first)."""
    key = ("box", info["id"])
    if key not in graph:
        return math.inf
    xs = [graph.nodes[n]["pos"][0] for n in graph.neighbors(key) if "pos" in graph.nodes[n]]
    return min(xs) if xs else math.inf


def _layout_panel(graph, keys):
    """Positions of one network: tensors and dots first, then free legs pointing outwards."""
    if len(keys) == 1 and graph.nodes[keys[0]]["kind"] == "number":
        return {keys[0]: (0.0, 0.0)}
    core = [k for k in keys if graph.nodes[k]["kind"] != "open"]
    sizes = _sizes(graph, core)
    simple = nx.Graph()
    simple.add_nodes_from(core)
    for u, v, d in graph.edges(core, data=True):
        if d.get("kind") == "index" and u in simple and v in simple and u != v:
            simple.add_edge(u, v)
    pos = {}
    x = 0.0
    for comp in sorted(nx.connected_components(simple), key=lambda c: min(core.index(k) for k in c)):
        ordered = [k for k in core if k in comp]
        local = _layout_component(simple.subgraph(ordered), ordered, sizes)
        linked = [k for k in ordered if any(graph.nodes[n]["kind"] == "frame" for n in graph.neighbors(k))]
        if linked and sum(local[k][1] for k in linked) / len(linked) > sum(p[1] for p in local.values()) / len(local):
            local = {k: (p[0], -p[1]) for k, p in local.items()}  # nodes that open a frame low: short links
        xs = [p[0] - sizes[k][0] for k, p in local.items()]
        shift = x - min(xs)
        for k, p in local.items():
            pos[k] = (p[0] + shift, p[1])
        x = max(p[0] + sizes[k][0] for k, p in pos.items()) + 1.2
    _place_legs(graph, keys, pos)
    return pos


def _layout_component(sub, ordered, sizes):
    if len(ordered) == 1:
        return {ordered[0]: (0.0, 0.0)}
    degrees = dict(sub.degree())
    if max(degrees.values()) <= 2 and sub.number_of_edges() == len(ordered) - 1:  # a chain
        ends = [k for k in ordered if degrees[k] == 1]
        start = _chain_start(sub, ends, ordered)
        path = [start]
        while len(path) < len(ordered):
            path.append(next(n for n in sorted(sub.neighbors(path[-1]), key=ordered.index) if n not in path))
        pos, x = {}, 0.0
        for i, k in enumerate(path):
            if i:
                x += max(_SPACING, sizes[path[i - 1]][0] + sizes[k][0] + 0.9)
            pos[k] = (x, 0.0)
        return pos
    if sub.number_of_edges() == len(ordered) and max(degrees.values()) == 2:  # a ring
        n = len(ordered)
        ring = [ordered[0]]
        while len(ring) < n:
            ring.append(next(x for x in sorted(sub.neighbors(ring[-1]), key=ordered.index) if x not in ring))
        radius = _SPACING / (2 * math.sin(math.pi / n))
        pos = {k: (radius * math.cos(math.pi - 2 * math.pi * i / n), radius * math.sin(math.pi - 2 * math.pi * i / n))
               for i, k in enumerate(ring)}
        return _separate(pos, sizes)
    init = {k: (math.cos(2 * math.pi * i / len(ordered)), math.sin(2 * math.pi * i / len(ordered)))
            for i, k in enumerate(ordered)}
    raw = _spring(sub, init)
    lengths = [math.dist(raw[u], raw[v]) for u, v in sub.edges()]
    scale = _SPACING / (sum(lengths) / len(lengths)) if lengths and sum(lengths) > 0 else 1.0
    turned = _landscape({k: (float(raw[k][0]) * scale, float(raw[k][1]) * scale) for k in ordered}, ordered)
    return _separate(turned, sizes)


def _spring(sub, init):
    """A seeded spring layout; networkx's dense solver (numpy only) even for large networks."""
    if len(init) < 500:
        return nx.spring_layout(sub, pos=init, seed=7, iterations=300)
    import numpy as np
    from networkx.drawing.layout import _fruchterman_reingold

    nodes = list(sub)
    matrix = nx.to_numpy_array(sub, nodelist=nodes, weight=None)
    start = np.array([init[k] for k in nodes], dtype=float)
    out = _fruchterman_reingold(matrix, pos=start, iterations=300, seed=np.random.RandomState(7))
    return {k: tuple(out[i]) for i, k in enumerate(nodes)}


def _separate(pos, sizes):
    """Spread a layout evenly until no two shapes (with room for an edge label) overlap."""
    keys = list(pos)
    factor = 1.0
    for i, u in enumerate(keys):
        for v in keys[i + 1:]:
            dx, dy = abs(pos[u][0] - pos[v][0]), abs(pos[u][1] - pos[v][1])
            need_x, need_y = sizes[u][0] + sizes[v][0] + 0.5, sizes[u][1] + sizes[v][1] + 0.45
            if dx >= need_x or dy >= need_y:
                continue
            factor = max(factor, min(need_x / dx if dx > 1e-9 else math.inf, need_y / dy if dy > 1e-9 else math.inf))
    factor = min(factor, 4.0)
    return {k: (round(p[0] * factor, 9), round(p[1] * factor, 9)) for k, p in pos.items()}


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
        size = _half_size(graph.nodes[anchor]["kind"], graph.nodes[anchor].get("label", "")) if anchor else (0, 0)
        for k, angle in zip(legs, _leg_angles(graph, anchor, pos, (cx, cy), len(legs))):
            length = _LEG + min(_reach(size, angle), 2.0)
            point = (ax + length * math.cos(angle), ay + length * math.sin(angle))
            while any(math.dist(point, q) < 0.55 for q in placed + list(pos.values())) and length < 6:
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


def _edge_curve(p, q, k, n, loop, ends=((0.0, 0.0), (0.0, 0.0))):
    """Points of the k-th of n parallel edges between p and q (a loop when p is q), and a label point.

    ``ends`` are the half sizes of the two shapes: the label sits in the middle of the part of the
    edge that is outside both."""
    if loop:
        cx, cy, r = p[0], p[1] + ends[0][1] + 0.25 + 0.2 * k, 0.25 + 0.1 * k
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
    outside = [i for i, pt in enumerate(pts) if not _inside(pt, p, ends[0]) and not _inside(pt, q, ends[1])]
    middle = outside[len(outside) // 2] if outside else 12
    return pts, pts[middle]


def _inside(point, centre, size, margin=0.12):
    return abs(point[0] - centre[0]) < size[0] + margin and abs(point[1] - centre[1]) < size[1] + margin
