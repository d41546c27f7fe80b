"""Write files so that a reader never sees half of one: temporary name in the same folder, then rename.

Snakemake does not notice half-written outputs behind a checkpoint (DESIGN.md, decision 4), so
every job writes this way; a job killed mid-write leaves only a ``.tmp`` file behind.
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


def atomic_write(path: str | Path, write: Any, mode: str = "w") -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, fsync, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
