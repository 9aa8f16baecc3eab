"""Run every ricci benchmark, then the plots: one command for all the JSON results and PNGs.

Steps, in order (each in its own Python process, so one failing step does not
stop the others, and memory from one cannot skew the next):

    rnn_memory   memory + time of the RNN-cell gradient     -> rnn_memory.json
    derivation   derivation time vs depth (MLP, RNN)        -> derivation.json
    hessian      Hessians vs jax / torch / closed form      -> hessian.json
    planning     contraction planning (FLOPs, intermediates) -> planning.json
    scaling      depth / width / all-gradients scaling       -> scaling.json
    engine       compiled gradients vs numpy and jax.jit     -> engine.json
    plots        PNGs from the JSON files                   -> *.png

A benchmark module that does not exist (yet) is skipped with a printed note.
Each benchmark module is called as ``main(["--sizes", "small"|"all", "--out", PATH])``.

Everything goes to the untracked benchmarks/out/ unless ``--save`` asks to update the
committed results in benchmarks/results/ (``--out-dir`` wins over both).

Run (from the repository root)::

    .venv/bin/python -m benchmarks                 # everything, full sizes -> benchmarks/out/
    .venv/bin/python -m benchmarks --small         # quick variant: *_small.json / *_small.png
    .venv/bin/python -m benchmarks --save          # update the committed benchmarks/results/
    .venv/bin/python benchmarks/run_all.py --only rnn_memory,plots
    .venv/bin/python benchmarks/run_all.py --small --out-dir /tmp/bench   # results elsewhere
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._paths import SAVE_HELP, output_dir  # noqa: E402

BENCHMARKS = ["rnn_memory", "derivation", "hessian", "planning", "scaling", "engine"]
STEPS = BENCHMARKS + ["plots"]
_RUNNER = "import sys; from benchmarks.{0} import main; sys.exit(main(sys.argv[1:]))"


def run_benchmark(name, small, out_dir, extra=()):
    """Run benchmarks/<name>.py's main in a child process (output streams through); returns its exit code."""
    out = Path(out_dir) / f"{name}{'_small' if small else ''}.json"
    argv = ["--sizes", "small" if small else "all", "--out", str(out), *extra]
    proc = subprocess.run([sys.executable, "-c", _RUNNER.format(name), *argv], cwd=str(ROOT))
    return proc.returncode


def resolve_out_dir(out_dir=None, save=False):
    """Where a run writes: ``out_dir`` when given, else benchmarks/results/ with ``save``, else
    the untracked benchmarks/out/."""
    return Path(out_dir) if out_dir is not None else output_dir(save)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--small", action="store_true", help="the quick variant (smallest sizes / depths)")
    p.add_argument("--out-dir", type=Path, default=None,
                   help="where JSON and PNG results go (default: benchmarks/out/; with --save benchmarks/results/)")
    p.add_argument("--save", action="store_true", help=SAVE_HELP)
    p.add_argument("--only", default=None, help="comma-separated steps to run, of " + ", ".join(STEPS))
    p.add_argument("--skip", default="", help="comma-separated steps to leave out")
    args = p.parse_args(argv)
    args.out_dir = resolve_out_dir(args.out_dir, args.save)
    steps = [s.strip() for s in (args.only or ",".join(STEPS)).split(",") if s.strip()]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = [s for s in steps + sorted(skip) if s not in STEPS]
    if unknown:
        p.error(f"unknown step(s) {unknown}; choose from {STEPS}")
    steps = [s for s in STEPS if s in steps and s not in skip]
    args.out_dir.mkdir(parents=True, exist_ok=True)

    variant = "small" if args.small else "full"
    print(f"ricci benchmarks ({variant}): {', '.join(steps)} -> {args.out_dir}", flush=True)
    t_start = time.perf_counter()
    status = {}
    for i, step in enumerate(steps, 1):
        print(f"\n##### [{i}/{len(steps)}] {step} ({variant}) #####", flush=True)
        t0 = time.perf_counter()
        if step == "plots":
            try:
                from benchmarks.plots import make_plots

                written = make_plots(args.out_dir, args.out_dir, small=args.small)
                status[step] = f"ok, {len(written)} PNGs" if written else "no results to plot"
            except Exception as exc:  # report, do not hide the other steps' results
                status[step] = f"FAILED ({type(exc).__name__}: {exc})"
        elif not (ROOT / "benchmarks" / f"{step}.py").exists():
            print(f"note: benchmarks/{step}.py does not exist (yet); skipped", flush=True)
            status[step] = "skipped (module missing)"
        else:
            code = run_benchmark(step, args.small, args.out_dir)
            status[step] = "ok" if code == 0 else f"FAILED (exit {code})"
        status[step] += f", {time.perf_counter() - t0:.0f} s"
        print(f"##### {step}: {status[step]} #####", flush=True)

    total = time.perf_counter() - t_start
    print(f"\nsummary ({variant}, {total:.0f} s in all):")
    for step, state in status.items():
        print(f"  {step:<11} {state}")
    return 1 if any("FAILED" in s for s in status.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
