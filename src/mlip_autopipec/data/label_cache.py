"""Labels keyed by (structure id, DFT-parameter hash), kept outside ``results/`` so they outlive reruns.

When Snakemake reruns a label job (an upstream file changed, or ``results/`` was deleted), the job
finds the label here and reuses it instead of running the DFT program (pw.x) again.

Each (structure, DFT hash) entry also has a lock file. A label job holds it while the DFT program runs, so a
second job for the same pair (the orphan of a killed Snakemake still running while the resumed run
starts the job again, or two iterations selecting the same structure) waits and then reads the
finished label instead of running the program twice. ``flock`` locks die with their process, so a killed
job never leaves a stale lock behind.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ase import Atoms

from mlip_autopipec.data.atomic_io import atomic_write
from mlip_autopipec.data.ids import id_digest
from mlip_autopipec.data.ids import structure_id as content_id
from mlip_autopipec.data.records import LabelRecord


class LabelCache:
    """Label records under ``root/{dft_hash}/{structure_id}.json``, each with its lock file beside it."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, structure_id: str, dft_hash: str) -> Path:
        return self.root / dft_hash / f"{structure_id}.json"

    def get(self, structure_id: str, dft_hash: str) -> LabelRecord | None:
        """The cached label, also from an entry written under the structure's legacy id (no ``s`` prefix):
        a finished DFT label is never recomputed because ids changed their spelling.

        A corrupt entry (cut short, edited by hand, another structure's or key's) counts as missing, with a warning
        naming it: the label job computes the label again and the new entry replaces it, instead of a traceback
        or a wrong label; every other entry is used as before.
        """
        for name in dict.fromkeys((structure_id, id_digest(structure_id))):
            path = self.path(name, dft_hash)
            if not path.is_file():
                continue
            try:
                record = LabelRecord.read(path)
                problem = _mismatch(record, structure_id, dft_hash)
            except (ValueError, OSError) as error:
                problem = " ".join(str(error).split())[:200]
            if problem is not None:
                logging.getLogger(__name__).warning(
                    "label cache entry %s is corrupt (%s); labelling the structure again, the new label replaces it",
                    path,
                    problem,
                )
                continue
            return record if record.structure_id == structure_id else record.model_copy(update={"structure_id": structure_id})
        return None

    @contextmanager
    def lock(self, structure_id: str, dft_hash: str, max_wait_s: float = 24 * 3600.0) -> Iterator[int | None]:
        """Hold the entry's exclusive lock; yields its file descriptor (None when unlocked, see below).

        Pass the descriptor to the DFT program (``run_process(pass_fds=...)``): a flock lasts until every copy
        of the descriptor is closed, so an orphaned program whose job was killed keeps holding it and a
        resumed job cannot start a second one in the same folder. Where the file system has no
        working flock (Lustre mounted ``noflock``) or the holder never lets go within ``max_wait_s``
        (a lock left by a crashed NFSv3 client), the job warns and goes on without the lock rather
        than fail or hang: the cache is then as good as it was before locking existed.
        """
        path = self.path(structure_id, dft_hash).with_suffix(".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            fd = handle.fileno()
            locked = _acquire(fd, path, max_wait_s)
            try:
                yield fd if locked else None
            finally:
                if locked:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def put(self, record: LabelRecord) -> Path:
        return record.write(self.path(record.structure_id, record.dft_hash))


def copy_records(source: str | Path, target: str | Path) -> int:
    """Copy the label records of one cache folder into another (``<dft hash>/<structure id>.json``); returns how many.

    Why: labels are the expensive part of a run, and a record is keyed by structure content and DFT parameters
    alone, so records kept from one run (committed as data, or carried to another machine) spare every later run
    with the same structures and settings its DFT. A record is copied when the target has none (or one that does not
    parse) and when it is a label where the target holds a failure; a record already in the target otherwise stays
    (a failure never replaces a label, in either direction). Only records that parse are copied (one being written,
    or cut short, stays behind), written atomically, so the target never holds half a record; lock files stay behind.
    """
    source, target = Path(source), Path(target)
    copied = 0
    for path in sorted(source.glob("*/*.json")) if source.is_dir() else []:
        destination = target / path.parent.name / path.name
        data = path.read_bytes()
        if destination.is_file() and destination.read_bytes() == data:
            continue  # already kept as is: no parsing (this runs after every stage of a long benchmark)
        try:
            record = LabelRecord.model_validate_json(data)
        except ValueError:
            logging.getLogger(__name__).warning("label record %s does not parse; not copied", path)
            continue
        if destination.is_file():
            try:
                kept = LabelRecord.read(destination)
            except (ValueError, OSError):
                kept = None
            if kept is not None and (kept.state == "labelled" or record.state != "labelled"):
                continue
        atomic_write(destination, lambda handle, data=data: handle.write(data), mode="wb")
        copied += 1
    return copied


def _mismatch(record: LabelRecord, structure_id: str, dft_hash: str) -> str | None:
    """Why a parsed entry cannot be this key's label (another structure or DFT hash, values missing), or None."""
    if record.dft_hash != dft_hash:
        return f"it holds DFT hash {record.dft_hash}, not {dft_hash}"
    if record.state == "labelled":
        if record.energy is None or record.forces is None or len(record.forces) != len(record.numbers):
            return "it is labelled but lacks the energy or a force per atom"
    atoms = Atoms(numbers=record.numbers, positions=record.positions, cell=record.cell, pbc=record.pbc)
    if id_digest(content_id(atoms)) != id_digest(structure_id):  # the digest: legacy ids have no prefix
        return "its structure is not the one it is filed under"
    return None


_NO_FLOCK = {errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOLCK, errno.EINVAL}


def _acquire(fd: int, path: Path, max_wait_s: float, poll_s: float = 0.5) -> bool:
    """Take an exclusive flock on ``fd``, polling; False (with a warning) when flock is unsupported or the wait runs out."""
    deadline = time.monotonic() + max_wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                logging.getLogger(__name__).warning("%s still locked after %.0f s; labelling without the lock", path, max_wait_s)
                return False
            time.sleep(poll_s)
        except OSError as error:
            if error.errno in _NO_FLOCK:
                logging.getLogger(__name__).warning(
                    "no file locking on %s (%s); labelling without the lock", path, error.strerror
                )
                return False
            raise
