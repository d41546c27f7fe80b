"""The ASE database index (``results/database.db``): one row per structure with its state and provenance.

Files are the truth; this index is rebuilt from them by the single ingest rule of each iteration,
so no job that may run in parallel ever writes the SQLite file.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import ase.db
from ase import Atoms

from mlip_autopipec.data.ids import structure_id
from mlip_autopipec.data.records import LabelRecord

State = Literal["generated", "selected_for_labelling", "labelled", "failed"]
STATES: tuple[State, ...] = ("generated", "selected_for_labelling", "labelled", "failed")
_RANK = {state: rank for rank, state in enumerate(STATES)}


def structure_id_of(row: Any) -> str:
    """The structure id of a database row (ids start with a letter, so ASE's database keeps them as strings)."""
    return str(row.structure_id)


class StructureIndex:
    """Upserts keyed by structure id; a state never moves backwards (labelled stays labelled)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = ase.db.connect(str(self.path))

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
            if _RANK[row.state] > _RANK[state] or (row.state == "labelled" and state == "failed"):
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
