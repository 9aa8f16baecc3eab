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
from .layout import _edge_curve, _extent

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
