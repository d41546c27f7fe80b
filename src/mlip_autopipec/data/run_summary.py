"""Per-iteration facts of a run read back from its files: DFT calls and time, held-out errors, the loop's decisions.

Why from files: they are the truth (DESIGN decision 1) and exist for a finished, running or killed run alike,
so ``mlip-pipe status`` and the benchmarks can report on any of them without a database query.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mlip_autopipec.data.records import CommitteeMetrics, IterationStatus, LabelRecord

_ITERATION = re.compile(r"iter_(\d+)$")


def _metrics(path: Path) -> CommitteeMetrics | None:
    """A committee's errors; None while they are not (or not readably) written."""
    try:
        return CommitteeMetrics.read(path)
    except (OSError, ValueError):
        return None


def _status(path: Path) -> IterationStatus | None:
    """The loop's decision of an iteration; None while it is not (or not readably) written."""
    try:
        return IterationStatus.read(path)
    except (OSError, ValueError):
        return None


def iteration_summary(folder: Path) -> dict[str, Any]:
    """One ``results/iter_{i}`` folder: labels by state, pw.x runs and seconds (cache hits excluded), model errors, status."""
    match = _ITERATION.search(folder.name)
    summary: dict[str, Any] = {
        "iteration": int(match.group(1)) if match else None,
        "labelled": 0,
        "failed": 0,
        "cache_hits": 0,
        "pw_runs": 0,
        "pw_seconds": 0.0,
    }
    for path in sorted((folder / "labels").glob("*.json")):
        try:
            record = LabelRecord.read(path)
        except (OSError, ValueError):
            continue
        summary[record.state] = summary.get(record.state, 0) + 1
        if record.cache_hit:
            summary["cache_hits"] += 1
            continue
        summary["pw_runs"] += len(record.attempts)
        summary["pw_seconds"] += sum(attempt.wall_time_s for attempt in record.attempts)
    metrics = _metrics(folder / "models" / "metrics.json")
    test = None if metrics is None else (metrics.committee.test_condensed or metrics.committee.test)  # scans left out
    summary["test_force_rmse"] = None if test is None else test.force_rmse
    summary["test_energy_rmse_per_atom"] = None if test is None else test.energy_rmse_per_atom
    status = _status(folder / "status.json")
    summary["status"] = None if status is None else status.status
    summary["reason"] = None if status is None else status.reason
    summary["pw_seconds"] = round(summary["pw_seconds"], 2)
    return summary


def run_summary(results: str | Path = "results") -> list[dict[str, Any]]:
    """``iteration_summary`` of every iteration folder under ``results``, in iteration order."""
    folders = [p for p in Path(results).glob("iter_*") if p.is_dir() and _ITERATION.search(p.name)]
    return [iteration_summary(p) for p in sorted(folders, key=lambda p: int(_ITERATION.search(p.name).group(1)))]  # type: ignore[union-attr]
