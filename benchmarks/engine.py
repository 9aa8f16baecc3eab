"""Engine speed: ricci's compiled gradients vs hand-written numpy and jax.jit, as paired time ratios.

Four cases (issue 8's targets), each in its own child process, one JSON file:

rnn_cell   c = tanh(W_c c_prev + W_x x + b 1^T), L = sum(c * G), dL/dW_x vs the
           hand-written (G * (1 - c**2)) @ x.T (benchmarks/rnn_memory.py's
           model and formula) at (n_c, n_x, m) = (64, 32, 8), (256, 128, 32),
           (1024, 512, 64), float32 and float64.  Targets: <= 1.5x at the
           smallest size, <= 1.1x from (256, 128, 32) up.
attention  O = softmax(Q K^T / sqrt(d)) V over (batch, seq, d) = (8, 256, 64),
           L = sum(O * G) for a fixed G, gradients w.r.t. Q, K and V evaluated
           together vs a hand-written numpy backward (batched ``@`` products, a
           max-shifted softmax, dS = P * (dP - sum(P * dP, -1))), float64;
           the results are checked to agree.  Target: <= 1.3x.
rnn        an unrolled RNN h_{t+1} = tanh(W h_t + U x_t), hidden 32, batch 8,
           input 16, L = sum(h_T * h_T), gradients w.r.t. W and U, T = 100 and
           500 steps, float64, vs ``jax.jit(jax.grad(loss, argnums=(0, 1)))``
           with the loop written as ``jax.lax.scan`` (the usual jax RNN; an
           unrolled Python loop compiles for minutes at T = 500), x64 enabled,
           one XLA thread, arguments already on the device, timed to
           ``block_until_ready``.  Skipped with a printed reason if jax cannot
           be imported.  Also timed, for context: a hand-written numpy
           backprop through time (the floor for a numpy engine).  Target:
           steady per-call time <= 2x jax.
hvp        logistic regression (benchmarks/hessian.py's ``Logistic`` problem:
           w (n,), X (2n, n), y = +-1), ``ricci.hvp(L, w, v)`` with v an input
           vs the closed form X^T (s (1 - s) * (X v)), s = sigmoid(y * X w),
           at n = 300, 1000, 3000.  Target: <= 1.3x.

``--sizes small`` runs the smallest size of each (attention (2, 32, 16), RNN
T = 10 and 20, hvp n = 100) in seconds.

Timing: BLAS and XLA pinned to one thread before numpy is imported
(threadpoolctl's limit too, where installed); OPENBLAS_CORETYPE is left as
the machine sets it and recorded.  ricci runs the way a user repeats a call:
``f = ricci.compile(exprs)`` then ``f(**inputs)`` where ``ricci.compile``
exists, otherwise ``ricci.evaluate(exprs, inputs)`` -- the header and the
JSON say which.  ricci and its reference are interleaved block by block
(each block >= 10 ms of calls, ``--repeat`` repetitions, the order flipped
every repetition) and the median of the per-repetition ratios ricci /
reference is reported, with the quartiles in the JSON: engine[_small].json in
benchmarks/out/ (untracked) unless ``--save`` writes benchmarks/results/;
``--out`` wins.

Run::

    .venv/bin/python -m benchmarks.engine                 # full sizes, a few minutes
    .venv/bin/python -m benchmarks.engine --sizes small   # seconds
    .venv/bin/python benchmarks/engine.py --part attention,hvp
    .venv/bin/python benchmarks/engine.py --profile rnn --sizes small   # where ricci's time goes, and its program
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._paired import pin_blas_threads  # noqa: E402  (before numpy)

pin_blas_threads(1)

import numpy as np  # noqa: E402

from benchmarks import _paired as P  # noqa: E402
from benchmarks._measure import environment, versions_line  # noqa: E402
from benchmarks._paths import add_save_argument, output_path  # noqa: E402

PARTS = ("rnn_cell", "attention", "rnn", "hvp")

SIZES = {
    "rnn_cell": {"all": [(64, 32, 8), (256, 128, 32), (1024, 512, 64)], "small": [(64, 32, 8)]},
    "attention": {"all": [(8, 256, 64)], "small": [(2, 32, 16)]},
    "rnn": {"all": [100, 500], "small": [10, 20]},
    "hvp": {"all": [300, 1000, 3000], "small": [100]},
}
RNN_HIDDEN, RNN_BATCH, RNN_INPUT = 32, 8, 16


def rnn_cell_target(size):
    return 1.5 if tuple(size) == (64, 32, 8) else 1.1


TARGETS = {"attention": 1.3, "rnn": 2.0, "hvp": 1.3}


def _close(a, b, dtype):
    rtol = 1e-4 if np.dtype(dtype) == np.float32 else 1e-8
    scale = max(float(np.max(np.abs(b))), 1e-30)
    return bool(np.allclose(a, b, rtol=rtol, atol=rtol * scale))


def _row(case, size, dtype, res, ref_name, target, how, ok, call=None, **extra):
    r = res["ratios"]["ricci"]
    if call is not None:
        extra["program"] = P.program_stats(call)
    return {"case": case, "size": size, "dtype": dtype, "ricci_s": res["ricci"]["median_s"],
            "reference": ref_name, "reference_s": res[ref_name]["median_s"],
            "ricci_min_s": res["ricci"]["min_s"], "reference_min_s": res[ref_name]["min_s"],
            "ratio": r["median"], "ratio_q25": r["q25"], "ratio_q75": r["q75"], "repeats": r["repeats"],
            "target": target, "met": bool(r["median"] <= target), "results_agree": ok, "how": how, **extra}


class _guard:
    """Catch a failing case, emit it as an error row, and go on with the next case."""

    def __init__(self, case, size, dtype, target):
        self.row = {"case": case, "size": list(size), "dtype": dtype, "target": target, "met": False}

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or not isinstance(exc, Exception):
            return False
        self.row["error"] = f"{type(exc).__name__}: {exc}"[:400]
        P.emit(self.row)
        return True


# =========================================================================== rnn cell


def child_rnn_cell(sizes, repeats):
    import ricci
    from benchmarks.rnn_memory import handwritten, make_inputs, ricci_model

    for size in sizes:
        for dtype in (np.float32, np.float64):
            with _guard("rnn_cell", size, np.dtype(dtype).name, rnn_cell_target(size)):
                _, L, Wx = ricci_model(*size, dtype)
                g = ricci.grad(L, Wx)
                inputs = make_inputs(*size, dtype)
                call, how = P.ricci_runner(g, inputs)
                ref = handwritten(**inputs)
                val = call()
                ok = _close(val, ref, dtype) and val.dtype == ref.dtype
                res = P.paired({"ricci": call, "handwritten": lambda: handwritten(**inputs)}, "handwritten",
                               repeats=repeats)
                P.emit(_row("rnn_cell", list(size), np.dtype(dtype).name, res, "handwritten",
                            rnn_cell_target(size), how, ok, call=call, ricci_dtype=str(val.dtype)))


# =========================================================================== attention


def attention_expr(B, S, d):
    import ricci

    Q, K, V, G = (ricci.Tensor(n, (B, S, d)) for n in ("Q", "K", "V", "G"))
    scores = ricci.einsum("bqd,bkd->bqk", Q, K) * (1.0 / np.sqrt(d))
    Pm = ricci.softmax(scores, axis=-1)
    O = ricci.einsum("bqk,bkd->bqd", Pm, V)
    L = ricci.einsum("bqd,bqd->", O, G)
    return ricci.grad(L, [Q, K, V])


def attention_backward(Q, K, V, G):
    """Hand-written: forward (max-shifted softmax) then the backward of sum(softmax(QK^T/sqrt d) V * G)."""
    scale = 1.0 / np.sqrt(Q.shape[-1])
    S = (Q @ K.transpose(0, 2, 1)) * scale
    S -= S.max(axis=-1, keepdims=True)
    Pm = np.exp(S)
    Pm /= Pm.sum(axis=-1, keepdims=True)
    dV = Pm.transpose(0, 2, 1) @ G
    dP = G @ V.transpose(0, 2, 1)
    dS = Pm * (dP - np.sum(Pm * dP, axis=-1, keepdims=True))
    dS *= scale
    dQ = dS @ K
    dK = dS.transpose(0, 2, 1) @ Q
    return dQ, dK, dV


def child_attention(sizes, repeats):
    for size in sizes:
        B, S, d = size
        with _guard("attention", size, "float64", TARGETS["attention"]):
            rng = np.random.default_rng(0)
            inputs = {n: rng.standard_normal((B, S, d)) for n in ("Q", "K", "V", "G")}
            grads = attention_expr(B, S, d)
            call, how = P.ricci_runner(grads, inputs)
            vals = call()
            refs = attention_backward(**inputs)
            ok = all(_close(a, b, np.float64) for a, b in zip(vals, refs))
            res = P.paired({"ricci": call, "handwritten": lambda: attention_backward(**inputs)}, "handwritten",
                           repeats=repeats)
            P.emit(_row("attention", list(size), "float64", res, "handwritten", TARGETS["attention"], how, ok,
                        call=call))


# =========================================================================== unrolled rnn


def rnn_expr(T):
    import ricci

    W = ricci.Tensor("W", (RNN_HIDDEN, RNN_HIDDEN))
    U = ricci.Tensor("U", (RNN_HIDDEN, RNN_INPUT))
    h = ricci.Tensor("h0", (RNN_HIDDEN, RNN_BATCH))
    for t in range(T):
        x = ricci.Tensor(f"x{t}", (RNN_INPUT, RNN_BATCH))
        h = ricci.tanh(ricci.einsum("ij,jb->ib", W, h) + ricci.einsum("ij,jb->ib", U, x))
    L = ricci.einsum("ib,ib->", h, h)
    return ricci.grad(L, [W, U])


def rnn_inputs(T, seed=0):
    rng = np.random.default_rng(seed)
    inputs = {"W": rng.standard_normal((RNN_HIDDEN, RNN_HIDDEN)) / np.sqrt(RNN_HIDDEN),
              "U": rng.standard_normal((RNN_HIDDEN, RNN_INPUT)) / np.sqrt(RNN_INPUT),
              "h0": np.tanh(rng.standard_normal((RNN_HIDDEN, RNN_BATCH)))}
    for t in range(T):
        inputs[f"x{t}"] = rng.standard_normal((RNN_INPUT, RNN_BATCH))
    return inputs


def rnn_numpy(T, inputs):
    """Plain numpy backprop through time: the correctness reference (not timed)."""
    W, U = inputs["W"], inputs["U"]
    hs = [inputs["h0"]]
    for t in range(T):
        hs.append(np.tanh(W @ hs[-1] + U @ inputs[f"x{t}"]))
    dh = 2 * hs[-1]
    dW, dU = np.zeros_like(W), np.zeros_like(U)
    for t in range(T - 1, -1, -1):
        du = dh * (1 - hs[t + 1] ** 2)
        dW += du @ hs[t].T
        dU += du @ inputs[f"x{t}"].T
        dh = W.T @ du
    return dW, dU


def child_rnn(steps, repeats):
    import ricci  # noqa: F401  (ricci before jax: jax's import must not change ricci's setup)

    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    except Exception as exc:  # jax is optional
        jax = None
        why = f"jax not importable ({type(exc).__name__}: {exc})"
    for T in steps:
        with _guard("rnn", [T, RNN_HIDDEN, RNN_BATCH, RNN_INPUT], "float64", TARGETS["rnn"]):
            inputs = rnn_inputs(T)
            t0 = time.perf_counter()
            grads = rnn_expr(T)
            build_derive = time.perf_counter() - t0
            t0 = time.perf_counter()
            call, how = P.ricci_runner(grads, inputs)
            vals = call()
            first = time.perf_counter() - t0
            refs = rnn_numpy(T, inputs)
            ok = all(_close(a, b, np.float64) for a, b in zip(vals, refs))
            extra = {"build_derive_s": build_derive, "ricci_first_call_s": first}
            if jax is None:
                ricci_s, ricci_min, _ = P.steady_time(call, repeats=repeats)
                P.emit({"case": "rnn", "size": [T, RNN_HIDDEN, RNN_BATCH, RNN_INPUT], "dtype": "float64",
                        "ricci_s": ricci_s, "reference": "jax.jit(jax.grad)", "reference_s": None, "ratio": None,
                        "target": TARGETS["rnn"], "met": None, "skipped": why, "how": how,
                        "results_agree": ok, **extra})
                continue

            def loss(W, U, h0, xs):
                def step(h, x):
                    return jnp.tanh(W @ h + U @ x), None

                h, _ = jax.lax.scan(step, h0, xs)
                return jnp.sum(h * h)

            jgrad = jax.jit(jax.grad(loss, argnums=(0, 1)))
            args = [jnp.asarray(inputs[k]) for k in ("W", "U", "h0")]
            args.append(jnp.asarray(np.stack([inputs[f"x{t}"] for t in range(T)])))
            t0 = time.perf_counter()
            jvals = jax.block_until_ready(jgrad(*args))
            extra["jax_first_call_s"] = time.perf_counter() - t0
            ok = ok and all(_close(np.asarray(a), b, np.float64) for a, b in zip(jvals, refs))

            def jax_call():
                return jax.block_until_ready(jgrad(*args))

            res = P.paired({"ricci": call, "jax": jax_call, "numpy": lambda: rnn_numpy(T, inputs)}, "jax",
                           repeats=repeats)
            pairs = [a / b for a, b in zip(res["ricci"]["times_s"], res["numpy"]["times_s"])]
            extra.update(numpy_bptt_s=res["numpy"]["median_s"], ratio_to_numpy_bptt=float(np.median(pairs)))
            P.emit(_row("rnn", [T, RNN_HIDDEN, RNN_BATCH, RNN_INPUT], "float64", res, "jax", TARGETS["rnn"], how, ok,
                        call=call, reference_desc="jax.jit(jax.grad(loss)) with lax.scan", **extra))


# =========================================================================== logistic HVP


def child_hvp(sizes, repeats):
    import ricci
    from benchmarks.hessian import Logistic

    for n in sizes:
        with _guard("hvp", [n, 2 * n], "float64", TARGETS["hvp"]):
            prob = Logistic((n,))
            T = {name: ricci.Tensor(name, shape) for name, shape in prob.shapes().items()}
            v = ricci.Tensor("v", (n,))
            hv = ricci.hvp(prob.ricci_loss(T), T["w"], v)
            rng = np.random.default_rng(0)
            inputs = prob.make_inputs(rng)
            inputs["v"] = rng.standard_normal(n)

            def closed(w, X, y, v):
                s = 1.0 / (1.0 + np.exp(-y * (X @ w)))
                return X.T @ (s * (1.0 - s) * (X @ v))

            call, how = P.ricci_runner(hv, inputs)
            ok = _close(call(), closed(**inputs), np.float64)
            res = P.paired({"ricci": call, "closed": lambda: closed(**inputs)}, "closed", repeats=repeats)
            P.emit(_row("hvp", [n, 2 * n], "float64", res, "closed", TARGETS["hvp"], how, ok, call=call))


def ricci_case(part, size):
    """ricci's call for one case (float64), for --profile."""
    import ricci

    if part == "rnn_cell":
        from benchmarks.rnn_memory import make_inputs, ricci_model

        _, L, Wx = ricci_model(*size, np.float64)
        return P.ricci_runner(ricci.grad(L, Wx), make_inputs(*size, np.float64))[0]
    if part == "attention":
        rng = np.random.default_rng(0)
        inputs = {n: rng.standard_normal(tuple(size)) for n in ("Q", "K", "V", "G")}
        return P.ricci_runner(attention_expr(*size), inputs)[0]
    if part == "rnn":
        return P.ricci_runner(rnn_expr(size), rnn_inputs(size))[0]
    from benchmarks.hessian import Logistic

    prob = Logistic((size,))
    T = {name: ricci.Tensor(name, shape) for name, shape in prob.shapes().items()}
    v = ricci.Tensor("v", (size,))
    inputs = prob.make_inputs(np.random.default_rng(0))
    inputs["v"] = np.ones(size)
    call = P.ricci_runner(ricci.hvp(prob.ricci_loss(T), T["w"], v), inputs)[0]
    call.keep = (T, v)  # keep the Tensors alive with the call
    return call


def profile(part, size, seconds=2.0):
    """cProfile of ricci's repeated call: where the time goes (numpy calls vs Python)."""
    import cProfile
    import pstats

    call = ricci_case(part, size)
    call()
    n, t0 = 0, time.perf_counter()
    prof = cProfile.Profile()
    prof.enable()
    while time.perf_counter() - t0 < seconds:
        call()
        n += 1
    prof.disable()
    print(f"profile of {n} calls of ricci's {part} gradient at {size} (sorted by own time):")
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    stats = P.program_stats(call)
    if stats:
        print(f"compiled program: {stats}")
        print(call.compiled.source if stats["lines"] <= 80 else "(source longer than 80 lines; see f.source)")


CHILDREN = {"rnn_cell": child_rnn_cell, "attention": child_attention, "rnn": child_rnn, "hvp": child_hvp}


# =========================================================================== parent


def _size_text(case, size):
    if case == "rnn_cell":
        return "(nc,nx,m)=({},{},{})".format(*size)
    if case == "attention":
        return "(b,s,d)=({},{},{})".format(*size)
    if case == "rnn":
        return "T={} (h{}, b{}, in{})".format(*size)
    return "n={} (N={})".format(*size)


def print_row(r):
    ref = "-" if r.get("reference_s") is None else f"{r['reference_s'] * 1e3:.3f}"
    ratio = "-" if r.get("ratio") is None else f"{r['ratio']:.2f}x"
    note = r.get("skipped") or r.get("error") or ""
    if r.get("ratio_to_numpy_bptt") is not None:
        note += (f"(hand-written numpy BPTT {r['numpy_bptt_s'] * 1e3:.3f} ms;"
                 f" ricci {r['ratio_to_numpy_bptt']:.2f}x it)")
    if r.get("results_agree") is False:
        note = "RESULTS DISAGREE " + note
    mine = "-" if r.get("ricci_s") is None else f"{r['ricci_s'] * 1e3:.3f}"
    print(f"{r['case']:<10} {_size_text(r['case'], r['size']):<26} {r.get('dtype', ''):<8} {mine:>10}"
          f" {r.get('reference', ''):<12} {ref:>10} {ratio:>7} {'<=' + format(r['target'], 'g') + 'x':>7}"
          f"  {P.verdict(r.get('met')):<6} {note}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", choices=["all", "small"], default="all")
    p.add_argument("--part", default=",".join(PARTS), help="comma list of " + ", ".join(PARTS))
    p.add_argument("--repeat", type=int, default=None, help="paired repetitions (default 21; small 5)")
    p.add_argument("--child-timeout", type=float, default=None, help="seconds per case (default 240; small 60)")
    p.add_argument("--out", type=Path, default=None)
    add_save_argument(p)
    p.add_argument("--profile", choices=PARTS, default=None,
                   help="profile ricci's call for the first size of one part (float64) and print its program")
    p.add_argument("--child", choices=PARTS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    small = args.sizes == "small"
    args.repeat = args.repeat or (5 if small else 21)
    args.child_timeout = args.child_timeout or (60.0 if small else 240.0)

    if args.child:
        P.limit_threads(1)
        CHILDREN[args.child](SIZES[args.child][args.sizes], args.repeat)
        return 0

    P.limit_threads(1)
    if args.profile:
        profile(args.profile, SIZES[args.profile][args.sizes][0])
        return 0
    start = time.perf_counter()
    env = environment()
    blas = P.blas_info()
    print(__doc__.split("\n")[0])
    print(versions_line(env))
    print(P.blas_line(blas))
    P.print_load()
    print(f"ricci evaluation path: {P.ricci_mode()}; sizes {args.sizes}; {args.repeat} paired repetitions;"
          " ratio = median of per-repetition ricci / reference")
    parts = [s.strip() for s in args.part.split(",") if s.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        p.error(f"unknown part(s) {sorted(unknown)}")
    print(f"\n{'case':<10} {'sizes':<26} {'dtype':<8} {'ricci ms':>10} {'reference':<12} {'ref ms':>10}"
          f" {'ratio':>7} {'target':>7}  result")
    rows = []
    for part in PARTS:
        if part not in parts:
            continue
        recs, status, wall = P.run_child(["benchmarks/engine.py", "--child", part, "--sizes", args.sizes,
                                          "--repeat", str(args.repeat)], args.child_timeout)
        for r in recs:
            print_row(r)
        if status != "ok":
            r = {"case": part, "size": [], "dtype": "", "target": TARGETS.get(part, 1.5), "met": False,
                 "error": f"child {status} after {len(recs)} row(s)"}
            if part == "rnn_cell":
                r["size"] = [0, 0, 0]
            print(f"{part:<10} FAILED: {r['error']}", flush=True)
            recs.append(r)
        rows += recs
    how = next((r["how"] for r in rows if r.get("how")), None)
    print(f"\nricci path: {how}")
    measured = [r for r in rows if r.get("met") is not None]
    met = sum(r["met"] for r in measured)
    print(f"targets: {met} of {len(measured)} rows met"
          + (f"; missed: " + ", ".join(f"{r['case']} {_size_text(r['case'], r['size']) if r['size'] else ''}"
                                       f" {r.get('dtype', '')}".strip() for r in measured if not r["met"])
             if met < len(measured) else ""))
    skipped = [r for r in rows if r.get("skipped")]
    for r in skipped:
        print(f"skipped: {r['case']} {_size_text(r['case'], r['size'])}: {r['skipped']}")
    payload = {"benchmark": "engine", "sizes": args.sizes, "environment": env, "blas": blas,
               "ricci_mode": P.ricci_mode(), "loadavg_start": P.loadavg(), "ricci_path": how,
               "repeat": args.repeat, "rows": rows,
               "elapsed_s": time.perf_counter() - start, "loadavg_end": P.loadavg()}
    print(f"total {payload['elapsed_s']:.0f} s")
    out = output_path(f"engine{'_small' if small else ''}.json", args.save, args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
