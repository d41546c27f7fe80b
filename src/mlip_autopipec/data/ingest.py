"""The single writer of the database index: record an iteration's selected structures and their labels.

Before anything is written, the iteration's labels are checked for a common failure: when most of them failed
for one reason (a wrong pseudopotential, too few SCF steps, a walltime too short for every structure), the
cause is the set-up, not the structures, and going on would train on the few that survived and exit 0. The
run stops with one line instead, and the database is left as it was.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ase import Atoms

from mlip_autopipec.config.models import LabelConfig
from mlip_autopipec.data.database import WAIT_ENV, StructureIndex, wait_seconds
from mlip_autopipec.data.records import IngestSummary, LabelRecord
from mlip_autopipec.data.structure_files import corrupt_run_file, read_run_frames, read_run_structure
from mlip_autopipec.errors import CorruptRunFile, DatabaseUnavailable, LabelBatchFailed, UserInputError

log = logging.getLogger(__name__)
T = TypeVar("T")

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

    Raises ``LabelBatchFailed`` (and writes nothing) when most labels failed for one reason (``common_failure``),
    ``CorruptRunFile`` naming a damaged input file, ``DatabaseUnavailable`` when the index is locked or broken.
    Every file is read before the index is touched, the iteration is written in one transaction, and an index
    deleted mid-run is first rebuilt from the iterations ingested before this one (``restore_index``).
    """
    records = [read_label_file(path) for path in labels]
    stop = common_failure(records, iteration, stop_fraction, stop_min_labels)
    if stop is not None:
        raise LabelBatchFailed(stop)
    inputs = _IterationFiles(
        iteration,
        generated=read_run_frames(generated) if generated is not None else [],
        selected=[read_run_structure(path) for path in selected],
        records=records,
    )
    database = Path(database)
    with _writer_lock(database):
        _restore(database, before=iteration)
        index = StructureIndex(database)
        with index.transaction():
            return inputs.record(index)


def read_label_file(path: Path) -> LabelRecord:
    """A label record from ``results/``; ``CorruptRunFile`` (delete it, Snakemake relabels from the cache) when damaged."""
    try:
        return LabelRecord.read(path)
    except (ValueError, OSError) as error:
        raise corrupt_run_file(path, " ".join(str(error).split())[:160]) from None


@dataclass
class _IterationFiles:
    """One iteration's files, read and checked: what ingest writes into the index."""

    iteration: int
    generated: list[Atoms]
    selected: list[Atoms]
    records: list[LabelRecord]

    def record(self, index: StructureIndex) -> IngestSummary:
        iteration = self.iteration
        for atoms in self.generated:
            index.upsert(atoms, "generated", iteration=iteration, origin=str(atoms.info.get("origin", "unknown")))
        for atoms in self.selected:
            origin = str(atoms.info.get("origin", "unknown"))
            index.upsert(atoms, "selected_for_labelling", iteration=iteration, origin=origin)
        states: Counter[str] = Counter()
        reasons: dict[str, str] = {}
        program_runs = 0
        for record in self.records:
            index.record_label(record)
            states[record.state] += 1
            if not record.cache_hit:
                program_runs += len(record.attempts)
            if record.state == "failed":
                reasons[record.structure_id] = record.reason
        return IngestSummary(
            iteration=iteration,
            generated=len(self.generated),
            selected=len(self.selected),
            labels=dict(states),
            failed=reasons,
            pw_calls_this_run=program_runs,
            database=dict(sorted(index.counts().items())),
        )


def restore_index(database: str | Path) -> list[int]:
    """Rebuild a missing index from the files of every iteration already ingested; the iterations restored.

    Why: the index is derived (files are the truth), so a deleted ``results/database.db`` must come back without
    a DFT run. The workflow calls this when it is planned; nothing happens while the file exists. Damaged files
    are skipped with a warning here: the jobs that read them stop on them with the fix.
    """
    database = Path(database)
    if database.exists() or not any(database.parent.glob("iter_*/ingested.json")):
        return []
    try:
        with _writer_lock(database):
            return _restore(database, strict=False)
    except UserInputError as error:  # planning goes on; the ingest job meets the same problem and stops on it
        log.warning("%s was not rebuilt: %s", database, error)
        return []


def _restore(database: Path, before: int | None = None, strict: bool = True) -> list[int]:
    """Re-ingest iterations (< ``before``) that have an ``ingested.json`` into a new index beside ``database``, then
    rename it into place; nothing when ``database`` exists. The caller holds the writer lock."""
    if database.exists():
        return []
    results = database.parent
    done = sorted(
        int(match.group(1))
        for path in results.glob("iter_*/ingested.json")
        if (match := re.fullmatch(r"iter_(\d+)", path.parent.name)) and (before is None or int(match.group(1)) < before)
    )
    if not done:
        return []
    partial = database.with_name(f".{database.name}.rebuild")
    partial.unlink(missing_ok=True)
    index = StructureIndex(partial)
    with index.transaction():
        for iteration in done:
            _iteration_files(results / f"iter_{iteration}", iteration, strict).record(index)
    os.replace(partial, database)
    log.warning("%s was missing: rebuilt from the label files of iteration(s) %s", database, ", ".join(map(str, done)))
    return done


def _iteration_files(folder: Path, iteration: int, strict: bool) -> _IterationFiles:
    """What the ingest of ``iteration`` read, found again in its folder (damaged files skipped unless ``strict``)."""

    def readable(read: Callable[[Path], T], paths: list[Path]) -> list[T]:
        values = []
        for path in paths:
            try:
                values.append(read(path))
            except CorruptRunFile as error:
                if strict:
                    raise
                log.warning("skipped while rebuilding the index: %s", error)
        return values

    generated = readable(read_run_frames, [folder / "generated.extxyz"] if (folder / "generated.extxyz").is_file() else [])
    selected = sorted((folder / "user").glob("*.extxyz")) + sorted((folder / "selected").glob("*.extxyz"))
    return _IterationFiles(
        iteration,
        generated=[atoms for frames in generated for atoms in frames],
        selected=readable(read_run_structure, selected),
        records=readable(read_label_file, sorted((folder / "labels").glob("*.json"))),
    )


@contextmanager
def _writer_lock(database: Path, poll_s: float = 0.2) -> Iterator[None]:
    """The index's writer lock (an flock beside it): an ingest job and a rebuild never write at once, even when each
    job of a cluster run plans the workflow again. Without working flock (Lustre ``noflock``) writers go on without it."""
    database.parent.mkdir(parents=True, exist_ok=True)
    path = database.with_name(f".{database.name}.writer")
    deadline = time.monotonic() + wait_seconds()
    with open(path, "a") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DatabaseUnavailable(
                        f"{database} is being written by another job (lock {path} held for over {wait_seconds():g} s): "
                        f"wait for it to finish, or stop it, then rerun (wait longer with {WAIT_ENV})"
                    ) from None
                time.sleep(poll_s)
            except OSError as error:
                if error.errno in (errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOLCK, errno.EINVAL):
                    break
                raise
        yield
