"""Random sensible crystals for compositions without a prototype (AIRSS-style random structure search).

Atoms are placed one by one at random positions in a cell of the expected density, rejecting any
position closer than a fraction of the covalent bond length to the atoms already placed.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.geometry import get_distances

from mlip_autopipec.structures.clusters import bond_length


def formula_units_for(amounts: dict[str, float], target_atoms: int) -> tuple[dict[str, int], int]:
    """Integer counts per element for about ``target_atoms`` atoms, keeping the stoichiometry."""
    total = sum(amounts.values())
    smallest = min(amounts.values())
    per_unit = {el: a / smallest for el, a in amounts.items()}
    units = max(1, int(round(target_atoms / (total / smallest))))
    counts = {el: max(1, int(round(n * units))) for el, n in per_unit.items()}
    return counts, units


def random_packed_cell(
    counts: dict[str, int], volume: float, rng: np.random.Generator, min_factor: float = 0.75, tries: int = 2000
) -> Atoms | None:
    """A cubic cell of ``volume`` A^3 holding ``counts`` atoms at least min_factor x bond length apart; None if it fails."""
    length = volume ** (1 / 3)
    symbols = [el for el, n in sorted(counts.items(), key=lambda kv: -kv[1]) for _ in range(n)]
    rng.shuffle(symbols)
    atoms = Atoms(cell=np.eye(3) * length, pbc=True)
    for symbol in symbols:
        for _ in range(tries):
            candidate = rng.uniform(0, length, size=3)
            if len(atoms) == 0:
                break
            _, d = get_distances([candidate], atoms.positions, cell=atoms.cell, pbc=True)
            needed = np.array([bond_length(symbol, other) for other in atoms.get_chemical_symbols()]) * min_factor
            if np.all(d[0] >= needed):
                break
        else:
            return None
        atoms += Atoms(symbol, positions=[candidate])
    return atoms
