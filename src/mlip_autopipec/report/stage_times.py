"""Time per workflow stage, from the start and end times Snakemake recorded for every job it ran.

Why Snakemake's records: ``.snakemake/metadata/`` holds, for each output file, the rule and the start and end
time of the job that wrote it, for every rule (labels, training, MD, validation alike) and whatever the
machine or executor; the `snakemake --report` runtime statistics are drawn from the same files. A job with
several outputs is counted once: its outputs share the rule, the job hash and the end time (each has its own
start time, a few milliseconds apart; the earliest is the job's).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StageTime:
    """The jobs of one rule: how many, their summed run time and the span from the first start to the last end."""

    rule: str
    jobs: int
    job_seconds: float
    first_start: float
    last_end: float

    @property
    def span_seconds(self) -> float:
        return self.last_end - self.first_start


def _job_records(metadata: Path) -> dict[tuple[str, object, float], tuple[float, float]]:
    """(rule, job hash, end) -> (start, end) of every finished job Snakemake recorded under ``metadata``."""
    jobs: dict[tuple[str, object, float], tuple[float, float]] = {}
    for path in metadata.iterdir() if metadata.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        start, end, rule = record.get("starttime"), record.get("endtime"), record.get("rule")
        if record.get("incomplete") or not isinstance(rule, str) or start is None or end is None:
            continue
        key = (rule, record.get("job_hash"), float(end))
        jobs[key] = (min(float(start), jobs.get(key, (float(start), 0.0))[0]), float(end))
    return jobs


def stage_times(workdir: str | Path) -> list[StageTime]:
    """One entry per rule that ran in ``workdir`` (the folder holding ``.snakemake``), in order of first start."""
    by_rule: dict[str, list[tuple[float, float]]] = {}
    for (rule, _, _), times in _job_records(Path(workdir) / ".snakemake" / "metadata").items():
        by_rule.setdefault(rule, []).append(times)
    stages = [
        StageTime(
            rule=rule,
            jobs=len(times),
            job_seconds=sum(end - start for start, end in times),
            first_start=min(start for start, _ in times),
            last_end=max(end for _, end in times),
        )
        for rule, times in by_rule.items()
    ]
    return sorted(stages, key=lambda stage: stage.first_start)
