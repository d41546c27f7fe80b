"""The benchmark suite (benchmarks/run_all) and its overhead row (benchmarks/pipeline_overhead.py).

The suite test runs the real cheapest benchmark through the real wrapper; the overhead test reads a real finished
run: tests/data/overhead_run holds /tmp/demo3's Snakemake job records and log, label records, member records and
validation report (a Si run, 2 cores, 3 iterations), with the large fields (positions, forces, checksums) left out.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
RUN_ALL = REPO / "benchmarks" / "run_all"
OVERHEAD_RUN = Path(__file__).parent / "data" / "overhead_run"


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/ is not a package: load one of its scripts from its file."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def run_suite(tmp_path: Path, *args: str, timeout_s: float = 120) -> dict:
    """Run benchmarks/run_all with its JSON and workdir in ``tmp_path``; the JSON it wrote."""
    out = tmp_path / "run_all.json"
    done = subprocess.run(
        [str(RUN_ALL), *args, "--workdir", str(tmp_path / "work"), "--json", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    return json.loads(out.read_text())


def test_quick_suite_runs_the_cheapest_benchmark_into_a_json_row(tmp_path: Path) -> None:
    report = run_suite(tmp_path, "--only", "descriptor_throughput", "--quick")
    assert report["quick"] is True
    rows = report["rows"]
    assert [row["benchmark"] for row in rows] == ["descriptor_throughput"] * 2
    for row, system in zip(rows, ("Si", "FePt"), strict=True):
        assert row["status"] == "ok" and row["returncode"] == 0
        assert f"dscribe SOAP, frames/s, {system} 25x64 atoms" in row["compared"]
        assert row["ratio"] > 0 and row["goal"] == ">= 3"
        assert row["met"] is (row["ratio"] >= 3) and row["verdict"] in ("met", "unmet")
        raw = json.loads(Path(row["raw_json"]).read_text())
        assert raw["frames"] == 25 and raw["systems"][system]["ratio"] == pytest.approx(row["ratio"])
        assert Path(row["log"]).is_file()

    # --resume takes the finished benchmark's rows as they were; --skip makes a row without running anything
    again = run_suite(
        tmp_path, "--only", "descriptor_throughput", "--only", "gpu_speed", "--skip", "gpu_speed", "--quick", "--resume"
    )
    assert again["rows"][:2] == rows
    skipped = again["rows"][2]
    assert (skipped["benchmark"], skipped["status"], skipped["reason"], skipped["ratio"]) == (
        "gpu_speed",
        "skipped",
        "--skip",
        None,
    )


def test_a_failing_benchmark_is_a_row_with_its_reason_not_a_crash(tmp_path: Path) -> None:
    empty = tmp_path / "not_a_run"
    empty.mkdir()
    report = run_suite(tmp_path, "--only", "pipeline_overhead", "--overhead-run", str(empty))
    (row,) = report["rows"]
    assert row["status"] == "failed" and row["returncode"] == 1 and row["raw_json"] is None
    assert row["reason"].startswith("exit 1: ") and "no finished Snakemake job recorded" in row["reason"]
    assert row["verdict"] == f"failed: {row['reason']}"


def test_a_benchmark_past_its_timeout_is_stopped_with_its_children(tmp_path: Path) -> None:
    run_all = load_benchmark("run_all")
    marker = tmp_path / "grandchild_alive"
    child = f"import time; time.sleep(6); open({str(marker)!r}, 'w')"  # would outlive a kill of its parent alone
    parent = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); print('started', flush=True); time.sleep(60)"
    slow = run_all.Benchmark("slow", "nothing", lambda out, wd, o: [[sys.executable, "-c", parent]], lambda data: [], (3, 3))
    began = time.monotonic()
    (row,) = run_all.run_benchmark(slow, tmp_path, argparse.Namespace(quick=True, timeout_scale=1.0))
    assert row.status == "timeout" and row.returncode is None and row.reason.startswith("past 3 s")
    time.sleep(max(0.0, 10.0 - (time.monotonic() - began)))  # the grandchild started within 3 s: it would have written by now
    assert not marker.exists()


def test_overhead_of_a_real_si_run_in_core_seconds(tmp_path: Path) -> None:
    overhead = load_benchmark("pipeline_overhead")
    run = tmp_path / "run"
    shutil.copytree(OVERHEAD_RUN, run)
    numbers = overhead.overhead(run)

    # threads from the Snakemake log: pw.x labels ask for 2 (label.mpi.ntasks), exploration and members for 1
    threads = overhead.job_threads(run)
    assert threads["results/iter_0/labels/s1a20a207dafcadcb.json"] == 2
    assert threads["results/iter_0/explore/start0_npt_510K.json"] == 1
    assert threads["results/iter_0/models/member_00/member.json"] == 1
    assert numbers["cores"] == 2 and numbers["jobs"] == 75 and numbers["pw_ranks"] == 2

    # pw.x: every attempt of the 28 labels (no cache hit in this run) x 2 ranks; members of iter_* only (final holds copies)
    attempts = [
        attempt["wall_time_s"]
        for path in run.glob("results/iter_*/labels/*.json")
        for attempt in json.loads(path.read_text())["attempts"]
    ]
    assert numbers["pw_runs"] == len(attempts) == 28
    assert numbers["pw_core_seconds"] == pytest.approx(2 * sum(attempts))
    members = [json.loads(p.read_text())["wall_time_s"] for p in run.glob("results/iter_*/models/member_*/member.json")]
    assert numbers["training_members"] == len(members) == 9
    # training = the members' fits + planning's model selection (the train_plan jobs, whole)
    plan_rows = [row for row in numbers["per_rule"] if row["rule"] == "train_plan"]
    assert len(plan_rows) == 1 and plan_rows[0]["jobs"] == 3 and plan_rows[0]["overhead_core_seconds"] == 0
    assert numbers["member_fit_core_seconds"] == pytest.approx(sum(members))
    assert plan_rows[0]["core_seconds"] > 0
    assert numbers["model_selection_core_seconds"] == pytest.approx(plan_rows[0]["core_seconds"])
    assert numbers["training_core_seconds"] == pytest.approx(sum(members) + plan_rows[0]["core_seconds"])

    # the validation job was interrupted before Snakemake recorded it: neither its time nor its DFT counts
    assert numbers["not_counted"] == ["results/validation/validation.json: written, but no finished job recorded by Snakemake"]
    assert "validate" not in {row["rule"] for row in numbers["per_rule"]}

    # the share, and the per-rule remainders that add up to it
    rest = numbers["job_core_seconds"] - numbers["pw_core_seconds"] - numbers["training_core_seconds"]
    assert numbers["overhead_core_seconds"] == pytest.approx(rest)
    assert numbers["overhead_share"] == pytest.approx(rest / numbers["job_core_seconds"])
    assert numbers["overhead_share"] == pytest.approx(0.1718, abs=1e-4) and numbers["met"] is False
    assert sum(row["overhead_core_seconds"] for row in numbers["per_rule"]) == pytest.approx(rest)
    assert numbers["per_rule"][0]["rule"] == "explore"  # CHGNet exploration is most of it
    label = next(row for row in numbers["per_rule"] if row["rule"] == "label")
    assert label["jobs"] == 28 and 0 < label["overhead_core_seconds"] < 0.05 * label["core_seconds"]

    # idle cores are reported beside it, not judged
    assert numbers["busy_wall_s"] <= numbers["span_s"]
    assert numbers["idle_core_seconds"] == pytest.approx(2 * numbers["busy_wall_s"] - numbers["job_core_seconds"])


def test_overhead_command_prints_the_definition_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "overhead.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "pipeline_overhead.py"), "--run", str(OVERHEAD_RUN), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert "definition: overhead share = (job core-seconds - pw.x core-seconds - training core-seconds)" in done.stdout
    assert "overhead share 17.2% (goal < 10%: unmet)" in done.stdout
    assert json.loads(out.read_text())["goal"] == 0.10
