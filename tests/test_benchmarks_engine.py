"""Smoke test of benchmarks/scaling.py and benchmarks/engine.py at their smallest sizes.

Run as a user would (fresh processes from the repository root), writing into a
temporary directory, never over the committed results.  They must run and
write well-formed rows with ricci's results checked; the speed targets are
printed by the scripts, never asserted here (jax is optional: its column may
be skipped with a reason).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args, timeout=120):
    proc = subprocess.run([sys.executable, *args], cwd=str(ROOT), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("bench_engine")


def test_scaling_small(out):
    path = out / "scaling_small.json"
    stdout = _run(["benchmarks/scaling.py", "--sizes", "small", "--depths", "20,40", "--widths", "4,8",
                   "--mlp", "3,16,4", "--repeat", "2", "--out", str(path)])
    data = json.loads(path.read_text())
    assert data["blas"]["OPENBLAS_CORETYPE"] == os.environ.get("OPENBLAS_CORETYPE")
    assert all(v == "1" for v in data["blas"]["thread_env"].values())
    rows = data["depth"]["rows"]
    assert [r["depth"] for r in rows] == [20, 40]
    for r in rows:
        assert r["status"] == "ok" and r["total_s"] > 0 and r["steady_eval_s"] > 0, r
    assert "total_s" in data["depth"]["exponents"]
    width = data["width"]["rows"]
    assert {(r["structure"], r["form"]) for r in width} == {(s, f) for s in ("ring", "mps")
                                                            for f in ("einsum", "nested")}
    for r in width:
        if r["form"] == "nested":  # any engine can build and run these
            assert r["fd_check_rel"] < 1e-4 and r["flops_ratio"] > 0 and r["time_ratio"] > 0, r
    cases = data["mlp"]["cases"]
    assert set(cases) == {"all", "W0", "W1", "W2"} and cases["all"]["flops"] > 0
    assert all(c.get("matches_all", True) for c in cases.values())
    assert "=== targets (issue 8) ===" in stdout


def test_engine_small(out):
    path = out / "engine_small.json"
    stdout = _run(["benchmarks/engine.py", "--sizes", "small", "--repeat", "2", "--out", str(path)])
    data = json.loads(path.read_text())
    rows = data["rows"]
    assert [r["case"] for r in rows] == ["rnn_cell", "rnn_cell", "attention", "rnn", "rnn", "hvp"]
    for r in rows:
        assert not r.get("error"), r
        assert r["results_agree"], r
        assert r["ricci_s"] > 0
        if r.get("skipped"):  # jax not importable: a reason instead of a ratio
            assert r["case"] == "rnn" and r["ratio"] is None
        else:
            assert r["reference_s"] > 0 and r["ratio"] > 0 and isinstance(r["met"], bool)
    assert data["ricci_mode"] in ("compile", "evaluate")
    assert "ricci path:" in stdout


def test_run_all_runs_the_new_steps():
    sys.path.insert(0, str(ROOT))
    from benchmarks.run_all import BENCHMARKS

    assert {"scaling", "engine"} <= set(BENCHMARKS)
