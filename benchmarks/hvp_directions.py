"""Derive once, evaluate many: an HVP with a symbolic direction against the array form.

Run:  ``.venv/bin/python -m benchmarks.hvp_directions [--save]``

Logistic regression L(w) = mean(softplus(X w)) on a (n, p) design matrix. ``ricci.hvp(L, w, v)``
with ``v = ricci.Tensor("v", (p,))`` is derived and compiled once; each direction is one run
of the compiled program. With an array ``v`` every call builds, derives and plans a new
expression. Both are timed per direction on one BLAS thread, paired; the median ratio
array form / symbolic form is reported (the README and the ``hvp`` docstring quote it).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._paired import pin_blas_threads  # noqa: E402  (before numpy)

pin_blas_threads(1)

import numpy as np  # noqa: E402

from benchmarks import _paired as P  # noqa: E402
from benchmarks._paths import add_save_argument, output_path  # noqa: E402

SIZES = [(200, 20), (2000, 50), (20000, 200)]


def run(sizes, repeats):
    import ricci

    rows = []
    for n, p in sizes:
        rng = np.random.default_rng(0)
        X = ricci.Constant(rng.standard_normal((n, p)), name="X")
        w, v = ricci.Tensor(f"w_{n}_{p}", (p,)), ricci.Tensor(f"v_{n}_{p}", (p,))
        L = ricci.mean(ricci.softplus(X @ w))
        Hv = ricci.compile(ricci.hvp(L, w, v))
        wv, directions = rng.standard_normal(p), rng.standard_normal((1, p))

        def direction():  # a new direction every call, as in CG or Lanczos (no cache can help)
            return rng.standard_normal(p)

        symbolic = lambda: Hv({w.name: wv, v.name: direction()})  # noqa: E731
        array = lambda: ricci.hvp(L, w, direction()).evaluate({w.name: wv})  # noqa: E731
        d = directions[0]
        agree = np.allclose(Hv({w.name: wv, v.name: d}), ricci.hvp(L, w, d).evaluate({w.name: wv}), rtol=1e-12)
        res = P.paired({"symbolic": symbolic, "array": array}, "symbolic", repeats=repeats)
        row = {"size": [n, p], "symbolic_s": res["symbolic"]["median_s"], "array_s": res["array"]["median_s"],
               "array_over_symbolic": res["ratios"]["array"]["median"], "results_agree": agree}
        rows.append(row)
        print(f"n={n:6d} p={p:4d}   symbolic direction {row['symbolic_s'] * 1e3:8.3f} ms   array direction "
              f"{row['array_s'] * 1e3:8.3f} ms   array / symbolic {row['array_over_symbolic']:6.1f}x   "
              f"agree: {agree}", flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_save_argument(p)
    p.add_argument("--out", default=None, help="write the JSON here")
    p.add_argument("--repeats", type=int, default=11)
    args = p.parse_args(argv)
    P.limit_threads(1)
    P.print_load()
    rows = run(SIZES, args.repeats)
    out = output_path("hvp_directions.json", args.save, args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "blas": P.blas_info()}, indent=1, default=str))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
