"""benchmarks/accuracy_si.py: the learning-curve arithmetic, its config, and the numbers of its committed JSON."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "accuracy_si.py"
RESULTS = REPO / "benchmarks" / "accuracy_si.json"


def _load():
    spec = importlib.util.spec_from_file_location("accuracy_si", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load()


def test_calls_to_reach_interpolates_log_log() -> None:
    # errors falling as calls^-1/2: 0.2 at 100 calls, 0.1 at 400; 0.1 * sqrt(2) is reached at 200 calls
    assert bench.calls_to_reach([100, 400], [0.2, 0.1], 0.1 * math.sqrt(2)) == pytest.approx(200.0)
    assert bench.calls_to_reach([400, 100], [0.1, 0.2], 0.1) == pytest.approx(400.0)  # order of the points is irrelevant
    assert bench.calls_to_reach([100, 400], [0.2, 0.1], 0.3) == 100.0  # already there: the first point (an upper bound)
    assert bench.calls_to_reach([100, 400], [0.2, 0.1], 0.05) is None  # never reached
    assert bench.calls_to_reach([100, 200, 400], [0.2, None, 0.1], 0.1) == pytest.approx(400.0)  # a missing point is skipped


def test_calls_ratio_against_the_largest_reference_point() -> None:
    random = [{"dft_calls": 15, "force_rmse": 0.30}, {"dft_calls": 30, "force_rmse": 0.20}]
    pipeline = [{"dft_calls": 12, "force_rmse": 0.25}, {"dft_calls": 21, "force_rmse": 0.15}]
    ratio = bench.calls_ratio(pipeline, random)
    expected = math.exp(math.log(12) + math.log(0.20 / 0.25) / math.log(0.15 / 0.25) * math.log(21 / 12))
    assert ratio["target"] == 0.20 and ratio["reference_calls"] == 30
    assert ratio["calls"] == pytest.approx(expected, abs=0.01)
    assert ratio["ratio"] == pytest.approx(expected / 30, abs=1e-3)
    assert bench.calls_ratio(pipeline, [{"dft_calls": 30, "force_rmse": 0.01}])["ratio"] is None


def test_passes_all_needs_every_judged_row_to_pass() -> None:
    assert bench.passes_all([{"mark": "pass"}, {"mark": "info"}])
    assert not bench.passes_all([{"mark": "pass"}, {"mark": "warn"}])
    assert not bench.passes_all([{"mark": "pass"}, {"mark": "incomplete"}])
    assert not bench.passes_all([{"mark": "info"}])
    assert not bench.passes_all([])


def test_config_quick_and_budget() -> None:
    from mlip_autopipec.config.expander import expand_config

    config, settings = bench.load_benchmark_config(bench.CONFIG, None, quick=False)
    full = expand_config(config)
    assert full.dft_budget <= 300 and full.validation.enabled and full.generate.target_atoms == 8
    assert full.dft.ecutrho == 4 * full.dft.ecutwfc and full.dft.kpoint_spacing == 0.5
    assert bench.curve_sizes(full.dft_budget, settings["curve_fractions"])[-1] == full.dft_budget
    quick, quick_settings = bench.load_benchmark_config(bench.CONFIG, None, quick=True)
    assert quick["dft_budget"] < config["dft_budget"] and quick["max_iterations"] < config["max_iterations"]
    assert quick["dft"] == config["dft"] and quick["explore"] == config["explore"]  # quick labels serve the full run
    assert "config" not in quick_settings and "benchmark" not in quick
    scaled, _ = bench.load_benchmark_config(bench.CONFIG, 120, quick=False)
    assert scaled["dft_budget"] == 120


@pytest.mark.skipif(not RESULTS.is_file(), reason="benchmarks/accuracy_si.json not written yet")
def test_committed_results_are_consistent() -> None:
    """The stored ratio, verdict and headline numbers follow from the stored curves and table (real numbers)."""
    report = json.loads(RESULTS.read_text())
    curves = report["learning_curves"]
    assert set(curves) == {"pipeline", "direct", "random"}
    assert report["calls_ratio_vs_random"] == bench.calls_ratio(curves["pipeline"], curves["random"])["ratio"]
    assert report["calls_ratio_direct_vs_random"] == bench.calls_ratio(curves["direct"], curves["random"])["ratio"]
    assert report["passes_all"] == bench.passes_all(report["validation_table"])
    assert [p["dft_calls"] for p in curves["random"]] == report["curve_sizes"]
    n_set = report["validation_set"]["n_structures"]
    assert all(p["n_structures"] == n_set for points in curves.values() for p in points)
    delivered = next(p for p in curves["pipeline"] if p["iteration"] == report["delivered_iteration"])
    assert report["dft_calls"] == delivered["dft_calls"] <= report["dft_calls_total"] <= report["budget"]
    assert report["validation_force_rmse"] == delivered["force_rmse"]
    calls = [p["dft_calls"] for p in curves["pipeline"]]
    assert calls == sorted(calls)
    assert [g["met"] for g in report["goals"]] == [g["met"] for g in bench.goals_of(report)]
