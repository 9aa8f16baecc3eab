"""The command line, run as ``python -m ricci``: gradients, drawings, errors.

Printed gradients are checked by evaluating them with numpy.einsum and
comparing with central finite differences of numpy.einsum itself.
"""
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from conftest import fd_vjp, make_rng
from ricci.cli import main


def ricci(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "ricci", *args], capture_output=True, text=True, timeout=timeout)


def assert_bad_input(result, *phrases):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ricci: error: "), result.stderr
    for phrase in phrases:
        assert phrase in lines[0]


def test_grad_matmul():
    out = ricci("grad", "ij,jk->ik")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        'C = einsum("ij,jk->ik", A, B)',
        'dA = einsum("ik,jk->ij", dC, B)  # dC Bᵀ',
        'dB = einsum("ij,ik->jk", A, dC)  # Aᵀ dC',
    ]


def test_grad_wrt_and_shapes():
    out = ricci("grad", "ij,jk->ik", "--wrt", "1", "--shapes", "3x4,4x5")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "# i=3, j=4, k=5",
        'C = einsum("ij,jk->ik", A, B)  # A: 3x4, B: 4x5 -> C: 3x5',
        'dB = einsum("ij,ik->jk", A, dC)  # 4x5; Aᵀ dC',
    ]
    by_name = ricci("grad", "ij,jk->ik", "--wrt", "B,A")
    assert [line.split(" =")[0] for line in by_name.stdout.splitlines()] == ["C", "dB", "dA"]


@pytest.mark.parametrize("spec, expected", [
    ("ii->", ['dA = einsum("ai,->ia", eye(n_i), dB)  # dB I']),  # a trace
    ("i,i,i->i", ['dA = einsum("i,i,i->i", B, C, dD)  # B ⊙ C ⊙ dD']),  # a hyperedge
    ("i,j->ij", ['dA = einsum("ij,j->i", dC, B)  # dC B']),  # an outer product
    ("ij->", ['dA = einsum(",i,j->ij", dB, ones(n_i), ones(n_j))  # dB 1 1ᵀ']),  # a sum: broadcast back
    ("...ij,...jk->...ik", ['dA = einsum("...jk,...ik->...ij", B, dC)']),
])
def test_grad_special_networks(spec, expected):
    out = ricci("grad", spec, "--wrt", "0")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1:] == expected


# --- printed gradients are right: numpy.einsum of the printed line vs finite differences
LINE = re.compile(r'^d(\w+) = (-?)(?:([\d.]+) \* )?einsum\("([^"]*)", (.*)\)$')


def operand(text, arrays):
    text = text.strip()
    m = re.fullmatch(r"(eye|ones)\((\d+)\)", text)
    if m:
        n = int(m.group(2))
        return np.eye(n) if m.group(1) == "eye" else np.ones(n)
    return arrays[text]


def split_operands(text):
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        current += ch
    return parts + [current]


CORPUS = [
    ("ij,jk->ik", "3x4,4x5"), ("ii->", "3x3"), ("ii->i", "3x3"), ("i,i,i->i", "4,4,4"), ("i,j->ij", "3,4"),
    ("ij->", "2x3"), ("ij->ji", "2x3"), ("bij,bjk->bik", "2x3x4,2x4x5"), ("...ij,jk->...ik", "2x3x4,4x5"),
    (",ij->ij", ",3x4"), ("ii,i->", "3x3,3"), ("ij,ij,jk->ik", "2x3,2x3,3x4"), ("ijk,jk->i", "2x3x4,3x4"),
    ("ij,jk,kl->il", "2x3,3x4,4x5"), ("ij,ij->", "2x3,2x3"),
]


@pytest.mark.parametrize("spec, shapes", CORPUS)
def test_printed_gradients_compute_the_vjp(spec, shapes, capsys):
    assert main(["grad", spec, "--shapes", shapes]) == 0
    lines = capsys.readouterr().out.splitlines()
    rng = make_rng(len(spec))
    shape_list = [tuple(int(d) for d in s.split("x")) if s else () for s in shapes.split(",")]
    names = [chr(ord("A") + k) for k in range(len(shape_list))]
    arrays = {n: rng.uniform(-1, 1, s) for n, s in zip(names, shape_list)}
    out_name = lines[1 if lines[0].startswith("#") else 0].split(" =")[0]
    output = np.einsum(spec, *arrays.values())
    arrays["d" + out_name] = cotangent = rng.uniform(-1, 1, output.shape)
    derived = [line for line in lines if line.startswith("d")]
    assert len(derived) == len(names)
    for line in derived:
        line = line.split("  # ")[0]
        m = LINE.match(line)
        if m is None:  # the gradient is the cotangent itself
            name, value = re.match(r"^d(\w+) = (\w+)", line).groups()
            got = arrays[value]
        else:
            name, minus, scale, subscripts, ops = m.groups()
            got = np.einsum(subscripts, *(operand(t, arrays) for t in split_operands(ops)))
            got = got * (float(scale) if scale else 1.0) * (-1 if minus else 1)
        want = fd_vjp(lambda d: np.einsum(spec, *(d[n] for n in names)), {n: arrays[n] for n in names}, name,
                      cotangent)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8, err_msg=line)


# --- drawings
def test_draw_png_svg_dot(tmp_path):
    pytest.importorskip("matplotlib")
    png, svg, dot = tmp_path / "net.png", tmp_path / "net.svg", tmp_path / "net.dot"
    out = ricci("draw", "ij,jk,kl->il", "-o", str(png))
    assert out.returncode == 0, out.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = ricci("draw", "ij,jk,kl->il", "-o", str(svg), "--grad", "1", "--shapes", "2x3,3x4,4x5")
    assert out.returncode == 0, out.stderr
    assert ET.parse(svg).getroot().tag.endswith("svg")
    out = ricci("draw", "ij,jk,kl->il", "-o", str(dot))
    assert out.returncode == 0, out.stderr
    text = dot.read_text()
    # the user's letters label the edges
    assert sorted(re.findall(r'-- n\d+ \[label="(\w)"', text)) == ["i", "j", "k", "l"]


def test_draw_grad_dot_uses_user_letters(tmp_path):
    dot = tmp_path / "g.dot"
    assert main(["draw", "ij,jk->ik", "-o", str(dot), "--grad", "B"]) == 0
    text = dot.read_text()
    assert 'label="dC"' in text and 'label="A"' in text and 'label="B"' not in text
    assert sorted(re.findall(r'\[label="(\w)"\];', text)) == ["i", "j", "k"]


# --- errors: one line, exit status 2, no traceback
@pytest.mark.parametrize("args, phrases", [
    (["grad", "ij,jk->ikk"], ["appears more than once"]),
    (["grad", "i$j->i"], ["invalid character '$'"]),
    (["grad", "ij,jk->ik", "--shapes", "3x4,5x6"], ["index 'j' has size 4 in operand 0 but 5 in operand 1"]),
    (["grad", "ij,jk->ik", "--shapes", "3x4"], ["--shapes gives 1 shape(s)"]),
    (["grad", "ij,jk->ik", "--shapes", "3xq,4x5"], ["bad shape '3xq'"]),
    (["grad", "ij,jk->ik", "--wrt", "5"], ["out of range"]),
    (["grad", "ij,jk->ik", "--wrt", "Q"], ["neither an operand position"]),
    (["grad", "ij,jk,kl->il", "--shapes", "2x3,3x4"], ["--shapes gives 2 shape(s)"]),
    (["grad"], ["required: subscripts"]),
    (["nonsense"], ["invalid choice"]),
    ([], ["required"]),
    (["draw", "ij,jk->ik", "-o", "net.jpg"], [".png, .svg, .pdf or .dot"]),
    (["draw", "ij,jk->ik"], ["-o/--output"]),
    (["draw", "ij,jk->ik", "-o", "x.png", "--grad", "2"], ["out of range"]),
    (["demo", "--size", "a,b"], ["--size must be three integers"]),
])
def test_bad_input(args, phrases):
    assert_bad_input(ricci(*args), *phrases)


def test_help_and_demo():
    out = ricci("--help")
    assert out.returncode == 0 and "grad" in out.stdout and "draw" in out.stdout
    demo = ricci("demo", "--size", "16,8,4")
    assert demo.returncode == 0, demo.stderr
    assert "matches the hand-written (G ⊙ (1 - c²)) xᵀ: True" in demo.stdout
