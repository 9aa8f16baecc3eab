"""Scaling: depth (a long tanh chain), width (all gradients of rings and open chains), the 8-layer MLP.

Three parts, each printed as a table with its targets (issue 8), one JSON file:

depth     an L-layer chain of 4x4 matrices, h = tanh(W_i @ h) from h0 (4,),
          loss sum(h * h), gradients w.r.t. all L weights together.  For
          L = 1,000, 2,000, 5,000, 10,000 (``--sizes small``: 100, 200), each
          in a fresh child process: time to build the expression, to derive
          the L gradients, the first evaluation (which includes planning /
          compiling) and the steady evaluation (median of repeated calls), and
          the peak memory of build + derive + first evaluation -- the peak-RSS
          growth of the child (VmHWM minus the RSS before building) and, in a
          second child, tracemalloc's peak (numpy buffers and Python objects).
          Growth exponent = log(t(L_max) / t(L_min)) / log(L_max / L_min).
          Targets: build + derive + first evaluation <= 3 s and <= 300 MiB at
          L = 10,000; exponent <= 1.1 between 1,000 and 10,000.
width     all N gradients of one network of N factors, for N = 8 ... 256
          (``small``: 8, 16), two structures of bond dimension D = 16:
            ring  L = trace(A_1 A_2 ... A_N), A_i (D, D)
            mps   L = l . A_1[x_1] ... A_N[x_N] . r, cores A_i (D, p, D) with
                  p = 4, each contracted with a fixed vector x_i (p,) (a tensor
                  train evaluated on one input), boundary vectors l, r (D,)
          each written two ways: ``einsum`` = one ricci.einsum over all
          factors (past einsum's 52 letters, ``ricci.expr.contract`` with
          integer labels: still one network), ``nested`` =
          a chain of pairwise einsums (what a loop of ``@`` builds).
          Reported: planned FLOPs of all N gradients together
          (``ricci.cost([...])``) / planned FLOPs of the forward, and the
          median paired time ratio (all N gradients evaluated together /
          the forward).  Target: <= 3x in both.
mlp       the 8-layer, width-256 tanh MLP h = tanh(W_i @ h), h0 (256, 64)
          (``small``: width 64, batch 16), loss sum(h * h): planned FLOPs and
          time of each single-weight gradient grad(L, W_i) vs all eight
          together.  Target: any single <= all together (FLOPs and time).

Timing: BLAS (and XLA) pinned to one thread before numpy is imported (and
threadpoolctl's limit where installed); ricci runs the way a user repeats a
call -- ``f = ricci.compile(exprs); f(**inputs)`` where ``ricci.compile``
exists, else ``ricci.evaluate(exprs, inputs)`` (the JSON says which);
compared calls are interleaved block by block and the median of the paired
per-repetition ratios is reported.  Every part runs in child processes with a
time limit, so a slow or crashing engine shows up as a row that says so
instead of stopping the run; a depth that takes longer than ``--depth-budget``
seconds stops the larger depths.  Results: scaling[_small].json in
benchmarks/out/ (untracked) unless ``--save`` writes benchmarks/results/;
``--out`` wins.

Run::

    .venv/bin/python -m benchmarks.scaling                # full sizes, a few minutes
    .venv/bin/python -m benchmarks.scaling --sizes small  # seconds
    .venv/bin/python benchmarks/scaling.py --part depth --depths 1000,3000
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
import tracemalloc
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._paired import pin_blas_threads  # noqa: E402  (before numpy)

pin_blas_threads(1)

import numpy as np  # noqa: E402

from benchmarks import _paired as P  # noqa: E402
from benchmarks._measure import environment, versions_line  # noqa: E402
from benchmarks._paths import add_save_argument, output_path  # noqa: E402

MiB = 2**20

DEPTHS = {"all": [1000, 2000, 5000, 10000], "small": [100, 200]}
WIDTHS = {"all": [8, 16, 32, 64, 128, 256], "small": [8, 16]}
MLP = {"all": (8, 256, 64), "small": (8, 64, 16)}  # layers, width, batch
D_BOND, P_PHYS = 16, 4

DEPTH_TARGET_S, DEPTH_TARGET_MIB, DEPTH_TARGET_EXP, DEPTH_AT = 3.0, 300.0, 1.1, 10000
WIDTH_TARGET = 3.0


# =========================================================================== depth


def build_chain(L):
    import ricci

    h0 = ricci.Tensor("h0", (4,))
    h, Ws = h0, []
    for i in range(L):
        W = ricci.Tensor(f"W{i}", (4, 4))
        Ws.append(W)
        h = ricci.tanh(W @ h)
    return ricci.einsum("i,i->", h, h), Ws


def chain_inputs(L, seed=0):
    rng = np.random.default_rng(seed)
    inputs = {"h0": rng.standard_normal(4)}
    for i in range(L):
        q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
        inputs[f"W{i}"] = 1.5 * q  # orthogonal x 1.5: tanh neither saturates nor dies out along the chain
    return inputs


def depth_child(L, trace, steady_budget_s=3.0):
    import ricci

    inputs = chain_inputs(L)
    rec = {"depth": L, "mode": P.ricci_mode()}
    if trace:
        tracemalloc.start()
    rss0 = P.rss_bytes()
    t0 = time.perf_counter()
    loss, Ws = build_chain(L)
    t1 = time.perf_counter()
    grads = ricci.grad(loss, Ws)
    t2 = time.perf_counter()
    call, how = P.ricci_runner(grads, inputs)
    values = call()
    t3 = time.perf_counter()
    if trace:
        rec["traced_peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        P.emit(rec)
        return
    rec["rss_peak_delta_bytes"] = P.peak_rss_bytes() - rss0
    rec.update(build_s=t1 - t0, derive_s=t2 - t1, first_eval_s=t3 - t2, total_s=t3 - t0, how=how)
    assert len(values) == L and all(np.all(np.isfinite(v)) for v in values)
    # steady: repeated calls, as many as fit in the budget (at least 2)
    times, start = [], time.perf_counter()
    while len(times) < 2 or (len(times) < 15 and time.perf_counter() - start < steady_budget_s):
        s = time.perf_counter()
        call()
        times.append(time.perf_counter() - s)
    rec["steady_eval_s"] = float(np.median(times))
    rec["steady_calls"] = len(times)
    P.emit(rec)


def run_depth(args):
    depths = args.depths
    rows, stop_reason = [], None
    print(f"\n=== depth: L-layer 4x4 tanh chain, gradients w.r.t. all L weights (fresh child per depth) ===",
          flush=True)
    print(f"{'L':>6} {'build s':>9} {'derive s':>9} {'1st eval s':>10} {'b+d+1st s':>10} {'steady s':>9}"
          f" {'RSS MiB':>8} {'traced MiB':>10}  status")
    for L in depths:
        if stop_reason:
            rows.append({"depth": L, "skipped": stop_reason})
            print(f"{L:>6}  skipped: {stop_reason}")
            continue
        script = "benchmarks/scaling.py"
        recs, status, wall = P.run_child([script, "--child", "depth", "--depths", str(L)], args.child_timeout)
        row = recs[0] if recs else {"depth": L}
        row["status"] = status
        if recs and row.get("total_s", 1e9) <= args.trace_budget:
            trecs, tstatus, _ = P.run_child([script, "--child", "depth-trace", "--depths", str(L)],
                                            args.child_timeout)
            if trecs:
                row["traced_peak_bytes"] = trecs[0]["traced_peak_bytes"]
            else:
                row["traced_status"] = tstatus
        elif recs:
            row["traced_status"] = f"not run: build+derive+first eval took {row['total_s']:.1f} s"
        rows.append(row)
        if "total_s" in row:
            rss = row.get("rss_peak_delta_bytes", 0) / MiB
            tr = row.get("traced_peak_bytes")
            print(f"{L:>6} {row['build_s']:>9.3f} {row['derive_s']:>9.3f} {row['first_eval_s']:>10.3f}"
                  f" {row['total_s']:>10.3f} {row['steady_eval_s']:>9.4f} {rss:>8.1f}"
                  f" {'-' if tr is None else f'{tr / MiB:.1f}':>10}  {status}", flush=True)
            if row["total_s"] > args.depth_budget:
                stop_reason = (f"depth {L} took {row['total_s']:.1f} s > {args.depth_budget:g} s "
                               "(--depth-budget); larger depths not run")
        else:
            print(f"{L:>6}  FAILED: {status}", flush=True)
            stop_reason = f"depth {L} failed ({status}); larger depths not run"
    done = [r for r in rows if "total_s" in r]
    exps = {}
    if len(done) >= 2:
        a, b = done[0], done[-1]
        for key in ("build_s", "derive_s", "first_eval_s", "total_s", "steady_eval_s"):
            if a[key] > 0 and b[key] > 0:
                exps[key] = math.log(b[key] / a[key]) / math.log(b["depth"] / a["depth"])
        exps["between"] = [a["depth"], b["depth"]]
        print("growth exponents between L = {} and {}: ".format(a["depth"], b["depth"])
              + ", ".join(f"{k[:-2]} {v:.2f}" for k, v in exps.items() if k != "between"))
    if done:
        print(f"ricci path: {done[0].get('how')}")
    # targets
    at = [r for r in done if r["depth"] == DEPTH_AT]
    targets = []
    if at:
        r = at[0]
        mem = max(r.get("rss_peak_delta_bytes", 0), r.get("traced_peak_bytes") or 0) / MiB
        targets.append(_target(f"depth {DEPTH_AT}: build+derive+first eval <= {DEPTH_TARGET_S:g} s",
                               r["total_s"], DEPTH_TARGET_S, "s"))
        targets.append(_target(f"depth {DEPTH_AT}: peak memory (max of RSS growth and traced) <= "
                               f"{DEPTH_TARGET_MIB:g} MiB", mem, DEPTH_TARGET_MIB, "MiB"))
    else:
        why = next((r.get("skipped") or r.get("status") for r in rows if r["depth"] == DEPTH_AT),
                   f"depth {DEPTH_AT} not in this run")
        targets.append({"target": f"depth {DEPTH_AT}: build+derive+first eval <= {DEPTH_TARGET_S:g} s and "
                                  f"<= {DEPTH_TARGET_MIB:g} MiB", "met": None if DEPTH_AT not in depths else False,
                        "note": why})
    if "total_s" in exps:
        lo, hi = exps["between"]
        targets.append(_target(f"depth growth exponent of build+derive+first eval ({lo}..{hi}) <= "
                               f"{DEPTH_TARGET_EXP:g}", exps["total_s"], DEPTH_TARGET_EXP, ""))
    return {"rows": rows, "exponents": exps}, targets


def _target(name, value, limit, unit):
    return {"target": name, "value": value, "limit": limit, "unit": unit, "met": bool(value <= limit)}


# =========================================================================== width


def _letters(n):
    import string

    letters = string.ascii_lowercase + string.ascii_uppercase
    return letters[:n] if n <= len(letters) else None


def build_ring(N, form):
    """trace(A_1 ... A_N): returns (loss, cores, extra tensors)."""
    import ricci

    As = [ricci.Tensor(f"A{i}", (D_BOND, D_BOND)) for i in range(N)]
    if form == "einsum":
        lab = _letters(N)
        if lab is None:  # beyond einsum's 52 labels: one contraction with integer labels
            from ricci.expr import contract

            return contract((), [(A, (i, (i + 1) % N)) for i, A in enumerate(As)]), As, []
        subs = ",".join(lab[i] + lab[(i + 1) % N] for i in range(N)) + "->"
        return ricci.einsum(subs, *As), As, []
    M = As[0]
    for A in As[1:]:
        M = ricci.einsum("ab,bc->ac", M, A)
    return ricci.einsum("aa->", M), As, []


def build_mps(N, form):
    """l . A_1[x_1] ... A_N[x_N] . r: returns (loss, cores, extra tensors)."""
    import ricci

    As = [ricci.Tensor(f"A{i}", (D_BOND, P_PHYS, D_BOND)) for i in range(N)]
    xs = [ricci.Tensor(f"x{i}", (P_PHYS,)) for i in range(N)]
    lv, rv = ricci.Tensor("l", (D_BOND,)), ricci.Tensor("r", (D_BOND,))
    extra = xs + [lv, rv]
    if form == "einsum":
        lab = _letters(2 * N + 1)
        if lab is None:  # beyond einsum's 52 labels: one contraction with integer labels
            from ricci.expr import contract

            factors = [(lv, (0,))]
            for i in range(N):
                factors += [(As[i], (i, N + 1 + i, i + 1)), (xs[i], (N + 1 + i,))]
            factors.append((rv, (N,)))
            return contract((), factors), As, extra
        bond, phys = lab[: N + 1], lab[N + 1:]
        subs = [bond[0]]
        for i in range(N):
            subs += [bond[i] + phys[i] + bond[i + 1], phys[i]]
        subs.append(bond[N])
        ops = [lv]
        for i in range(N):
            ops += [As[i], xs[i]]
        ops.append(rv)
        return ricci.einsum(",".join(subs) + "->", *ops), As, extra
    v = lv
    for i in range(N):
        v = ricci.einsum("a,asb,s->b", v, As[i], xs[i])
    return ricci.einsum("a,a->", v, rv), As, extra


def width_inputs(structure, N, seed=0):
    rng = np.random.default_rng(seed)
    if structure == "ring":
        return {f"A{i}": np.linalg.qr(rng.standard_normal((D_BOND, D_BOND)))[0] for i in range(N)}
    inputs = {f"A{i}": rng.standard_normal((D_BOND, P_PHYS, D_BOND)) / np.sqrt(D_BOND) for i in range(N)}
    for i in range(N):
        x = rng.standard_normal(P_PHYS)
        inputs[f"x{i}"] = x / np.linalg.norm(x) * np.sqrt(P_PHYS / 2)
    inputs["l"] = rng.standard_normal(D_BOND)
    inputs["r"] = rng.standard_normal(D_BOND)
    return inputs


def width_child(structure, form, Ns, repeats):
    import ricci

    build = build_ring if structure == "ring" else build_mps
    for N in Ns:
        rec = {"structure": structure, "form": form, "N": N, "mode": P.ricci_mode()}
        try:
            t0 = time.perf_counter()
            loss, cores, _ = build(N, form)
            grads = ricci.grad(loss, cores)
            rec["build_derive_s"] = time.perf_counter() - t0
        except Exception as exc:  # e.g. more labels than ricci.einsum's subscripts hold
            rec["not_built"] = f"{type(exc).__name__}: {exc}"[:300]
            P.emit(rec)
            continue
        inputs = width_inputs(structure, N)
        try:
            t0 = time.perf_counter()
            rec["forward_flops"] = int(ricci.cost(loss).flops)
            rec["grads_flops"] = int(ricci.cost(grads).flops)
            rec["cost_s"] = time.perf_counter() - t0
            rec["flops_ratio"] = rec["grads_flops"] / max(rec["forward_flops"], 1)
            t0 = time.perf_counter()
            fwd, how = P.ricci_runner(loss, inputs)
            bwd, _ = P.ricci_runner(grads, inputs)
            f_val, g_val = fwd(), bwd()
            rec["first_calls_s"] = time.perf_counter() - t0
            rec["how"] = how
            # check one gradient against a finite difference of the forward
            k = N // 2
            d = np.random.default_rng(1).standard_normal(inputs[f"A{k}"].shape)
            eps = 1e-6
            plus = dict(inputs, **{f"A{k}": inputs[f"A{k}"] + eps * d})
            minus = dict(inputs, **{f"A{k}": inputs[f"A{k}"] - eps * d})
            fd = (float(ricci.evaluate(loss, plus)) - float(ricci.evaluate(loss, minus))) / (2 * eps)
            ad = float(np.vdot(g_val[k], d))
            rec["fd_check_rel"] = abs(ad - fd) / max(abs(fd), 1e-300)
            rec["value"] = float(f_val)
            res = P.paired({"forward": fwd, "all_grads": bwd}, "forward", repeats=repeats)
            rec["forward_s"] = res["forward"]["median_s"]
            rec["grads_s"] = res["all_grads"]["median_s"]
            rec["time_ratio"] = res["ratios"]["all_grads"]["median"]
            rec["time_ratio_q25_q75"] = [res["ratios"]["all_grads"]["q25"], res["ratios"]["all_grads"]["q75"]]
        except Exception as exc:
            rec["error"] = f"{type(exc).__name__}: {exc}"[:300]
        P.emit(rec)


def run_width(args):
    print(f"\n=== width: all N gradients of one N-factor network vs its forward (D = {D_BOND}"
          f", mps p = {P_PHYS}) ===", flush=True)
    print("flops x = planned FLOPs of all N gradients / forward; time x = median paired ratio"
          " (all N gradients evaluated together / forward)")
    print(f"{'structure':<6} {'form':<7} {'N':>4} {'fwd flops':>11} {'grads flops':>12} {'flops x':>8}"
          f" {'fwd ms':>9} {'grads ms':>9} {'time x':>7}  {'<=3x':>6}  note")
    rows, targets = [], []
    for structure in ("ring", "mps"):
        for form in ("einsum", "nested"):
            recs, status, wall = P.run_child(
                ["benchmarks/scaling.py", "--child", "width", "--structure", structure, "--form", form,
                 "--widths", ",".join(map(str, args.widths)), "--repeat", str(args.repeat)],
                args.width_timeout)
            seen = {r["N"] for r in recs}
            for N in args.widths:
                if N not in seen:
                    recs.append({"structure": structure, "form": form, "N": N,
                                 "not_run": f"child {status} ({wall:.0f} s) before reaching N = {N}"})
            for r in sorted(recs, key=lambda r: r["N"]):
                note = r.get("not_built") or r.get("error") or r.get("not_run") or ""
                if "time_ratio" in r:
                    met = r["flops_ratio"] <= WIDTH_TARGET and r["time_ratio"] <= WIDTH_TARGET
                    r["met"] = met
                    if r["fd_check_rel"] > 1e-4:
                        note = f"GRADIENT CHECK FAILED (rel {r['fd_check_rel']:.1e}) " + note
                    print(f"{structure:<6} {form:<7} {r['N']:>4} {r['forward_flops']:>11.3g}"
                          f" {r['grads_flops']:>12.3g} {r['flops_ratio']:>8.2f} {r['forward_s'] * 1e3:>9.3f}"
                          f" {r['grads_s'] * 1e3:>9.3f} {r['time_ratio']:>7.2f}  {P.verdict(met):>6}  {note}")
                else:
                    r["met"] = None if r.get("not_built") else False
                    print(f"{structure:<6} {form:<7} {r['N']:>4} {'-':>11} {'-':>12} {'-':>8} {'-':>9} {'-':>9}"
                          f" {'-':>7}  {P.verdict(r['met']):>6}  {note[:110]}")
                rows.append(r)
            sys.stdout.flush()
    measured = [r for r in rows if r["met"] is not None]
    missed = [f"{r['structure']}/{r['form']} N={r['N']}" + (
        f" ({r['flops_ratio']:.2f}x flops, {r['time_ratio']:.2f}x time)" if "time_ratio" in r else
        f" ({r.get('error') or r.get('not_run')})"[:120]) for r in measured if not r["met"]]
    targets.append({"target": f"all N gradients <= {WIDTH_TARGET:g}x the forward (planned FLOPs and time), "
                              f"ring and mps, N = {args.widths[0]}..{args.widths[-1]}",
                    "met": (not missed) if measured else None, "missed": missed,
                    "not_expressible": [f"{r['structure']}/{r['form']} N={r['N']}" for r in rows
                                        if r.get("not_built")]})
    return {"rows": rows}, targets


# =========================================================================== mlp


def build_mlp(layers, width, batch):
    import ricci

    X = ricci.Tensor("X", (width, batch))
    Ws = [ricci.Tensor(f"W{i}", (width, width)) for i in range(layers)]
    h = X
    for W in Ws:
        h = ricci.tanh(ricci.einsum("ij,jb->ib", W, h))
    return ricci.einsum("ib,ib->", h, h), Ws


def mlp_inputs(layers, width, batch, seed=0):
    rng = np.random.default_rng(seed)
    inputs = {"X": rng.standard_normal((width, batch))}
    for i in range(layers):
        inputs[f"W{i}"] = rng.standard_normal((width, width)) / np.sqrt(width)
    return inputs


def mlp_child(layers, width, batch, repeats, max_flops):
    import ricci

    loss, Ws = build_mlp(layers, width, batch)
    inputs = mlp_inputs(layers, width, batch)
    exprs = {"all": ricci.grad(loss, Ws)}
    for i, W in enumerate(Ws):
        exprs[f"W{i}"] = ricci.grad(loss, W)
    rec = {"layers": layers, "width": width, "batch": batch, "mode": P.ricci_mode(), "cases": {}}
    runners, ref_vals = {}, None
    for name, e in exprs.items():
        c = rec["cases"][name] = {}
        try:
            c["flops"] = int(ricci.cost(e).flops)
        except Exception as exc:
            c["error"] = f"cost: {type(exc).__name__}: {exc}"[:300]
            continue
        if c["flops"] > max_flops:
            c["not_timed"] = f"planned {c['flops']:.3g} FLOPs > {max_flops:.3g} (--mlp-max-flops)"
            continue
        try:
            run, how = P.ricci_runner(e, inputs)
            t0 = time.perf_counter()
            val = run()
            c["first_call_s"] = time.perf_counter() - t0
            rec["how"] = how
        except Exception as exc:
            c["error"] = f"evaluate: {type(exc).__name__}: {exc}"[:300]
            continue
        if name == "all":
            ref_vals = val
        elif ref_vals is not None:
            i = int(name[1:])
            c["matches_all"] = bool(np.allclose(val, ref_vals[i], rtol=1e-8, atol=1e-10))
        runners[name] = run
    if "all" in runners:
        # one paired comparison per single gradient: single / all
        for name, run in runners.items():
            if name == "all":
                continue
            slow = rec["cases"][name].get("first_call_s", 0) > 0.1  # a badly planned single: fewer pairs
            res = P.paired({"all": runners["all"], name: run}, "all", repeats=3 if slow else repeats, warmup=0)
            c = rec["cases"][name]
            c["median_s"] = res[name]["median_s"]
            c["all_median_s"] = res["all"]["median_s"]
            c["time_ratio_to_all"] = res["ratios"][name]["median"]
        rec["cases"]["all"]["median_s"] = float(np.median(
            [c["all_median_s"] for c in rec["cases"].values() if "all_median_s" in c] or [np.nan]))
    P.emit(rec)


def run_mlp(args):
    layers, width, batch = args.mlp
    print(f"\n=== mlp: {layers}-layer width-{width} tanh MLP (batch {batch}); each grad(L, W_i) alone vs all"
          f" {layers} together ===", flush=True)
    recs, status, wall = P.run_child(
        ["benchmarks/scaling.py", "--child", "mlp", "--mlp", f"{layers},{width},{batch}",
         "--repeat", str(args.repeat), "--mlp-max-flops", str(args.mlp_max_flops)], args.child_timeout)
    if not recs:
        print(f"FAILED: {status}")
        return {"status": status}, [{"target": "any single MLP gradient <= all together", "met": False,
                                      "note": status}]
    rec = recs[0]
    rec["status"] = status
    cases = rec["cases"]
    allc = cases["all"]
    print(f"{'gradient':<9} {'flops':>11} {'flops x all':>11} {'ms':>9} {'time x all':>10}  {'<=all':>6}  note")
    missed, rows_met = [], []
    for name, c in cases.items():
        fx = c["flops"] / allc["flops"] if "flops" in c and "flops" in allc else None
        tx = c.get("time_ratio_to_all")
        if name == "all":
            met = None
        elif fx is None:
            met = False
        else:
            met = fx <= 1.0 and (tx is None or tx <= 1.0)
            if tx is None:  # not timed: FLOPs decide (a single that plans more FLOPs than all is a miss)
                met = False if fx > 1.0 else None
        c["met"] = met
        if name != "all":
            rows_met.append(met)
            if met is False:
                missed.append(f"{name} ({'-' if fx is None else f'{fx:.2f}x'} flops, "
                              f"{'-' if tx is None else f'{tx:.2f}x'} time)")
        note = c.get("error") or c.get("not_timed") or ""
        if c.get("matches_all") is False:
            note = "DIFFERS FROM THE ALL-TOGETHER RESULT " + note
        ms = c.get("median_s")
        print(f"{name:<9} {c.get('flops', float('nan')):>11.3g} {'-' if fx is None else f'{fx:.2f}':>11}"
              f" {'-' if ms is None else f'{ms * 1e3:.3f}':>9} {'-' if tx is None else f'{tx:.2f}':>10}"
              f"  {P.verdict(met) if name != 'all' else '':>6}  {note[:100]}")
    print(f"ricci path: {rec.get('how')}")
    decided = [m for m in rows_met if m is not None]
    target = {"target": "any single MLP gradient <= all eight together (planned FLOPs and time)",
              "met": (not missed) if decided else None, "missed": missed}
    return rec, [target]


# =========================================================================== main


def _ints(text):
    return [int(v) for v in text.split(",") if v.strip()]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", choices=["all", "small"], default="all")
    p.add_argument("--part", default="depth,width,mlp", help="comma list of depth, width, mlp")
    p.add_argument("--depths", type=_ints, default=None, help="depths L (default 1000,2000,5000,10000)")
    p.add_argument("--widths", type=_ints, default=None, help="N for the width part (default 8..256)")
    p.add_argument("--mlp", type=_ints, default=None, help="layers,width,batch (default 8,256,64)")
    p.add_argument("--repeat", type=int, default=None, help="paired repetitions (default 15; small 5)")
    p.add_argument("--depth-budget", type=float, default=40.0,
                   help="seconds: a depth whose build+derive+first eval takes longer stops larger depths")
    p.add_argument("--trace-budget", type=float, default=15.0,
                   help="seconds: run the tracemalloc child only for depths faster than this")
    p.add_argument("--child-timeout", type=float, default=None, help="seconds per child (default 120; small 60)")
    p.add_argument("--width-timeout", type=float, default=None,
                   help="seconds per (structure, form) child of the width part (default 30; small 30)")
    p.add_argument("--mlp-max-flops", type=float, default=2e10, help="do not time a gradient planned above this")
    p.add_argument("--out", type=Path, default=None)
    add_save_argument(p)
    p.add_argument("--child", choices=["depth", "depth-trace", "width", "mlp"], help=argparse.SUPPRESS)
    p.add_argument("--structure", default="ring", help=argparse.SUPPRESS)
    p.add_argument("--form", default="einsum", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    small = args.sizes == "small"
    args.depths = args.depths or DEPTHS[args.sizes]
    args.widths = args.widths or WIDTHS[args.sizes]
    args.mlp = tuple(args.mlp or MLP[args.sizes])
    args.repeat = args.repeat or (5 if small else 15)
    args.child_timeout = args.child_timeout or (60.0 if small else 120.0)
    args.width_timeout = args.width_timeout or 30.0

    if args.child:
        P.limit_threads(1)
        if args.child in ("depth", "depth-trace"):
            depth_child(args.depths[0], trace=args.child == "depth-trace")
        elif args.child == "width":
            width_child(args.structure, args.form, args.widths, args.repeat)
        else:
            mlp_child(*args.mlp, args.repeat, args.mlp_max_flops)
        return 0

    P.limit_threads(1)
    start = time.perf_counter()
    env = environment()
    blas = P.blas_info()
    print(__doc__.split("\n")[0])
    print(versions_line(env))
    print(P.blas_line(blas))
    P.print_load()
    print(f"ricci evaluation path: {P.ricci_mode()}; sizes {args.sizes}")
    parts = [s.strip() for s in args.part.split(",") if s.strip()]
    payload = {"benchmark": "scaling", "sizes": args.sizes, "environment": env, "blas": blas,
               "ricci_mode": P.ricci_mode(), "loadavg_start": P.loadavg(), "repeat": args.repeat, "targets": []}
    if "depth" in parts:
        payload["depth"], t = run_depth(args)
        payload["targets"] += t
    if "width" in parts:
        payload["width"], t = run_width(args)
        payload["targets"] += t
    if "mlp" in parts:
        payload["mlp"], t = run_mlp(args)
        payload["targets"] += t
    print("\n=== targets (issue 8) ===")
    for t in payload["targets"]:
        extra = ""
        if "value" in t:
            extra = f" ({t['value']:.3g}{' ' + t['unit'] if t['unit'] else ''})"
        print(f"{P.verdict(t['met']):>6}  {t['target']}{extra}")
        for m in t.get("missed", [])[:12]:
            print(f"          missed at {m}")
        if t.get("note"):
            print(f"          {t['note']}")
    payload["elapsed_s"] = time.perf_counter() - start
    payload["loadavg_end"] = P.loadavg()
    print(f"\ntotal {payload['elapsed_s']:.0f} s")
    out = output_path(f"scaling{'_small' if small else ''}.json", args.save, args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
