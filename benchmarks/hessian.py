"""Hessians: ricci's derived Hessian vs the closed form, jax.hessian (jit) and torch's hessian.

Four problems, two kinds of answer (float64 throughout)::

    dense answers
      quadratic   x -> x^T A x                     H = A + A^T                       (n, n)
      logistic    w -> sum_i log(1 + exp(-y_i x_i^T w))
                                                   H = X^T diag(s (1 - s)) X,         (n, n)
                                                   s = sigmoid(y * Xw), X is (N, n)
    structured answers (Kronecker deltas between the Hessian's indices)
      matfac      U -> ||U V^T - Y||^2             H[a,b,c,d] = 2 delta_ac (V^T V)_bd (m, k, m, k)
      linreg      W -> ||X W - Y||^2               H[a,b,c,d] = 2 (X^T X)_ac delta_bd (q, r, q, r)

Sizes: for n in 100, 300, 1000, 3000 --
    quadratic  x is (n,), A is (n, n).
    logistic   w is (n,), X is (N, n) with N = 2n samples: more samples than
               features, as in any well-posed regression, so X^T D X is full
               rank (a typical Newton step), and N grows with n so the
               Hessian's cost 2 N n^2 keeps the closed form's O(n^3) shape.
               X ~ N(0, 1/n), y = +-1, w ~ N(0, 1): margins are O(1), so
               s(1 - s) is not vanishingly small anywhere.
    matfac     (m, n, k) = (n, n, max(10, n // 10)): an n x n data matrix of
               rank n/10; plus the case (m, n, k) = (1000, 300, 20) of the
               issue, where the dense Hessian is 3.2 GB and jax.hessian's
               compiled program needs ~54 GB (~27 GB in float32).
    linreg     X is (p, q) = (2n, n), W is (q, r) = (n, 10), Y is (2n, 10):
               least squares with 10 outputs and twice as many samples as features.

Methods (each result is checked against the closed form, see "correctness")
    closed form   the hand-written numpy formula above. For the structured
                  problems it is the factored answer (the small core 2 V^T V or
                  2 X^T X), the reference of the structured table; the dense
                  (m k)^2 or (q r)^2 array built from it is "closed dense".
    ricci         ``H = ricci.hessian(L, x)`` is derived once (not timed; its
                  time is reported as "derive"), the first ``H.evaluate`` (which
                  plans the contraction) is reported as "first evaluate", then
                  ``H.evaluate(inputs)`` -- ``structured=True`` for the
                  structured problems, returning a ricci.Structured -- is timed.
                  "ricci dense" times ``H.evaluate(inputs)`` materialized.
    jax.hessian   ``jax.jit(jax.hessian(f))`` with float64 enabled; compilation
                  (lower + compile) is excluded from the timing and reported.
    torch.hessian ``torch.autograd.functional.hessian(f, x, vectorize=True)``
                  (falling back to vectorize=False if that raises), float64.

Processes: the numpy methods (closed form, ricci), jax and torch each run in
their own fresh child process (this script with a hidden ``--child`` flag),
one after the other, so that no library's thread pool spins next to
another's (on a 2-core machine XLA's or torch's idle workers slowed numpy
calls in the same process up to 100x). In the jax and torch children numpy
only computes the references, with one BLAS thread.

Threads: every library runs single-threaded by default (``--threads 1``:
OMP/OPENBLAS/MKL_NUM_THREADS=1, XLA's intra-op parallelism off, torch 1
thread). On the 2-vCPU machine the committed
results come from, 2-thread OpenBLAS calls on small matrices were bimodal
(0.2 ms or 16 ms for the same call, whenever anything else ran), while one
thread gave stable times that were also the fastest; all methods get the same
single core, so the comparison stays fair. ``--threads 0`` uses each
library's own default, ``--threads N`` N threads (children pinned to N CPUs
when fewer than all, which also caps XLA's pool).

Timing: the first call of each method produces the result that is checked;
fast methods (first call < 1 s) then get ``--repeat`` repeats of enough calls
to last >= ~20 ms each, slow ones as many single-call repeats as fit in
``--time-budget`` seconds (if none fits, the first call is the only sample).
The median per call is reported (the fastest repeat too, in the JSON), and a
median above 1.25x the fastest repeat is flagged "*" as noisy. Closed form and
ricci (and closed dense / ricci dense) alternate their repeats, so a burst of
load from elsewhere on the machine hits both and their ratio stays fair.

Guards (so that the benchmark cannot take the machine down):
    memory  before running a method its peak allocation is predicted and the
            method is skipped ("would allocate X GB") above ``--budget-gib``
            (default 4 GiB): for jax, the larger of XLA's own
            ``compiled.memory_analysis()`` (arguments + output + temporaries;
            compiling allocates nothing) and the estimate below; for torch, the
            estimate itemsize * (2 H + R F), where H is the dense Hessian's
            element count, R the number of Hessian rows (the size of the
            variable) and F the largest intermediate of the function (the
            vectorized second pass pushes R tangents/cotangents through it);
            for the dense closed form and ricci dense, the dense Hessian (and
            ricci's planned largest intermediate).
    time    a peer (any method but ricci structured / closed form) is skipped
            at a size when it took > ``--time-budget`` seconds (default 20) at a
            smaller size of the same problem, or when its time at the largest
            smaller size, scaled by (H / H_prev)^1.5 (cubic in n for the dense
            problems), predicts more than 5x the budget.

Correctness: np.allclose(result, reference, rtol=1e-6, atol=1e-6 * max|reference|).
Dense problems compare with the closed form. For structured problems ricci's
factored result must have the expected layout (core axes and delta pairs) and
its core must match the closed-form core; its ``todense()`` (and every dense
result of another method) is compared with the closed dense array when that is
at most ``--check-budget-gib`` (default 1 GiB).

Targets (printed as MET / MISSED, never asserted):
    T1  ricci within 1.5x of the closed form (median time) for every problem and
        size (structured problems: ricci structured vs the factored closed form);
    T2  ricci faster than jax.hessian on every dense-answer problem (checked
        where jax ran; a jax skip is listed);
    T3  ricci's factored matrix-factorization Hessian at (m, n, k) = (1000, 300,
        20) evaluates in milliseconds (median below 10 ms) and is correct.

Results go to hessian.json (hessian_small.json for ``--sizes small``,
hessian_custom.json for explicit sizes) in benchmarks/out/ (untracked) unless ``--save``
writes benchmarks/results/; ``--out`` wins.

Run (from the repository root)::

    .venv/bin/python benchmarks/hessian.py                   # n = 100, 300, 1000, 3000 (+ (1000, 300, 20))
    .venv/bin/python benchmarks/hessian.py --sizes small     # smoke test: n = 100 only
    .venv/bin/python benchmarks/hessian.py --sizes 100,300 --peers jax --repeat 3
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmark the checkout this script lives in
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks._measure import environment  # noqa: E402
from benchmarks._paths import add_save_argument, output_path  # noqa: E402

SIZES = [100, 300, 1000, 3000]
MF_CASE = (1000, 300, 20)
TARGET_RATIO = 1.5
MF_TARGET_S = 0.010
PREDICT_EXPONENT = 1.5
PREDICT_FACTOR = 5.0
RTOL = 1e-6
NOISY_RATIO = 1.25  # median/min above this is flagged as a noisy timing
GiB, GB = 2.0**30, 1e9
PEERS = ("jax", "torch")
ITEMSIZE = 8  # float64
CHILD_TIMEOUT_S = 4 * 3600
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# --------------------------------------------------------------------------- problems


class Problem:
    """One loss, its variable, inputs, closed form and the peers' versions of it."""

    key = kind = title = ""
    wrt = ""
    others: tuple = ()

    def __init__(self, dims):
        self.dims = tuple(dims)

    # subclasses: shapes(), label(), make_inputs(rng), ricci_loss(T), closed(inp),
    # jax_f(jnp), torch_f(torch, others), fwd_max()
    @property
    def wrt_size(self):
        return math.prod(self.shapes()[self.wrt])

    @property
    def hessian_shape(self):
        s = self.shapes()[self.wrt]
        return s + s

    @property
    def hessian_elements(self):
        return self.wrt_size**2

    def peer_estimate_bytes(self):
        """itemsize * (2 H + R F): output, the seeded basis, R tangents through the largest intermediate."""
        return ITEMSIZE * (2 * self.hessian_elements + self.wrt_size * self.fwd_max())

    def ricci_hessian(self):
        import ricci

        # kept alive: ricci accepts inputs by the names of live Tensors (H may not use them all)
        self.tensors = T = {name: ricci.Tensor(name, shape) for name, shape in self.shapes().items()}
        L = self.ricci_loss(T)
        t = time.perf_counter()
        H = ricci.hessian(L, T[self.wrt])
        return H, time.perf_counter() - t


class Quadratic(Problem):
    key, kind, title, wrt, others = "quadratic", "dense", "x'Ax", "x", ("A",)

    def shapes(self):
        (n,) = self.dims
        return {"x": (n,), "A": (n, n)}

    def label(self):
        return f"n={self.dims[0]}"

    def make_inputs(self, rng):
        (n,) = self.dims
        return {"x": rng.standard_normal(n), "A": rng.standard_normal((n, n))}

    def ricci_loss(self, T):
        import ricci

        return ricci.einsum("i,ij,j->", T["x"], T["A"], T["x"])

    @staticmethod
    def closed(x, A):
        return A + A.T

    @staticmethod
    def jax_f(jnp):
        return lambda x, A: x @ A @ x

    @staticmethod
    def torch_f(torch, A):
        return lambda x: x @ A @ x

    def fwd_max(self):
        return self.dims[0]


class Logistic(Problem):
    key, kind, title, wrt, others = "logistic", "dense", "logistic", "w", ("X", "y")

    def shapes(self):
        (n,) = self.dims
        return {"w": (n,), "X": (2 * n, n), "y": (2 * n,)}

    def label(self):
        n = self.dims[0]
        return f"n={n} (N={2 * n})"

    def make_inputs(self, rng):
        (n,) = self.dims
        return {
            "w": rng.standard_normal(n),
            "X": rng.standard_normal((2 * n, n)) / np.sqrt(n),
            "y": np.where(rng.random(2 * n) < 0.5, -1.0, 1.0),
        }

    def ricci_loss(self, T):
        import ricci

        z = ricci.einsum("i,ij,j->i", T["y"], T["X"], T["w"])
        return ricci.einsum("i->", ricci.log(1 + ricci.exp(-z)))

    @staticmethod
    def closed(w, X, y):
        s = 1.0 / (1.0 + np.exp(-y * (X @ w)))
        return X.T @ ((s * (1.0 - s))[:, None] * X)

    @staticmethod
    def jax_f(jnp):
        return lambda w, X, y: jnp.sum(jnp.log1p(jnp.exp(-y * (X @ w))))

    @staticmethod
    def torch_f(torch, X, y):
        return lambda w: torch.log1p(torch.exp(-y * (X @ w))).sum()

    def fwd_max(self):
        return 2 * self.dims[0]


class MatFac(Problem):
    """U -> ||U V^T - Y||^2, Hessian 2 delta_ac (V^T V)_bd."""

    key, kind, title, wrt, others = "matfac", "structured", "||UV'-Y||^2", "U", ("V", "Y")
    core_axes, deltas = (1, 3), ((0, 2),)

    def shapes(self):
        m, n, k = self.dims
        return {"U": (m, k), "V": (n, k), "Y": (m, n)}

    def label(self):
        return "(m,n,k)=({},{},{})".format(*self.dims)

    def make_inputs(self, rng):
        m, n, k = self.dims
        return {"U": rng.standard_normal((m, k)), "V": rng.standard_normal((n, k)),
                "Y": rng.standard_normal((m, n))}

    def ricci_loss(self, T):
        import ricci

        return ricci.norm2(ricci.einsum("ik,jk->ij", T["U"], T["V"]) - T["Y"])

    @staticmethod
    def closed_core(U, V, Y):
        return 2.0 * (V.T @ V)

    def closed_dense(self, core):
        m, _, k = self.dims
        H = np.zeros((m, k, m, k))
        i = np.arange(m)
        H[i, :, i, :] = core  # H[i, b, i, d] = core[b, d]
        return H

    @staticmethod
    def jax_f(jnp):
        return lambda U, V, Y: jnp.sum((U @ V.T - Y) ** 2)

    @staticmethod
    def torch_f(torch, V, Y):
        return lambda U: ((U @ V.T - Y) ** 2).sum()

    def fwd_max(self):
        m, n, _ = self.dims
        return m * n


class LinReg(Problem):
    """W -> ||X W - Y||^2, Hessian 2 (X^T X)_ac delta_bd."""

    key, kind, title, wrt, others = "linreg", "structured", "||XW-Y||^2", "W", ("X", "Y")
    core_axes, deltas = (0, 2), ((1, 3),)

    def shapes(self):
        p, q, r = self.dims
        return {"W": (q, r), "X": (p, q), "Y": (p, r)}

    def label(self):
        return "(p,q,r)=({},{},{})".format(*self.dims)

    def make_inputs(self, rng):
        p, q, r = self.dims
        return {"W": rng.standard_normal((q, r)), "X": rng.standard_normal((p, q)),
                "Y": rng.standard_normal((p, r))}

    def ricci_loss(self, T):
        import ricci

        return ricci.norm2(ricci.einsum("ij,jk->ik", T["X"], T["W"]) - T["Y"])

    @staticmethod
    def closed_core(W, X, Y):
        return 2.0 * (X.T @ X)

    def closed_dense(self, core):
        _, q, r = self.dims
        H = np.zeros((q, r, q, r))
        j = np.arange(r)
        H[:, j, :, j] = core  # H[a, j, c, j] = core[a, c]
        return H

    @staticmethod
    def jax_f(jnp):
        return lambda W, X, Y: jnp.sum((X @ W - Y) ** 2)

    @staticmethod
    def torch_f(torch, X, Y):
        return lambda W: ((X @ W - Y) ** 2).sum()

    def fwd_max(self):
        p, _, r = self.dims
        return p * r


def cases(sizes, with_mf_case):
    """All (problem instance) cases, in run order: dense problems first, growing sizes."""
    out = [Quadratic((n,)) for n in sizes] + [Logistic((n,)) for n in sizes]
    out += [MatFac((n, n, max(10, n // 10))) for n in sizes]
    if with_mf_case:
        out.append(MatFac(MF_CASE))
    out += [LinReg((2 * n, n, 10)) for n in sizes]
    return out


# --------------------------------------------------------------------------- measuring


def measure_together(entries, repeat, time_budget):
    """Time several methods with their repeats interleaved; ``entries`` is ``[(name, fn, check)]``.

    Each ``fn`` is called once first and ``check(result)`` recorded (a dict); then
    fast methods (first call < 1 s) get ``number`` calls per repeat so that a
    repeat lasts >= ~20 ms, slow ones one call per repeat and only as many
    repeats as fit in ``time_budget`` (if none fits, the first call is the only
    sample). The repeats of the methods alternate (A B A B ...), so a burst of
    machine noise hits them alike and their ratio stays meaningful.
    Returns ``{name: record}`` with median_s, min_s, times_s, first_call_s, ...
    """
    recs, plans = {}, []
    for name, fn, check in entries:
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        first = time.perf_counter() - t0
        recs[name] = {"run": True, "first_call_s": first, **check(result)}
        del result
        gc.collect()
        timer = timeit.Timer(fn)
        if first < 1.0:
            number = 1
            while timer.timeit(number) < 0.02 and number < 10_000:
                number *= 10
            plans.append([name, timer, number, repeat])
        else:
            plans.append([name, timer, 1, min(repeat, int(time_budget // first))])
        recs[name]["calls_per_repeat"] = plans[-1][2]
        recs[name]["times_s"] = []
    for _ in range(max(p[3] for p in plans)):
        for name, timer, number, left in plans:
            if len(recs[name]["times_s"]) < left:
                recs[name]["times_s"].append(timer.timeit(number) / number)
                if number == 1:
                    gc.collect()
    for name, rec in recs.items():
        if not rec["times_s"]:
            rec["times_s"], rec["note"] = [rec["first_call_s"]], "single sample (the checked first call)"
        rec["median_s"] = statistics.median(rec["times_s"])
        rec["min_s"] = min(rec["times_s"])
        rec["noisy"] = rec["median_s"] > NOISY_RATIO * rec["min_s"]
    return recs


def compare(got, ref):
    """np.allclose with atol scaled by the reference's magnitude; returns a dict for the record."""
    if ref is None:
        return {"check": "not checked (reference over --check-budget-gib)"}
    got = np.asarray(got)
    if got.shape != ref.shape:
        return {"allclose": False, "check": f"shape {got.shape} != {ref.shape}"}
    scale = float(np.max(np.abs(ref))) or 1.0
    err = float(np.max(np.abs(got - ref))) / scale
    ok = bool(np.allclose(got, ref, rtol=RTOL, atol=RTOL * scale))
    return {"allclose": ok, "max_rel_err": err, "check": "vs closed form"}


def reference_only(_):
    return {"check": "reference"}


class TimeGuard:
    """Skip a (problem, method) at a size when a smaller size was too slow."""

    def __init__(self, budget):
        self.budget, self.seen = budget, {}

    def reason(self, problem, method):
        H = problem.hessian_elements
        prev = [(h, s) for h, s in self.seen.get((problem.key, method), []) if h <= H]
        if not prev:
            return None
        slow = [s for _, s in prev if s > self.budget]
        if slow:
            return (f"skipped: took {max(slow):.1f} s at a smaller size "
                    f"(> time budget {self.budget:g} s)")
        h_prev, s_prev = max(prev)
        predicted = s_prev * (H / h_prev) ** PREDICT_EXPONENT
        if predicted > PREDICT_FACTOR * self.budget:
            return (f"skipped: predicted ~{predicted:.0f} s per call (from {s_prev:.2f} s at the "
                    f"previous size) > {PREDICT_FACTOR:g} x time budget")
        return None

    def note(self, problem, method, seconds):
        self.seen.setdefault((problem.key, method), []).append((problem.hessian_elements, seconds))


def skipped(kind, reason, **extra):
    """A method not run: ``kind`` is 'memory', 'time' or 'absent' (not installed / not requested)."""
    return {"run": False, "skip_kind": kind, "skipped": reason, **extra}


def _gb(nbytes):
    return f"{nbytes / GB:.2f} GB"


def ricci_cost(expr, shapes):
    c = expr.cost(shapes)
    return {"flops": int(c.flops), "largest_intermediate": int(c.largest_intermediate),
            "largest_bytes": int(c.largest_bytes)}


# --------------------------------------------------------------------------- numpy child: closed form and ricci


def _args_of(problem):
    return [problem.inputs[problem.wrt]] + [problem.inputs[o] for o in problem.others]


def dense_reference(problem, check_budget):
    """The closed-form answer as a dense array, or None if over the check budget."""
    args = _args_of(problem)
    if problem.kind == "dense":
        return problem.closed(*args)
    if problem.hessian_elements * ITEMSIZE > check_budget:
        return None
    return problem.closed_dense(problem.closed_core(*args))


def ricci_structured_check(problem, core_ref, dense_ref):
    """Check a ricci.Structured: layout and core against the closed form, todense() against the dense one."""
    import ricci

    def check(result):
        if not isinstance(result, ricci.Structured):
            out = compare(result, dense_ref)
            out.update(factored=False, allclose=False,
                       check=f"not factored: evaluate(structured=True) returned {type(result).__name__}")
            return out
        out = {"factored": True, "core_shape": list(result.core.shape), "core_axes": list(result.core_axes),
               "deltas": [list(d) for d in result.deltas], "stored_bytes": int(result.nbytes),
               "dense_bytes": int(result.dense_nbytes)}
        layout_ok = result.core_axes == problem.core_axes and result.deltas == problem.deltas
        checks = []
        if layout_ok:
            out.update(compare(result.core, core_ref))
            checks.append("core vs closed-form core")
        if dense_ref is not None:
            dense = compare(result.todense(memory_budget=dense_ref.nbytes + 1), dense_ref)
            out["todense_allclose"] = dense["allclose"]
            out["allclose"] = dense["allclose"] and out.get("allclose", True)
            checks.append("todense() vs closed dense")
        if not layout_ok:  # another factorization may be right too; only todense() can tell
            out["layout"] = "unexpected"
            out["allclose"] = out.get("allclose", False)
            checks.append(f"unexpected layout (expected core axes {problem.core_axes}, deltas {problem.deltas})")
        out["check"] = "; ".join(checks)
        return out

    return check


def numpy_methods(problem, opts, guard):
    """closed form and ricci (timed interleaved); for structured problems also both dense versions."""
    M, extra = {}, {}
    inputs, args = problem.inputs, _args_of(problem)
    structured = problem.kind == "structured"
    H, derive_s = problem.ricci_hessian()
    extra["ricci_expression"] = str(H)
    ricci_rec = {"derive_s": derive_s}
    try:
        target = H
        if structured:
            from ricci.structured import factor  # the core that evaluate(structured=True) computes

            f = factor(H)
            target = f[0] if f is not None else H
        ricci_rec["cost"] = ricci_cost(target, problem.shapes())
    except Exception as exc:  # report, keep measuring
        ricci_rec["cost_error"] = f"{type(exc).__name__}: {exc}"

    # references, untimed: the closed form (dense answer or core) and, within the check budget, the dense array
    if structured:
        core_ref = problem.closed_core(*args)
        dense_ref = dense_reference(problem, opts.check_budget)
        ricci_check = ricci_structured_check(problem, core_ref, dense_ref)
        closed = (lambda: problem.closed_core(*args))  # noqa: E731
    else:
        core_ref = dense_ref = problem.closed(*args)
        ricci_check = (lambda r: compare(r, dense_ref))  # noqa: E731
        closed = (lambda: problem.closed(*args))  # noqa: E731
    M.update(measure_together([("closed_form", closed, reference_only),
                               ("ricci", lambda: H.evaluate(inputs, structured=structured), ricci_check)],
                              opts.repeat, opts.time_budget))
    M["ricci"].update(ricci_rec)
    if not structured:
        return M, extra

    # the materialized (m k)^2 / (q r)^2 arrays, under the memory budget
    nbytes = problem.hessian_elements * ITEMSIZE
    ricci_bytes = max(nbytes, ricci_cost(H, problem.shapes())["largest_bytes"])
    entries = []
    if nbytes > opts.budget:
        M["closed_dense"] = skipped("memory", f"would allocate {_gb(nbytes)} (dense Hessian) > budget "
                                              f"{_gb(opts.budget)}", predicted_bytes=nbytes)
    elif guard.reason(problem, "closed_dense"):
        M["closed_dense"] = skipped("time", guard.reason(problem, "closed_dense"))
    else:
        entries.append(("closed_dense", lambda: problem.closed_dense(problem.closed_core(*args)), reference_only))
    if ricci_bytes > opts.budget:
        M["ricci_dense"] = skipped("memory", f"would allocate {_gb(ricci_bytes)} (dense Hessian) > budget "
                                             f"{_gb(opts.budget)}", predicted_bytes=ricci_bytes)
    elif guard.reason(problem, "ricci_dense"):
        M["ricci_dense"] = skipped("time", guard.reason(problem, "ricci_dense"))
    else:
        entries.append(("ricci_dense", lambda: H.evaluate(inputs, memory_budget=opts.budget),
                        lambda r: compare(r, dense_ref)))
    if entries:
        if dense_ref is None:
            extra["dense_check"] = "dense results not checked: dense Hessian over --check-budget-gib"
        for name, rec in measure_together(entries, opts.repeat, opts.time_budget).items():
            rec["predicted_bytes"] = nbytes if name == "closed_dense" else ricci_bytes
            guard.note(problem, name, rec["median_s"])
            M[name] = rec
    return M, extra


# --------------------------------------------------------------------------- peer children: jax and torch


def run_jax(problem, ref, opts, guard):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    inputs = problem.inputs
    args = [jnp.asarray(inputs[problem.wrt])] + [jnp.asarray(inputs[o]) for o in problem.others]
    t0 = time.perf_counter()
    compiled = jax.jit(jax.hessian(problem.jax_f(jnp))).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    estimate = problem.peer_estimate_bytes()
    predicted, source = estimate, "estimate"
    try:
        ma = compiled.memory_analysis()
        xla = int(ma.argument_size_in_bytes + ma.output_size_in_bytes + ma.temp_size_in_bytes)
        if xla >= estimate:
            predicted, source = xla, "XLA memory_analysis"
    except Exception:  # memory analysis is optional in XLA backends
        xla = None
    extra = {"compile_s": compile_s, "predicted_bytes": predicted, "xla_bytes": xla, "estimate_bytes": estimate}
    if predicted > opts.budget:
        return skipped("memory", f"would allocate {_gb(predicted)} ({source}) > budget {_gb(opts.budget)}",
                       **extra)
    why = guard.reason(problem, "jax.hessian")
    if why:
        return skipped("time", why, **extra)

    def call():
        return compiled(*args).block_until_ready()

    rec = measure_together([("jax", call, lambda r: compare(np.asarray(r), ref))], opts.repeat,
                           opts.time_budget)["jax"]
    guard.note(problem, "jax.hessian", rec["median_s"])
    return {**extra, **rec}


def run_torch(problem, ref, opts, guard):
    import torch
    from torch.autograd.functional import hessian

    torch.set_default_dtype(torch.float64)
    predicted = problem.peer_estimate_bytes()
    if predicted > opts.budget:
        return skipped("memory", f"would allocate {_gb(predicted)} (estimate) > budget {_gb(opts.budget)}",
                       predicted_bytes=predicted)
    why = guard.reason(problem, "torch.hessian")
    if why:
        return skipped("time", why, predicted_bytes=predicted)
    x = torch.from_numpy(problem.inputs[problem.wrt])
    f = problem.torch_f(torch, *(torch.from_numpy(problem.inputs[o]) for o in problem.others))
    state = {"vectorize": True}

    def call():
        if state["vectorize"]:
            try:
                return hessian(f, x, vectorize=True)
            except Exception as exc:  # vmap may not support some op: use the loop instead
                state.update(vectorize=False, note=f"vectorize=True failed ({type(exc).__name__}: {exc})")
        return hessian(f, x, vectorize=False)

    rec = measure_together([("torch", call, lambda r: compare(r.detach().numpy(), ref))], opts.repeat,
                           opts.time_budget)["torch"]
    guard.note(problem, "torch.hessian", rec["median_s"])
    return {"predicted_bytes": predicted, **state, **rec}


def peer_methods(group, problem, opts, guard):
    name, runner = {"jax": ("jax.hessian", run_jax), "torch": ("torch.hessian", run_torch)}[group]
    ref = dense_reference(problem, opts.check_budget)
    time.sleep(0.05)  # let numpy's BLAS threads (used for the reference) go idle before timing
    return {name: runner(problem, ref, opts, guard)}, {}


# --------------------------------------------------------------------------- one group of methods (child)


def set_threads(group, threads):
    """Limit the peers' own thread pools (BLAS threads are set through the environment by the parent)."""
    if not threads:
        return
    if group == "torch":
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(threads)


def run_group(group, problems, opts):
    """Child process: run one group of methods on every case; one JSON line per case on stdout."""
    if group != "numpy":
        try:
            mod = __import__(group)
            version = getattr(mod, "__version__", "?")
        except Exception as exc:  # optional peers
            print(json.dumps({"unavailable": f"{group} not importable ({type(exc).__name__}: {exc})"}), flush=True)
            return
        set_threads(group, opts.threads)
        print(json.dumps({"version": version}), flush=True)
    guard = TimeGuard(opts.time_budget)
    for i, problem in enumerate(problems):
        problem.inputs = problem.make_inputs(np.random.default_rng(opts.seed))
        try:
            if group == "numpy":
                methods, extra = numpy_methods(problem, opts, guard)
            else:
                methods, extra = peer_methods(group, problem, opts, guard)
        except Exception as exc:  # one failing case is a result, not a crash of the whole run
            methods, extra = {}, {"group_error": f"{group}: {type(exc).__name__}: {exc}"}
        problem.inputs = None
        gc.collect()
        shown = ", ".join(f"{k} {_cell_ms(m)}{' ms' if m.get('run') else ''}" for k, m in methods.items())
        print(f"  [{group}] {problem.title} {problem.label()}: {shown or extra.get('group_error')}",
              file=sys.stderr, flush=True)
        print(json.dumps({"case": i, "methods": methods, **extra}), flush=True)


# --------------------------------------------------------------------------- parent: spawn, merge, report

GROUP_METHODS = {"numpy": ("closed_form", "closed_dense", "ricci", "ricci_dense"),
                 "jax": ("jax.hessian",), "torch": ("torch.hessian",)}


def spawn_group(group, opts):
    """Run one group in a fresh process (so no library's thread pool competes with another's)."""
    env, preexec = dict(os.environ), None
    if opts.threads:  # fixed before any library starts its pools; the CPU affinity caps XLA's pool too
        for var in THREAD_VARS:
            env[var] = str(opts.threads)
        if opts.threads == 1:
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                                " intra_op_parallelism_threads=1").strip()
        available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if 1 < opts.threads < len(available):  # caps pools that ignore the variables (XLA's)
            cpus = available[: opts.threads]
            preexec = lambda: os.sched_setaffinity(0, cpus)  # noqa: E731
    if group != "numpy":  # numpy only computes the references there: keep its BLAS threads out of the way
        env["OPENBLAS_NUM_THREADS"] = "1"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", group, "--sizes", opts.sizes,
           "--repeat", str(opts.repeat), "--budget-gib", str(opts.budget_gib),
           "--check-budget-gib", str(opts.check_budget_gib), "--time-budget", str(opts.time_budget),
           "--seed", str(opts.seed), "--threads", str(opts.threads)]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=str(ROOT), env=env,
                              timeout=CHILD_TIMEOUT_S, preexec_fn=preexec)
        stdout, rc = proc.stdout, proc.returncode
    except subprocess.TimeoutExpired as exc:
        stdout, rc = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or ""), None
    lines = [json.loads(ln) for ln in stdout.splitlines() if ln.startswith("{")]
    status = "ok" if rc == 0 else ("timed out" if rc is None else f"exit code {rc}")
    return lines, status


def bench_all(problems, opts, peers, absent):
    """Run each group in its own child process; merge the results per case."""
    records = [{"problem": pr.key, "kind": pr.kind, "title": pr.title, "label": pr.label(),
                "dims": list(pr.dims), "shapes": {k: list(v) for k, v in pr.shapes().items()},
                "hessian_shape": list(pr.hessian_shape),
                "dense_hessian_bytes": pr.hessian_elements * ITEMSIZE, "methods": {}} for pr in problems]
    versions = {}
    for group, why in absent.items():
        for rec in records:
            rec["methods"][GROUP_METHODS[group][0]] = skipped("absent", why)
    for group in ["numpy"] + list(peers):
        print(f"\nrunning {group} methods in a child process ...", flush=True)
        t0 = time.perf_counter()
        lines, status = spawn_group(group, opts)
        print(f"  {group} done in {time.perf_counter() - t0:.1f} s ({status})", flush=True)
        done = set()
        for line in lines:
            if "unavailable" in line:
                print(f"note: {line['unavailable']}; skipping it")
                for rec in records:
                    for name in GROUP_METHODS[group]:
                        rec["methods"][name] = skipped("absent", line["unavailable"])
                done = set(range(len(records)))
            elif "version" in line:
                versions[group] = line["version"]
            else:
                rec = records[line["case"]]
                rec["methods"].update(line.pop("methods"))
                line.pop("case")
                rec.update(line)
                done.add(records.index(rec))
        for i, rec in enumerate(records):
            if i not in done:
                for name in GROUP_METHODS[group]:
                    rec["methods"].setdefault(name, {"run": False, "error": f"{group} child process: {status}"})
    for problem, rec in zip(problems, records):
        finish_case(problem, rec)
    return records, versions


def finish_case(problem, rec):
    M = rec["methods"]
    names = ["closed_form", "closed_dense", "ricci", "ricci_dense", "jax.hessian", "torch.hessian"]
    if problem.kind == "dense":
        names = [n for n in names if "dense" not in n]
    for n in names:
        M.setdefault(n, {"run": False, "error": "not measured"})
    rec["methods"] = M = {n: M[n] for n in names}
    cf = M["closed_form"].get("median_s")
    for r in M.values():
        if r.get("run") and "median_s" in r and cf:
            r["ratio_to_closed"] = r["median_s"] / cf
    if problem.kind == "structured" and M["closed_dense"].get("run") and M["ricci_dense"].get("run"):
        M["ricci_dense"]["ratio_to_closed_dense"] = M["ricci_dense"]["median_s"] / M["closed_dense"]["median_s"]
    rec["targets"] = case_targets(problem, M)


def case_targets(problem, M):
    r = M["ricci"]
    t = {"ricci_within_1.5x_closed": bool(r.get("allclose") and r.get("ratio_to_closed", math.inf) <= TARGET_RATIO)}
    if problem.kind == "dense":
        j = M["jax.hessian"]
        t["ricci_faster_than_jax"] = (bool(r.get("allclose") and r["median_s"] < j["median_s"])
                                      if j.get("run") else None)
    if problem.key == "matfac" and problem.dims == MF_CASE:
        t["mf_factored_in_ms"] = bool(r.get("allclose") and r.get("median_s", math.inf) < MF_TARGET_S)
    return t


def print_case(rec):
    """Details of one case: ricci's derivation and plan, every method's time and check."""
    M = rec["methods"]
    print(f"\n--- {rec['title']} {rec['label']}: Hessian {tuple(rec['hessian_shape'])}, dense "
          f"{_gb(rec['dense_hessian_bytes'])}")
    r = M["ricci"]
    if "derive_s" in r:
        c = r.get("cost")
        cost = (f"plan {c['flops']:,} flops, largest intermediate {c['largest_intermediate']:,} elements"
                if c else r.get("cost_error", ""))
        first = f", first evaluate (plans) {r['first_call_s'] * 1e3:.2f} ms" if "first_call_s" in r else ""
        print(f"ricci: derive {r['derive_s'] * 1e3:.2f} ms{first}, {cost}")
    if "ricci_expression" in rec:
        print("ricci Hessian: " + rec["ricci_expression"].replace("\n", "\n               "))
    for key in ("group_error", "dense_check"):
        if key in rec:
            print(f"{key}: {rec[key]}")
    for name, m in M.items():
        if m.get("run"):
            extra = f", compile {m['compile_s']:.2f} s" if "compile_s" in m else ""
            extra += "" if m.get("vectorize", True) else ", vectorize=False"
            ok = {True: "OK", False: "MISMATCH", None: ""}[m.get("allclose")]
            err = f" (max rel err {m['max_rel_err']:.1e})" if "max_rel_err" in m else ""
            how = m.get("check") or "not checked"
            how = f"{how}: {ok}" if ok else how
            extra += f", min {m['min_s'] * 1e3:.4f} ms (noisy)" if m.get("noisy") else ""
            print(f"  {name:<14} {m['median_s'] * 1e3:12.4f} ms  check {how}{err}{extra}"
                  + (f"  [{m['note']}]" if "note" in m else ""))
        else:
            print(f"  {name:<14} {m.get('skipped') or 'ERROR ' + m.get('error', '')}")


# --------------------------------------------------------------------------- tables


def _cell_ms(m):
    if m.get("run"):
        return f"{m['median_s'] * 1e3:.3f}" + ("*" if m.get("noisy") else "")
    if "error" in m:
        return "ERROR"
    return {"memory": "skip:mem", "time": "skip:time"}.get(m.get("skip_kind"), "n/a")


def _cell_x(m, key="ratio_to_closed"):
    return f"{m[key]:.2f}x" if m.get("run") and key in m else "-"


def _verdict(v):
    return {True: "MET", False: "MISSED", None: "n/a"}[v]


def print_tables(records):
    dense = [r for r in records if r["kind"] == "dense"]
    struct = [r for r in records if r["kind"] == "structured"]
    print("\n=== dense-answer problems (median ms; x = ratio to the closed form) ===")
    hdr = (f"{'problem':<10} {'size':<14} {'closed':>9} {'ricci':>9} {'x':>6} {'jax.hess':>10} {'x':>7}"
           f" {'torch.hess':>10} {'x':>7}  {'ricci<=1.5x':>11} {'ricci<jax':>9}")
    print(hdr)
    for r in dense:
        M, t = r["methods"], r["targets"]
        print(f"{r['title']:<10} {r['label']:<14} {_cell_ms(M['closed_form']):>9} {_cell_ms(M['ricci']):>9}"
              f" {_cell_x(M['ricci']):>6} {_cell_ms(M['jax.hessian']):>10} {_cell_x(M['jax.hessian']):>7}"
              f" {_cell_ms(M['torch.hessian']):>10} {_cell_x(M['torch.hessian']):>7}"
              f"  {_verdict(t['ricci_within_1.5x_closed']):>11} {_verdict(t['ricci_faster_than_jax']):>9}")
    print("\n=== structured-answer problems (median ms; x = ratio to the factored closed form) ===")
    print("closed = factored closed form (the core); ricci = evaluate(structured=True);"
          " cl.dense / r.dense = materialized (m k)^2 or (q r)^2 arrays; xcd = ricci dense / closed dense")
    print(f"{'problem':<12} {'shape':<21} {'closed':>8} {'ricci':>8} {'x':>6} {'cl.dense':>9} {'r.dense':>9}"
          f" {'xcd':>6} {'jax.hess':>9} {'x':>8} {'torch.hess':>10} {'x':>8}  {'ricci<=1.5x':>11}")
    for r in struct:
        M, t = r["methods"], r["targets"]
        print(f"{r['title']:<12} {r['label']:<21} {_cell_ms(M['closed_form']):>8} {_cell_ms(M['ricci']):>8}"
              f" {_cell_x(M['ricci']):>6} {_cell_ms(M['closed_dense']):>9} {_cell_ms(M['ricci_dense']):>9}"
              f" {_cell_x(M['ricci_dense'], 'ratio_to_closed_dense'):>6}"
              f" {_cell_ms(M['jax.hessian']):>9} {_cell_x(M['jax.hessian']):>8}"
              f" {_cell_ms(M['torch.hessian']):>10} {_cell_x(M['torch.hessian']):>8}"
              f"  {_verdict(t['ricci_within_1.5x_closed']):>11}")
    print("* = noisy timing (median > %gx the fastest repeat; see min_s / times_s in the JSON);"
          " skip:mem / skip:time = not run by the memory / time guard (reasons below); n/a = not installed"
          % NOISY_RATIO)
    notes = []
    for r in records:
        for name, m in r["methods"].items():
            if not m.get("run") and (m.get("skip_kind") in ("memory", "time") or "error" in m):
                notes.append(f"  {r['title']} {r['label']}, {name}: {m.get('skipped') or 'ERROR ' + m['error']}")
            elif m.get("run") and m.get("allclose") is False:
                notes.append(f"  {r['title']} {r['label']}, {name}: WRONG RESULT ({m.get('check')})")
    if notes:
        print("\nskips, errors and mismatches:")
        print("\n".join(notes))


def overall_targets(records):
    t1_miss = [f"{r['title']} {r['label']} ({r['methods']['ricci'].get('ratio_to_closed', float('nan')):.2f}x"
               f"{'' if r['methods']['ricci'].get('allclose') else ', wrong result'})"
               for r in records if not r["targets"]["ricci_within_1.5x_closed"]]
    dense = [r for r in records if r["kind"] == "dense"]
    t2_compared = [r for r in dense if r["targets"]["ricci_faster_than_jax"] is not None]
    t2_miss = [f"{r['title']} {r['label']} (ricci {r['methods']['ricci']['median_s'] * 1e3:.3f} ms vs jax "
               f"{r['methods']['jax.hessian']['median_s'] * 1e3:.3f} ms)"
               for r in t2_compared if not r["targets"]["ricci_faster_than_jax"]]
    t2_skipped = [f"{r['title']} {r['label']}" for r in dense if r["targets"]["ricci_faster_than_jax"] is None]
    out = {
        "T1_ricci_within_1.5x_closed_everywhere": {"met": not t1_miss, "missed": t1_miss},
        "T2_ricci_faster_than_jax_on_dense": {
            "met": (not t2_miss) if t2_compared else None, "missed": t2_miss,
            "not_compared": t2_skipped},
    }
    mf = [r for r in records if r["problem"] == "matfac" and tuple(r["dims"]) == MF_CASE]
    if mf:
        r = mf[0]["methods"]["ricci"]
        out["T3_mf_factored_1000x300x20_in_ms"] = {"met": mf[0]["targets"]["mf_factored_in_ms"],
                                                   "median_s": r.get("median_s")}
    else:
        out["T3_mf_factored_1000x300x20_in_ms"] = {"met": None, "note": "case not run (only in the full run)"}
    return out


def print_targets(t):
    print("\n=== targets ===")
    t1 = t["T1_ricci_within_1.5x_closed_everywhere"]
    print(f"T1 ricci within {TARGET_RATIO}x of the closed form everywhere: {_verdict(t1['met'])}")
    for m in t1["missed"]:
        print(f"   MISSED at {m}")
    t2 = t["T2_ricci_faster_than_jax_on_dense"]
    print(f"T2 ricci faster than jax.hessian on every dense-answer problem: "
          f"{'NOT CHECKED (jax did not run)' if t2['met'] is None else _verdict(t2['met'])}")
    for m in t2["missed"]:
        print(f"   MISSED at {m}")
    if t2["not_compared"] and t2["met"] is not None:
        print(f"   (not compared, jax skipped or absent: {', '.join(t2['not_compared'])})")
    t3 = t["T3_mf_factored_1000x300x20_in_ms"]
    if t3["met"] is None:
        print(f"T3 factored matrix-factorization Hessian at {MF_CASE} in milliseconds: n/a ({t3['note']})")
    else:
        ms = "n/a" if t3["median_s"] is None else f"{t3['median_s'] * 1e3:.3f} ms"
        print(f"T3 factored matrix-factorization Hessian at {MF_CASE} in milliseconds (< {MF_TARGET_S * 1e3:g} ms):"
              f" {_verdict(t3['met'])} ({ms})")


# --------------------------------------------------------------------------- main


def available_peers(requested):
    """``({name: "found"}, {name: why not})``: importability is checked in the children."""
    unknown = set(requested) - set(PEERS)
    if unknown:
        raise SystemExit(f"unknown peer(s) {sorted(unknown)}; choose from {list(PEERS)} or 'none'")
    peers, absent = [], {}
    for name in PEERS:
        if name not in requested:
            absent[name] = "not requested (--peers)"
        elif importlib.util.find_spec(name) is None:
            print(f"note: {name} is not installed; skipping it")
            absent[name] = f"{name} not installed"
        else:
            peers.append(name)
    return peers, absent


def _loadavg():
    try:
        return list(os.getloadavg())
    except OSError:  # not available on this platform
        return None


def parse_sizes(text):
    if text == "all":
        return SIZES, True
    if text == "small":
        return SIZES[:1], False
    return [int(v) for v in text.split(",")], False


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="all",
                   help="'all' (100,300,1000,3000 and the (1000,300,20) case), 'small' (n=100) or N[,N...]")
    p.add_argument("--peers", default="jax,torch", help="comma list of peers to run (jax, torch) or 'none'")
    p.add_argument("--repeat", type=int, default=None,
                   help="timing repeats, the median is reported (default 7; 3 for --sizes small)")
    p.add_argument("--budget-gib", type=float, default=4.0,
                   help="skip a method whose predicted allocation exceeds this (GiB)")
    p.add_argument("--check-budget-gib", type=float, default=1.0,
                   help="compare dense results against the closed dense Hessian up to this size (GiB)")
    p.add_argument("--time-budget", type=float, default=20.0,
                   help="seconds: skip a peer at larger sizes once it took longer than this")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--threads", type=int, default=1,
                   help="threads for every method (BLAS, OpenMP, XLA, torch); default 1, "
                        "0 = each library's own default (see the module docstring)")
    p.add_argument("--out", type=Path, default=None, help="JSON output path")
    add_save_argument(p)
    p.add_argument("--child", choices=list(GROUP_METHODS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeat is None:
        args.repeat = 3 if args.sizes == "small" else 7
    sizes, with_mf_case = parse_sizes(args.sizes)
    args.budget, args.check_budget = args.budget_gib * GiB, args.check_budget_gib * GiB
    problems = cases(sizes, with_mf_case)

    if args.child:
        run_group(args.child, problems, args)
        return 0

    requested = [] if args.peers == "none" else [s.strip() for s in args.peers.split(",") if s.strip()]
    start = time.perf_counter()
    env = environment()
    print(__doc__.split("\n")[0])
    peers, absent = available_peers(requested)
    env["loadavg_start"] = _loadavg()
    if env["loadavg_start"] and env["loadavg_start"][0] > 1.0:
        print(f"note: 1-minute load average {env['loadavg_start'][0]:.2f} before starting -- other processes may"
              " be using the CPUs, timings may be noisy (see the '*' marks)")
    print(f"python {env['python']}, numpy {env['numpy']}, opt_einsum {env['opt_einsum']}, ricci {env['ricci']}, "
          f"peers {', '.join(peers) or 'none'}, {env['cpu_count']} CPUs, float64, repeat {args.repeat}, "
          f"memory budget {args.budget_gib:g} GiB, time budget {args.time_budget:g} s, "
          f"threads {args.threads or 'library defaults'}")
    records, versions = bench_all(problems, args, peers, absent)
    env.update({name: versions.get(name) for name in PEERS})
    print(f"\nversions: jax {env['jax']}, torch {env['torch']}")
    for rec in records:
        print_case(rec)

    print_tables(records)
    targets = overall_targets(records)
    print_targets(targets)
    elapsed = time.perf_counter() - start
    env["loadavg_end"] = _loadavg()
    print(f"\ntotal benchmark time {elapsed:.1f} s")

    name = {"all": "hessian.json", "small": "hessian_small.json"}.get(args.sizes, "hessian_custom.json")
    out = output_path(name, args.save, args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": "hessian", "dtype": "float64", "repeat": args.repeat, "sizes": sizes,
               "threads": args.threads,
               "mf_case": list(MF_CASE) if with_mf_case else None, "seed": args.seed,
               "budget_bytes": args.budget, "check_budget_bytes": args.check_budget,
               "time_budget_s": args.time_budget, "target_ratio": TARGET_RATIO, "mf_target_s": MF_TARGET_S,
               "peers_run": peers, "peers_absent": absent,
               "environment": env, "elapsed_s": elapsed, "targets": targets, "cases": records}
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
