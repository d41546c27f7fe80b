"""A committee of any ASE calculators: mean prediction and spread, with the keys the active-learning loop reads.

The ACE committee (``committee.CommitteeCalculator``) shares this contract; this generic form lets a
committee of MACE models, or of different potentials, drive the same on-the-fly MD.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes


def spread_results(energies: np.ndarray, forces: np.ndarray, n_atoms: int) -> dict[str, Any]:
    """Mean energy/forces and the uncertainty keys from per-member energies (M,) and forces (M, N, 3)."""
    force_std = np.linalg.norm(forces.std(axis=0), axis=1)
    return {
        "energy": float(energies.mean()),
        "free_energy": float(energies.mean()),
        "forces": forces.mean(axis=0),
        "energy_std": float(energies.std()),
        "energy_std_per_atom": float(energies.std() / max(n_atoms, 1)),
        "force_std": force_std,
        "max_force_std": float(force_std.max()) if n_atoms else 0.0,
        "mean_force_std": float(force_std.mean()) if n_atoms else 0.0,
        "member_energy": energies,
        "member_forces": forces,
    }


class EnsembleCalculator(Calculator):
    """Mean and spread of several member calculators (each evaluated on a copy of the structure)."""

    implemented_properties = ["energy", "free_energy", "forces", "stress", "energy_std", "energy_std_per_atom", "force_std", "max_force_std", "mean_force_std"]

    def __init__(self, members: Sequence[Calculator], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if len(members) < 2:
            raise ValueError("a committee needs at least two members to have a spread")
        self.members = list(members)

    def calculate(self, atoms: Atoms | None = None, properties: Sequence[str] = ("energy",), system_changes: Sequence[str] = all_changes) -> None:
        super().calculate(atoms, list(properties), list(system_changes))
        energies, forces, stresses = [], [], []
        periodic = bool(self.atoms.pbc.all())
        for member in self.members:
            copy = self.atoms.copy()
            copy.calc = member
            energies.append(copy.get_potential_energy())
            forces.append(copy.get_forces())
            if periodic and "stress" in properties:
                stresses.append(copy.get_stress())
        self.results = spread_results(np.array(energies), np.array(forces), len(self.atoms))
        if stresses:
            self.results["stress"] = np.mean(stresses, axis=0)
