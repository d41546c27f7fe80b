"""The single writer of the database index: record an iteration's selected structures and their labels.

Before anything is written, the iteration's labels are checked for a common failure: when most of them failed
for one reason (a wrong pseudopotential, too few SCF steps, a walltime too short for every structure), the
cause is the set-up, not the structures, and going on would train on the few that survived and exit 0. The
run stops with one line instead, and the database is left as it was.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import ase.io
from ase import Atoms

from mlip_autopipec.config.models import LabelConfig
from mlip_autopipec.data.database import StructureIndex
from mlip_autopipec.data.records import IngestSummary, LabelRecord
from mlip_autopipec.errors import LabelBatchFailed

DEFAULT_STOP_FRACTION = LabelConfig().stop_failed_fraction
DEFAULT_STOP_MIN_LABELS = LabelConfig().stop_failed_min_labels


def failure_kind(record: LabelRecord) -> str:
    """The reason a label failed, with numbers blanked: "SCF not converged after 100 / 150 iterations" is one reason."""
    last = record.attempts[-1] if record.attempts else None
    words = f"{last.status}: {last.reason}" if last is not None else record.reason
    return re.sub(r"\d+(\.\d+)?", "#", words)


def common_failure(
    records: list[LabelRecord],
    iteration: int,
    fraction: float = DEFAULT_STOP_FRACTION,
    min_labels: int = DEFAULT_STOP_MIN_LABELS,
) -> str | None:
    """One line when at least ``fraction`` of ``records`` (at least ``min_labels`` of them) failed for one reason."""
    if len(records) < min_labels:
        return None
    kinds = Counter(failure_kind(r) for r in records if r.state == "failed")
    if not kinds:
        return None
    kind, count = kinds.most_common(1)[0]
    if count < fraction * len(records):
        return None
    example = next(r for r in records if r.state == "failed" and failure_kind(r) == kind)
    return (
        f"{count} of {len(records)} labels of iteration {iteration} failed for one reason ({example.reason}; "
        f"e.g. structure {example.structure_id}): a set-up problem, so the run stops before training on the rest; "
        "fix the DFT or label settings, then rerun with label.retry_failed: true "
        f"(this stop: label.stop_failed_fraction {fraction:g}, label.stop_failed_min_labels {min_labels})"
    )


def ingest_iteration(
    database: str | Path,
    iteration: int,
    selected: list[Path],
    labels: list[Path],
    generated: Path | None = None,
    stop_fraction: float = DEFAULT_STOP_FRACTION,
    stop_min_labels: int = DEFAULT_STOP_MIN_LABELS,
) -> IngestSummary:
    """Upsert generated structures, then the selected ones as ``selected_for_labelling``, then each label.

    Raises ``LabelBatchFailed`` (and writes nothing) when most labels failed for one reason (``common_failure``).
    """
    records = [LabelRecord.read(path) for path in labels]
    stop = common_failure(records, iteration, stop_fraction, stop_min_labels)
    if stop is not None:
        raise LabelBatchFailed(stop)
    index = StructureIndex(database)
    n_generated = 0
    if generated is not None:
        for atoms in ase.io.read(generated, index=":"):
            index.upsert(atoms, "generated", iteration=iteration, origin=str(atoms.info.get("origin", "unknown")))
            n_generated += 1
    for path in selected:
        atoms = ase.io.read(path)
        assert isinstance(atoms, Atoms)  # read without an index slice returns one Atoms (the last image)
        index.upsert(atoms, "selected_for_labelling", iteration=iteration, origin=str(atoms.info.get("origin", "unknown")))
    states: Counter[str] = Counter()
    reasons: dict[str, str] = {}
    program_runs = 0
    for record in records:
        index.record_label(record)
        states[record.state] += 1
        if not record.cache_hit:
            program_runs += len(record.attempts)
        if record.state == "failed":
            reasons[record.structure_id] = record.reason
    return IngestSummary(
        iteration=iteration,
        generated=n_generated,
        selected=len(selected),
        labels=dict(states),
        failed=reasons,
        pw_calls_this_run=program_runs,
        database=dict(sorted(index.counts().items())),
    )
