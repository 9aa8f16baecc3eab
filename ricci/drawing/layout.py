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

_LEG = 0.95  # length of a free leg
_SPACING = 1.7  # distance between neighbouring tensors


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
