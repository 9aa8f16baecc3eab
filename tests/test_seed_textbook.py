"""The seed tutorials' derivations, reproduced by examples/, print as the tutorials write them.

Each example script derives a tutorial's results with ricci and prints them in matrix
notation ("  matrix: ..."); these strings are the tutorials' (and the Matrix Cookbook's)
formulas, compared exactly.
"""
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"

EXPECTED = {
    # a two-layer ReLU network from scratch (seeds 000, 003): the backward pass by hand
    "two_layer_relu.py": ["H2ᵀ dL_dZ", "Xᵀ(step(H1) ⊙ (dL_dZ W2ᵀ))", "(step(H1) ⊙ (dL_dZ W2ᵀ)) W1ᵀ", "dL_dZ W2ᵀ"],
    # Parr & Howard, "The Matrix Calculus You Need For Deep Learning" (seed 001)
    "parr_howard.py": ["6 xy", "8 y^∘7", "I", "−I", "diag(x)", "diag(w)", "diag(1 ⊘ x)", "−diag(w ⊙ x^∘−2)",
                       "1ᵀ x", "3 cos(3 x)", "diag(1 − y ⊙ y) W"],
    # matrix differentials and the trace trick (seed 004; Matrix Cookbook eqs. 46, 49, 57, 59)
    "matrix_differentials.py": ["2 xᵀWᵀ dW x", "2 Wxxᵀ", "Aᵀ", "det(X) tr(X⁻¹ dX)", "det(X) X⁻ᵀ",
                                "tr(X⁻¹ dX)", "X⁻ᵀ", "−X⁻¹ dX X⁻¹"],
    # backpropagation through an RNN cell (seed 002)
    "bptt_rnn_cell.py": ["W_aaᵀ (da_next ⊙ (1 − a_next ⊙ a_next))", "(da_next ⊙ (1 − a_next ⊙ a_next)) a_prevᵀ",
                         "W_axᵀ (da_next ⊙ (1 − a_next ⊙ a_next))"],
    # the mini-batch RNN cell of seed 002: (∂J/∂c ⊙ (1 − c²)) x_tᵀ
    "minibatch_rnn_cell.py": ["(dJ_dc ⊙ (1 − c ⊙ c)) x_tᵀ"],
}


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_seed_derivation_prints_as_the_tutorial(script):
    out = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, timeout=300,
                         cwd=EXAMPLES)
    assert out.returncode == 0, out.stderr[-2000:]
    printed = [line[len("  matrix: "):] for line in out.stdout.splitlines() if line.startswith("  matrix: ")]
    for formula in EXPECTED[script]:
        assert formula in printed, f"{script}: {formula!r} not among {printed}"
