"""The crystal a validation measures properties on: the composition's prototype, as a primitive cell.

Why the primitive cell: every DFT evaluation of the validation is a pw.x run, and the equation of state,
elastic constants and phonons are properties of the primitive cell; larger cells (defects, the fresh set,
stability) are grown from it. Molecules have no crystal, and a metallic alloy's prototype is its parent lattice
with one species (its SQS cells are random), so both get no crystal here and the checks that need one are
reported as not applicable, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import spglib
from ase import Atoms

from mlip_autopipec.structures.bonding import BondingAnalysis, analyse_bonding
from mlip_autopipec.structures.composition import parse_composition
from mlip_autopipec.structures.prototypes import choose_prototype


@dataclass(frozen=True)
class ValidationCrystal:
    """The primitive crystal (None when there is none) and why."""

    atoms: Atoms | None
    name: str
    why: str


def primitive_cell(atoms: Atoms, symprec: float = 1e-3) -> Atoms:
    """The standardised primitive cell of ``atoms`` (spglib), periodic in all three directions."""
    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.get_atomic_numbers())
    standard = spglib.standardize_cell(cell, to_primitive=True, symprec=symprec)
    if standard is None:
        raise ValueError(f"spglib cannot find the symmetry of {atoms.get_chemical_formula()} (symprec {symprec})")
    lattice, positions, numbers = standard
    return Atoms(numbers=np.asarray(numbers), scaled_positions=np.asarray(positions), cell=np.asarray(lattice), pbc=True)


def validation_crystal(composition: str, bonding_type: str | None = None) -> ValidationCrystal:
    """The prototype crystal of ``composition`` (the one generation starts from), as a primitive cell;
    ``bonding_type``: the run's (the expanded config's ``system.bonding_type``) when the user overrode it."""
    amounts = parse_composition(composition)
    bonding = analyse_bonding(amounts)
    if bonding_type is not None and bonding_type != bonding.bonding_type:
        bonding = BondingAnalysis(bonding_type, "set by the user", oxidation_states=bonding.oxidation_states)
    if bonding.bonding_type == "metallic" and len(amounts) > 1:
        return ValidationCrystal(
            None, "alloy", "a random alloy has no single crystal to compute properties on (alloy validation is not built yet)"
        )
    prototype = choose_prototype(amounts, bonding)
    if prototype is None:
        return ValidationCrystal(None, "none", f"no prototype crystal for {composition} ({bonding.bonding_type})")
    crystal = primitive_cell(prototype.atoms)
    crystal.info["origin"] = f"validation_{prototype.name}"
    return ValidationCrystal(crystal, prototype.name, prototype.why)
