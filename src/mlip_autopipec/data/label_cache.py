"""Labels keyed by (structure id, DFT-parameter hash), kept outside ``results/`` so they outlive reruns.

When Snakemake reruns a label job (an upstream file changed, or ``results/`` was deleted), the job
finds the label here and reuses it instead of calling pw.x again.
"""

from __future__ import annotations

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

    def put(self, record: LabelRecord) -> Path:
        return record.write(self.path(record.structure_id, record.dft_hash))
