"""Shared machinery for the pair-potential baselines: one neighbour list, one force/virial assembly.

Both physical baselines (ZBL, Lennard-Jones) are sums of isotropic pair terms, so they only differ
in the pair energy phi(r) and its derivative; everything that must be right for periodic cells
(minimum-image-free neighbour lists, per-pair cutoffs, the virial) lives here once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.neighborlist import neighbor_list
from ase.stress import full_3x3_to_voigt_6_stress


def smoothstep_switch(r: np.ndarray, r_on: np.ndarray, r_off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quintic switch S(r) = 1 - (10t^3 - 15t^4 + 6t^5), t = (r - r_on)/(r_off - r_on), and dS/dr.

    S is 1 below ``r_on``, 0 above ``r_off``, and its first and second derivatives vanish at both
    ends, so E*S is C2: energies and forces (and force derivatives) are continuous and the
    potential ends exactly at ``r_off`` without a jump that would heat up MD.
    """
    width = r_off - r_on
    t = np.clip((r - r_on) / width, 0.0, 1.0)
    # Same polynomial as 1 - (10t^3 - 15t^4 + 6t^5), factored so it stays >= 0 and accurate near t = 1.
    switch = (1.0 - t) ** 3 * (1.0 + 3.0 * t + 6.0 * t**2)
    dswitch = -30.0 * t**2 * (1.0 - t) ** 2 / width
    return switch, dswitch


class PairPotential(Calculator):
    """ASE calculator for E = sum_{i<j} phi_ij(r_ij) with per-species-pair cutoffs.

    Subclasses provide the pair energy and its radial derivative (already switched to exactly
    zero at their cutoff) and the largest cutoff; this class builds a full periodic neighbour list
    (each pair listed twice, hence the factor 1/2) and assembles energy, per-atom energies,
    forces and, for 3D-periodic cells, the virial stress (Voigt order xx, yy, zz, yz, xz, xy).
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def pair_energy(self, z_i: np.ndarray, z_j: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pair energies phi(r) and dphi/dr (eV, eV/Angstrom) for pairs of atomic numbers at distances r."""
        raise NotImplementedError

    def max_cutoff(self, numbers: np.ndarray) -> float:
        """Largest pair cutoff (Angstrom) among the species in ``numbers``; sizes the neighbour list."""
        raise NotImplementedError

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | tuple[str, ...] = ("energy",),
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        assert atoms is not None  # Calculator.calculate has just set self.atoms
        natoms = len(atoms)
        numbers = atoms.get_atomic_numbers()
        energies: np.ndarray = np.zeros(natoms)
        forces = np.zeros((natoms, 3))
        virial = np.zeros((3, 3))

        cutoff = self.max_cutoff(numbers) if natoms else 0.0
        if natoms > 1 or (natoms == 1 and atoms.pbc.any()):
            i, j, d, vec = neighbor_list("ijdD", atoms, cutoff, self_interaction=False)
        else:
            i = j = np.zeros(0, dtype=int)
            d = np.zeros(0)
            vec = np.zeros((0, 3))

        if len(d):
            phi, dphi = self.pair_energy(numbers[i], numbers[j], d)
            # Full list: every pair appears as (i, j) and (j, i); each carries half the pair energy.
            energies = 0.5 * np.bincount(i, weights=phi, minlength=natoms)
            # F_i = -dE/dr_i = sum_j phi'(r_ij) (r_j - r_i)/r_ij over the full list.
            pair_force = (dphi / d)[:, None] * vec
            for axis in range(3):
                forces[:, axis] = np.bincount(i, weights=pair_force[:, axis], minlength=natoms)
            # dE/d(strain_ab) = 1/2 sum_full phi'(r) D_a D_b / r.
            virial = 0.5 * pair_force.T @ vec

        energy = float(energies.sum())
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "energies": energies,
            "forces": forces,
        }
        if atoms.pbc.all() and atoms.cell.rank == 3:
            self.results["stress"] = full_3x3_to_voigt_6_stress(virial / atoms.get_volume())
