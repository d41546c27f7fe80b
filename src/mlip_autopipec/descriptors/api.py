"""Python entry points: turn ASE Atoms into plain arrays and hand them to the Numba kernels.

Structure descriptors feed DIRECT frame selection, so they must be invariant to rotation,
translation, atom order and supercell choice; per-species averages (and variances) over atoms give that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from .kernels import atom_descriptors, batch_structure_descriptors, n_atom_features, species_moments


@dataclass(frozen=True)
class DescriptorSpec:
    """What to compute: species order (fixes the feature layout), cutoff in Angstrom, basis sizes."""

    species: tuple[str, ...]
    r_cut: float = 5.0
    n_max: int = 8
    l_max: int = 6
    include_variance: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "species", tuple(self.species))
        if not self.species or len(set(self.species)) != len(self.species):
            raise ValueError(f"species must be non-empty and unique, got {self.species!r}")
        unknown = [s for s in self.species if s not in atomic_numbers]
        if unknown:
            raise ValueError(f"unknown chemical symbols {unknown!r}")
        if not self.r_cut > 0:
            raise ValueError(f"r_cut must be positive, got {self.r_cut!r}")
        if self.n_max < 1 or self.l_max < 0:
            raise ValueError(f"need n_max >= 1 and l_max >= 0, got n_max={self.n_max}, l_max={self.l_max}")

    @property
    def n_features(self) -> int:
        """Length of one atom's descriptor."""
        return n_atom_features(len(self.species), self.n_max, self.l_max)

    @property
    def n_structure_features(self) -> int:
        """Length of one structure's descriptor: per-species means (and variances)."""
        return len(self.species) * self.n_features * (2 if self.include_variance else 1)


def _species_lookup(spec: DescriptorSpec) -> np.ndarray:
    """Atomic number -> index in spec.species, -1 for elements the spec does not know."""
    table = np.full(119, -1, dtype=np.int64)
    for k, symbol in enumerate(spec.species):
        table[atomic_numbers[symbol]] = k
    return table


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _arrays(atoms: Atoms, lookup: np.ndarray, spec: DescriptorSpec) -> Arrays:
    """Positions, species indices, cell and pbc of one structure as kernel-ready arrays."""
    species = lookup[atoms.numbers]
    if (species < 0).any():
        missing = sorted(set(atoms.get_chemical_symbols()) - set(spec.species))
        raise ValueError(f"structure contains {missing} not in DescriptorSpec.species {spec.species}")
    pbc = np.asarray(atoms.pbc, dtype=np.bool_)
    cell = np.ascontiguousarray(atoms.cell.array, dtype=np.float64)
    if pbc.any() and abs(np.linalg.det(cell[pbc] @ cell[pbc].T)) < 1e-12:
        raise ValueError("periodic cell vectors are zero or linearly dependent")
    return np.ascontiguousarray(atoms.positions, dtype=np.float64), species, cell, pbc


def per_atom_descriptors(atoms: Atoms, spec: DescriptorSpec) -> np.ndarray:
    """Power spectrum of every atom's environment, (n_atoms, spec.n_features)."""
    positions, species, cell, pbc = _arrays(atoms, _species_lookup(spec), spec)
    if len(atoms) == 0:
        return np.zeros((0, spec.n_features))
    return atom_descriptors(positions, species, cell, pbc, len(spec.species), float(spec.r_cut), spec.n_max, spec.l_max)


def structure_descriptor(atoms: Atoms, spec: DescriptorSpec) -> np.ndarray:
    """One structure's descriptor, (spec.n_structure_features,): means per species, then variances."""
    per_atom = per_atom_descriptors(atoms, spec)
    species = _species_lookup(spec)[atoms.numbers]
    return species_moments(per_atom, species, len(spec.species), bool(spec.include_variance))


def structure_descriptors(frames: Sequence[Atoms], spec: DescriptorSpec) -> np.ndarray:
    """Descriptors of many structures, (n_frames, spec.n_structure_features), in one parallel kernel call."""
    frames = list(frames)
    if not frames:
        return np.zeros((0, spec.n_structure_features))
    lookup = _species_lookup(spec)
    packed = [_arrays(atoms, lookup, spec) for atoms in frames]
    atom_offsets = np.zeros(len(frames) + 1, dtype=np.int64)
    np.cumsum([len(p[0]) for p in packed], out=atom_offsets[1:])
    positions = np.concatenate([p[0] for p in packed]).reshape(-1, 3)
    species = np.concatenate([p[1] for p in packed]).astype(np.int64)
    cells = np.stack([p[2] for p in packed])
    pbcs = np.stack([p[3] for p in packed])
    return batch_structure_descriptors(
        positions,
        species,
        atom_offsets,
        cells,
        pbcs,
        len(spec.species),
        float(spec.r_cut),
        spec.n_max,
        spec.l_max,
        bool(spec.include_variance),
    )
