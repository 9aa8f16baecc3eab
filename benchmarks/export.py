"""Exported torch functions: ricci.torch_function forward + backward vs torch's own autograd.

Two cases, forward and backward timed together (one training step's worth of work, the
gradients reset to None before each call):

rnn_cell   c = tanh(W_c c_prev + W_x x + b 1^T), L = sum(c * G) at (n_c, n_x, m) =
           (1024, 512, 64); ``ricci.torch_function(c, [W_c, c_prev, W_x, x, b])`` with
           W_c, W_x, b requiring gradients (the parameters), L formed in torch, then
           ``L.backward()``; vs the same expression written in torch.  float32 and float64.
attention  O = softmax(Q K^T / sqrt(d)) V over (batch, seq, d) = (8, 256, 64),
           L = sum(O * G), gradients w.r.t. Q, K and V; vs ``torch.softmax`` written
           out in torch.  float32 and float64.

Target: ricci / torch <= 1.2x.  Gradients are checked to agree before timing.

Timing: BLAS, OpenMP and torch's intra-op pool pinned to one thread before numpy and torch
are imported (threadpoolctl's limit too, where installed); the two sides are interleaved
block by block (``--repeat`` repetitions, the order flipped every repetition) and the
median of the per-repetition ratios ricci / torch is reported with its quartiles
(benchmarks/_paired.py).

Run::

    .venv/bin/python -m benchmarks.export                 # about a minute; JSON to benchmarks/out/export.json
    .venv/bin/python -m benchmarks.export --save          # ... to benchmarks/results/export.json
    .venv/bin/python -m benchmarks.export --sizes small   # seconds
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._paired import pin_blas_threads

pin_blas_threads(1)

import numpy as np

from benchmarks import _paired as P
from benchmarks._measure import environment, versions_line
from benchmarks._paths import add_save_argument, output_path

TARGET = 1.2
SIZES = {"rnn_cell": {"all": (1024, 512, 64), "small": (64, 32, 8)},
         "attention": {"all": (8, 256, 64), "small": (2, 32, 16)}}


def rnn_cell(size, dtype, torch):
    import ricci

    n_c, n_x, m = size
    Wc, cp = ricci.Tensor("exp_bench_Wc", (n_c, n_c)), ricci.Tensor("exp_bench_cprev", (n_c, "m"))
    Wx, x = ricci.Tensor("exp_bench_Wx", (n_c, n_x)), ricci.Tensor("exp_bench_x", (n_x, "m"))
    b = ricci.Tensor("exp_bench_b", (n_c,))
    cell = ricci.torch_function(ricci.tanh(Wc @ cp + Wx @ x + b[:, None]), [Wc, cp, Wx, x, b], name="rnn_cell")
    rng = np.random.default_rng(0)
    scale = {n_c: 1 / np.sqrt(n_c), n_x: 1 / np.sqrt(n_x)}
    values = [rng.standard_normal((n_c, n_c)) * scale[n_c], rng.standard_normal((n_c, m)),
              rng.standard_normal((n_c, n_x)) * scale[n_x], rng.standard_normal((n_x, m)), rng.standard_normal(n_c)]
    tdtype = getattr(torch, np.dtype(dtype).name)
    Wc_t, cp_t, Wx_t, x_t, b_t = [torch.tensor(v, dtype=tdtype) for v in values]
    G = torch.tensor(rng.standard_normal((n_c, m)), dtype=tdtype)
    params = [p.requires_grad_(True) for p in (Wc_t, Wx_t, b_t)]

    def ours():
        for p in params:
            p.grad = None
        (cell(Wc_t, cp_t, Wx_t, x_t, b_t) * G).sum().backward()
        return [p.grad for p in params]

    def theirs():
        for p in params:
            p.grad = None
        (torch.tanh(Wc_t @ cp_t + Wx_t @ x_t + b_t[:, None]) * G).sum().backward()
        return [p.grad for p in params]

    return ours, theirs, cell


def attention(size, dtype, torch):
    import ricci

    B, S, d = size
    Q, K, V = (ricci.Tensor(f"exp_bench_{n}", ("batch", S, d)) for n in "QKV")
    O = ricci.einsum("bqk,bkd->bqd", ricci.softmax(ricci.einsum("bqd,bkd->bqk", Q, K) * (1.0 / np.sqrt(d)), axis=-1),
                     V)
    f = ricci.torch_function(O, [Q, K, V], name="attention")
    rng = np.random.default_rng(1)
    tdtype = getattr(torch, np.dtype(dtype).name)
    Qt, Kt, Vt, G = (torch.tensor(rng.standard_normal((B, S, d)), dtype=tdtype) for _ in range(4))
    params = [p.requires_grad_(True) for p in (Qt, Kt, Vt)]

    def ours():
        for p in params:
            p.grad = None
        (f(Qt, Kt, Vt) * G).sum().backward()
        return [p.grad for p in params]

    def theirs():
        for p in params:
            p.grad = None
        A = torch.softmax(Qt @ Kt.transpose(-1, -2) * (1.0 / np.sqrt(d)), dim=-1)
        (A @ Vt * G).sum().backward()
        return [p.grad for p in params]

    return ours, theirs, f


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", choices=("all", "small"), default="all")
    parser.add_argument("--repeat", type=int, default=21)
    add_save_argument(parser)
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here instead")
    args = parser.parse_args(argv)
    P.limit_threads(1)
    try:
        import torch
    except ImportError:
        print('skipped: torch is not installed (pip install "ricci[torch]")')
        return 0
    torch.set_num_threads(1)
    env = environment()
    print(versions_line(env))
    print(P.blas_line(P.blas_info()) + f"; torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    P.print_load()
    rows = []
    print(f"{'case':10} {'size':16} {'dtype':8} {'ricci ms':>9} {'torch ms':>9} {'ratio':>6}  (q25-q75)  target")
    for case, build in (("rnn_cell", rnn_cell), ("attention", attention)):
        size = SIZES[case][args.sizes]
        for dtype in (np.float32, np.float64):
            ours, theirs, f = build(size, dtype, torch)
            a, b = ours(), theirs()
            rtol = 1e-3 if dtype == np.float32 else 1e-8
            agree = all(np.allclose(x.numpy(), y.numpy(), rtol=rtol, atol=rtol * float(y.abs().max()))
                        for x, y in zip(a, b))
            t0 = time.perf_counter()
            res = P.paired({"ricci": ours, "torch": theirs}, "torch", repeats=args.repeat)
            r = res["ratios"]["ricci"]
            row = {"case": case, "size": list(size), "dtype": np.dtype(dtype).name,
                   "ricci_s": res["ricci"]["median_s"], "torch_s": res["torch"]["median_s"],
                   "ratio": r["median"], "ratio_q25": r["q25"], "ratio_q75": r["q75"], "repeats": r["repeats"],
                   "target": TARGET, "met": bool(r["median"] <= TARGET), "results_agree": bool(agree),
                   "saved_from_forward": len(f.saved), "seconds": time.perf_counter() - t0}
            rows.append(row)
            print(f"{case:10} {tuple(size)!s:16} {row['dtype']:8} {row['ricci_s'] * 1e3:9.3f} "
                  f"{row['torch_s'] * 1e3:9.3f} {row['ratio']:6.2f}  ({r['q25']:.2f}-{r['q75']:.2f})  "
                  f"<= {TARGET} {P.verdict(row['met'])}{'' if agree else '  RESULTS DISAGREE'}", flush=True)
    out = output_path(f"export{'_small' if args.sizes == 'small' else ''}.json", args.save, args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": "export", "sizes": args.sizes, "rows": rows, "blas": P.blas_info(),
              "torch": torch.__version__, "environment": env}
    out.write_text(json.dumps(record, indent=2, default=str))
    print(f"wrote {out}")
    return 0 if all(r["results_agree"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
