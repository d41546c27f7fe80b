"""What a validation measures properties on: the composition's prototype as a primitive cell, and which subset
of checks applies (crystal, ionic crystal, alloy, molecule).

Which crystal: the one the run's generation ranked lowest with the surrogate (``ranked_crystal``, read from
``results/iter_0/generated.extxyz``) when it differs from the radius-ratio prototype, so that the validation
measures the crystal the training data were grown from (a compound for which the radius-ratio rule picks the wrong
lattice, or none, such as Al2O3, is validated on its ranked corundum); when both agree, the tabulated prototype
is kept, so its DFT labels stay the same from run to run whatever the surrogate.

Why the primitive cell: every DFT evaluation of the validation is a pw.x run, and the equation of state,
elastic constants and phonons are properties of the primitive cell; larger cells (defects, the fresh set,
stability) are grown from it. Molecules have no crystal (they get geometry, vibrations and a bond-stretch curve),
and a metallic alloy's prototype is its parent lattice with one species (its SQS cells are random), so an alloy
gets no crystal either but mixing and formation energies of its own cells; the checks that need a crystal are
reported as not applicable, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import spglib
from ase import Atoms
from ase.io import read

from mlip_autopipec.structures.bonding import BondingAnalysis, analyse_bonding
from mlip_autopipec.structures.composition import parse_composition
from mlip_autopipec.structures.prototypes import choose_prototype

Subset = Literal["crystal", "ionic", "alloy", "molecule", "none"]


@dataclass(frozen=True)
class ValidationCrystal:
    """The primitive crystal (None when there is none), why, and the subset of checks the composition gets.

    ``subset``: ``crystal`` (elements, covalent and mixed compounds: EOS, elastic, phonons, defects), ``ionic``
    (the same with the defects of an ionic crystal: a Schottky defect, antisites of like-charged ions only),
    ``alloy`` (mixing and formation energies, antisite of the ordered cell), ``molecule`` (geometry, vibrations,
    bond stretch of ``molecule``, a name in ASE's g2 set), ``none`` (nothing to compute properties on).
    """

    atoms: Atoms | None
    name: str
    why: str
    subset: Subset = "crystal"
    molecule: str | None = None
    oxidation_states: dict[str, float] | None = None


def primitive_cell(atoms: Atoms, symprec: float = 1e-3) -> Atoms:
    """The standardised primitive cell of ``atoms`` (spglib), periodic in all three directions."""
    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.get_atomic_numbers())
    standard = spglib.standardize_cell(cell, to_primitive=True, symprec=symprec)
    if standard is None:
        raise ValueError(f"spglib cannot find the symmetry of {atoms.get_chemical_formula()} (symprec {symprec})")
    lattice, positions, numbers = standard
    return Atoms(numbers=np.asarray(numbers), scaled_positions=np.asarray(positions), cell=np.asarray(lattice), pbc=True)


@dataclass(frozen=True)
class RankedCrystal:
    """The crystal a run's generation ranked lowest with the surrogate: its relaxed cell, name and reason."""

    atoms: Atoms
    name: str
    why: str


#: Origins of the unperturbed crystal of each ranked seed in generated.extxyz (alloys' ordered seeds excluded).
RANKED_ORIGINS = ("ideal",)


def ranked_crystal(generated: str | Path | None) -> RankedCrystal | None:
    """The lowest-energy seed crystal among ``generated`` (a run's ``generated.extxyz``), or None when the run
    ranked no crystals (molecules, alloys, ``generate.relax_prototype: false``) or the file is absent."""
    if generated is None or not Path(generated).is_file():
        return None
    seeds = [
        atoms
        for atoms in read(str(generated), index=":")
        if atoms.info.get("origin") in RANKED_ORIGINS and "prototype_energy_ev_per_atom" in atoms.info
    ]
    if not seeds:
        return None
    lowest = min(seeds, key=lambda atoms: float(atoms.info["prototype_energy_ev_per_atom"]))
    return RankedCrystal(lowest, str(lowest.info["prototype"]), str(lowest.info.get("why", "ranked lowest by the surrogate")))


def validation_crystal(
    composition: str, bonding_type: str | None = None, molecule: str | None = None, ranked: RankedCrystal | None = None
) -> ValidationCrystal:
    """The crystal of ``composition`` that generation started from, as a primitive cell, and its subset of checks;
    ``bonding_type`` and ``molecule``: the run's (the expanded config's ``system``) when set; ``ranked``: the run's
    surrogate-ranked crystal (``ranked_crystal``), which wins over the radius-ratio prototype when they differ."""
    amounts = parse_composition(composition)
    bonding = analyse_bonding(amounts)
    if bonding_type is not None and bonding_type != bonding.bonding_type:
        bonding = BondingAnalysis(
            bonding_type, "set by the user", molecule=bonding.molecule, oxidation_states=bonding.oxidation_states
        )
    if bonding.bonding_type == "metallic" and len(amounts) > 1:
        return ValidationCrystal(
            None,
            "alloy",
            "a random alloy has no single crystal to compute properties on: validated by the mixing energies of its "
            "SQS and ordered cells instead",
            subset="alloy",
        )
    prototype = choose_prototype(amounts, bonding)
    ionic = bonding.bonding_type == "ionic" and len(amounts) > 1 and bool(bonding.oxidation_states)
    if ranked is not None and (prototype is None or ranked.name != prototype.name):
        crystal = primitive_cell(ranked.atoms)
        crystal.info["origin"] = f"validation_{ranked.name}"
        rule = f"the radius-ratio rule's {prototype.name}" if prototype is not None else "no radius-ratio prototype"
        why = f"generation's surrogate ranking: {ranked.why}; {rule} lies higher"
        if ionic:
            return ValidationCrystal(crystal, ranked.name, why, "ionic", oxidation_states=bonding.oxidation_states)
        return ValidationCrystal(crystal, ranked.name, why)
    if prototype is None:
        why = f"no prototype crystal for {composition} ({bonding.bonding_type})"
        name = molecule or bonding.molecule
        if bonding.bonding_type == "molecular" and name is not None:
            return ValidationCrystal(None, "molecule", f"{why}: validated as the molecule {name}", "molecule", molecule=name)
        return ValidationCrystal(None, "none", why, subset="none")
    crystal = primitive_cell(prototype.atoms)
    crystal.info["origin"] = f"validation_{prototype.name}"
    why = prototype.why + ("; generation's surrogate ranking agrees" if ranked is not None else "")
    if ionic:
        return ValidationCrystal(crystal, prototype.name, why, "ionic", oxidation_states=bonding.oxidation_states)
    return ValidationCrystal(crystal, prototype.name, why)
