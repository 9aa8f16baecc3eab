"""Shared helpers for the ricci test suite.

Everything here is independent of ricci: reference values are computed with
numpy (np.einsum / closed forms) and central finite differences in float64.

Helpers are importable from the test modules with ``from conftest import ...``
(pytest puts this directory on sys.path since ``tests`` is not a package).
"""
import itertools
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# --------------------------------------------------------------------------
# hypothesis profiles
# --------------------------------------------------------------------------
# "ricci" (default): deterministic, no deadline -- reproducible in CI.
# "ricci-explore": randomised and more examples, for local bug hunting:
#     HYPOTHESIS_PROFILE=ricci-explore python -m pytest tests/test_properties.py
settings.register_profile(
    "ricci",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "ricci-explore",
    deadline=None,
    derandomize=False,
    print_blob=True,
    max_examples=500,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ricci"))

FD_EPS = 1e-6
SEED = 20240601


# --------------------------------------------------------------------------
# random inputs
# --------------------------------------------------------------------------
def make_rng(seed=0):
    """A deterministic numpy Generator (offset from the suite-wide seed)."""
    return np.random.default_rng(SEED + int(seed))


def rand(shape, rng=None, low=-1.0, high=1.0, away_from_zero=0.0, dtype=np.float64):
    """Uniform random array in [low, high].

    If ``away_from_zero`` > 0, values are drawn with |v| in [away_from_zero, high]
    and a random sign (used for relu/abs/1/x, which have kinks/poles at 0).
    """
    rng = make_rng() if rng is None else rng
    shape = tuple(shape)
    if away_from_zero > 0:
        mag = rng.uniform(away_from_zero, high, size=shape)
        sign = np.where(rng.uniform(size=shape) < 0.5, -1.0, 1.0)
        out = mag * sign
    else:
        out = rng.uniform(low, high, size=shape)
    return np.asarray(out, dtype=dtype)


def rand_positive(shape, rng=None, low=0.5, high=2.0):
    return rand(shape, rng, low=low, high=high)


_name_counter = itertools.count()


def fresh_name(prefix="T"):
    """A tensor name that has never been used in this process."""
    return "%s_%d" % (prefix, next(_name_counter))


# --------------------------------------------------------------------------
# central finite differences (float64)
# --------------------------------------------------------------------------
def _as64(inputs):
    return {k: np.array(v, dtype=np.float64, copy=True) for k, v in inputs.items()}


def fd_jacobian(f, inputs, name, eps=FD_EPS):
    """Central-difference Jacobian of ``f(inputs) -> array`` wrt ``inputs[name]``.

    Returns an array of shape ``f(inputs).shape + inputs[name].shape``.
    ``f`` must be a float64 numpy reference implementation.
    """
    base = _as64(inputs)
    x0 = base[name]
    out0 = np.asarray(f(base), dtype=np.float64)
    J = np.zeros(out0.shape + x0.shape, dtype=np.float64)
    for idx in np.ndindex(*x0.shape):
        xp = x0.copy()
        xp[idx] += eps
        xm = x0.copy()
        xm[idx] -= eps
        fp = np.asarray(f({**base, name: xp}), dtype=np.float64)
        fm = np.asarray(f({**base, name: xm}), dtype=np.float64)
        J[(Ellipsis,) + tuple(idx)] = (fp - fm) / (2.0 * eps)
    return J


def fd_grad(f, inputs, name, eps=FD_EPS):
    """Central-difference gradient of a scalar function (shape of inputs[name])."""
    base = _as64(inputs)
    out0 = np.asarray(f(base))
    assert out0.shape == (), "fd_grad needs a scalar function, got shape %r" % (out0.shape,)
    return fd_jacobian(f, base, name, eps)


def fd_jvp(f, inputs, name, tangent, eps=FD_EPS):
    """Central-difference directional derivative of f along ``tangent``."""
    base = _as64(inputs)
    x0 = base[name]
    t = np.asarray(tangent, dtype=np.float64)
    fp = np.asarray(f({**base, name: x0 + eps * t}), dtype=np.float64)
    fm = np.asarray(f({**base, name: x0 - eps * t}), dtype=np.float64)
    return (fp - fm) / (2.0 * eps)


def fd_vjp(f, inputs, name, cotangent, eps=FD_EPS):
    """sum_out cotangent[out] * d f[out] / d x[...], from the FD Jacobian."""
    J = fd_jacobian(f, inputs, name, eps)
    G = np.asarray(cotangent, dtype=np.float64)
    return np.tensordot(G, J, axes=G.ndim)


def assert_close(got, expected, rtol=1e-5, atol=1e-6, err_msg=""):
    """allclose with an absolute tolerance scaled by the magnitude of ``expected``.

    Also checks the shape exactly (no silent broadcasting).
    """
    got = np.asarray(got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, "shape %r != expected %r %s" % (
        got.shape,
        expected.shape,
        err_msg,
    )
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol * scale, err_msg=err_msg)


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
@pytest.fixture
def rng(request):
    """Per-test deterministic Generator (seed derived from the test's node id)."""
    import zlib

    return make_rng(zlib.crc32(request.node.nodeid.encode()) % (2**31))


@pytest.fixture
def restore_memory_budget():
    """Save and restore ricci's global memory budget around a test."""
    import ricci

    old = ricci.get_memory_budget()
    try:
        yield old
    finally:
        ricci.set_memory_budget(old)


# --------------------------------------------------------------------------
# generic derivative checker (ricci result vs central finite differences)
# --------------------------------------------------------------------------
METHODS = ("grad", "vjp", "jvp", "jacobian")
_RED_LETTERS = "pqrstuvw"


def check_derivative(method, expr, ref, inputs, var, varname, rng, rtol=1e-5, atol=1e-6,
                     optimize=None):
    """Check one derivative of ricci ``expr`` wrt Tensor ``var`` against FD.

    ``ref(inputs_dict) -> ndarray`` is an independent float64 numpy implementation
    of ``expr``.  For method == "grad" the expression is reduced to a scalar by
    contracting it with a random constant weight tensor (via ricci.einsum).
    """
    import ricci

    inputs = _as64(inputs)
    out_shape = np.asarray(ref(inputs)).shape
    var_shape = inputs[varname].shape
    kw = {} if optimize is None else {"optimize": optimize}
    assert tuple(expr.shape) == out_shape, "forward shape %r != %r" % (expr.shape, out_shape)
    if method == "grad":
        Wc = rand(out_shape, rng)
        s = _RED_LETTERS[: len(out_shape)]
        L = ricci.einsum("%s,%s->" % (s, s), expr, Wc)
        assert tuple(L.shape) == ()
        d = ricci.grad(L, var)
        expected = fd_grad(lambda dct: np.sum(np.asarray(ref(dct)) * Wc), inputs, varname)
    elif method == "vjp":
        G = rand(out_shape, rng)
        d = ricci.vjp(expr, var, G)
        expected = fd_vjp(ref, inputs, varname, G)
    elif method == "jvp":
        Tg = rand(var_shape, rng)
        d = ricci.jvp(expr, var, Tg)
        expected = fd_jvp(ref, inputs, varname, Tg)
    elif method == "jacobian":
        d = ricci.jacobian(expr, var)
        expected = fd_jacobian(ref, inputs, varname)
    else:  # pragma: no cover
        raise ValueError(method)
    assert tuple(d.shape) == expected.shape, "%s: derived shape %r != expected %r" % (
        method,
        tuple(d.shape),
        expected.shape,
    )
    got = np.asarray(d.evaluate(inputs, **kw))
    assert_close(got, expected, rtol=rtol, atol=atol, err_msg="%s wrt %s" % (method, varname))
    return got, expected
