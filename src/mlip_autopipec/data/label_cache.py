"""Labels keyed by (structure id, DFT-parameter hash), kept outside ``results/`` so they outlive reruns.

When Snakemake reruns a label job (an upstream file changed, or ``results/`` was deleted), the job
finds the label here and reuses it instead of calling pw.x again.

Each (structure, DFT hash) entry also has a lock file. A label job holds it while pw.x runs, so a
second job for the same pair (the orphan of a killed Snakemake still running while the resumed run
starts the job again, or two iterations selecting the same structure) waits and then reads the
finished label instead of running pw.x twice. ``flock`` locks die with their process, so a killed
job never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlip_autopipec.data.labels import LabelRecord


class LabelCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, structure_id: str, dft_hash: str) -> Path:
        return self.root / dft_hash / f"{structure_id}.json"

    def get(self, structure_id: str, dft_hash: str) -> LabelRecord | None:
        path = self.path(structure_id, dft_hash)
        if not path.is_file():
            return None
        try:
            return LabelRecord.read(path)
        except (ValueError, OSError):
            return None  # unreadable entry: recompute rather than crash

    @contextmanager
    def lock(self, structure_id: str, dft_hash: str) -> Iterator[None]:
        """Hold the entry's exclusive lock (blocking until another holder finishes or dies)."""
        path = self.path(structure_id, dft_hash).with_suffix(".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def put(self, record: LabelRecord) -> Path:
        return record.write(self.path(record.structure_id, record.dft_hash))
