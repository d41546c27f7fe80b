"""Monkhorst-Pack meshes from a k-point spacing, so cells of any shape get the same sampling density."""

from __future__ import annotations

import math

import numpy as np
from ase import Atoms


def kpoint_mesh(atoms: Atoms, spacing: float) -> list[int] | None:
    """Subdivisions n_i = ceil(2 pi |b_i| / spacing) along periodic directions; None for a molecule (Gamma only).

    ``spacing`` is in 1/Angstrom with the 2 pi included (as in VASP's KSPACING and aiida's
    kpoints_distance); non-periodic directions get one point.
    """
    pbc = atoms.get_pbc()
    if not pbc.any():
        return None
    reciprocal = atoms.cell.reciprocal()  # rows b_i without the 2 pi
    mesh = []
    for i in range(3):
        if pbc[i]:
            length = 2 * math.pi * float(np.linalg.norm(reciprocal[i]))
            mesh.append(max(1, math.ceil(length / spacing - 1e-9)))
        else:
            mesh.append(1)
    return mesh
