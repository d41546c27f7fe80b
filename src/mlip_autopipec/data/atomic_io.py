"""Write files so that a reader never sees half of one: temporary name in the same folder, then rename.

Snakemake does not notice half-written outputs behind a checkpoint (DESIGN.md, decision 4), so
every job writes this way; a job killed mid-write leaves only a ``.tmp`` file behind. A full disk (or quota)
removes the temporary file and raises ``DiskFull`` naming the file and the mount point: the old file, if any,
is untouched, and nothing half-written can later read as valid.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ase.io
from ase import Atoms

from mlip_autopipec.disk import describe_disk, is_disk_full
from mlip_autopipec.errors import DiskFull


def atomic_write(path: str | Path, write: Any, mode: str = "w") -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, fsync, then rename it to ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        if is_disk_full(error):
            raise _disk_full(path) from None
        raise
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if is_disk_full(error):
            raise _disk_full(path) from None
        raise
    return path


def _disk_full(path: Path) -> DiskFull:
    return DiskFull(
        f"no space left to write {path} on {describe_disk(path.parent)}: nothing half-written was kept; "
        "free space there (or move the run folder or label.cache_dir to a larger disk), then rerun"
    )


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda handle: handle.write(text))


def atomic_write_json(path: str | Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def atomic_savefig(path: str | Path, figure: Any, dpi: int = 120) -> Path:
    """A matplotlib figure as PNG, written atomically (a report never links a half-written image)."""
    return atomic_write(path, lambda handle: figure.savefig(handle, dpi=dpi, format="png"), mode="wb")


def atomic_write_extxyz(path: str | Path, images: Atoms | Iterable[Atoms]) -> Path:
    frames = [images] if isinstance(images, Atoms) else list(images)
    return atomic_write(path, lambda handle: ase.io.write(handle, frames, format="extxyz"))
