"""Alloy energetics: mixing energy of an SQS cell and formation energy of the ordered compound, against DFT.

Why these numbers: a random alloy has no single crystal whose elastic constants or phonons would say much, but
its energy of mixing decides whether it orders, separates or stays random, and it is a difference of large
energies that a potential can get wrong while its force errors look fine.
- Cells: the pure elements in their own reference lattices (ASE's reference states: the elemental ground
  state a formation energy refers to), an SQS of ``cfg.alloy_sqs_atoms`` atoms at the composition on the parent
  lattice (icet, as the generator makes them), and the ordered compound of that lattice and stoichiometry when
  there is a classic one (L1_0 or L1_2 on fcc, B2 on bcc).
- Each cell relaxed in volume on each side: the equation of state of ``eos.py`` (isotropic scaling, positions
  relaxed at every volume, cell shape kept), its fitted energy per atom at V0.
- E_mix = E0(cell) - sum_i x_i E0(element i), eV/atom; the same formula is the ordered compound's formation energy.
The antisite of the ordered cell is a point defect of ``defects.py`` (the checks call it with this EOS).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator
from ase.spacegroup import crystal

from mlip_autopipec.config.models import ValidationConfig
from mlip_autopipec.data.records import ValidationRow
from mlip_autopipec.structures.prototypes import Prototype, alloy_prototype, element_prototype
from mlip_autopipec.structures.sqs import concentrations_for, make_sqs
from mlip_autopipec.validation.eos import EosResult, equation_of_state
from mlip_autopipec.validation.table import compare

GROUP = "alloy energetics"
SQS_STEPS = 3000  # icet annealing steps when the cell is too large to enumerate (the generator's default)

CalculatorFor = Callable[[Atoms], Calculator]
"""The calculator for one cell: the potential for every cell; DFT with a k-point mesh fixed over that cell's EOS."""


@dataclass(frozen=True, eq=False)
class AlloyCell:
    """A cell whose energy is measured, as built (before any relaxation)."""

    name: str  # e.g. "Cu (fcc)", "8-atom SQS", "L1_0 ordered"
    kind: Literal["element", "sqs", "ordered"]
    atoms: Atoms
    why: str


def element_cells(elements: list[str]) -> list[AlloyCell]:
    """Each element in its reference lattice (fcc at its metallic volume when ASE has none)."""
    cells = []
    for element in sorted(elements):
        prototype = element_prototype(element)
        if prototype is None:
            raise ValueError(f"{element}: no elemental crystal to refer an alloy's mixing energy to")
        atoms = prototype.atoms.copy()
        atoms.info["origin"] = "validation_alloy_element"
        cells.append(AlloyCell(f"{element} ({prototype.name})", "element", atoms, prototype.why))
    return cells


def _fractions(amounts: dict[str, float]) -> dict[str, float]:
    total = sum(amounts.values())
    return {el: amounts[el] / total for el in sorted(amounts)}


def ordered_cell(amounts: dict[str, float], parent: Prototype) -> AlloyCell | None:
    """The classic ordered compound of a binary on its parent lattice: L1_0 (fcc AB), L1_2 (fcc A3B), B2 (bcc AB)."""
    fractions = _fractions(amounts)
    if len(fractions) != 2:
        return None
    minority, majority = sorted(fractions, key=lambda el: (fractions[el], el))
    x = fractions[minority]
    volume = parent.atoms.get_volume() / len(parent.atoms)  # the parent's Vegard volume per atom
    if parent.name == "fcc" and abs(x - 0.5) < 1e-6:
        a = (4 * volume) ** (1 / 3)
        first, second = sorted(fractions)
        atoms = crystal(
            [first, second], [(0, 0, 0), (0.5, 0.5, 0.5)], spacegroup=123, cellpar=[a / 2**0.5, a / 2**0.5, a, 90, 90, 90]
        )
        name, why = "L1_0 ordered", f"fcc AB: L1_0 (CuAu-I type) layers, c/a of the ideal fcc, a = {a:.3f} A (Vegard)"
    elif parent.name == "fcc" and abs(x - 0.25) < 1e-6:
        a = (4 * volume) ** (1 / 3)
        atoms = crystal([minority, majority], [(0, 0, 0), (0, 0.5, 0.5)], spacegroup=221, cellpar=[a, a, a, 90, 90, 90])
        name, why = "L1_2 ordered", f"fcc A3B: L1_2 (Cu3Au type), a = {a:.3f} A (Vegard)"
    elif parent.name == "bcc" and abs(x - 0.5) < 1e-6:
        a = (2 * volume) ** (1 / 3)
        first, second = sorted(fractions)
        atoms = bulk(f"{first}{second}", "cesiumchloride", a=a)
        name, why = "B2 ordered", f"bcc AB: B2 (CsCl type), a = {a:.3f} A (Vegard)"
    else:
        return None
    atoms.info["origin"] = "validation_alloy_ordered"
    return AlloyCell(name, "ordered", atoms, why)


def sqs_cell(amounts: dict[str, float], parent: Prototype, size: int, seed: int) -> AlloyCell | None:
    """An SQS of ``size`` atoms on the parent lattice at the composition; None when ``size`` cannot hold it."""
    target = concentrations_for(amounts, size)
    if target is None:
        return None
    atoms = make_sqs(parent.atoms, target, size, seed, SQS_STEPS)
    atoms.info["origin"] = "validation_alloy_sqs"
    why = f"icet SQS of {size} atoms on the parent {parent.name} lattice (Vegard volume), seed {seed}"
    return AlloyCell(f"{size}-atom SQS", "sqs", atoms, why)


def alloy_cells(amounts: dict[str, float], cfg: ValidationConfig, seed: int) -> tuple[list[AlloyCell], list[AlloyCell]]:
    """(the pure elements, the alloy's cells: the SQS and the ordered compound where they exist)."""
    parent = alloy_prototype(amounts)
    cells = [
        cell for cell in (sqs_cell(amounts, parent, cfg.alloy_sqs_atoms, seed), ordered_cell(amounts, parent)) if cell is not None
    ]
    if not cells:
        raise ValueError(
            f"no alloy cell: {cfg.alloy_sqs_atoms} atoms cannot hold the composition {amounts} and it has no ordered compound"
        )
    return element_cells(list(amounts)), cells


@dataclass(frozen=True, eq=False)
class CellEnergy:
    """One cell relaxed in volume by one calculator."""

    cell: AlloyCell
    eos: EosResult

    @property
    def counts(self) -> Counter[str]:
        return Counter(self.cell.atoms.get_chemical_symbols())


@dataclass(frozen=True, eq=False)
class AlloyResult:
    """One calculator's energies of the elements and of the alloy's cells."""

    references: dict[str, CellEnergy]  # element -> its reference crystal
    cells: tuple[CellEnergy, ...]

    def mixing_energy(self, cell: CellEnergy) -> float:
        """E0(cell) - sum_i x_i E0(element i), eV/atom."""
        n = sum(cell.counts.values())
        return cell.eos.e0 - sum(count / n * self.references[el].eos.e0 for el, count in cell.counts.items())

    def cell(self, kind: str) -> CellEnergy | None:
        return next((c for c in self.cells if c.cell.kind == kind), None)

    @property
    def evaluations(self) -> int:
        return sum(c.eos.evaluations for c in (*self.references.values(), *self.cells))


def alloy_energies(
    references: list[AlloyCell], cells: list[AlloyCell], calculator_for: CalculatorFor, cfg: ValidationConfig
) -> AlloyResult:
    """Every cell's equation of state with the calculator ``calculator_for`` gives for it."""

    def energy(cell: AlloyCell) -> CellEnergy:
        return CellEnergy(cell, equation_of_state(cell.atoms, calculator_for(cell.atoms), cfg))

    return AlloyResult({c.atoms[0].symbol: energy(c) for c in references}, tuple(energy(c) for c in cells))


def _note(result: AlloyResult, cfg: ValidationConfig) -> str:
    elements = ", ".join(c.cell.name for c in result.references.values())
    return (
        f"relative to {elements}; every cell relaxed in volume on each side (Birch-Murnaghan fit of {cfg.eos_points} "
        f"isotropically scaled cells over V(1 +- {cfg.eos_volume_range:g}), positions relaxed, cell shape kept)"
    )


def alloy_rows(potential: AlloyResult, dft: AlloyResult, cfg: ValidationConfig) -> list[ValidationRow]:
    """Mixing/formation energy per cell (judged, absolute, eV/atom), the ordering energy and every V0 (reported)."""
    note = _note(dft, cfg)
    rows: list[ValidationRow] = []
    for reference, mine in zip(dft.cells, potential.cells, strict=True):
        formula = reference.cell.atoms.get_chemical_formula()
        quantity = "mixing energy" if reference.cell.kind == "sqs" else "formation energy"
        rows.append(
            compare(
                GROUP,
                f"{quantity}, {reference.cell.name} {formula}",
                "eV/atom",
                dft.mixing_energy(reference),
                potential.mixing_energy(mine),
                cfg.mixing_energy_tolerance,
                "absolute",
                len(reference.cell.atoms),
                f"{reference.cell.why}; {note}",
            )
        )
    sqs, ordered = dft.cell("sqs"), dft.cell("ordered")
    our_sqs, our_ordered = potential.cell("sqs"), potential.cell("ordered")
    if sqs and ordered and our_sqs and our_ordered:
        rows.append(
            compare(
                GROUP,
                f"ordering energy, {ordered.cell.name} - {sqs.cell.name}",
                "eV/atom",
                dft.mixing_energy(ordered) - dft.mixing_energy(sqs),
                potential.mixing_energy(our_ordered) - potential.mixing_energy(our_sqs),
                None,
                "absolute",
                None,
                "negative: the ordered compound is below the random alloy",
            )
        )
    for reference, mine in zip(
        (*dft.references.values(), *dft.cells), (*potential.references.values(), *potential.cells), strict=True
    ):
        rows.append(
            compare(
                GROUP,
                f"equilibrium volume, {reference.cell.name} {reference.cell.atoms.get_chemical_formula()}",
                "A^3/atom",
                reference.eos.v0,
                mine.eos.v0,
                None,
                "relative",
                len(reference.eos.volumes),
                "isotropic scaling, cell shape kept",
            )
        )
    return rows
