"""The single writer of the database index: record an iteration's selected structures and their labels."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import ase.io
from ase import Atoms

from mlip_autopipec.data.database import StructureIndex
from mlip_autopipec.data.records import IngestSummary, LabelRecord


def ingest_iteration(
    database: str | Path, iteration: int, selected: list[Path], labels: list[Path], generated: Path | None = None
) -> IngestSummary:
    """Upsert generated structures, then the selected ones as ``selected_for_labelling``, then each label."""
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
    for path in labels:
        record = LabelRecord.read(path)
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
