"""Minimum-distance checks: no generated structure may put two atoms closer than a fraction of their bond."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.neighborlist import neighbor_list


def min_distance_ratio(atoms: Atoms) -> float:
    """Smallest d_ij / (r_cov,i + r_cov,j) over all pairs (periodic images included); inf for one atom."""
    if len(atoms) < 2 and not atoms.pbc.any():
        return float("inf")
    radii = covalent_radii[atoms.numbers]
    i, j, d = neighbor_list("ijd", atoms, float(2 * radii.max()) * 1.5)
    if len(d) == 0:
        return float("inf")
    return float(np.min(d / (radii[i] + radii[j])))


def keep_physical(frames: list[Atoms], min_factor: float) -> tuple[list[Atoms], int]:
    """Drop frames with any pair closer than ``min_factor`` x the sum of covalent radii; return (kept, dropped)."""
    kept = [atoms for atoms in frames if min_distance_ratio(atoms) >= min_factor - 1e-9]
    return kept, len(frames) - len(kept)
