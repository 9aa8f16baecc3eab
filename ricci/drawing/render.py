"""Drawing with matplotlib: node shapes and colours, figures, saving, and the public drawing functions.

:func:`_render` draws a laid-out diagram into matplotlib axes;
:func:`draw`, :func:`draw_derivative` and :func:`to_svg` make the diagram
(:mod:`ricci.drawing.diagram`), size a figure from its extent
(:mod:`ricci.drawing.layout`), render and save it. matplotlib is imported
only when drawing (``pip install ricci[draw]``).
"""
import math
import os
import textwrap

from ..expr import Tensor, topological_order
from .diagram import _DOTS, DrawError, _check, diagram
from .layout import _UNIT, _edge_curve, _extent, _font_size, _half_size

__all__ = ["draw", "draw_derivative", "to_svg"]

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


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise DrawError("drawing needs matplotlib: pip install 'ricci[draw]' (to_dot works without it)") from None
    from matplotlib.figure import Figure

    return matplotlib, Figure


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
            py -= _half_size(graph.nodes[parent]["kind"], graph.nodes[parent]["label"])[1]
            ax.plot([px, fx], [py, fy], linestyle=(0, (3, 3)), color="#999999", linewidth=0.9, zorder=1)
            continue
        groups.setdefault(tuple(sorted((u, v), key=repr)), []).append((u, v, d))
    for (u, v), edges in groups.items():
        for k, (a, b, d) in enumerate(edges):
            hole = "hole" in (graph.nodes[a]["kind"], graph.nodes[b]["kind"])
            colour = "#c0392b" if hole else "#333333"
            label = d["index"] + (f"={d['size']}" if sizes else "")
            ends = tuple(_half_size(graph.nodes[n]["kind"], graph.nodes[n].get("label", "")) for n in (u, v))
            points, mid = _edge_curve(graph.nodes[u]["pos"], graph.nodes[v]["pos"], k, len(edges), u == v, ends)
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
        size = _font_size(label)
        hw, hh = _half_size(kind, label)
        if shape == "circle":
            ax.add_patch(Circle((x, y), hw, facecolor=fill, edgecolor=edge, linewidth=1.4, zorder=3,
                                linestyle="--" if kind == "hole" else "-"))
        elif shape == "small":
            ax.add_patch(Circle((x, y), hw, facecolor=fill, edgecolor=edge, linewidth=1.1, zorder=3))
        elif shape == "square":
            ax.add_patch(Rectangle((x - hw, y - hh), 2 * hw, 2 * hh, facecolor=fill, edgecolor=edge,
                                   linewidth=1.2, zorder=3))
        else:
            ax.add_patch(FancyBboxPatch((x - hw, y - hh), 2 * hw, 2 * hh,
                                        boxstyle="round,pad=0.02,rounding_size=0.12", facecolor=fill,
                                        edgecolor=edge, linewidth=1.3, zorder=3))
        ax.text(x, y, label, ha="center", va="center", fontsize=size, zorder=4,
                color="#999999" if kind == "hole" else "#111111")


def _figure_for(width, height, ax, title_room=0.0):
    """A figure at the drawing's own scale (``_UNIT`` inches a layout unit), and axes filling it."""
    _, Figure = _matplotlib()
    if ax is not None:
        return ax.figure, ax
    w = min(max(width * _UNIT, 3.0), 24.0)
    h = min(max(height * _UNIT + title_room, 2.0), 18.0)
    fig = Figure(figsize=(w, h))
    top = 1 - title_room / h
    return fig, fig.add_axes((0.01, 0.01, 0.98, top - 0.01))


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


def draw(expr, path=None, ax=None, depth=None, sizes=False, title=None, letters=None, prefer=None, max_nodes=60):
    """Draw ``expr``'s tensor network; save it to ``path`` (.png, .svg or .pdf) and return the figure.

    ``ax`` draws into existing matplotlib axes; ``depth`` limits how many
    levels of function arguments are opened (without it, as many as keep
    the drawing within ``max_nodes`` nodes); ``sizes`` adds dimensions to
    the index labels; ``letters`` names the free indices and ``prefer``
    maps Tensors to letters for their axes.

    >>> import ricci
    >>> A, B = ricci.Tensor("A", (2, 3)), ricci.Tensor("B", (3, 4))
    >>> fig = draw(ricci.einsum("ij,jk->ik", A, B))   # doctest: +SKIP
    """
    graph = diagram(_check(expr), depth=depth, letters=letters, prefer=prefer, max_nodes=max_nodes)
    x0, x1, y0, y1 = _extent(graph)
    fig, ax = _figure_for(x1 - x0, y1 - y0, ax, title_room=0.4 if title else 0.0)
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
    from ..derivatives import grad, jacobian, vjp
    from ..einsum import einsum

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
    named = sum(1 for b in left.graph["boxes"] if b.get("name"))
    right = diagram(result, depth=depth, letters=letters, prefer=prefer, first_name=named)
    occurrences = sum(1 for _, d in left.nodes(data=True) if d["kind"] == "hole")
    total = f" ({occurrences} occurrences: the derivative sums over them)" if occurrences > 1 else ""
    captions = (f"remove {wrt.name} (dashed): its legs become the free indices{total}", caption)
    fig = _two_panels((left, right), captions, sizes)
    fig.ricci_diagram = (left, right)
    _save(fig, path)
    return fig


_FIT = 17.0  # inches (2550 pixels at 150 dpi): a larger figure is shown scaled down, its text tiny


def _two_panels(graphs, captions, sizes):
    """The two drawings side by side, or one above the other when that wastes less of the figure;
    each sized to its own extent (no empty margins) under its caption."""
    _, Figure = _matplotlib()
    extents = [_extent(g) for g in graphs]
    sizes_in = [((e[1] - e[0]) * _UNIT, (e[3] - e[2]) * _UNIT) for e in extents]
    cap, gap = 0.45, 0.3  # inches: a caption's line, the space between the panels
    side = (sizes_in[0][0] + sizes_in[1][0] + gap, max(h for _, h in sizes_in) + cap)
    stacked = (max(w for w, _ in sizes_in), sizes_in[0][1] + sizes_in[1][1] + 2 * cap)
    fits = [shape for shape in (side, stacked) if max(shape) <= _FIT]  # shown unscaled on a screen
    across = min(fits or (side, stacked), key=lambda shape: (shape[0] * shape[1] if fits else max(shape))) is side
    width, height = side if across else stacked
    shrink = min(1.0, 28.0 / width, 18.0 / height)  # only a huge drawing is scaled down
    fig = Figure(figsize=(width * shrink, height * shrink))
    x, y = 0.0, height
    for graph, (w, h), text in zip(graphs, sizes_in, captions):
        top = height if across else y
        rect = (x / width, (top - cap - h) / height, w / width, h / height)
        ax = fig.add_axes(rect)
        _render(graph, ax, sizes=sizes)
        chars = max(int(w * shrink * 11), 16)
        fig.text(rect[0] + rect[2] / 2, (top - 0.08) / height, textwrap.fill(text, chars), ha="center",
                 va="top", fontsize=9)
        if across:
            x += w + gap
        else:
            y -= h + cap
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
