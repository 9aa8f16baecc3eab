"""Derivation scaling: time to derive gradients of deep models, ricci vs tensorgrad vs JAX tracing.

Models (the same in every framework; width n=16, batch B=8, float64)
    mlp  L layers h_l = tanh(W_l h_{l-1} + b_l 1^T), h_0 = x, loss = sum(h_L * Y);
         gradient wrt all 2L weights (W_l, b_l), L = 1, 2, 4, ..., 256.
    rnn  T unrolled steps h_t = tanh(W_h h_{t-1} + W_x x_t + b 1^T) with SHARED
         weights, loss = sum(h_T * Y); gradient wrt (W_h, W_x, b), T = 1, 2, ..., 128.

Methods (what is timed)
    ricci               ``ricci.grad(loss, weights)`` on the already-built expression
                        (building the forward expression is timed separately: build ms).
                        size = nodes of the derived DAG,
                        ``len(ricci.expr.topological_order(grads))``.
    tensorgrad          tensorgrad's documented symbolic path: ``loss.grad(w).simplify()``
                        for each weight (Derivative nodes resolved, expression simplified).
    tensorgrad-shared   what ``tensorgrad.compiler.compile_to_callable(*grads)`` does before
                        lowering: ``resolve_shared_gradients`` (one cotangent sweep for all
                        weights) + ``simplify(normalize_args())`` with one shared memo.
                        tensorgrad's fastest derivation; its numeric side (torch 2.7) is not
                        timed.  size = distinct tensorgrad nodes reachable from the results.
    jax                 ``jax.jit(jax.grad(loss)).lower(...)`` (trace + lower to HLO) and
                        ``.compile()`` (XLA) with caches cleared first; the model is a Python
                        loop, so tracing unrolls it like the other methods.  size = equations
                        in ``jax.make_jaxpr(jax.grad(loss))`` (measured outside the timing).
tensorgrad and jax are optional (skipped with a note when not importable).  tensorgrad
is AGPL: this script only calls it.

Each (method) runs in a fresh child process (both models), depth by depth; each
depth is repeated (fresh names, so no cache is hit) up to ``--repeat`` times or
until ~2 s are spent, and the median is reported.  When one derivation takes
longer than ``--limit-s``, the method stops increasing the depth for that model
(and says so); a child running longer than ``--timeout-s`` is killed.

The growth exponent is the slope of log(time) against log(depth), fitted over
depths >= 8 (all depths when fewer than 3 are that deep): 1 means linear.
Target: ricci's derivation time linear in depth (slope <= 1.2): MET/MISSED.

Results: derivation.json (derivation_small.json for ``--sizes small``) in
benchmarks/out/ (untracked) unless ``--save`` writes benchmarks/results/;
``--out`` wins.

Run (from the repository root)::

    .venv/bin/python benchmarks/derivation.py                  # depths up to 256 / 128
    .venv/bin/python benchmarks/derivation.py --sizes small    # depths 1..4, ~15 s
    .venv/bin/python benchmarks/derivation.py --methods ricci,jax --max-depth 64
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmark the checkout this script lives in
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks._measure import child_env, environment, versions_line  # noqa: E402
from benchmarks._paths import add_save_argument, output_path  # noqa: E402

METHODS = ["ricci", "tensorgrad", "tensorgrad-shared", "jax"]
PEER = {"tensorgrad": "tensorgrad", "tensorgrad-shared": "tensorgrad", "jax": "jax"}
MODELS = {"mlp": [2**k for k in range(9)], "rnn": [2**k for k in range(8)]}
DEPTH_NAME = {"mlp": "L (layers)", "rnn": "T (steps)"}
N, NX, B = 16, 8, 8
LINEAR_SLOPE = 1.2  # "linear": fitted exponent at most this
FIT_MIN_DEPTH = 8
REPEAT_BUDGET_S = 2.0


class Skip(Exception):
    pass


# --------------------------------------------------------------------------- models per framework


def ricci_model(model, depth, prefix):
    import ricci

    ones = np.ones(B)
    if model == "mlp":
        h = ricci.Tensor(f"{prefix}x", (N, B))
        weights = []
        for l in range(depth):
            W, b = ricci.Tensor(f"{prefix}W{l}", (N, N)), ricci.Tensor(f"{prefix}b{l}", (N,))
            weights += [W, b]
            h = ricci.tanh(ricci.einsum("ij,jb->ib", W, h) + ricci.einsum("i,b->ib", b, ones))
    else:
        Wh, Wx, b = (ricci.Tensor(f"{prefix}Wh", (N, N)), ricci.Tensor(f"{prefix}Wx", (N, NX)),
                     ricci.Tensor(f"{prefix}b", (N,)))
        weights = [Wh, Wx, b]
        h = ricci.Tensor(f"{prefix}h0", (N, B))
        for t in range(depth):
            x = ricci.Tensor(f"{prefix}x{t}", (NX, B))
            h = ricci.tanh(ricci.einsum("ij,jb->ib", Wh, h) + ricci.einsum("ij,jb->ib", Wx, x)
                           + ricci.einsum("i,b->ib", b, ones))
    Y = ricci.Tensor(f"{prefix}Y", (N, B))
    return ricci.einsum("ib,ib->", h, Y), weights


def tensorgrad_model(model, depth, prefix):
    import sympy
    import tensorgrad as tg
    import tensorgrad.functions as F

    n, k, bs = sympy.symbols("n k B")
    ones = tg.Delta(bs, "b")  # a Delta with one edge is the all-ones vector
    if model == "mlp":
        h = tg.Variable(f"{prefix}x", i=n, b=bs)
        weights = []
        for l in range(depth):
            W, b = tg.Variable(f"{prefix}W{l}", o=n, i=n), tg.Variable(f"{prefix}b{l}", o=n)
            weights += [W, b]
            h = F.tanh(W @ h + b @ ones).rename(o="i")
    else:
        Wh, Wx, b = (tg.Variable(f"{prefix}Wh", o=n, i=n), tg.Variable(f"{prefix}Wx", o=n, k=k),
                     tg.Variable(f"{prefix}b", o=n))
        weights = [Wh, Wx, b]
        h = tg.Variable(f"{prefix}h0", i=n, b=bs)
        for t in range(depth):
            x = tg.Variable(f"{prefix}x{t}", k=k, b=bs)
            h = F.tanh(Wh @ h + Wx @ x + b @ ones).rename(o="i")
    Y = tg.Variable(f"{prefix}Y", i=n, b=bs)
    return h @ Y, weights


def jax_model(model, depth):
    """A fresh loss function (so jit caches cannot help) and example arguments."""
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    Y = rng.standard_normal((N, B))
    if model == "mlp":
        params = [(rng.standard_normal((N, N)) / 4, rng.standard_normal(N) / 4) for _ in range(depth)]
        x = rng.standard_normal((N, B))

        def loss(params, x, Y):
            h = x
            for W, b in params:
                h = jnp.tanh(W @ h + b[:, None])
            return jnp.sum(h * Y)

        return loss, (params, x, Y)
    params = (rng.standard_normal((N, N)) / 4, rng.standard_normal((N, NX)) / 4, rng.standard_normal(N) / 4)
    h0 = rng.standard_normal((N, B))
    xs = [rng.standard_normal((NX, B)) for _ in range(depth)]

    def loss(params, h0, xs, Y):
        Wh, Wx, b = params
        h = h0
        for x in xs:
            h = jnp.tanh(Wh @ h + Wx @ x + b[:, None])
        return jnp.sum(h * Y)

    return loss, (params, h0, xs, Y)


# --------------------------------------------------------------------------- one measurement per method


def _tg_count(tensors):
    """Distinct tensorgrad nodes reachable from ``tensors`` (shared nodes counted once)."""
    seen, stack = set(), list(tensors)
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.extend(t.structure().children)
    return len(seen)


def measure_once(method, model, depth, prefix, want_size):
    """Derive once; returns (seconds, extra facts)."""
    if method == "ricci":
        import ricci
        from ricci.expr import topological_order

        t0 = time.perf_counter()
        loss, weights = ricci_model(model, depth, prefix)
        t1 = time.perf_counter()
        grads = ricci.grad(loss, weights)
        t2 = time.perf_counter()
        extra = {"build_s": t1 - t0}
        if want_size:
            extra["nodes"] = len(topological_order(grads))
            extra["forward_nodes"] = len(topological_order([loss]))
        return t2 - t1, extra
    if method in ("tensorgrad", "tensorgrad-shared"):
        import tensorgrad as tg

        loss, weights = tensorgrad_model(model, depth, prefix)
        if method == "tensorgrad":
            t0 = time.perf_counter()
            grads = [loss.grad(w).simplify() for w in weights]
            t1 = time.perf_counter()
        else:
            from tensorgrad.compiler.reverse import resolve_shared_gradients
            from tensorgrad.compiler.runtime import normalize_args

            t0 = time.perf_counter()
            args = normalize_args()
            raw = resolve_shared_gradients(tuple(tg.grad(loss, weights)))
            grads = [g.simplify(args) for g in raw]
            t1 = time.perf_counter()
        extra = {"nodes": _tg_count(grads)} if want_size else {}
        return t1 - t0, extra
    if method == "jax":
        import jax

        if hasattr(jax, "clear_caches"):
            jax.clear_caches()
        loss, args = jax_model(model, depth)
        t0 = time.perf_counter()
        lowered = jax.jit(jax.grad(loss)).lower(*args)
        t1 = time.perf_counter()
        lowered.compile()
        t2 = time.perf_counter()
        extra = {"trace_s": t1 - t0, "compile_s": t2 - t1}
        if want_size:
            extra["nodes"] = len(jax.make_jaxpr(jax.grad(loss))(*args).jaxpr.eqns)
        return t2 - t0, extra
    raise ValueError(method)


def _import_peer(method):
    if method in ("tensorgrad", "tensorgrad-shared"):
        try:
            import tensorgrad  # noqa: F401
            from tensorgrad.compiler.reverse import resolve_shared_gradients  # noqa: F401
        except Exception as exc:
            raise Skip(f"tensorgrad not importable ({type(exc).__name__}: {exc})")
    elif method == "jax":
        try:
            import jax
        except Exception as exc:
            raise Skip(f"jax not importable ({type(exc).__name__}: {exc})")
        jax.config.update("jax_enable_x64", True)


def run_child(method, plan, repeat, limit_s):
    """Sweep the depths of each model, printing one JSON line per measurement (streamed)."""
    def emit(obj):
        print(json.dumps(obj), flush=True)

    try:
        _import_peer(method)
    except Skip as exc:
        emit({"skipped": str(exc)})
        return
    # warm up imports / first-call machinery on a tiny model (not reported)
    measure_once(method, "mlp", 1, "warm_", False)
    for model, depths in plan.items():
        for depth in depths:
            times, extra = [], {}
            spent = 0.0
            try:
                for rep in range(repeat):
                    gc.collect()
                    dt, facts = measure_once(method, model, depth, f"{model}{depth}r{rep}_", rep == 0)
                    times.append(dt)
                    for k, v in facts.items():
                        extra.setdefault(k, []).append(v)
                    spent += dt
                    if spent > REPEAT_BUDGET_S or dt > limit_s:
                        break
            except RecursionError as exc:
                emit({"model": model, "depth": depth, "stopped": f"RecursionError: {exc}"})
                break
            rec = {"model": model, "depth": depth, "median_s": statistics.median(times), "min_s": min(times),
                   "repeats": len(times), "times_s": times}
            for k, v in extra.items():
                rec[k] = v[0] if k in ("nodes", "forward_nodes") else statistics.median(v)
            emit(rec)
            if min(times) > limit_s:
                emit({"model": model, "depth": depth,
                      "stopped": f"one derivation took {min(times):.1f} s > {limit_s:g} s at depth {depth}; "
                                 "larger depths not run"})
                break


# --------------------------------------------------------------------------- parent


def spawn_method(method, plan, repeat, limit_s, timeout_s, progress=True):
    """Run one method's child, streaming its records; returns {model: {"points": [...], "stopped": ...}}."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", method,
           "--plan", json.dumps(plan), "--repeat", str(repeat), "--limit-s", repr(limit_s)]
    result = {model: {"points": [], "stopped": None} for model in plan}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=str(ROOT), env=child_env())
    killed = []

    def kill():
        killed.append(True)
        proc.kill()

    timer = threading.Timer(timeout_s, kill)
    timer.start()
    stderr_lines = []
    drain = threading.Thread(target=lambda: stderr_lines.extend(proc.stderr), daemon=True)
    drain.start()
    last_model = None
    try:
        for line in proc.stdout:
            if not line.startswith("{"):
                continue
            rec = json.loads(line)
            if "skipped" in rec:
                for model in result:
                    result[model]["skipped"] = rec["skipped"]
                if progress:
                    print(f"  {method}: skipped ({rec['skipped']})", flush=True)
                continue
            model = last_model = rec["model"]
            if "stopped" in rec:
                result[model]["stopped"] = rec["stopped"]
                if progress:
                    print(f"  {method} {model}: stopped: {rec['stopped']}", flush=True)
                continue
            result[model]["points"].append(rec)
            if progress:
                size = f", {rec['nodes']:,} nodes" if "nodes" in rec else ""
                print(f"  {method:<17} {model} depth {rec['depth']:>3}: {rec['median_s'] * 1e3:10.2f} ms"
                      f" ({rec['repeats']} runs{size})", flush=True)
    finally:
        proc.wait()
        timer.cancel()
        drain.join(timeout=5)
    if killed:
        model = last_model or next(iter(plan))
        note = f"child killed after the {timeout_s:g} s time-out; larger depths not run"
        for m in list(result)[list(result).index(model):]:
            result[m]["stopped"] = result[m]["stopped"] or note
    elif proc.returncode != 0:
        tail = " | ".join(ln.strip() for ln in stderr_lines[-3:])
        for m in result:
            if not result[m]["points"] or m == last_model:
                result[m]["error"] = f"child exit {proc.returncode}: {tail}"
    return result


def fit_slope(points):
    """Slope of log(time) vs log(depth) over depths >= FIT_MIN_DEPTH (else all); (slope, lo, hi)."""
    pts = [(p["depth"], p["median_s"]) for p in points if p["median_s"] > 0]
    deep = [p for p in pts if p[0] >= FIT_MIN_DEPTH]
    use = deep if len(deep) >= 3 else pts
    if len(use) < 2:
        return None, None, None
    x = np.log([d for d, _ in use])
    y = np.log([t for _, t in use])
    return float(np.polyfit(x, y, 1)[0]), use[0][0], use[-1][0]


def print_model(model, depths, results, methods):
    print(f"\n=== {model}: {DEPTH_NAME[model]}; time to derive in ms (size of the derived expression) ===")
    head = f"{'depth':>5}"
    for m in methods:
        head += f" {m + ' ms':>20} {'size':>7}"
    print(head)
    for d in depths:
        row = f"{d:>5}"
        for m in methods:
            p = next((p for p in results[m][model]["points"] if p["depth"] == d), None)
            if p is None:
                row += f" {'-':>20} {'-':>7}"
            else:
                row += f" {p['median_s'] * 1e3:>20.2f} {p.get('nodes', '-'):>7}"
        print(row)
    jax = results.get("jax", {}).get(model)
    if jax and jax["points"]:
        last = jax["points"][-1]
        print(f"jax at depth {last['depth']}: trace+lower {last['trace_s'] * 1e3:.1f} ms, "
              f"XLA compile {last['compile_s'] * 1e3:.1f} ms (size = jaxpr equations)")
    ric = results.get("ricci", {}).get(model)
    if ric and ric["points"]:
        last = ric["points"][-1]
        print(f"ricci at depth {last['depth']}: building the forward expression {last['build_s'] * 1e3:.1f} ms "
              f"({last['forward_nodes']:,} nodes); size = derived DAG nodes (forward nodes included)")
    for m in methods:
        r = results[m][model]
        if r.get("skipped"):
            print(f"{m}: skipped ({r['skipped']})")
            continue
        if r.get("error"):
            print(f"{m}: ERROR {r['error']}")
        slope, lo, hi = r.get("slope"), r.get("fit_lo"), r.get("fit_hi")
        if slope is not None:
            kind = ("superlinear" if slope > LINEAR_SLOPE else "linear" if slope >= 0.8
                    else "sublinear over this range: a fixed cost dominates")
            print(f"{m}: growth exponent {slope:.2f} over depths {lo}..{hi} ({kind})")
        if r.get("stopped"):
            print(f"{m}: stopped increasing the depth: {r['stopped']}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="all", help="'all' (default: depths up to 256 / 128) or 'small' (up to 4)")
    p.add_argument("--max-depth", type=int, default=None, help="cap the depths")
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ", ".join(METHODS))
    p.add_argument("--models", default="mlp,rnn")
    p.add_argument("--repeat", type=int, default=5, help="repeats per depth (median reported; ~2 s cap)")
    p.add_argument("--limit-s", type=float, default=None,
                   help="stop increasing a method's depth once one derivation takes longer "
                        "(default 20 s, 5 s with --sizes small)")
    p.add_argument("--timeout-s", type=float, default=None,
                   help="kill a method's child after this long (default 900 s, 120 s with --sizes small)")
    p.add_argument("--out", type=Path, default=None, help="JSON output path")
    add_save_argument(p)
    p.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    p.add_argument("--plan", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    small = args.sizes == "small"
    limit_s = args.limit_s if args.limit_s is not None else (5.0 if small else 20.0)
    timeout_s = args.timeout_s if args.timeout_s is not None else (120.0 if small else 900.0)

    if args.child:
        sys.setrecursionlimit(1_000_000)  # tensorgrad's simplify recurses along the model's depth
        threading.stack_size(1 << 30)
        worker = threading.Thread(target=run_child,
                                  args=(args.child, json.loads(args.plan), args.repeat, limit_s))
        worker.start()
        worker.join()
        return 0

    max_depth = args.max_depth or (4 if small else None)
    plan = {m: [d for d in MODELS[m] if max_depth is None or d <= max_depth]
            for m in args.models.split(",") if m}
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        p.error(f"unknown method(s) {unknown}; choose from {METHODS}")
    if "ricci" not in methods:
        methods.insert(0, "ricci")

    env = environment()
    print(__doc__.split("\n")[0])
    print(versions_line(env))
    print(f"models: {', '.join(f'{m} depths {d[0]}..{d[-1]}' for m, d in plan.items())}; width {N}, batch {B}; "
          f"repeat {args.repeat}; stop a method past {limit_s:g} s per derivation")
    t0 = time.perf_counter()
    results = {}
    for method in methods:
        peer = PEER.get(method)
        if peer and importlib.util.find_spec(peer) is None:
            print(f"note: {peer} not installed; skipping {method}")
            results[method] = {m: {"points": [], "stopped": None, "skipped": f"{peer} not installed"}
                               for m in plan}
            continue
        print(f"[{method}]", flush=True)
        results[method] = spawn_method(method, plan, args.repeat, limit_s, timeout_s)
        for model, r in results[method].items():
            r["slope"], r["fit_lo"], r["fit_hi"] = fit_slope(r["points"])

    for model, depths in plan.items():
        print_model(model, depths, results, methods)

    print("\nsummary of targets:")
    summary, facts = [], {}
    for model in plan:
        r = results["ricci"][model]
        slope = r.get("slope")
        met = slope is not None and slope <= LINEAR_SLOPE and not r.get("stopped") and not r.get("error")
        facts[f"ricci_linear_{model}"] = met
        detail = "no fit" if slope is None else f"exponent {slope:.2f} over depths {r['fit_lo']}..{r['fit_hi']}"
        summary.append(f"ricci derivation time linear in depth ({model}): {'MET' if met else 'MISSED'} ({detail})")
        for m in methods:
            if m == "ricci" or results[m][model].get("skipped"):
                continue
            o = results[m][model]
            if o.get("slope") is not None:
                summary.append(f"  {m} ({model}): exponent {o['slope']:.2f}"
                               + (f"; stopped: {o['stopped']}" if o.get("stopped") else ""))
            pr = {pt["depth"]: pt["median_s"] for pt in r["points"]}
            common = [pt for pt in o["points"] if pt["depth"] in pr]
            if common:
                last = common[-1]
                summary.append(f"    at depth {last['depth']}: {m} {last['median_s'] * 1e3:.1f} ms vs ricci "
                               f"{pr[last['depth']] * 1e3:.1f} ms ({last['median_s'] / pr[last['depth']]:.1f}x)")
    for line in summary:
        print(line)
    elapsed = time.perf_counter() - t0

    out = output_path("derivation_small.json" if small else "derivation.json", args.save, args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": "derivation", "width": N, "batch": B, "nx": NX, "repeat": args.repeat,
               "limit_s": limit_s, "linear_slope": LINEAR_SLOPE, "fit_min_depth": FIT_MIN_DEPTH,
               "plan": plan, "methods": methods, "environment": env, "elapsed_s": elapsed,
               "summary": summary, "targets": facts, "results": results}
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {out} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
