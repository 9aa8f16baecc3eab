"""Smoke test of the benchmark scripts: each runs at its smallest size so the scripts cannot rot.

The scripts run as the user would run them (fresh processes, from the
repository root) and write into a temporary directory, never over the committed
results.  Optional peers (jax, torch, tensorgrad) are left to the scripts' own
handling: missing ones are reported as skipped, which is fine here; a crashed
method is not.  Targets are printed by the scripts, never asserted here.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_RUN_REASONS = ("skipped", "refused", "over_budget")


def _run(args, timeout=120):
    proc = subprocess.run([sys.executable, *args], cwd=str(ROOT), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Run rnn_memory and derivation at their smallest sizes into one temporary directory."""
    out = tmp_path_factory.mktemp("bench")
    rnn = _run(["benchmarks/rnn_memory.py", "--sizes", "small", "--repeat", "3",
                "--out", str(out / "rnn_memory_small.json")])
    der = _run(["benchmarks/derivation.py", "--sizes", "small", "--max-depth", "2", "--repeat", "1",
                "--out", str(out / "derivation_small.json")])
    return out, rnn, der


def test_rnn_memory_smallest_size(results):
    out, stdout, _ = results
    data = json.loads((out / "rnn_memory_small.json").read_text())
    (size,) = data["sizes"]
    assert (size["nc"], size["nx"], size["m"]) == (64, 32, 8)
    methods = size["methods"]
    assert set(methods) == {"handwritten", "ricci.grad", "ricci.jacobian", "naive", "jax.grad", "jax.jacrev",
                            "torch.autograd"}
    for name in ("handwritten", "ricci.grad", "ricci.jacobian", "naive"):  # ricci itself is never skipped
        assert methods[name]["run"], methods[name]
    for name, r in methods.items():
        if r["run"]:
            assert r["median_s"] > 0 and r["peak_bytes"] >= 0
            assert name == "handwritten" or r["allclose"], (name, r)
        else:
            assert any(k in r for k in NOT_RUN_REASONS), (name, r)  # a reason, not an error
    assert "summary of targets:" in stdout and "ricci.grad within 1.5x" in stdout


def test_derivation_tiny_depths(results):
    out, _, stdout = results
    data = json.loads((out / "derivation_small.json").read_text())
    assert data["plan"] == {"mlp": [1, 2], "rnn": [1, 2]}
    for model in ("mlp", "rnn"):
        ricci = data["results"]["ricci"][model]
        assert [p["depth"] for p in ricci["points"]] == [1, 2]
        assert all(p["nodes"] > p["forward_nodes"] > 0 for p in ricci["points"])
        for method, r in data["results"].items():
            assert not r[model].get("error"), (method, r[model])
            assert r[model].get("skipped") or len(r[model]["points"]) >= 1, (method, r[model])
    assert "ricci derivation time linear in depth (mlp)" in stdout


def test_run_all_plots(results):
    pytest.importorskip("matplotlib")
    out, _, _ = results
    stdout = _run(["benchmarks/run_all.py", "--small", "--only", "plots", "--out-dir", str(out)])
    for png in ("memory_vs_size_small.png", "time_vs_size_small.png", "derivation_vs_depth_small.png"):
        assert (out / png).stat().st_size > 1000, png
    assert "plots" in stdout and "FAILED" not in stdout
