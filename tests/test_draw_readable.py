"""Drawings that stay readable (issue 11): no overlapping text, legible sizes, exact scalars, shared
parts drawn once and named, large networks collapsed rather than shrunk, no wasted space.

Text is measured as matplotlib renders it (Agg, at the 150 dpi that PNGs are saved at): every
non-empty Text artist's window extent.
"""
import importlib.util
import itertools
import pathlib

import numpy as np
import pytest

import ricci
from ricci.demo import rnn_cell

pytest.importorskip("matplotlib")
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from ricci.draw import diagram, draw, draw_derivative

DPI = 150  # the PNG resolution of ricci.draw
MAX_PX = 2600  # a drawing wider or taller than this is shown scaled down: its text becomes tiny
MIN_PT = 7


def layer_norm():
    X, G = ricci.Tensor("X", (5, 6)), ricci.Tensor("G", (5, 6))
    gamma, beta = ricci.Tensor("gamma", (6,)), ricci.Tensor("beta", (6,))
    xc = X - X.mean(axis=1, keepdims=True)
    y = xc / ricci.sqrt((xc * xc).mean(axis=1, keepdims=True) + 1e-5) * gamma + beta
    return ricci.sum(ricci.tanh(y) * G), X


def attention(d=4):
    Q, K, V, G = (ricci.Tensor(n, (5, d)) for n in "QKVG")
    A = ricci.softmax(ricci.einsum("td,sd->ts", Q, K) / np.sqrt(d), axis=-1)
    return ricci.sum(ricci.einsum("ts,sd->td", A, V) * G), Q


def mlp():
    W1, b1, W2 = ricci.Tensor("W1", (6, 4)), ricci.Tensor("b1", (6,)), ricci.Tensor("W2", (3, 6))
    X, G = ricci.Tensor("X", (4, 7)), ricci.Tensor("G", (3, 7))
    h = ricci.tanh(W1 @ X + b1[:, None])
    return ricci.sum(ricci.softplus(W2 @ h) * G), W1


def rnn():
    L, Wx, _ = rnn_cell(8, 4, 2)
    return L, Wx


CASES = {"layer_norm": layer_norm, "attention": attention, "mlp": mlp, "rnn_cell": rnn}


def texts(fig):
    FigureCanvasAgg(fig)
    fig.set_dpi(DPI)
    renderer = fig.canvas.get_renderer()
    found = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return [(t, t.get_window_extent(renderer)) for t in found]


def overlaps(fig):
    boxes = texts(fig)
    return [(a.get_text(), b.get_text()) for (a, p), (b, q) in itertools.combinations(boxes, 2)
            if min(p.x1, q.x1) - max(p.x0, q.x0) > 0.5 and min(p.y1, q.y1) - max(p.y0, q.y0) > 0.5]


def assert_readable(fig):
    assert overlaps(fig) == []
    sizes = [t.get_fontsize() for t, _ in texts(fig)]
    assert min(sizes) >= MIN_PT
    width, height = fig.get_size_inches() * DPI
    assert width <= MAX_PX and height <= MAX_PX, (width, height)


def all_text(fig):
    return [t.get_text() for t, _ in texts(fig)]


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    return request.param, *CASES[request.param]()


def test_gradient_drawings_are_readable(case):
    _, L, wrt = case
    assert_readable(draw(ricci.grad(L, wrt)))


def test_draw_derivative_is_readable_and_tight(case):
    _, L, wrt = case
    fig = draw_derivative(L, wrt)
    assert_readable(fig)
    renderer = fig.canvas.get_renderer()
    covered = 0.0
    for ax in fig.axes:
        box = ax.get_window_extent(renderer)
        covered += box.width * box.height
        parts = [a.get_window_extent(renderer) for a in ax.get_children()
                 if a.get_visible() and a is not ax.patch and a not in ax.spines.values()
                 and type(a).__name__ in ("Text", "Line2D", "Circle", "Rectangle", "FancyBboxPatch")]
        x0, x1 = min(p.x0 for p in parts), max(p.x1 for p in parts)
        y0, y1 = min(p.y0 for p in parts), max(p.y1 for p in parts)
        # each panel is sized to what it draws: no empty band inside it
        assert (x1 - x0) / box.width > 0.85 and (y1 - y0) / box.height > 0.85
    # and the panels fill most of the figure (captions and the gap between them aside)
    assert covered / (fig.bbox.width * fig.bbox.height) > 0.6


def test_scalars_are_exact():
    L, X = layer_norm()
    words = " ".join(all_text(draw(ricci.grad(L, X))))
    assert "1/6" in words and "0.166667" not in words and "0.0277778" not in words
    L, Q = attention(d=5)
    words = " ".join(all_text(draw(ricci.grad(L, Q))))
    assert "0.447214" not in words and "1/sqrt(5)" in words


def test_a_shared_part_is_drawn_once_and_named():
    L, Q = attention()
    graph = diagram(ricci.grad(L, Q))
    named = [b for b in graph.graph["boxes"] if b.get("name")]
    assert [b["title"].split(" = ")[0] for b in named] == ["t0"]
    uses = [d["label"] for _, d in graph.nodes(data=True) if d["kind"] == "function"]
    assert uses == ["softmax(t0)", "softmax(t0)"]
    # its uses are tied by the name, not by dashed lines across the drawing
    frame = ("box", named[0]["id"])
    assert not list(graph.edges(frame))


def test_large_networks_are_collapsed_not_shrunk():
    W = [ricci.Tensor(f"W{i}", (3, 3)) for i in range(300)]
    h = ricci.Tensor("x", (3, 2))
    for w in W:
        h = ricci.tanh(w @ h)
    g = ricci.grad(ricci.sum(h * ricci.Tensor("G", (3, 2))), W[0])
    graph = diagram(g, max_nodes=60)
    assert sum(1 for _, d in graph.nodes(data=True) if d["kind"] != "frame") <= 60
    assert_readable(draw(g))
    # a smaller budget keeps more of it closed
    assert len(diagram(g, max_nodes=20).graph["boxes"]) < len(graph.graph["boxes"])


def test_frame_titles_name_the_function_whose_argument_they_hold():
    L, Wx = rnn()
    titles = [b["title"] for b in diagram(ricci.grad(L, Wx)).graph["boxes"]]
    assert "argument of tanh(·)" in titles and "argument of tanh(·)²" not in titles


def test_readme_figure_is_readable(tmp_path):
    path = pathlib.Path(__file__).resolve().parent.parent / "scripts" / "make_readme_figure.py"
    spec = importlib.util.spec_from_file_location("make_readme_figure", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fig = module.figure()
    assert_readable(fig)
    assert any(t.startswith("argument of tanh(·)") for t in all_text(fig))
    assert not any("tanh(·)²" in t and t.startswith("argument") for t in all_text(fig))


def test_same_expression_same_drawing(tmp_path):
    L, X = layer_norm()
    g = ricci.grad(L, X)
    draw(g, tmp_path / "one.svg")
    draw(g, tmp_path / "two.svg")
    assert (tmp_path / "one.svg").read_bytes() == (tmp_path / "two.svg").read_bytes()


def test_draw_derivative_panels_do_not_reuse_a_name():
    L, X = layer_norm()
    left, right = draw_derivative(L, X).ricci_diagram

    def names(graph):
        return [b["name"] for b in graph.graph["boxes"] if b.get("name")]

    assert names(left) and names(right) and not set(names(left)) & set(names(right))
