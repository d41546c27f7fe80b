"""The ASE database index (``results/database.db``): one row per structure with its state and provenance.

Files are the truth; this index is rebuilt from them by the single ingest rule of each iteration,
so no job that may run in parallel ever writes the SQLite file.

Why not ASE's defaults: its lock file (``database.db.lock``) is left behind by a killed writer and makes every
later writer wait forever, and its fixed 20 s wait for SQLite's own lock ends in a traceback. The index uses
SQLite's locking alone, waits ``MLIP_PIPE_DB_WAIT_S`` seconds (default 60) for another program's lock, writes
an iteration in one transaction, and turns SQLite's errors into one line naming the file and the fix.
"""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ase import Atoms
from ase.db.sqlite import SQLite3Database

from mlip_autopipec.data.ids import structure_id
from mlip_autopipec.data.records import LabelRecord
from mlip_autopipec.disk import describe_disk
from mlip_autopipec.errors import DatabaseUnavailable, DiskFull, EnvironmentFailure

State = Literal["generated", "selected_for_labelling", "labelled", "failed"]
STATES: tuple[State, ...] = ("generated", "selected_for_labelling", "labelled", "failed")
_RANK: dict[str, int] = {state: rank for rank, state in enumerate(STATES)}


WAIT_ENV = "MLIP_PIPE_DB_WAIT_S"
DEFAULT_WAIT_S = 60.0


def wait_seconds() -> float:
    """How long a writer waits for another program's lock on the index (``MLIP_PIPE_DB_WAIT_S``, default 60 s)."""
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, DEFAULT_WAIT_S)))
    except ValueError:
        return DEFAULT_WAIT_S


class _SQLiteIndex(SQLite3Database):
    """ASE's SQLite database with a bounded, configurable wait for another connection's lock."""

    wait_s = DEFAULT_WAIT_S

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(str(self.filename), timeout=self.wait_s)


def structure_id_of(row: Any) -> str:
    """The structure id of a database row (ids start with a letter, so ASE's database keeps them as strings)."""
    return str(row.structure_id)


class StructureIndex:
    """Upserts keyed by structure id; a state never moves backwards (labelled stays labelled)."""

    def __init__(self, path: str | Path, wait_s: float | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = _SQLiteIndex(os.path.abspath(self.path), create_indices=True, use_lock_file=False)
        self.db.wait_s = wait_seconds() if wait_s is None else wait_s

    @contextmanager
    def transaction(self) -> Iterator[StructureIndex]:
        """Every read and write inside in one SQLite transaction: all or nothing, so a killed or failed ingest leaves
        the index as it was; SQLite's errors (locked, corrupt, disk full) become one ``DatabaseUnavailable`` line."""
        try:
            with self.db:
                yield self
        except sqlite3.DatabaseError as error:
            raise database_error(self.path, error, self.db.wait_s) from None

    def _row(self, sid: str) -> Any | None:
        rows = list(self.db.select(structure_id=sid))
        return rows[0] if rows else None

    def state_of(self, sid: str) -> str | None:
        row = self._row(sid)
        return None if row is None else row.state

    def upsert(self, atoms: Atoms, state: State, data: dict[str, Any] | None = None, **provenance: Any) -> str:
        """Record ``atoms`` in ``state``; keeps the more advanced state when the row exists.

        ``data["history"]`` lists every state the structure went through (state, iteration, time),
        so a structure's path from generation through selection to its label stays visible.
        """
        sid = structure_id(atoms)
        row = self._row(sid)
        history: list[dict[str, Any]] = []
        if row is not None:
            if _keeps(row.state, state):
                return sid
            kept = {k: v for k, v in row.key_value_pairs.items() if k not in provenance and k not in ("state", "structure_id")}
            provenance = {**kept, **provenance}
            history = list((row.data or {}).get("history", []))
            data = {**(row.data or {}), **(data or {})}
            del self.db[row.id]
        if not history or history[-1]["state"] != state:
            history.append(
                {
                    "state": state,
                    "iteration": provenance.get("iteration"),
                    "time": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
        data = {**(data or {}), "history": history}
        values = {k: v for k, v in provenance.items() if v is not None}
        self.db.write(atoms, key_value_pairs={"structure_id": sid, "state": state, **values}, data=data)
        return sid

    def record_label(self, record: LabelRecord) -> str:
        """Store a label (energy, forces, stress attached) or a failure with its reason."""
        provenance = dict(
            iteration=record.iteration,
            origin=record.origin,
            dft_hash=record.dft_hash,
            pseudo_family=record.pseudo_family,
            attempts=len(record.attempts),
            wall_time_s=record.wall_time_s,
            cache_hit=record.cache_hit,
            reason=record.reason or None,
        )
        data = {"attempts": [a.model_dump() for a in record.attempts], "pseudo_md5": record.pseudo_md5}
        return self.upsert(record.to_atoms(), record.state, data=data, **provenance)

    def counts(self) -> dict[str, int]:
        return dict(Counter(row.state for row in self.db.select()))

    def rows(self, state: State | None = None) -> list[Any]:
        return list(self.db.select(state=state) if state else self.db.select())


def _keeps(current: str, new: str) -> bool:
    """Whether a row in state ``current`` ignores an update to ``new``: states never move backwards and a label is
    final, but a failure labelled later (a rerun after a time-out or a crash, label.retry_failed) becomes labelled."""
    if current == "failed" and new == "labelled":
        return False
    return _RANK[current] > _RANK[new] or (current == "labelled" and new == "failed")


def database_error(path: Path, error: sqlite3.DatabaseError, wait_s: float) -> EnvironmentFailure:
    """One line for an SQLite error on the index: what is wrong with ``path`` and the fix."""
    said = " ".join(str(error).split())
    if "locked" in said or "busy" in said:
        holders = _holders(path)
        by = f" by {holders}" if holders else " by another program"
        return DatabaseUnavailable(
            f"{path} is locked{by} (waited {wait_s:g} s; SQLite: {said}): close the program holding it (an sqlite3 "
            f"shell, a database browser, another run in this folder) or wait longer with {WAIT_ENV}, then rerun; "
            "no label is lost, they are in their files and the label cache"
        )
    if "full" in said:
        return DiskFull(
            f"no space left to write {path} on {describe_disk(path.parent)} (SQLite: {said}): the index is as it was "
            "before this job; free space there, then rerun"
        )
    return DatabaseUnavailable(
        f"{path} is not a usable SQLite database (SQLite: {said}): delete it and rerun; the next run rebuilds the "
        "index from the label files in results/iter_*/labels"
    )


def _holders(path: Path, limit: int = 3) -> str:
    """'pid 123 (sqlite3)': other processes on this machine with ``path`` open (Linux /proc), or '' when unknown."""
    target = str(path.resolve())
    found = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        pid = fd_dir.parent.name
        if pid == str(os.getpid()):
            continue
        try:
            if any(os.readlink(fd) == target for fd in fd_dir.iterdir()):
                found.append(f"pid {pid} ({(fd_dir.parent / 'comm').read_text().strip()})")
        except OSError:
            continue
        if len(found) >= limit:
            break
    return ", ".join(found)
