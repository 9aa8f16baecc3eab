"""Drawings: the diagram's structure (nodes, edges, labels, dots, frames), DOT text, valid files."""
import math
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import ricci
from ricci.draw import DrawError, diagram, draw, draw_derivative, to_dot, to_svg

E = ricci.einsum


def kinds(graph, box=None):
    return sorted(d["kind"] for _, d in graph.nodes(data=True)
                  if d["kind"] != "frame" and (box is None or d.get("box") == box))


def labels(graph, kind):
    return sorted(d["label"] for _, d in graph.nodes(data=True) if d["kind"] == kind)


def index_edges(graph):
    return [(u, v, d) for u, v, d in graph.edges(data=True) if d["kind"] == "index"]


def tensors(n, *shapes):
    return [ricci.Tensor(name, s) for name, s in zip(n, shapes)]


# ---------------------------------------------------------------------------
# structure
# ---------------------------------------------------------------------------
def test_chain():
    A, B, C = tensors("ABC", (2, 3), (3, 4), (4, 5))
    g = diagram(E("ij,jk,kl->il", A, B, C))
    assert kinds(g) == ["input", "input", "input", "open", "open"]
    assert labels(g, "input") == ["A", "B", "C"]
    edges = {(g.nodes[u]["label"], g.nodes[v]["label"], d["index"]) for u, v, d in index_edges(g)}
    assert edges == {("A", "a", "a"), ("A", "B", "b"), ("B", "C", "c"), ("C", "d", "d")}
    # a chain is drawn on a line, left to right in operand order
    xs = {d["label"]: d["pos"] for _, d in g.nodes(data=True) if d["kind"] == "input"}
    assert xs["A"][0] < xs["B"][0] < xs["C"][0] and xs["A"][1] == xs["B"][1] == xs["C"][1]


def test_hyperedge_is_a_dot_joining_its_tensors():
    a, b, c = tensors("abc", (3,), (3,), (3,))
    g = diagram(E("i,i,i->", a, b, c))
    assert kinds(g) == ["hyperedge", "input", "input", "input"]
    (dot,) = [k for k, d in g.nodes(data=True) if d["kind"] == "hyperedge"]
    assert sorted(g.nodes[n]["label"] for n in g.neighbors(dot)) == ["a", "b", "c"]
    assert {d["index"] for _, _, d in index_edges(g)} == {"a"}


def test_hadamard_with_free_indices_has_one_dot_per_index():
    A, B = tensors("AB", (2, 3), (2, 3))
    g = diagram(E("ij,ij->ij", A, B))
    assert kinds(g).count("hyperedge") == 2 and kinds(g).count("open") == 2
    for dot in (k for k, d in g.nodes(data=True) if d["kind"] == "hyperedge"):
        assert sorted(g.nodes[n]["kind"] for n in g.neighbors(dot)) == ["input", "input", "open"]


def test_trace_diagonal_sum_and_broadcast():
    (A,) = tensors("A", (3, 3))
    trace = diagram(E("ii->", A))
    assert [(u, v) for u, v, _ in index_edges(trace)] == [(next(iter(trace.nodes)),) * 2]  # a loop
    diag = diagram(E("ii->i", A))
    assert kinds(diag) == ["hyperedge", "input", "open"]
    (M,) = tensors("M", (2, 3))
    assert kinds(diagram(E("ij->i", M))) == ["input", "open", "sum"]
    a, b = tensors("ab", (3,), (4,))
    assert "broadcast" in kinds(diagram(ricci.grad(E("i,j->", a, b), a)))


def rnn_gradient():
    nc, nx, m = 5, 4, 3
    Wc, Wx, b = ricci.Tensor("W_c", (nc, nc)), ricci.Tensor("W_x", (nc, nx)), ricci.Tensor("b", (nc,))
    c_prev, x, G = ricci.Tensor("c_prev", (nc, m)), ricci.Tensor("x", (nx, m)), ricci.Tensor("G", (nc, m))
    u = E("ij,jb->ib", Wc, c_prev) + E("ij,jb->ib", Wx, x) + E("i,b->ib", b, np.ones(m))
    L = E("ib,ib->", ricci.tanh(u), G)
    return L, Wx, ricci.grad(L, Wx)


def test_rnn_gradient_diagram_frames_and_links():
    _, _, g = rnn_gradient()
    d = diagram(g)
    # the top network: G, x and the factor 1 − tanh(·)², joined by two hyperedges
    assert kinds(d, box=0) == ["add", "hyperedge", "hyperedge", "input", "input", "open", "open"]
    assert labels(d, "add") == ["1 − tanh(·)²"]
    boxes = d.graph["boxes"]
    assert [b["title"] for b in boxes] == ["", "1 − tanh(·)²", "argument of tanh(·)"]  # tanh's, not tanh²'s
    assert labels(d, "function") == ["tanh(·)²"]
    assert sorted(x["label"] for _, x in d.nodes(data=True) if x.get("box") == 2 and x["kind"] == "input") == \
        ["W_c", "W_x", "b", "c_prev", "x"]
    assert sum(1 for *_, x in d.edges(data=True) if x["kind"] == "argument") == 2
    assert sorted(t["text"] for t in d.graph["texts"]) == ["+", "+", "−"]
    # a function's argument frame names its free legs as the function node's legs
    (fn,) = [x for _, x in d.nodes(data=True) if x["kind"] == "function"]
    assert labels_of_open(d, box=2) == sorted(fn["legs"] * 3)


def labels_of_open(graph, box):
    return sorted(d["label"] for _, d in graph.nodes(data=True) if d["kind"] == "open" and d.get("box") == box)


def test_depth_limits_the_frames():
    _, _, g = rnn_gradient()
    assert len(diagram(g, depth=0).graph["boxes"]) == 1
    assert len(diagram(g, depth=1).graph["boxes"]) == 2


def test_shared_parts_are_opened_once():
    W, x = ricci.Tensor("W", (4, 3)), ricci.Tensor("x", (3, 5))
    c = ricci.tanh(E("ij,jb->ib", W, x))
    d = diagram(ricci.grad(E("ib,ib->", c, c), W))
    titles = [b["title"] for b in d.graph["boxes"]]
    # the argument of tanh, used twice, is drawn once, named t0, and its uses say so
    assert titles.count("t0 = Wx") == 1 and not any("argument of tanh" in t for t in titles)
    uses = [x["label"] for _, x in d.nodes(data=True) if x["kind"] == "function" and "t0" in x["label"]]
    assert uses == ["tanh(t0)", "tanh(t0)"]
    linked = {v if u[0] != "box" else u for u, v, x in d.edges(data=True) if x["kind"] == "argument"}
    assert ("box", 1) not in linked  # named: no dashed links crossing the drawing to it


def test_every_node_is_placed_and_free_legs_do_not_collide():
    n = 12
    ops = [ricci.Tensor(f"T{k}", (2, 2, 2)) for k in range(n)]
    letters = "abcdefghijkl"
    spec = ",".join(letters[k] + letters[(k + 1) % n] + chr(ord("A") + k) for k in range(n))
    g = diagram(E(spec + "->" + "".join(chr(ord("A") + k) for k in range(n)), *ops))
    assert all("pos" in d for _, d in g.nodes(data=True))
    ends = [d["pos"] for _, d in g.nodes(data=True) if d["kind"] == "open"]
    assert len(ends) == n
    assert min(math.dist(p, q) for i, p in enumerate(ends) for q in ends[i + 1:]) > 0.4


def test_layout_is_deterministic():
    _, _, g = rnn_gradient()
    first = {k: d["pos"] for k, d in diagram(g).nodes(data=True)}
    second = {k: d["pos"] for k, d in diagram(g).nodes(data=True)}
    assert first == second


# ---------------------------------------------------------------------------
# DOT
# ---------------------------------------------------------------------------
def test_dot_text():
    A, B, C = tensors("ABC", (2, 3), (3, 4), (4, 5))
    dot = to_dot(E("ij,jk,kl->il", A, B, C))
    assert dot.startswith("graph ricci {") and dot.rstrip().endswith("}")
    for name in "ABC":
        assert f'[label="{name}", shape=circle' in dot
    assert sorted(line.split("[label=")[1] for line in dot.splitlines() if " -- " in line) == \
        ['"a"];', '"b"];', '"c"];', '"d"];']
    assert dot.count("{") == dot.count("}")
    assert to_dot(E("ij,jk,kl->il", A, B, C), sizes=True).count('label="b (3)"') == 1


def test_dot_of_rnn_gradient_has_clusters_and_dots():
    _, _, g = rnn_gradient()
    dot = to_dot(g)
    # two frames; panels: the offset 1 and the term tanh(·)², then the three terms of the argument
    assert dot.count("subgraph cluster_") == 2 + 2 + 3
    assert 'label="argument of tanh(·)"' in dot
    assert dot.count("shape=point, width=0.1") == 2  # the two hyperedges
    assert dot.count("style=dashed") >= 2 and "lhead=cluster_1" in dot


def test_dot_holes():
    A, B = tensors("AB", (2, 3), (3, 4))
    dot = to_dot(E("ij,jk->ik", A, B), holes={B})
    assert 'label="B", shape=circle, style=dashed' in dot
    assert dot.count('color="#c0392b", fontcolor="#c0392b"') == 2  # B's legs, j and k


def test_to_dot_and_import_need_no_matplotlib():
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "import ricci\n"
            "from ricci.draw import to_dot, draw, DrawError\n"
            "A = ricci.Tensor('A', (2, 2))\n"
            "assert 'graph ricci' in to_dot(ricci.einsum('ij,jk->ik', A, A))\n"
            "try:\n    draw(A)\nexcept DrawError as e:\n    print('no matplotlib:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install 'ricci[draw]'" in out.stdout


# ---------------------------------------------------------------------------
# matplotlib
# ---------------------------------------------------------------------------
mpl = pytest.importorskip("matplotlib")


def test_draw_returns_figure_with_labels(tmp_path):
    from matplotlib.figure import Figure

    A, B = tensors("AB", (2, 3), (3, 4))
    fig = draw(E("ij,jk->ik", A, B))
    assert isinstance(fig, Figure)
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["A", "B", "a", "b", "c"]
    sized = draw(E("ij,jk->ik", A, B), sizes=True)
    assert "b=3" in [t.get_text() for t in sized.axes[0].texts]


def test_png_svg_pdf_files(tmp_path):
    _, _, g = rnn_gradient()
    draw(g, tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    draw(g, str(tmp_path / "g.svg"))
    root = ET.parse(tmp_path / "g.svg").getroot()
    assert root.tag.endswith("svg")
    draw(g, tmp_path / "g.pdf")
    assert (tmp_path / "g.pdf").read_bytes()[:5] == b"%PDF-"


def test_files_are_deterministic(tmp_path):
    _, _, g = rnn_gradient()
    for ext in ("svg", "png"):
        draw(g, tmp_path / f"one.{ext}")
        draw(g, tmp_path / f"two.{ext}")
        assert (tmp_path / f"one.{ext}").read_bytes() == (tmp_path / f"two.{ext}").read_bytes()


def test_bad_extension_and_bad_arguments(tmp_path):
    (A,) = tensors("A", (2, 2))
    with pytest.raises(DrawError, match=r"\.png, \.svg or \.pdf") as info:
        draw(A, tmp_path / "a.jpg")
    assert isinstance(info.value, ricci.RicciError) and isinstance(info.value, ValueError)
    with pytest.raises(DrawError, match="ricci expression"):
        draw("ij,jk->ik")
    with pytest.raises(DrawError, match="does not occur"):
        draw_derivative(A, ricci.Tensor("Z", (2,)))


def test_draw_into_given_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    (A,) = tensors("A", (2, 2))
    assert draw(A, ax=ax) is fig
    assert sorted(t.get_text() for t in ax.texts) == ["A", "a", "b"]


def test_draw_derivative_shows_the_hole_and_the_result():
    A, B, C = tensors("ABC", (2, 3), (3, 4), (4, 5))
    dD = ricci.Tensor("dD", (2, 5))
    fig = draw_derivative(E("ij,jk,kl->il", A, B, C), B, cotangent=dD)
    left, right = fig.ricci_diagram
    (hole,) = [d for _, d in left.nodes(data=True) if d["kind"] == "hole"]
    assert hole["label"] == "B"
    assert labels(right, "input") == ["A", "C", "dD"]
    # the hole's legs are the result's free indices, in the same letters
    assert sorted(hole["legs"]) == labels(right, "open")
    assert "remove B" in " ".join(t.get_text() for t in fig.texts)


def test_draw_derivative_total_derivative_and_nested_hole():
    A, x = ricci.Tensor("A", (3, 3)), ricci.Tensor("x", (3,))
    fig = draw_derivative(E("i,ij,j->", x, A, x), x)
    left, _ = fig.ricci_diagram
    assert kinds(left).count("hole") == 2
    assert "2 occurrences" in " ".join(t.get_text() for t in fig.texts)
    L, Wx, _ = rnn_gradient()
    left, right = draw_derivative(L, Wx).ricci_diagram
    (hole,) = [d for _, d in left.nodes(data=True) if d["kind"] == "hole"]
    assert hole["box"] == 1  # inside the argument of tanh


def test_svg_for_jupyter():
    (A,) = tensors("A", (2, 2))
    svg = to_svg(A)
    assert svg._repr_svg_() == svg
    assert ET.fromstring(svg.encode()).tag.endswith("svg")


def test_jacobian_delta_is_drawn_as_delta():
    (A,) = tensors("A", (2, 3))
    d = diagram(ricci.jacobian(ricci.tanh(A), A))
    assert labels(d, "delta") == ["δ", "δ"]


def test_readme_figure_script(tmp_path):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parent.parent / "scripts" / "make_readme_figure.py"
    spec = importlib.util.spec_from_file_location("make_readme_figure", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(str(tmp_path / "rnn.png")) == 0
    assert (tmp_path / "rnn.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
