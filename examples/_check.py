"""Small helpers shared by the example scripts: printing formulas and checking numbers.

Every example derives something with ricci, prints it, and checks it against
central finite differences in float64 (and against the tutorial's closed form
where there is one). ``check`` prints one OK/FAIL line per comparison and
``finish`` turns any FAIL into a non-zero exit code:

    from _check import check, finish, show
    ...
    check("dJ/dW against finite differences", got, expected)
    finish()
"""
import os
import sys

import numpy as np

try:  # `python examples/x.py` from a checkout where ricci is not installed
    import ricci
except ImportError:  # pragma: no cover
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import ricci

EPS = 1e-6  # central differences in float64: error ~ EPS² · f''' plus rounding ~ 1e-16 / EPS
_failures = []


# ---------------------------------------------------------------------------
# printing
# ---------------------------------------------------------------------------
def matrix_notation(expr, names=None):
    """``expr`` in conventional matrix notation, or None when ricci cannot write it.

    ``names`` maps display names to subexpressions, e.g. ``{"c": c}`` writes
    ``c`` wherever the subexpression ``c`` occurs.
    """
    try:
        from ricci.notation import to_matrix
    except ImportError:
        to_matrix = None
    try:
        if to_matrix is not None:
            return to_matrix(expr, names=names) if names else to_matrix(expr)
        if hasattr(expr, "to_matrix"):
            return expr.to_matrix()
    except NotImplementedError:
        pass
    return None


def show(title, expr, names=None):
    """Print a derived expression: the einsum program ricci runs, and matrix notation."""
    print(f"{title}   [shape {expr.shape}]")
    einsum_text = str(expr)
    print("  einsum: " + einsum_text.replace("\n", "\n          "))
    matrix = matrix_notation(expr, names)
    if matrix is not None and matrix != einsum_text:
        print("  matrix: " + matrix)
    print()


def section(title):
    print("\n" + title + "\n" + "-" * len(title))


def nbytes(n):
    """A byte count for people: 16 GiB, 512 KiB, ..."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}"
        n /= 1024


# ---------------------------------------------------------------------------
# inputs and finite differences
# ---------------------------------------------------------------------------
def random_inputs(tensors, seed=0, scale=1.0):
    """Standard-normal float64 values (times ``scale``) for each ricci.Tensor, by name."""
    rng = np.random.default_rng(seed)
    return {t.name: scale * rng.standard_normal(t.shape) for t in tensors}


def value(f, inputs):
    """``f`` at ``inputs``: ``f`` is a ricci expression or a function of the inputs dict."""
    out = f.evaluate(inputs) if isinstance(f, ricci.Expr) else f(inputs)
    return np.asarray(out, dtype=np.float64)


def fd_jacobian(f, inputs, name, eps=EPS):
    """Central-difference Jacobian of ``f`` wrt ``inputs[name]``: shape f.shape + x.shape.

    For a scalar ``f`` this is the gradient, with the shape of ``inputs[name]``.
    """
    x0 = np.asarray(inputs[name], dtype=np.float64)
    out = np.zeros(value(f, inputs).shape + x0.shape)
    for idx in np.ndindex(*x0.shape):
        step = np.zeros_like(x0)
        step[idx] = eps
        plus = value(f, {**inputs, name: x0 + step})
        minus = value(f, {**inputs, name: x0 - step})
        out[(Ellipsis,) + idx] = (plus - minus) / (2 * eps)
    return out


fd_grad = fd_jacobian


def fd_jvp(f, inputs, name, tangent, eps=EPS):
    """Central-difference directional derivative of ``f`` along ``tangent``."""
    x0 = np.asarray(inputs[name], dtype=np.float64)
    plus = value(f, {**inputs, name: x0 + eps * tangent})
    minus = value(f, {**inputs, name: x0 - eps * tangent})
    return (plus - minus) / (2 * eps)


# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------
def _report(ok, label, detail):
    print(f"  {'OK  ' if ok else 'FAIL'} {label}" + (f"  ({detail})" if detail else ""))
    if not ok:
        _failures.append(label)
    return ok


def check(label, got, expected, rtol=1e-6, atol=1e-7):
    """Compare arrays (same shape, allclose with atol scaled by max |expected|); print OK/FAIL."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return _report(False, label, f"shape {got.shape}, expected {expected.shape}")
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    error = float(np.max(np.abs(got - expected))) if got.size else 0.0
    ok = bool(np.allclose(got, expected, rtol=rtol, atol=atol * scale))
    return _report(ok, label, f"max abs error {error:.1e}")


def check_true(label, condition, detail=""):
    """A yes/no check (structure, sizes); print OK/FAIL."""
    return _report(bool(condition), label, detail)


def finish():
    """Print a summary and exit: status 0 when every check passed, 1 otherwise."""
    if _failures:
        print(f"\nFAIL: {len(_failures)} check(s) failed: " + "; ".join(_failures))
        sys.exit(1)
    print("\nOK: all checks passed")
    sys.exit(0)
