"""Read user structure files and fan them out as one file per structure, named by its content id."""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from mlip_autopipec.data.atomic_io import atomic_write_extxyz
from mlip_autopipec.data.ids import structure_id
from mlip_autopipec.errors import CorruptRunFile, StructureFileError

MIN_PAIR_DISTANCE = 0.5
"""Angstrom: two atoms closer than this are a broken file (wrong units, duplicated atom), never physics."""


def _check_readable(path: Path) -> None:
    """A directory or an empty file gives ASE's least helpful errors; say what it is instead."""
    if path.is_dir():
        raise StructureFileError(f"structures: '{path}' is a directory; give one structure file (e.g. an extxyz) in it")
    if not path.is_file():
        raise StructureFileError(f"structures: file '{path}' does not exist; fix the path in the config")
    if path.stat().st_size == 0:
        raise StructureFileError(f"structures: '{path}' is empty; write at least one structure into it or remove the key")


def check_frame(atoms: Atoms, number: int, path: Path) -> None:
    """Catch what would fail only later in pw.x: no atoms, a periodic cell of zero volume, overlapping atoms."""
    if len(atoms) == 0:
        raise StructureFileError(f"structures: frame {number} of '{path}' has no atoms; remove it")
    if atoms.pbc.any() and atoms.cell.rank < int(atoms.pbc.sum()):
        raise StructureFileError(
            f"structures: frame {number} of '{path}' is periodic but has no cell; give its lattice (extxyz: Lattice=...) "
            'or mark it non-periodic (pbc="F F F")'
        )
    first, second, distance = neighbor_list("ijd", atoms, MIN_PAIR_DISTANCE)
    if len(distance):
        k = int(np.argmin(distance))
        raise StructureFileError(
            f"structures: frame {number} of '{path}' has atoms {first[k]} and {second[k]} only {distance[k]:.2f} A apart "
            f"(closer than {MIN_PAIR_DISTANCE} A); fix the positions (units are Angstrom) or remove the frame"
        )


def read_structures(path: str | Path, allowed_elements: list[str] | None = None) -> list[Atoms]:
    """All frames of an ASE-readable file, checked for the things that would only fail later in pw.x."""
    path = Path(path)
    _check_readable(path)
    try:
        read = ase.io.read(path, index=":")
        frames = read if isinstance(read, list) else [read]
    except UnicodeDecodeError:
        raise StructureFileError(
            f"structures: '{path}' is not a text structure file (binary?); give an extxyz or other ASE-readable file"
        ) from None
    except Exception as exc:  # ASE raises many types for unreadable files
        raise StructureFileError(
            f"structures: cannot read '{path}' ({type(exc).__name__}: {exc}); give an extxyz or other ASE-readable file"
        ) from None
    if not frames:
        raise StructureFileError(f"structures: '{path}' holds no structure; add at least one frame")
    for number, atoms in enumerate(frames):
        check_frame(atoms, number, path)
        if allowed_elements is not None:
            extra = sorted(set(atoms.get_chemical_symbols()) - set(allowed_elements))
            if extra:
                raise StructureFileError(
                    f"structures: frame {number} of '{path}' contains {', '.join(extra)}, which is not in the composition "
                    f"({', '.join(allowed_elements)}); fix the composition or the file"
                )
    return frames


def fan_out(frames: list[Atoms], directory: str | Path, origin: str) -> dict[str, Path]:
    """Write each structure to ``directory/<id>.extxyz`` (atomically); duplicates collapse to one file."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for atoms in frames:
        clean = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        sid = structure_id(clean)
        clean.info.update(structure_id=sid, origin=str(atoms.info.get("origin", origin)))
        if sid not in written:
            written[sid] = atomic_write_extxyz(directory / f"{sid}.extxyz", clean)
    return written


def structure_ids_in_file(path: str | Path, allowed_elements: list[str] | None = None) -> list[str]:
    """Sorted unique content ids of a structure file (what ``fan_out`` will write)."""
    frames = read_structures(path, allowed_elements)
    ids = {structure_id(Atoms(numbers=a.numbers, positions=a.positions, cell=a.cell, pbc=a.pbc)) for a in frames}
    return sorted(ids)


def corrupt_run_file(path: str | Path, why: str) -> CorruptRunFile:
    """The one-line error for a file of ``results/`` that no longer reads back, with the fix: delete it, rerun."""
    return CorruptRunFile(
        f"{path} is corrupt ({why}); delete it and rerun: Snakemake writes it again when a job needs it (a label "
        "comes back from the label cache without running the DFT program)"
    )


def read_run_frames(path: str | Path) -> list[Atoms]:
    """Every frame of a structure file the workflow wrote (``results/iter_*/user|selected/{id}.extxyz``,
    ``generated.extxyz``), checked whole; ``CorruptRunFile`` names a damaged one and the fix.

    Why the check: every such file is written atomically and ends with a newline, so a file cut short was damaged
    after it was written (a full disk, a copy, an editor); ASE reads a file cut inside its last number without a
    word, as a different structure, and raises a bare XYZError on other cuts.
    """
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as error:
        raise corrupt_run_file(path, error.strerror or str(error)) from None
    if not text.strip():
        raise corrupt_run_file(path, "it is empty")
    if not text.endswith(b"\n"):
        raise corrupt_run_file(path, "it is cut short: no newline at its end")
    try:
        frames = ase.io.read(path, index=":", format="extxyz")
    except Exception as error:  # ASE raises many types for damaged files
        raise corrupt_run_file(path, f"{type(error).__name__}: {' '.join(str(error).split())[:160]}") from None
    frames = frames if isinstance(frames, list) else [frames]
    if not frames or any(len(atoms) == 0 for atoms in frames):
        raise corrupt_run_file(path, "it holds a frame without atoms")
    return frames


def read_run_structure(path: str | Path) -> Atoms:
    """The one structure of a file the workflow wrote (the last frame, as ``ase.io.read``), checked whole."""
    return read_run_frames(path)[-1]
