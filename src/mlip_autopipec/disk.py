"""Which disk a path lives on and whether it is full, for one-line messages about a full file system.

Why its own module: a full disk shows up in three places (the DFT program's truncated output, an atomic
write of a label or cache entry, the SQLite index), and each message must name the same thing the user
can act on: the mount point and how much space is left there, not a traceback from deep inside a writer.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
"""OSError numbers that mean the file system (or the user's quota on it) has no room left."""

NEARLY_FULL_BYTES = 1 << 20
"""Below this much free space a DFT run that ended early is blamed on the disk: pw.x 6.7 exits 0 on a full disk,
its output silently cut at a buffer boundary, and a few hundred kB free is already too little for its scratch."""


def mount_point(path: str | Path) -> Path:
    """The mount point of the file system holding ``path`` (its nearest existing ancestor, symlinks resolved)."""
    current = Path(path).resolve()
    while not current.exists() and current != current.parent:
        current = current.parent
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return current


def free_bytes(path: str | Path) -> int | None:
    """Bytes an unprivileged user may still write on the file system of ``path``; None when unknown."""
    try:
        stats = os.statvfs(mount_point(path))
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize


def describe_disk(path: str | Path) -> str:
    """'the file system mounted at /scratch (12 kB free)' for a message."""
    free = free_bytes(path)
    left = "" if free is None else f" ({free // 1024} kB free)"
    return f"the file system mounted at {mount_point(path)}{left}"


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` is an OSError saying the disk or the quota is full."""
    return isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS


def disk_is_nearly_full(path: str | Path) -> bool:
    free = free_bytes(path)
    return free is not None and free < NEARLY_FULL_BYTES
