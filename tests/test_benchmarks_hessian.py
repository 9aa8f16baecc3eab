"""Smoke tests of benchmarks/hessian.py and benchmarks/planning.py at their smallest sizes.

Each script's ``main`` is called with ``--out`` in a temporary directory, so the
committed results in benchmarks/results/ are never overwritten (checked).
ricci's own rows must run and be correct; jax and torch are optional peers,
and only the tests about them are skipped when they are not installed.
Targets are printed by the scripts, never asserted here.
"""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import hessian, planning  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def _committed_state():
    """(name, mtime, size) of the committed hessian/planning results, to check they stay untouched."""
    return sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                  for pattern in ("hessian*.json", "planning*.json") for p in RESULTS.glob(pattern))


@pytest.fixture(scope="module")
def hessian_small(tmp_path_factory):
    before = _committed_state()
    out = tmp_path_factory.mktemp("hessian") / "hessian_small.json"
    assert hessian.main(["--sizes", "small", "--repeat", "2", "--out", str(out)]) == 0
    assert _committed_state() == before
    return json.loads(out.read_text())


def test_hessian_small_writes_both_kinds_of_problem(hessian_small):
    data = hessian_small
    for key in ("benchmark", "environment", "sizes", "budget_bytes", "time_budget_s", "targets", "cases"):
        assert key in data, key
    assert data["benchmark"] == "hessian" and data["sizes"] == [100]
    assert {"python", "numpy", "opt_einsum", "ricci", "jax", "torch"} <= set(data["environment"])
    assert {c["problem"] for c in data["cases"]} == {"quadratic", "logistic", "matfac", "linreg"}
    assert set(data["targets"]) == {"T1_ricci_within_1.5x_closed_everywhere", "T2_ricci_faster_than_jax_on_dense",
                                    "T3_mf_factored_1000x300x20_in_ms"}


def test_hessian_small_ricci_runs_and_is_correct(hessian_small):
    for case in hessian_small["cases"]:
        methods = case["methods"]
        for name in ("closed_form", "ricci"):
            assert methods[name]["run"], (case["label"], name, methods[name])
            assert methods[name]["median_s"] > 0
        assert methods["ricci"]["allclose"], (case["label"], methods["ricci"])
        assert methods["ricci"]["derive_s"] > 0 and "cost" in methods["ricci"]
        if case["kind"] == "structured":
            assert methods["ricci"]["factored"] and methods["ricci"]["todense_allclose"], methods["ricci"]
            assert methods["ricci_dense"]["run"] and methods["ricci_dense"]["allclose"]
        for name, m in methods.items():  # every method either ran or says why not; none crashed
            assert "error" not in m, (case["label"], name, m)
            assert m["run"] or m["skipped"], (case["label"], name, m)


@pytest.mark.parametrize("peer, method", [("jax", "jax.hessian"), ("torch", "torch.hessian")])
def test_hessian_small_peers_agree_with_the_closed_form(hessian_small, peer, method):
    pytest.importorskip(peer)
    for case in hessian_small["cases"]:
        m = case["methods"][method]
        assert m["run"] and m["allclose"], (case["label"], m)


def test_hessian_memory_guard_skips_instead_of_allocating(tmp_path):
    out = tmp_path / "guard.json"
    assert hessian.main(["--sizes", "small", "--peers", "none", "--repeat", "1", "--budget-gib", "0.001",
                         "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    for case in data["cases"]:
        if case["kind"] == "structured":  # the dense (m k)^2 array is 8 MB > 1 MiB budget
            for name in ("closed_dense", "ricci_dense"):
                m = case["methods"][name]
                assert not m["run"] and m["skip_kind"] == "memory" and "would allocate" in m["skipped"]
            assert case["methods"]["ricci"]["run"]  # the factored Hessian needs no such budget
        assert case["methods"]["jax.hessian"]["skip_kind"] == "absent"


def test_planning_small(tmp_path):
    before = _committed_state()
    out = tmp_path / "planning_small.json"
    assert planning.main(["--sizes", "small", "--out", str(out)]) == 0
    assert _committed_state() == before
    data = json.loads(out.read_text())
    for key in ("benchmark", "environment", "summary", "rows"):
        assert key in data, key
    assert {r["example"] for r in data["rows"]} == {"chain", "ring", "tucker"}
    for row in data["rows"]:
        assert row["correct"], row["check"]
        for key in ("ricci", "left-to-right", "textbook", "dp"):
            assert row[key]["flops"] > 0 and row[key]["largest_intermediate"] > 0, (row["example"], key)
