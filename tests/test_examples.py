"""Every script in examples/ runs, passes its own checks and exits 0.

The examples reproduce the tutorial derivations (see examples/README.md) and
check them against finite differences; a derivative that regresses shows up
here as a FAIL line in the script's output.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def test_there_are_examples():
    assert len(SCRIPTS) >= 5, [p.name for p in SCRIPTS]


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_example_runs_and_passes(script):
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    run = subprocess.run([sys.executable, str(script)], cwd=EXAMPLES.parent, env=env,
                         capture_output=True, text=True, encoding="utf-8", timeout=60)
    tail = f"\n--- stdout ---\n{run.stdout[-4000:]}\n--- stderr ---\n{run.stderr[-4000:]}"
    assert run.returncode == 0, f"{script.name} exited with {run.returncode}{tail}"
    assert "FAIL" not in run.stdout, f"{script.name} reported a failed check{tail}"
    assert "OK" in run.stdout, f"{script.name} printed no checks{tail}"
