"""Trajectory files: gzip-compressed extxyz frames, written atomically and read back whole.

Why here: exploration writes them, selection and the tests read them; the format is part of the
run's files, not of any one stage.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import ase.io
from ase import Atoms

from mlip_autopipec.data.atomic_io import atomic_write


def write_frames(path: str | Path, frames: Sequence[Atoms]) -> Path:
    """Write gzip-compressed extxyz atomically: a temporary file in the same folder, then ``os.replace``.

    A reader never sees half a file: until the rename only a hidden ``.<name>.*.tmp`` exists, and it is
    removed when writing fails. Zero frames give a valid empty file (read it with :func:`read_frames`).
    """

    def write(raw: IO[bytes]) -> None:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as compressed:
            with io.TextIOWrapper(compressed, encoding="utf-8") as text:
                if frames:
                    ase.io.write(text, list(frames), format="extxyz")

    return atomic_write(path, write, mode="wb")


def read_frames(path: str | Path) -> list[Atoms]:
    """All frames of a file written by :func:`write_frames` ([] for a trajectory stopped at its start)."""
    path = Path(path)
    with open(path, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"  # the gzip magic number, whatever the file's name
    opener = gzip.open if compressed else open
    with opener(path, "rt", encoding="utf-8") as handle:
        if not handle.read(1):
            return []
        handle.seek(0)
        return list(ase.io.read(handle, index=":", format="extxyz"))
