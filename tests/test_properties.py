"""Hypothesis property tests over random einsum networks.

A strategy draws a *network spec* (subscripts, operand kinds, which operands are
variables -- possibly the same variable at several positions --, elementwise
wrappers, a final combination).  ``build`` turns a spec plus a seed into

  * a ricci expression,
  * an independent float64 numpy reference function ``ref(inputs)``,
  * the inputs dict and the list of distinct variables.

Derivatives are compared with central finite differences of ``ref``.
"""
import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import ricci
from conftest import assert_close, check_derivative, fd_jacobian, fresh_name, make_rng, rand

LETTERS = "abcde"

# RICCI_HYPOTHESIS_SCALE=20 multiplies the number of examples (bug hunting).
SCALE = max(1, int(os.environ.get("RICCI_HYPOTHESIS_SCALE", "1")))


def n_examples(k):
    return k * SCALE


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


# operand wrappers (applied to variable operands; arguments are in [-1, 1])
OP_WRAPS = {
    "none": (lambda X: X, lambda x: x),
    "tanh": (lambda X: ricci.tanh(X), np.tanh),
    "sin": (lambda X: ricci.sin(X), np.sin),
    "sigmoid": (lambda X: ricci.sigmoid(X), _sigmoid),
    "exp_half": (lambda X: ricci.exp(X * 0.5), lambda x: np.exp(x * 0.5)),
    "x*x+x": (lambda X: X * X + X, lambda x: x * x + x),
}

# final wrappers; ``s`` is a positive Python constant that scales the raw
# einsum result to O(1) so that bounded-derivative functions stay well inside
# the regime where central differences are accurate.
FINAL_WRAPS = {
    "none": (lambda E, s: E, lambda e, s: e),
    "tanh": (lambda E, s: ricci.tanh(E * s), lambda e, s: np.tanh(e * s)),
    "sin": (lambda E, s: ricci.sin(s * E), lambda e, s: np.sin(s * e)),
    "sigmoid": (lambda E, s: ricci.sigmoid(E * s), lambda e, s: _sigmoid(e * s)),
    "E+sin(sE)": (lambda E, s: E + ricci.sin(E * s), lambda e, s: e + np.sin(e * s)),
    "E*tanh(sE)": (lambda E, s: E * ricci.tanh(E * s), lambda e, s: e * np.tanh(e * s)),
    "2E-3tanh(sE)": (lambda E, s: 2.0 * E - ricci.tanh(E * s) * 3.0,
                     lambda e, s: 2.0 * e - np.tanh(e * s) * 3.0),
    "-E/(1+(sE)^2)": (lambda E, s: -E / (1 + (E * s) ** 2), lambda e, s: -e / (1 + (e * s) ** 2)),
}


@st.composite
def networks(draw, max_ops=5, max_rank=4):
    n_letters = draw(st.integers(1, len(LETTERS)))
    letters = LETTERS[:n_letters]
    dims = {c: draw(st.integers(1, 3)) for c in letters}
    n_ops = draw(st.integers(1, max_ops))
    var_shapes = []  # distinct variables
    ops = []
    for _ in range(n_ops):
        kinds = ["var", "const"] + (["reuse"] if var_shapes else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "reuse":
            k = draw(st.integers(0, len(var_shapes) - 1))
            idx = "".join(
                draw(st.sampled_from([c for c in letters if dims[c] == d])) for d in var_shapes[k]
            )
            ops.append({"kind": "var", "var": k, "idx": idx})
            continue
        rank = draw(st.integers(0, max_rank))
        idx = "".join(draw(st.sampled_from(letters)) for _ in range(rank))
        if kind == "var":
            var_shapes.append(tuple(dims[c] for c in idx))
            ops.append({"kind": "var", "var": len(var_shapes) - 1, "idx": idx})
        else:
            op = {"kind": "const", "idx": idx}
            if rank == 0:
                op["pyfloat"] = draw(st.booleans())
            ops.append(op)
    if not var_shapes:  # at least one variable
        p = draw(st.integers(0, n_ops - 1))
        var_shapes.append(tuple(dims[c] for c in ops[p]["idx"]))
        ops[p] = {"kind": "var", "var": 0, "idx": ops[p]["idx"]}
    for op in ops:
        if op["kind"] == "var":
            op["wrap"] = draw(st.sampled_from(sorted(OP_WRAPS)))
    appearing = sorted({c for op in ops for c in op["idx"]})
    implicit = draw(st.integers(0, 3)) == 0
    lhs = ",".join(op["idx"] for op in ops)
    if implicit:
        subscripts = lhs
    else:
        out = draw(
            st.lists(st.sampled_from(appearing), unique=True, max_size=min(4, len(appearing)))
            if appearing
            else st.just([])
        )
        subscripts = lhs + "->" + "".join(out)
    final = draw(st.sampled_from(sorted(FINAL_WRAPS)))
    return {"subscripts": subscripts, "dims": dims, "ops": ops, "var_shapes": var_shapes, "final": final}


def build(spec, seed):
    rng = make_rng(seed)
    var_tensors, var_names, inputs = [], [], {}
    for k, shape in enumerate(spec["var_shapes"]):
        name = fresh_name("v%d" % k)
        var_tensors.append(ricci.Tensor(name, shape))
        var_names.append(name)
        inputs[name] = rand(shape, rng)
    r_ops, np_fns = [], []
    for op in spec["ops"]:
        if op["kind"] == "const":
            shape = tuple(spec["dims"][c] for c in op["idx"])
            value = rand(shape, rng)
            if op.get("pyfloat"):
                value = float(value)
            r_ops.append(value)
            np_fns.append(lambda d, v=value: v)
        else:
            rw, nw = OP_WRAPS[op["wrap"]]
            r_ops.append(rw(var_tensors[op["var"]]))
            np_fns.append(lambda d, n=var_names[op["var"]], nw=nw: nw(d[n]))
    sub = spec["subscripts"]
    raw = ricci.einsum(sub, *r_ops)

    def raw_np(d):
        return np.einsum(sub, *[f(d) for f in np_fns])

    e0 = np.asarray(raw_np(inputs))
    s = 1.0 / (1.0 + float(np.max(np.abs(e0)))) if e0.size else 1.0
    rf, nf = FINAL_WRAPS[spec["final"]]
    expr = rf(raw, s)

    def ref(d):
        return nf(np.asarray(raw_np(d), dtype=np.float64), s)

    return expr, ref, inputs, list(zip(var_tensors, var_names))


seeds = st.integers(0, 2**31 - 1)


@settings(max_examples=n_examples(100))
@given(spec=networks(), seed=seeds)
def test_forward_matches_numpy(spec, seed):
    expr, ref, inputs, _ = build(spec, seed)
    expected = ref(inputs)
    assert tuple(expr.shape) == expected.shape
    assert expr.ndim == expected.ndim
    assert_close(expr.evaluate(inputs), expected, rtol=1e-10, atol=1e-12)


@settings(max_examples=n_examples(100))
@given(spec=networks(), seed=seeds, optimize=st.sampled_from(["auto", "greedy"]))
def test_grad_of_scalar_reduction_matches_fd(spec, seed, optimize):
    expr, ref, inputs, variables = build(spec, seed)
    rng = make_rng(seed + 1)
    for var, name in variables:
        check_derivative("grad", expr, ref, inputs, var, name, rng, optimize=optimize)


@settings(max_examples=n_examples(80))
@given(spec=networks(), seed=seeds)
def test_vjp_matches_fd(spec, seed):
    expr, ref, inputs, variables = build(spec, seed)
    rng = make_rng(seed + 2)
    for var, name in variables:
        check_derivative("vjp", expr, ref, inputs, var, name, rng)


@settings(max_examples=n_examples(80))
@given(spec=networks(), seed=seeds)
def test_jvp_matches_fd(spec, seed):
    expr, ref, inputs, variables = build(spec, seed)
    rng = make_rng(seed + 3)
    for var, name in variables:
        check_derivative("jvp", expr, ref, inputs, var, name, rng)


@settings(max_examples=n_examples(60))
@given(spec=networks(), seed=seeds)
def test_jacobian_matches_fd(spec, seed):
    expr, ref, inputs, variables = build(spec, seed)
    rng = make_rng(seed + 4)
    for var, name in variables:
        check_derivative("jacobian", expr, ref, inputs, var, name, rng)


@settings(max_examples=n_examples(40))
@given(spec=networks(max_ops=4, max_rank=3), seed=seeds)
def test_hessian_matches_fd_of_grad(spec, seed):
    """Hessian of a scalar reduction vs FD of ricci.grad (grad itself is
    FD-checked in test_grad_of_scalar_reduction_matches_fd)."""
    expr, ref, inputs, variables = build(spec, seed)
    var, name = variables[0]
    rng = make_rng(seed + 5)
    w = rand(tuple(expr.shape), rng)
    s = "pqrstuvw"[: len(expr.shape)]
    L = ricci.einsum("%s,%s->" % (s, s), expr, w)
    g = ricci.grad(L, var)
    H = ricci.hessian(L, var)
    shape = inputs[name].shape
    assert tuple(H.shape) == shape + shape
    expected = fd_jacobian(lambda d: np.asarray(g.evaluate(d), dtype=np.float64), inputs, name)
    assert_close(H.evaluate(inputs), expected, rtol=1e-5, atol=1e-6)


def test_strategy_covers_interesting_structures():
    """Guard against a degenerate strategy: sample specs and check that hyperedges,
    repeated indices, reused variables, outer products, full sums and implicit
    outputs all occur."""

    seen = set()

    @settings(max_examples=300, database=None)
    @given(spec=networks())
    def collect(spec):
        sub = spec["subscripts"]
        lhs, _, out = sub.partition("->")
        terms = lhs.split(",")
        counts = {}
        for t in terms:
            if len(set(t)) < len(t):
                seen.add("repeated")
            for c in set(t):
                counts[c] = counts.get(c, 0) + 1
        if any(v >= 3 for v in counts.values()):
            seen.add("hyperedge")
        if "->" not in sub:
            seen.add("implicit")
        elif out == "":
            seen.add("fullsum")
        if len(terms) >= 2 and all(counts[c] == 1 for t in terms for c in t) and all(terms):
            seen.add("outer")
        var_ids = [op["var"] for op in spec["ops"] if op["kind"] == "var"]
        if len(var_ids) != len(set(var_ids)):
            seen.add("reuse")
        if any(op["kind"] == "const" for op in spec["ops"]):
            seen.add("const")

    collect()
    assert {"repeated", "hyperedge", "implicit", "fullsum", "outer", "reuse", "const"} <= seen, seen
