"""Regenerate docs/rnn_grad.png, the README's drawing of the RNN-cell gradient.

    .venv/bin/python scripts/make_readme_figure.py

The drawing is deterministic: running the script again gives the same file.
"""
import os
import sys

import numpy as np

import ricci
from ricci.demo import rnn_cell
from ricci.draw import draw
from ricci.notation import to_matrix

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "rnn_grad.png")


def figure(path=None):
    """The README's figure (saved to ``path`` when given)."""
    nc, nx, m = 8, 4, 2
    L, Wx, (Wc, _, b, c_prev, x, _) = rnn_cell(nc, nx, m)
    # c as the demo builds it (expressions are interned: this is the same node)
    c = ricci.tanh(ricci.einsum("ij,jb->ib", Wc, c_prev) + ricci.einsum("ij,jb->ib", Wx, x)
                   + ricci.einsum("i,b->ib", b, np.ones(m)))
    g = ricci.grad(L, Wx)
    formula = to_matrix(g, names={"c": c})
    title = f"∂L/∂W_x = {formula}" + ("" if " where " in formula else f",   c = {to_matrix(c)}")
    return draw(g, path, title=title)


def main(path=OUT):
    path = os.path.normpath(path)
    figure(path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
