"""The memory budget on every path that allocates (issue 8).

One test per allocating path: an all-zeros result, an identity (delta) result, a
factored (Structured) result's ``todense``, ``Structured.dot``, an intermediate of a
compiled program, a plain result, a generalized Jacobian, and the 200,000 x 2,000
logistic Hessian whose culprit is an n x p intermediate, not its 32 MB result.

Refusals must come before allocating (checked with tracemalloc, which sees numpy's
allocations), name the culprit with its shape and bytes, and suggest
vjp/grad/hvp only when what is large is a generalized Jacobian.
"""
import json
import os
import re
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

import ricci
from conftest import fresh_name

MiB = 2**20

UNITS = {"b": 1, "byte": 1, "bytes": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
         "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_AMOUNT = re.compile(r"(\d[\d,_]*(?:\.\d+)?)\s*(bytes|byte|KiB|MiB|GiB|TiB|kB|KB|MB|GB|TB|B)\b")


def byte_amounts(message):
    """Every amount of memory written in the message, in bytes."""
    return [float(num.replace(",", "").replace("_", "")) * UNITS[unit.lower()]
            for num, unit in _AMOUNT.findall(message)]


def mentions_bytes(message, nbytes, rel=0.01):
    return any(abs(v - nbytes) <= rel * nbytes for v in byte_amounts(message))


def mentions_shape(message, shape):
    parts = [str(d) for d in shape]
    pattern = r"\s*[,x×]\s*".join(re.escape(p) for p in parts)
    return re.search(r"(?<![\d,])" + pattern + r"(?![\d,])", message.replace("_", "")) is not None


def suggests_derivative_products(message):
    return re.search(r"\b(vjp|grad|hvp)\b", message) is not None


def T(shape, prefix="bud"):
    return ricci.Tensor(fresh_name(prefix), shape)


class NoBigAllocation:
    """Context manager: fail if numpy/python allocate more than ``limit`` bytes at once inside."""

    def __init__(self, limit):
        self.limit = limit

    def __enter__(self):
        tracemalloc.start()
        tracemalloc.reset_peak()
        self.base = tracemalloc.get_traced_memory()[0]
        return self

    def __exit__(self, *exc):
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak - self.base <= self.limit, (
            f"{(peak - self.base) / MiB:.1f} MiB were allocated before the refusal (limit {self.limit / MiB:.1f} MiB)")
        return False


# ---------------------------------------------------------------------------
# all-zeros and identity results
# ---------------------------------------------------------------------------
def test_all_zeros_jacobian_refused_before_allocating(restore_memory_budget):
    a, b = T((2000,)), T((3000,))
    J = ricci.jacobian(ricci.tanh(a), b)  # identically zero, 2000 x 3000 float64 = 48 MB
    assert J.shape == (2000, 3000)
    inputs = {a.name: np.ones(2000), b.name: np.ones(3000)}
    ricci.set_memory_budget(MiB)
    with NoBigAllocation(MiB), pytest.raises(ricci.MemoryBudgetError) as info:
        J.evaluate(inputs)
    msg = str(info.value)
    assert mentions_shape(msg, (2000, 3000)) and mentions_bytes(msg, 48_000_000), msg
    with NoBigAllocation(MiB), pytest.raises(ricci.MemoryBudgetError):
        ricci.evaluate([J], inputs)
    # under the budget it is the zero matrix (the check is not simply always refusing)
    ricci.set_memory_budget(64 * MiB)
    got = J.evaluate(inputs)
    assert got.shape == (2000, 3000) and not np.any(got)


def test_all_zeros_result_refused_with_per_call_budget():
    a, b = T((2000,)), T((3000,))
    J = ricci.jacobian(ricci.tanh(a), b)
    with NoBigAllocation(MiB), pytest.raises(ricci.MemoryBudgetError):
        J.evaluate({a.name: np.ones(2000), b.name: np.ones(3000)}, memory_budget=MiB)


def test_identity_jacobian_result_refused_before_allocating():
    x = T((3000,))
    J = ricci.jacobian(2 * x, x)  # 2 δ: 3000 x 3000 float64 = 72 MB dense
    with NoBigAllocation(MiB), pytest.raises(ricci.MemoryBudgetError) as info:
        J.evaluate({x.name: np.ones(3000)}, memory_budget=MiB)
    msg = str(info.value)
    assert mentions_shape(msg, (3000, 3000)) and mentions_bytes(msg, 72_000_000), msg
    assert suggests_derivative_products(msg), "a generalized Jacobian: the message should point to vjp/grad"
    small = T((4,))
    np.testing.assert_array_equal(ricci.jacobian(2 * small, small).evaluate({small.name: np.ones(4)}), 2 * np.eye(4))


# ---------------------------------------------------------------------------
# factored results
# ---------------------------------------------------------------------------
def _gauss_newton_hessian(m, n, k):
    U, V = T((m, k), "U"), T((n, k), "V")
    H = ricci.hessian(ricci.norm2(ricci.einsum("ik,jk->ij", U, V)), U)  # 2 δ ⊗ VᵀV
    return U, V, H


def test_structured_todense_over_budget(restore_memory_budget):
    rng = np.random.default_rng(1)
    U, V, H = _gauss_newton_hessian(200, 30, 20)  # dense 200*20*200*20 float64 = 128 MB
    inputs = {U.name: rng.normal(size=(200, 20)), V.name: rng.normal(size=(30, 20))}
    ricci.set_memory_budget(MiB)
    h = H.evaluate(inputs, structured=True)  # the factored core (20 x 20) fits
    assert isinstance(h, ricci.Structured)
    assert h.dense_nbytes == 200 * 20 * 200 * 20 * 8
    with NoBigAllocation(MiB), pytest.raises(ricci.MemoryBudgetError) as info:
        h.todense()
    msg = str(info.value)
    assert mentions_bytes(msg, 128_000_000), msg
    with NoBigAllocation(MiB), pytest.raises(ricci.MemoryBudgetError):
        h.todense(memory_budget=MiB)
    with NoBigAllocation(MiB), pytest.raises(ricci.MemoryBudgetError):
        np.asarray(h)


def test_structured_todense_within_budget_is_the_closed_form():
    rng = np.random.default_rng(2)
    U, V, H = _gauss_newton_hessian(5, 4, 3)
    v = rng.normal(size=(4, 3))
    h = H.evaluate({U.name: rng.normal(size=(5, 3)), V.name: v}, structured=True)
    expected = 2 * np.einsum("ac,bd->abcd", np.eye(5), v.T @ v)
    np.testing.assert_allclose(h.todense(memory_budget=MiB), expected, rtol=1e-12, atol=1e-12)


def test_todense_of_a_2_to_the_66_element_jacobian_raises_budget_error_not_overflow():
    x = T((2**33,))
    J = ricci.jacobian(3 * x, x)  # 3 δ of shape (2**33, 2**33): 2**66 elements
    assert J.shape == (2**33, 2**33)
    zero = np.broadcast_to(np.float64(0.0), (2**33,))  # no memory behind it
    h = ricci.evaluate(J, {x.name: zero}, structured=True)
    assert isinstance(h, ricci.Structured)
    assert h.dense_nbytes == 2**66 * 8, "dense size must be an exact Python int, not wrapped int64"
    with NoBigAllocation(MiB), pytest.raises(ricci.MemoryBudgetError) as info:
        h.todense()
    assert mentions_bytes(str(info.value), 2**69, rel=0.02) or "2**66" in str(info.value).replace(" ", ""), str(info.value)


def test_dense_evaluation_of_a_2_to_the_66_element_jacobian_is_refused():
    x = T((2**33,))
    J = ricci.jacobian(3 * x, x)
    zero = np.broadcast_to(np.float64(0.0), (2**33,))
    with NoBigAllocation(MiB), pytest.raises(ricci.MemoryBudgetError):
        J.evaluate({x.name: zero})


def test_structured_dot_over_budget(restore_memory_budget):
    rng = np.random.default_rng(3)
    U, V, H = _gauss_newton_hessian(300, 30, 20)
    v = rng.normal(size=(30, 20))
    h = H.evaluate({U.name: rng.normal(size=(300, 20)), V.name: v}, structured=True)
    ricci.set_memory_budget(MiB)
    # a Hessian-vector product is small and allowed: 2 W VᵀV
    W = rng.normal(size=(300, 20))
    np.testing.assert_allclose(h.dot(W), 2 * W @ (v.T @ v), rtol=1e-12, atol=1e-10)
    # contracting only the last axis keeps both ends of the delta: 300 x 20 x 300 = 14.4 MB
    with NoBigAllocation(MiB), pytest.raises(ricci.MemoryBudgetError) as info:
        h.dot(np.ones(20))
    msg = str(info.value)
    assert mentions_shape(msg, (300, 20, 300)) and mentions_bytes(msg, 300 * 20 * 300 * 8), msg


# ---------------------------------------------------------------------------
# intermediates and results of a compiled program
# ---------------------------------------------------------------------------
def test_intermediate_over_budget_is_named_with_shape_and_bytes(restore_memory_budget):
    a, b = T((1000,)), T((1000,))
    y = ricci.einsum("ij->", ricci.tanh(ricci.einsum("i,j->ij", a, b)))  # a scalar through a 1000x1000 tanh
    inputs = {a.name: np.ones(1000), b.name: np.ones(1000)}
    ricci.set_memory_budget(MiB)
    with NoBigAllocation(MiB), pytest.raises(ricci.MemoryBudgetError) as info:
        y.evaluate(inputs)
    msg = str(info.value)
    assert "intermediate" in msg.lower(), msg
    assert mentions_shape(msg, (1000, 1000)), msg
    assert mentions_bytes(msg, 8_000_000), msg
    assert not suggests_derivative_products(msg), "not a generalized Jacobian: no vjp/grad/hvp advice"
    assert "generalized jacobian" not in msg.lower()
    ricci.set_memory_budget(64 * MiB)
    np.testing.assert_allclose(y.evaluate(inputs), 1e6 * np.tanh(1.0))


def test_intermediate_over_budget_in_compiled_function():
    a, b = T((1000,)), T((1000,))
    y = ricci.einsum("ij->", ricci.tanh(ricci.einsum("i,j->ij", a, b)))
    f = ricci.compile(y)
    inputs = {a.name: np.ones(1000), b.name: np.ones(1000)}
    old = ricci.set_memory_budget(MiB)
    try:
        with NoBigAllocation(MiB), pytest.raises(ricci.MemoryBudgetError) as info:
            f(inputs)
    finally:
        ricci.set_memory_budget(old)
    assert "intermediate" in str(info.value).lower() and mentions_shape(str(info.value), (1000, 1000))
    np.testing.assert_allclose(f(inputs), 1e6 * np.tanh(1.0))


def test_result_over_budget_is_named_as_the_result():
    a, b = T((1000,)), T((1000,))
    y = ricci.einsum("i,j->ij", a, b)  # an outer product, not a Jacobian
    with NoBigAllocation(MiB), pytest.raises(ricci.MemoryBudgetError) as info:
        y.evaluate({a.name: np.ones(1000), b.name: np.ones(1000)}, memory_budget=MiB)
    msg = str(info.value)
    assert "result" in msg.lower(), msg
    assert mentions_shape(msg, (1000, 1000)) and mentions_bytes(msg, 8_000_000), msg
    assert not suggests_derivative_products(msg), msg
    assert "generalized jacobian" not in msg.lower()


def test_one_result_of_several_over_budget_is_named():
    a, b = T((1000,)), T((1000,))
    small, big = ricci.einsum("i,i->", a, b), ricci.einsum("i,j->ij", a, b)
    with pytest.raises(ricci.MemoryBudgetError) as info:
        ricci.evaluate([small, big], {a.name: np.ones(1000), b.name: np.ones(1000)}, memory_budget=MiB)
    msg = str(info.value)
    assert "result" in msg.lower() and mentions_shape(msg, (1000, 1000)), msg


def test_generalized_jacobian_over_budget_suggests_vjp_or_grad():
    W, x = T((100, 100)), T((100,))
    J = ricci.jacobian(ricci.tanh(W @ x), W)  # 100 x 100 x 100 = 8 MB
    with NoBigAllocation(MiB), pytest.raises(ricci.MemoryBudgetError) as info:
        J.evaluate({W.name: np.eye(100), x.name: np.ones(100)}, memory_budget=MiB)
    msg = str(info.value)
    assert suggests_derivative_products(msg), msg
    assert mentions_shape(msg, (100, 100, 100)) and mentions_bytes(msg, 8_000_000), msg


def test_hessian_over_budget_suggests_hvp():
    x = T((1000,))
    H = ricci.hessian(ricci.einsum("i->", ricci.tanh(x) * x), x)  # 1000 x 1000 = 8 MB (a diagonal)
    with pytest.raises(ricci.MemoryBudgetError) as info:
        H.evaluate({x.name: np.ones(1000)}, memory_budget=MiB)
    assert suggests_derivative_products(str(info.value)), str(info.value)


# ---------------------------------------------------------------------------
# the 200,000 x 2,000 logistic Hessian (checked in a subprocess: never allocates 3.2 GB)
# ---------------------------------------------------------------------------
LOGISTIC = textwrap.dedent("""
    import json, resource
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))  # a 3.2 GB intermediate cannot fit
    import numpy as np, ricci
    n, p = 200_000, 2_000
    X, w = ricci.Tensor("X", (n, p)), ricci.Tensor("w", (p,))
    z = X @ w
    loss = ricci.einsum("i->", ricci.log(1 + ricci.exp(z)))
    H = ricci.hessian(loss, w)
    assert H.shape == (p, p)
    inputs = {"X": np.broadcast_to(np.float64(1e-3), (n, p)), "w": np.zeros(p)}
    try:
        H.evaluate(inputs, memory_budget=64 * 2**20)   # the (2000, 2000) result is 32 MB: it fits
        out = {"raised": None}
    except BaseException as e:
        out = {"raised": type(e).__name__, "mro": [c.__name__ for c in type(e).__mro__], "msg": str(e)}
    print("RESULT " + json.dumps(out))
""")


def test_logistic_hessian_refusal_names_the_intermediate_not_the_result():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", LOGISTIC], capture_output=True, text=True, timeout=240, env=env)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert lines, f"no result (rc {proc.returncode}): {proc.stderr[-2000:]}"
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["raised"] == "MemoryBudgetError", out
    msg = out["msg"]
    assert "intermediate" in msg.lower(), msg
    assert mentions_shape(msg, (200_000, 2_000)) or mentions_shape(msg, (2_000, 200_000)), msg
    assert mentions_bytes(msg, 200_000 * 2_000 * 8), msg
    assert "generalized jacobian" not in msg.lower(), msg
    # the 32 MB result is not what is blamed
    assert not re.search(r"result of shape \(2000, 2000\)", msg), msg
