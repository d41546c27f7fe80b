"""Alloy energetics: mixing energy of an SQS cell and formation energy of the ordered compound, against DFT.

Why these numbers: a random alloy has no single crystal whose elastic constants or phonons would say much, but
its energy of mixing decides whether it orders, separates or stays random, and it is a difference of large
energies that a potential can get wrong while its force errors look fine.
- Cells: the pure elements in their own reference lattices (ASE's reference states: the elemental ground
  state a formation energy refers to), an SQS of ``cfg.alloy_sqs_atoms`` atoms at the composition on the parent
  lattice (icet, as the generator makes them), and the ordered compound of that lattice and stoichiometry when
  there is a classic one (L1_0 or L1_2 on fcc, B2 on bcc).
- Each cell relaxed in volume on each side: the equation of state of ``eos.py`` (isotropic scaling, positions
  relaxed at every volume, cell shape kept), its fitted energy per atom at V0. A tetragonal ordered cell (L1_0)
  first gets its own c/a on each side (``relax_axial_ratio``: a parabola through energies at that side's V0 of the
  cell as built), since
  L1_0 compounds are not cubic (FePt c/a 0.96-0.97, CuAu 0.93 of the fcc value) and a formation energy at the ideal
  ratio is biased by the tetragonal relaxation energy; the ratio is a row of its own.
- E_mix = E0(cell) - sum_i x_i E0(element i), eV/atom; the same formula is the ordered compound's formation energy.
The antisite of the ordered cell is a point defect of ``defects.py`` (the checks call it with this EOS).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator
from ase.spacegroup import crystal

from mlip_autopipec.config.models import ValidationConfig
from mlip_autopipec.data.records import ValidationRow
from mlip_autopipec.structures.prototypes import Prototype, alloy_prototype, element_prototype
from mlip_autopipec.structures.sqs import concentrations_for, make_sqs
from mlip_autopipec.validation.eos import EosResult, equation_of_state, relax_positions
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


AXIAL_RANGE = 0.05  # c/a scanned over the built ratio x (1 +- this), at fixed volume
AXIAL_POINTS = 5
AXIAL_FMAX = 0.02  # eV/A: positions relaxed at each ratio only above this (L1_0 has no free coordinate)


def is_tetragonal(atoms: Atoms, tolerance: float = 1e-6) -> bool:
    """a = b != c with right angles: a cell whose c/a no symmetry fixes."""
    a, b, c, alpha, beta, gamma = atoms.cell.cellpar()
    right = max(abs(alpha - 90), abs(beta - 90), abs(gamma - 90)) < 1e-4
    return right and abs(a - b) < tolerance * a and abs(c - a) > tolerance * a


def at_axial_ratio(atoms: Atoms, factor: float) -> Atoms:
    """``atoms`` with c/a multiplied by ``factor`` at the same volume (fractional coordinates kept)."""
    scaled = atoms.copy()
    cell = atoms.cell.array.copy()
    cell[:2] *= factor ** (-1.0 / 3.0)
    cell[2] *= factor ** (2.0 / 3.0)
    scaled.set_cell(cell, scale_atoms=True)
    return scaled


@dataclass(frozen=True)
class AxialRatio:
    """One side's c/a of a tetragonal cell at fixed volume: the scan and the parabola's minimum."""

    built: float  # c/a of the cell as built
    relaxed: float  # c/a at the fitted minimum
    factors: tuple[float, ...]  # c/a over the built ratio, scanned
    energies: tuple[float, ...]  # eV/atom at each factor
    evaluations: int  # calculator evaluations (scan points + position steps)


def relax_axial_ratio(atoms: Atoms, calculator: Calculator, half_width: float = AXIAL_RANGE) -> tuple[Atoms, AxialRatio]:
    """(the cell at its own c/a, the scan): energies over c/a x (1 +- ``half_width``) at the cell's volume, a parabola
    through them, and the window moved once to the low edge when the minimum lies outside it."""
    lengths = atoms.cell.lengths()
    built = float(lengths[2] / lengths[0])
    centre, evaluations = 1.0, 0
    factors: list[float] = []
    energies: list[float] = []
    for _ in range(2):
        factors = [float(f) for f in centre * np.linspace(1 - half_width, 1 + half_width, AXIAL_POINTS)]
        energies = []
        for factor in factors:
            work = at_axial_ratio(atoms, factor)
            work.calc = calculator
            relaxation = relax_positions(work, AXIAL_FMAX, 50)
            evaluations += 1 + relaxation.steps
            energies.append(float(work.get_potential_energy()) / len(work))
        lowest = int(np.argmin(energies))
        if 0 < lowest < len(factors) - 1:
            break
        centre = factors[lowest]
    curvature, slope, _ = np.polyfit(factors, energies, 2)
    best = float(-slope / (2 * curvature)) if curvature > 0 else factors[int(np.argmin(energies))]
    best = min(max(best, factors[0]), factors[-1])
    scan = AxialRatio(built, built * best, tuple(factors), tuple(energies), evaluations)
    return at_axial_ratio(atoms, best), scan


AXIAL_CYCLES = 3  # EOS -> c/a at its V0, repeated: c/a depends on the volume
AXIAL_CONVERGED = 2e-4  # relative change of c/a between cycles that ends them


def relax_tetragonal(atoms: Atoms, calculator: Calculator, cfg: ValidationConfig) -> tuple[Atoms, AxialRatio]:
    """The cell at its own volume and c/a: alternately the EOS (V0 at the current shape) and a c/a scan at that V0,
    the scan narrowing to a quarter after the first cycle (a parabola over +-5 % misplaces an anharmonic minimum by
    0.4 % for EMT CuAu; over +-1.25 % by under 0.1 %), until c/a moves by less than ``AXIAL_CONVERGED``."""
    work, evaluations = atoms, 0
    built = float(atoms.cell.lengths()[2] / atoms.cell.lengths()[0])
    axial: AxialRatio | None = None
    for cycle in range(AXIAL_CYCLES):
        eos = equation_of_state(work, calculator, cfg)
        evaluations += eos.evaluations
        previous = axial.relaxed if axial is not None else built
        work, axial = relax_axial_ratio(eos.at_equilibrium(work), calculator, AXIAL_RANGE if cycle == 0 else AXIAL_RANGE / 4)
        evaluations += axial.evaluations
        if abs(axial.relaxed / previous - 1.0) < AXIAL_CONVERGED:
            break
    assert axial is not None
    return work, replace(axial, built=built, evaluations=evaluations)


@dataclass(frozen=True, eq=False)
class CellEnergy:
    """One cell relaxed in volume (and c/a for a tetragonal ordered cell) by one calculator."""

    cell: AlloyCell
    eos: EosResult
    axial: AxialRatio | None = None

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
        cells = (*self.references.values(), *self.cells)
        return sum(c.eos.evaluations + (c.axial.evaluations if c.axial else 0) for c in cells)


def alloy_energies(
    references: list[AlloyCell], cells: list[AlloyCell], calculator_for: CalculatorFor, cfg: ValidationConfig
) -> AlloyResult:
    """Every cell's equation of state with the calculator ``calculator_for`` gives for it."""

    def energy(cell: AlloyCell) -> CellEnergy:
        calculator = calculator_for(cell.atoms)
        if cell.kind != "ordered" or not is_tetragonal(cell.atoms):
            return CellEnergy(cell, equation_of_state(cell.atoms, calculator, cfg))
        relaxed, axial = relax_tetragonal(cell.atoms, calculator, cfg)
        own = replace(cell, atoms=relaxed, why=f"{cell.why}; c/a relaxed on this side to {axial.relaxed:.4f}")
        # the EOS with the calculator of the relaxed cell: DFT's k-point mesh is then fixed over its own volumes
        return CellEnergy(own, equation_of_state(relaxed, calculator_for(relaxed), cfg), axial)

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
    for reference, mine in zip(dft.cells, potential.cells, strict=True):
        if reference.axial is not None and mine.axial is not None:
            rows.append(
                compare(
                    GROUP,
                    f"c/a, {reference.cell.name} {reference.cell.atoms.get_chemical_formula()}",
                    "-",
                    reference.axial.relaxed,
                    mine.axial.relaxed,
                    cfg.lattice_tolerance,
                    "relative",
                    len(reference.axial.factors),
                    f"the tetragonal cell's axial ratio at fixed volume (parabola through {len(reference.axial.factors)} "
                    f"ratios within +-{AXIAL_RANGE:g} of the built {reference.axial.built:.4f}), before its EOS",
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
