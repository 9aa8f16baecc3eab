"""Contraction planning: FLOPs and largest intermediate of ricci's planned gradients vs left to right.

Three multi-operand losses, built with ricci, differentiated with ``ricci.grad``::

    chain   L = ||A1 A2 A3 A4 A5 A6 - T||^2          six matrices of varied sizes
    ring    L = tr(A1 A2 A3 A4 A5)                   a closed loop of five matrices
    tucker  L = ||G x1 U x2 V x3 W - D||^2           T_ijk = G_abc U_ia V_jb W_kc

For each, the gradient with respect to one operand (chain: A3, ring: A1,
tucker: G and U) and with respect to all of them at once (ricci evaluates
the list together, sharing the forward residual and common sub-networks).

Columns (all costs are opt_einsum's FLOP count, ``PathInfo.opt_cost``, and
the largest intermediate in elements; float64 bytes are 8 x elements):

    ricci         ``ricci.cost(grads, shapes)`` -- the plan ``evaluate`` runs:
                  every contraction step ricci schedules (ricci/plan.py
                  ``schedule``: single-use sub-networks flattened into their
                  consumer, shared ones computed once), each planned by ricci
                  (optimize="auto"), plus its element-wise work (sums and
                  functions, counted as ricci counts them: size x operands).
    left-to-right the SAME steps (the networks ricci evaluates, as given by
                  ``schedule`` and ``Network.subscripts()``, operands in
                  ricci's order), each contracted strictly left to right
                  (opt_einsum path ``[(0, 1)] * (n - 1)``), plus the same
                  element-wise work.  This is what running the derived network
                  without a planner would cost.
    textbook l2r  the hand-written textbook gradient (e.g. grad A3 =
                  2 (A1 A2)^T (P - T) (A4 A5 A6)^T, with P the forward product),
                  written as einsums in the natural reading order of the matrix
                  formula and contracted left to right (as numpy's ``a @ b @ c``
                  does); the forward product is also contracted left to right.
                  For "all" it is the sum over the operands (forward once).
    optimal / dp  the same steps as ricci, each planned by opt_einsum's
                  'optimal' (exhaustive; only for networks of at most
                  ``--optimal-max`` operands, default 10) or 'dp' optimizer,
                  plus the same element-wise work.

    x ricci       ratio of a column to ricci's (FLOPs or largest intermediate):
                  > 1 means ricci's plan is cheaper / smaller.

Every gradient is also evaluated once with ricci and compared (np.allclose,
rtol 1e-8) against a numpy implementation of the textbook formula
(np.einsum with optimize="optimal") -- a plan is only interesting if it
computes the right thing.

Results go to planning.json (planning_small.json for ``--sizes small``) in
benchmarks/out/ (untracked) unless ``--save`` writes benchmarks/results/; ``--out`` wins.

Run (from the repository root)::

    .venv/bin/python benchmarks/planning.py                 # the full sizes
    .venv/bin/python benchmarks/planning.py --sizes small   # smoke test: dimensions / 10
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmark the checkout this script lives in
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import opt_einsum  # noqa: E402

from benchmarks._measure import environment  # noqa: E402
from benchmarks._paths import add_save_argument, output_path  # noqa: E402

RTOL = 1e-8
MiB = 2.0**20

# full sizes; --sizes small divides every dimension by 10 (at least 2)
CHAIN_DIMS = (500, 40, 800, 10, 600, 50, 400)  # A_i is (d[i-1], d[i])
RING_DIMS = (300, 20, 500, 10, 400)  # A_i is (d[i-1], d[i mod 5])
TUCKER_DIMS = ((200, 150, 100), (20, 15, 10))  # data (I, J, K), core ranks (a, b, c)


def _small(dims):
    return tuple(max(2, d // 10) for d in dims)


# --------------------------------------------------------------------------- examples


class Example:
    """A loss built with ricci, its operands, and the hand-written textbook gradients."""

    key = title = ""

    def __init__(self, small):
        import ricci

        self.ricci = ricci
        self.small = small
        self.tensors = {name: ricci.Tensor(name, shape) for name, shape in self.shapes().items()}
        self.loss = self.build(self.tensors)

    def inputs(self, seed=0):
        rng = np.random.default_rng(seed)
        return {name: rng.standard_normal(shape) / np.sqrt(shape[-1]) for name, shape in self.shapes().items()}


class Chain(Example):
    key, title = "chain", "chain of 6"
    wrts = ("A3",)

    def dims(self):
        return _small(CHAIN_DIMS) if self.small else CHAIN_DIMS

    def shapes(self):
        d = self.dims()
        out = {f"A{i}": (d[i - 1], d[i]) for i in range(1, 7)}
        out["T"] = (d[0], d[6])
        return out

    def operands(self):
        return [f"A{i}" for i in range(1, 7)]

    def build(self, t):
        ricci = self.ricci
        P = ricci.einsum("ab,bc,cd,de,ef,fg->ag", *(t[f"A{i}"] for i in range(1, 7)))
        return ricci.norm2(P - t["T"])

    def textbook(self, wrt):
        """Steps ``[(subscripts, operand names)]``: forward product, then 2 (A1..A_{k-1})^T R (A_{k+1}..A6)^T."""
        L = "abcdefg"
        k = int(wrt[1:])
        forward = ("ab,bc,cd,de,ef,fg->ag", [f"A{i}" for i in range(1, 7)])
        left = [(f"{L[i - 1]}{L[i]}", f"A{i}") for i in range(k - 1, 0, -1)]  # A_{k-1}^T ... A1^T
        right = [(f"{L[i - 1]}{L[i]}", f"A{i}") for i in range(6, k, -1)]  # A6^T ... A_{k+1}^T
        terms = left + [("ag", "R")] + right
        grad = (",".join(s for s, _ in terms) + f"->{L[k - 1]}{L[k]}", [n for _, n in terms])
        return forward, grad

    def numpy_grad(self, inp, wrt):
        A = [inp[f"A{i}"] for i in range(1, 7)]
        R = np.linalg.multi_dot(A) - inp["T"]
        k = int(wrt[1:])
        left = np.linalg.multi_dot(A[: k - 1]) if k > 2 else (A[0] if k == 2 else None)
        right = np.linalg.multi_dot(A[k:]) if k < 5 else (A[5] if k == 5 else None)
        g = R if left is None else left.T @ R
        return 2 * (g if right is None else g @ right.T)


class Ring(Example):
    key, title = "ring", "ring of 5"
    wrts = ("A1",)

    def dims(self):
        return _small(RING_DIMS) if self.small else RING_DIMS

    def shapes(self):
        d = self.dims()
        return {f"A{i}": (d[i - 1], d[i % 5]) for i in range(1, 6)}

    def operands(self):
        return [f"A{i}" for i in range(1, 6)]

    def build(self, t):
        return self.ricci.einsum("ab,bc,cd,de,ea->", *(t[f"A{i}"] for i in range(1, 6)))

    def textbook(self, wrt):
        """grad A_k = (A_{k+1} ... A5 A1 ... A_{k-1})^T, a matrix chain read left to right."""
        L = "abcde"
        k = int(wrt[1:])
        order = [((k + j - 1) % 5) + 1 for j in range(1, 5)]  # A_{k+1}, ..., A_{k-1} cyclically
        subs = [f"{L[i - 1]}{L[i % 5]}" for i in order]
        return None, (",".join(subs) + f"->{L[k - 1]}{L[k % 5]}", [f"A{i}" for i in order])

    def numpy_grad(self, inp, wrt):
        k = int(wrt[1:])
        order = [((k + j - 1) % 5) + 1 for j in range(1, 5)]
        return np.linalg.multi_dot([inp[f"A{i}"] for i in order]).T


class Tucker(Example):
    key, title = "tucker", "Tucker"
    wrts = ("G", "U")

    def dims(self):
        (I, J, K), (a, b, c) = TUCKER_DIMS
        if self.small:
            (I, J, K), (a, b, c) = _small((I, J, K)), _small((a, b, c))
        return (I, J, K), (a, b, c)

    def shapes(self):
        (I, J, K), (a, b, c) = self.dims()
        return {"G": (a, b, c), "U": (I, a), "V": (J, b), "W": (K, c), "D": (I, J, K)}

    def operands(self):
        return ["G", "U", "V", "W"]

    def build(self, t):
        ricci = self.ricci
        T = ricci.einsum("abc,ia,jb,kc->ijk", t["G"], t["U"], t["V"], t["W"])
        return ricci.norm2(T - t["D"])

    def textbook(self, wrt):
        """2 R x_n (factors)^T, in the order a person writes it: R with the other factors, then the core."""
        forward = ("abc,ia,jb,kc->ijk", ["G", "U", "V", "W"])
        grads = {
            "G": ("ijk,ia,jb,kc->abc", ["R", "U", "V", "W"]),
            "U": ("ijk,jb,kc,abc->ia", ["R", "V", "W", "G"]),
            "V": ("ijk,ia,kc,abc->jb", ["R", "U", "W", "G"]),
            "W": ("ijk,ia,jb,abc->kc", ["R", "U", "V", "G"]),
        }
        return forward, grads[wrt]

    def numpy_grad(self, inp, wrt):
        R = np.einsum("abc,ia,jb,kc->ijk", inp["G"], inp["U"], inp["V"], inp["W"], optimize="optimal") - inp["D"]
        sub, names = self.textbook(wrt)[1]
        ops = [R if n == "R" else inp[n] for n in names]
        return 2 * np.einsum(sub, *ops, optimize="optimal")


EXAMPLES = (Chain, Ring, Tucker)


# --------------------------------------------------------------------------- costs


def left_to_right(n):
    return [(0, 1)] * (n - 1) if n > 1 else [(0,)]


def network_cost(subscripts, shapes, optimize):
    """(flops, largest intermediate) of one einsum under an optimizer name or explicit path."""
    _, info = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=optimize)
    return int(info.opt_cost), int(info.largest_intermediate)


def program_cost(roots, variant, optimal_max):
    """Cost of ricci's schedule for ``roots`` with every contraction step planned by ``variant``.

    ``variant``: "left-to-right", "optimal" or "dp". Element-wise steps count
    size x operands FLOPs; every computed node's size counts towards the
    largest intermediate, as in ricci's own cost model. Returns a dict, or
    one with "skipped" when 'optimal' would face a network that is too big.
    """
    from ricci.expr import Add, Apply, Constant, Tensor, Zeros
    from ricci.plan import schedule

    flops = elementwise = largest = 0
    networks = []
    for node, net, _ in schedule(list(roots)):
        if net is not None and net.factors:
            subscripts, _ = net.subscripts()
            shapes = tuple(f.shape for f, _ in net.factors)
            n = len(shapes)
            if variant == "optimal" and n > optimal_max:
                return {"skipped": f"a network has {n} operands > --optimal-max {optimal_max}"}
            path = left_to_right(n) if variant == "left-to-right" else variant
            f, li = network_cost(subscripts, shapes, path)
            flops += f
            largest = max(largest, li)
            networks.append({"subscripts": subscripts, "shapes": [list(s) for s in shapes],
                             "flops": f, "largest_intermediate": li})
        elif isinstance(node, Add):
            elementwise += node.size * max(1, len(node.terms))
        elif isinstance(node, Apply):
            elementwise += node.size * len(node.children)
        if not isinstance(node, (Tensor, Constant, Zeros)):
            largest = max(largest, node.size)
    return {"flops": flops + elementwise, "contraction_flops": flops, "elementwise_flops": elementwise,
            "largest_intermediate": largest, "networks": networks}


def textbook_cost(example, wrts):
    """Left-to-right cost of the hand-written textbook gradients (forward product once, shared)."""
    shapes = example.shapes()
    flops, largest, steps = 0, 0, []
    forward_done = False
    for wrt in wrts:
        forward, grad = example.textbook(wrt)
        todo = [grad] if forward is None or forward_done else [forward, grad]
        if forward is not None and not forward_done:
            forward_done = True
            out = forward[0].split("->")[1]
            size = {lab: d for s, n in zip(forward[0].split("->")[0].split(","), forward[1])
                    for lab, d in zip(s, shapes[n])}
            shapes["R"] = tuple(size[lab] for lab in out)
            r_size = int(np.prod(shapes["R"]))
            flops += r_size  # R = P - data
            largest = max(largest, r_size)
        for sub, names in todo:
            f, li = network_cost(sub, [shapes[n] for n in names], left_to_right(len(names)))
            flops += f
            largest = max(largest, li)
            steps.append({"subscripts": sub, "operands": names, "flops": f, "largest_intermediate": li})
    return {"flops": flops, "largest_intermediate": largest, "steps": steps}


# --------------------------------------------------------------------------- one row


def bench_row(example, wrts, optimal_max):
    ricci = example.ricci
    t = example.tensors
    t0 = time.perf_counter()
    grads = ricci.grad(example.loss, [t[w] for w in wrts])
    derive_s = time.perf_counter() - t0
    shapes = example.shapes()
    c = ricci.cost(grads, shapes)
    row = {"example": example.key, "title": example.title, "wrt": list(wrts),
           "shapes": {k: list(v) for k, v in shapes.items()}, "derive_s": derive_s,
           "ricci_expressions": [str(g) for g in grads],
           "ricci": {"flops": int(c.flops), "largest_intermediate": int(c.largest_intermediate),
                     "largest_bytes": int(c.largest_bytes)}}
    for variant in ("left-to-right", "optimal", "dp"):
        t0 = time.perf_counter()
        row[variant] = program_cost(grads, variant, optimal_max)
        row[variant]["plan_s"] = time.perf_counter() - t0
    row["textbook"] = textbook_cost(example, wrts)
    for key in ("left-to-right", "textbook", "optimal", "dp"):
        r = row[key]
        if "flops" in r:
            r["flops_ratio"] = r["flops"] / max(1, row["ricci"]["flops"])
            r["largest_ratio"] = r["largest_intermediate"] / max(1, row["ricci"]["largest_intermediate"])

    # correctness of what ricci plans: evaluate and compare with numpy
    inp = example.inputs()
    got = ricci.evaluate(grads, inp)
    checks = {}
    for w, g in zip(wrts, got):
        ref = example.numpy_grad(inp, w)
        scale = float(np.max(np.abs(ref))) or 1.0
        checks[w] = {"allclose": bool(np.allclose(g, ref, rtol=RTOL, atol=RTOL * scale)),
                     "max_rel_err": float(np.max(np.abs(g - ref)) / scale)}
    row["check"] = checks
    row["correct"] = all(v["allclose"] for v in checks.values())
    return row


# --------------------------------------------------------------------------- report


def _sci(v):
    return "-" if v is None else f"{v:.3g}"


def _x(r, key):
    return f"{r[key]:.3g}x" if key in r else "-"


def print_table(rows):
    print("\n=== gradient plans: FLOPs and largest intermediate (elements); x = ratio to ricci ===")
    print(f"{'example':<11} {'wrt':<12} {'ricci flops':>11} {'largest':>9} | {'l2r flops':>10} {'x':>8}"
          f" {'largest':>9} {'x':>8} | {'textbook':>10} {'x':>7} {'largest':>9} {'x':>7}"
          f" | {'optimal':>9} {'x':>6} {'dp':>9} {'x':>6} | check")
    for r in rows:
        rc, l2r, tb, opt, dp = r["ricci"], r["left-to-right"], r["textbook"], r["optimal"], r["dp"]
        wrt = ",".join(r["wrt"]) if len(r["wrt"]) < 3 else "all " + str(len(r["wrt"]))
        print(f"{r['title']:<11} {wrt:<12} {_sci(rc['flops']):>11} {_sci(rc['largest_intermediate']):>9} |"
              f" {_sci(l2r.get('flops')):>10} {_x(l2r, 'flops_ratio'):>8}"
              f" {_sci(l2r.get('largest_intermediate')):>9} {_x(l2r, 'largest_ratio'):>8} |"
              f" {_sci(tb.get('flops')):>10} {_x(tb, 'flops_ratio'):>7}"
              f" {_sci(tb.get('largest_intermediate')):>9} {_x(tb, 'largest_ratio'):>7} |"
              f" {_sci(opt.get('flops')):>9} {_x(opt, 'flops_ratio'):>6}"
              f" {_sci(dp.get('flops')):>9} {_x(dp, 'flops_ratio'):>6} |"
              f" {'OK' if r['correct'] else 'MISMATCH'}")
    print("l2r = ricci's own networks contracted left to right; textbook = the hand-written formula left to right;"
          "\noptimal / dp = ricci's networks planned by opt_einsum's optimizers (same element-wise work)")


def print_details(rows):
    for r in rows:
        print(f"\n--- {r['title']}, grad wrt {', '.join(r['wrt'])}  (derived in {r['derive_s'] * 1e3:.2f} ms)")
        for e in r["ricci_expressions"]:
            print("  " + e.replace("\n", "\n  "))
        for n in r["left-to-right"]["networks"]:
            print(f"  step {n['subscripts']:<34} left to right: {n['flops']:.3g} flops, "
                  f"largest {n['largest_intermediate']:.3g}")
        for s in r["textbook"]["steps"]:
            print(f"  textbook {s['subscripts']:<31} ({','.join(s['operands'])}) left to right: "
                  f"{s['flops']:.3g} flops, largest {s['largest_intermediate']:.3g}")
        for key in ("optimal", "dp"):
            if "skipped" in r[key]:
                print(f"  {key}: {r[key]['skipped']}")
        bad = {w: c for w, c in r["check"].items() if not c["allclose"]}
        if bad:
            print(f"  MISMATCH vs numpy: {bad}")


def summarize(rows):
    """Plain verdicts: is ricci's plan never worse than left to right / than opt_einsum's best?"""
    out = {}
    worse_l2r = [f"{r['title']} wrt {','.join(r['wrt'])}" for r in rows
                 if r["left-to-right"]["flops"] < r["ricci"]["flops"]]
    best = []
    for r in rows:
        cands = [r[k]["flops"] for k in ("optimal", "dp") if "flops" in r[k]]
        if cands and min(cands) < r["ricci"]["flops"]:
            best.append(f"{r['title']} wrt {','.join(r['wrt'])} (ricci {r['ricci']['flops']:.3g} vs "
                        f"{min(cands):.3g})")
    out["ricci_no_worse_than_left_to_right"] = {"met": not worse_l2r, "missed": worse_l2r}
    out["ricci_matches_opt_einsum_best"] = {"met": not best, "missed": best}
    out["all_correct"] = all(r["correct"] for r in rows)
    return out


def print_summary(s):
    print("\n=== summary ===")
    a = s["ricci_no_worse_than_left_to_right"]
    print(f"ricci's plan needs no more FLOPs than left to right on every gradient: {'MET' if a['met'] else 'MISSED'}")
    for m in a["missed"]:
        print(f"   MISSED at {m}")
    b = s["ricci_matches_opt_einsum_best"]
    print(f"ricci's plan as cheap as opt_einsum 'optimal'/'dp' on its own networks: {'MET' if b['met'] else 'MISSED'}")
    for m in b["missed"]:
        print(f"   MISSED at {m}")
    print(f"every ricci gradient matches numpy: {'yes' if s['all_correct'] else 'NO'}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", choices=["all", "small"], default="all",
                   help="'all' (the sizes in the module docstring) or 'small' (every dimension / 10)")
    p.add_argument("--optimal-max", type=int, default=10,
                   help="run opt_einsum 'optimal' only on networks with at most this many operands")
    p.add_argument("--out", type=Path, default=None, help="JSON output path")
    add_save_argument(p)
    args = p.parse_args(argv)
    small = args.sizes == "small"

    start = time.perf_counter()
    env = environment()
    print(__doc__.split("\n")[0])
    print(f"python {env['python']}, numpy {env['numpy']}, opt_einsum {env['opt_einsum']}, ricci {env['ricci']}, "
          f"sizes {args.sizes}")
    rows = []
    for cls in EXAMPLES:
        ex = cls(small)
        print(f"{ex.title}: " + ", ".join(f"{k} {tuple(v)}" for k, v in ex.shapes().items()))
        for wrts in [(w,) for w in ex.wrts] + [tuple(ex.operands())]:
            rows.append(bench_row(ex, wrts, args.optimal_max))
    print_details(rows)
    print_table(rows)
    summary = summarize(rows)
    print_summary(summary)
    elapsed = time.perf_counter() - start
    print(f"\ntotal time {elapsed:.1f} s")

    out = output_path("planning_small.json" if small else "planning.json", args.save, args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": "planning", "sizes": args.sizes, "optimal_max": args.optimal_max,
               "environment": env, "elapsed_s": elapsed, "summary": summary, "rows": rows}
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
