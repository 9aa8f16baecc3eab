"""Plots of the benchmark results (matplotlib, Agg), regenerated from the JSON files alone.

    memory_vs_size.png       peak memory of dL/dW_x per method vs (n_c, n_x, m), log-log;
                             hollow markers / dashed lines: predicted bytes of methods not run;
                             RSS figures under 0.5 MiB (noise level) are left out
    time_vs_size.png         median time per call vs size, log-log
    derivation_vs_depth.png  time to derive vs depth (MLP layers, RNN steps), log-log,
                             with a slope-1 (linear) guide

Inputs: rnn_memory.json and derivation.json in ``--results-dir``; with ``--small`` the
*_small.json files, and the PNGs get a ``_small`` suffix.  A missing JSON file is skipped
with a note.  Both folders default to the untracked benchmarks/out/ (where the benchmarks
write by default); ``--save`` reads and rewrites the committed benchmarks/results/.

Run (from the repository root)::

    .venv/bin/python benchmarks/plots.py            # benchmarks/out/*.json -> benchmarks/out/*.png
    .venv/bin/python benchmarks/plots.py --small
    .venv/bin/python benchmarks/plots.py --save     # regenerate the committed PNGs
    .venv/bin/python benchmarks/plots.py --results-dir benchmarks/results   # committed JSON -> out/
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._paths import RESULTS_DIR, add_save_argument, output_dir  # noqa: E402

MiB = 2.0**20
RSS_FLOOR = 2**19  # RSS deltas below 0.5 MiB are noise and are not plotted

STYLE = {  # method -> (color, marker)
    "handwritten": ("black", "o"),
    "ricci.grad": ("tab:red", "s"),
    "ricci.jacobian": ("tab:orange", "v"),
    "naive": ("tab:gray", "x"),
    "jax.grad": ("tab:blue", "^"),
    "jax.jacrev": ("tab:cyan", "D"),
    "torch.autograd": ("tab:green", "P"),
    "ricci": ("tab:red", "s"),
    "tensorgrad": ("tab:purple", "D"),
    "tensorgrad-shared": ("tab:pink", "v"),
    "jax": ("tab:blue", "^"),
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _size_axis(ax, sizes):
    xs = [s["nc"] for s in sizes]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{s['nc']}\n{s['nx']}\n{s['m']}" for s in sizes], fontsize=8)
    ax.minorticks_off()
    ax.set_xlabel("(n_c, n_x, m)")
    ax.grid(True, which="major", alpha=0.3)
    return xs


def plot_memory(data, path):
    plt = _pyplot()
    sizes = data["sizes"]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    xs = _size_axis(ax, sizes)
    methods = data.get("methods") or list(sizes[0]["methods"])
    for method in methods:
        color, marker = STYLE.get(method, ("k", "."))
        measured, predicted = [], []
        for x, s in zip(xs, sizes):
            r = s["methods"].get(method)
            if not r:
                continue
            if r.get("run") and r.get("peak_bytes"):
                if r.get("measure") == "rss" and r["peak_bytes"] < RSS_FLOOR:
                    continue  # noise level, see rnn_memory.RSS_FLOOR
                measured.append((x, r["peak_bytes"] / MiB))
            elif not r.get("run") and r.get("predicted_bytes"):
                predicted.append((x, r["predicted_bytes"] / MiB))
        measure = next((s["methods"][method].get("measure") for s in sizes
                        if s["methods"].get(method, {}).get("measure")), None)
        label = f"{method} ({'RSS' if measure == 'rss' else 'tracemalloc'})" if measure else method
        if measured:
            ax.plot(*zip(*measured), color=color, marker=marker, label=label)
        if predicted:
            line = measured[-1:] + predicted
            ax.plot(*zip(*line), color=color, linestyle="--", alpha=0.6)
            ax.plot(*zip(*predicted), color=color, marker=marker, linestyle="none", markerfacecolor="none",
                    label=None if measured else f"{method} (predicted)")
    ax.axhline(16 * 1024, color="gray", linestyle=":", linewidth=1)
    ax.text(xs[-1], 16 * 1024 * 1.3, "16 GiB", color="gray", fontsize=8, ha="right")
    ax.set_ylabel("peak memory of one gradient call [MiB]")
    ax.set_title("RNN cell dL/dW_x: peak memory (hollow = predicted, not run;\n"
                 "RSS values under 0.5 MiB are noise and not drawn)", fontsize=11)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_time(data, path):
    plt = _pyplot()
    sizes = data["sizes"]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    xs = _size_axis(ax, sizes)
    methods = data.get("methods") or list(sizes[0]["methods"])
    for method in methods:
        color, marker = STYLE.get(method, ("k", "."))
        pts = [(x, s["methods"][method]["median_s"] * 1e3) for x, s in zip(xs, sizes)
               if s["methods"].get(method, {}).get("run") and s["methods"][method].get("median_s")]
        if pts:
            ax.plot(*zip(*pts), color=color, marker=marker, label=method)
    ax.set_ylabel("median time per call [ms]")
    ax.set_title(f"RNN cell dL/dW_x: time per call ({data.get('dtype', 'float64')})")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_derivation(data, path):
    plt = _pyplot()
    results, plan = data["results"], data["plan"]
    fig, axes = plt.subplots(1, len(plan), figsize=(6 * len(plan), 5), squeeze=False)
    titles = {"mlp": "L-layer tanh MLP (grad wrt all weights)", "rnn": "unrolled RNN, shared weights"}
    xlabels = {"mlp": "layers L", "rnn": "steps T"}
    for ax, model in zip(axes[0], plan):
        for method in data["methods"]:
            r = results.get(method, {}).get(model, {})
            pts = [(p["depth"], p["median_s"] * 1e3) for p in r.get("points", [])]
            if not pts:
                continue
            color, marker = STYLE.get(method, ("k", "."))
            slope = r.get("slope")
            label = method + (f" (slope {slope:.2f})" if slope is not None else "")
            if r.get("stopped"):
                label += ", stopped"
            ax.plot(*zip(*pts), color=color, marker=marker, label=label)
        ric = results.get("ricci", {}).get(model, {}).get("points", [])
        if ric:
            d1, t1 = ric[-1]["depth"], ric[-1]["median_s"] * 1e3
            d0 = ric[0]["depth"]
            ax.plot([d0, d1], [t1 * d0 / d1, t1], color="gray", linestyle=":", label="slope 1 (linear)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        depths = data["plan"][model]
        ax.set_xticks(depths)
        ax.set_xticklabels([str(d) for d in depths])
        ax.minorticks_off()
        ax.set_xlabel(xlabels.get(model, "depth"))
        ax.set_ylabel("time to derive [ms]")
        ax.set_title(titles.get(model, model))
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def make_plots(results_dir=RESULTS_DIR, out_dir=None, small=False, quiet=False):
    """Write the PNGs for whichever JSON results exist; returns the paths written."""
    results_dir = Path(results_dir)
    out_dir = Path(out_dir or results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sfx = "_small" if small else ""
    jobs = [
        (f"rnn_memory{sfx}.json", [(plot_memory, f"memory_vs_size{sfx}.png"), (plot_time, f"time_vs_size{sfx}.png")]),
        (f"derivation{sfx}.json", [(plot_derivation, f"derivation_vs_depth{sfx}.png")]),
    ]
    written = []
    for name, plots in jobs:
        src = results_dir / name
        if not src.exists():
            if not quiet:
                print(f"note: {src} not found; its plots are skipped")
            continue
        data = json.loads(src.read_text())
        for fn, png in plots:
            fn(data, out_dir / png)
            written.append(out_dir / png)
            if not quiet:
                print(f"wrote {out_dir / png}")
    return written


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--results-dir", type=Path, default=None,
                   help="where the JSON results are (default: benchmarks/out/; with --save benchmarks/results/)")
    p.add_argument("--out-dir", type=Path, default=None,
                   help="where to write the PNGs (default: benchmarks/out/; with --save benchmarks/results/)")
    p.add_argument("--small", action="store_true", help="plot the *_small.json results into *_small.png")
    add_save_argument(p)
    args = p.parse_args(argv)
    make_plots(args.results_dir or output_dir(args.save), args.out_dir or output_dir(args.save), args.small)
    return 0


if __name__ == "__main__":
    sys.exit(main())
