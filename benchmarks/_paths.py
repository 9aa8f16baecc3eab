"""Where the benchmarks write: an untracked folder unless told to update the committed results.

Every benchmark script (and ``python -m benchmarks``) resolves its output the same way:

- ``--out PATH`` (or ``--out-dir DIR`` for ``run_all``): exactly there;
- ``--save``: ``benchmarks/results/``, the committed results the README's tables and plots
  come from;
- otherwise: ``benchmarks/out/``, ignored by git, so a run never dirties the working tree.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"  # committed; written only with --save
OUT_DIR = ROOT / "benchmarks" / "out"  # untracked (.gitignore); the default

SAVE_HELP = "write into benchmarks/results/ (the committed results) instead of benchmarks/out/"


def output_dir(save=False):
    """The folder a benchmark writes to: benchmarks/results/ with ``save``, else benchmarks/out/."""
    return RESULTS_DIR if save else OUT_DIR


def output_path(name, save=False, out=None):
    """``out`` when given, else ``name`` inside :func:`output_dir` (``save``)."""
    return Path(out) if out is not None else output_dir(save) / name


def add_save_argument(parser):
    """Add the ``--save`` flag every benchmark script takes."""
    parser.add_argument("--save", action="store_true", help=SAVE_HELP)
    return parser
