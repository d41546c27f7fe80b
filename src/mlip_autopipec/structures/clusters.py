"""Short-range data every system needs: dimer and trimer distance scans, and isolated atoms.

Dimers and trimers sample the repulsive wall that MD rarely visits and that delta learning's ZBL
baseline must join smoothly; isolated atoms give the reference energies. All sit in a vacuum box.
"""

from __future__ import annotations

from itertools import combinations_with_replacement

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii

VACUUM = 6.0  # A on each side: keeps periodic images apart for pw.x
SCAN_ORIGINS = frozenset({"dimer", "trimer", "isolated_atom"})


def is_scan(atoms: Atoms) -> bool:
    """A dimer/trimer scan or an isolated atom: by ``info['origin']``, else by shape (non-periodic, <= 3 atoms).

    Selection and threshold calibration treat these apart from the condensed frames (and from the
    molecules of a molecular system): they are few-atom outliers in descriptor space and in spread.
    """
    origin = atoms.info.get("origin")
    if isinstance(origin, str) and origin and origin != "unknown":
        return origin in SCAN_ORIGINS
    return len(atoms) <= 3 and not bool(np.any(atoms.pbc))


def _boxed(atoms: Atoms, origin: str) -> Atoms:
    atoms.center(vacuum=VACUUM)
    atoms.pbc = False
    atoms.info["origin"] = origin
    return atoms


def bond_length(a: str, b: str) -> float:
    return float(covalent_radii[atomic_numbers[a]] + covalent_radii[atomic_numbers[b]])


def dimer_scan(elements: list[str], points: int, min_factor: float, max_factor: float) -> list[Atoms]:
    """Every element pair at ``points`` distances from min_factor to max_factor x the covalent bond length."""
    frames = []
    for a, b in combinations_with_replacement(sorted(elements), 2):
        for factor in np.linspace(min_factor, max_factor, points):
            frames.append(_boxed(Atoms([a, b], positions=[[0, 0, 0], [0, 0, factor * bond_length(a, b)]]), "dimer"))
    return frames


def trimer_scan(elements: list[str], points: int, min_factor: float, max_factor: float) -> list[Atoms]:
    """Equilateral and 60-180 degree opened trimers of every species triple, over a distance scan."""
    frames = []
    for a, b, c in combinations_with_replacement(sorted(elements), 3):
        for factor in np.linspace(min_factor, max_factor, points):
            for angle in (60.0, 120.0, 180.0):
                r1 = factor * bond_length(a, b)
                r2 = factor * bond_length(a, c)
                theta = np.radians(angle)
                positions = [[0, 0, 0], [r1, 0, 0], [r2 * np.cos(theta), r2 * np.sin(theta), 0]]
                frames.append(_boxed(Atoms([a, b, c], positions=positions), "trimer"))
    return frames


def isolated_atoms(elements: list[str]) -> list[Atoms]:
    return [_boxed(Atoms(el, positions=[[0, 0, 0]]), "isolated_atom") for el in sorted(elements)]
