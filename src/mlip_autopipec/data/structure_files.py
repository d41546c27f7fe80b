"""Read user structure files and fan them out as one file per structure, named by its content id."""

from __future__ import annotations

from pathlib import Path

import ase.io
from ase import Atoms

from mlip_autopipec.data.atomic_io import atomic_write_extxyz
from mlip_autopipec.data.ids import structure_id
from mlip_autopipec.errors import StructureFileError


def read_structures(path: str | Path, allowed_elements: list[str] | None = None) -> list[Atoms]:
    """All frames of an ASE-readable file, checked for the things that would only fail later in pw.x."""
    path = Path(path)
    if not path.is_file():
        raise StructureFileError(f"structures: file '{path}' does not exist; fix the path in the config")
    try:
        read = ase.io.read(path, index=":")
        frames = read if isinstance(read, list) else [read]
    except Exception as exc:  # ASE raises many types for unreadable files
        raise StructureFileError(
            f"structures: cannot read '{path}' ({type(exc).__name__}: {exc}); give an extxyz or other ASE-readable file"
        ) from None
    if not frames:
        raise StructureFileError(f"structures: '{path}' holds no structure; add at least one frame")
    for number, atoms in enumerate(frames):
        if len(atoms) == 0:
            raise StructureFileError(f"structures: frame {number} of '{path}' has no atoms; remove it")
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
