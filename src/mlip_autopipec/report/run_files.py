"""The run's files under ``results/`` as the report reads them: typed, and None (not an error) when absent.

Why tolerant: the report is asked for on finished, running, killed and validation-less runs alike, and a file
that is not there (or not yet completely written) is a section that says so, never a crash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mlip_autopipec.data.records import (
    CommitteeManifest,
    CommitteeMetrics,
    IterationStatus,
    LabelRecord,
    OtfJobSummary,
    RunFile,
    Threshold,
    ValidationReport,
)

_ITERATION = re.compile(r"iter_(\d+)$")
R = TypeVar("R", bound=RunFile)


def read_optional(model: type[R], path: Path) -> R | None:
    """``model`` read from ``path``; None when the file is missing or not (yet) a valid document."""
    try:
        return model.read(path)
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class Iteration:
    """What one ``results/iter_{i}`` folder holds, read once."""

    number: int
    folder: Path
    labels: list[LabelRecord]
    metrics: CommitteeMetrics | None
    manifest: CommitteeManifest | None
    threshold: Threshold | None
    status: IterationStatus | None
    simulations: dict[str, OtfJobSummary]

    @property
    def models(self) -> Path:
        return self.folder / "models"


def _labels(folder: Path) -> list[LabelRecord]:
    records = (read_optional(LabelRecord, path) for path in sorted((folder / "labels").glob("*.json")))
    return [record for record in records if record is not None]


def _simulations(folder: Path) -> dict[str, OtfJobSummary]:
    """Committee-MD job summaries by job name (e.g. ``nvt_300K``)."""
    jobs = {path.stem: read_optional(OtfJobSummary, path) for path in sorted((folder / "simulate").glob("*.json"))}
    return {name: summary for name, summary in jobs.items() if summary is not None}


def read_iteration(folder: Path) -> Iteration:
    match = _ITERATION.search(folder.name)
    if match is None:
        raise ValueError(f"{folder}: not an iteration folder (iter_N)")
    models = folder / "models"
    return Iteration(
        number=int(match.group(1)),
        folder=folder,
        labels=_labels(folder),
        metrics=read_optional(CommitteeMetrics, models / "metrics.json"),
        manifest=read_optional(CommitteeManifest, models / "committee.json"),
        threshold=read_optional(Threshold, models / "threshold.json"),
        status=read_optional(IterationStatus, folder / "status.json"),
        simulations=_simulations(folder),
    )


@dataclass(frozen=True)
class RunFiles:
    """Every file of one run the report draws on."""

    results: Path
    iterations: list[Iteration]
    final: CommitteeManifest | None
    validation: ValidationReport | None

    @property
    def validation_folder(self) -> Path:
        return self.results / "validation"

    @property
    def database(self) -> Path:
        return self.results / "database.db"

    def delivered_iteration(self) -> int | None:
        """The iteration whose committee ``results/final`` holds (same config hash); None before finalize."""
        if self.final is None:
            return None
        for iteration in self.iterations:
            if iteration.manifest is not None and iteration.manifest.config_hash == self.final.config_hash:
                return iteration.number
        return None


def read_run(results: str | Path) -> RunFiles:
    """The run under ``results`` (its ``iter_N`` folders in order, the delivered committee, the validation)."""
    results = Path(results)
    folders = [p for p in results.glob("iter_*") if p.is_dir() and _ITERATION.search(p.name)]
    iterations = sorted((read_iteration(p) for p in folders), key=lambda it: it.number)
    return RunFiles(
        results=results,
        iterations=iterations,
        final=read_optional(CommitteeManifest, results / "final" / "committee.json"),
        validation=read_optional(ValidationReport, results / "validation" / "validation.json"),
    )
