"""Point-defect formation energies in a small supercell, ions relaxed at a fixed cell.

Why these definitions: they need no reference other than the perfect supercell of the same calculator, so the
potential and DFT are compared on numbers that each computes on its own.
- Vacancy of an elemental crystal: E_f = E(N-1) - (N-1)/N E(N), the removed atom returned to the bulk.
- Vacancy in a compound: E_f = E(N-1) - E(N) + mu(X), with mu(X) the energy per atom of the element's own
  crystal computed with the same calculator; reported only when the caller passes those elemental crystals
  (``references``), since a compound's potential is not trained on them and DFT of them costs runs.
- Antisite of a compound or ordered alloy: swap one atom with its nearest unlike neighbour,
  E = E(swapped) - E(N); the composition is unchanged, so no chemical potential enters.
The supercell is the most cubic one (ASE's ``find_optimal_cell_shape``) of about ``cfg.defect_cell_atoms``
atoms grown from the primitive cell (the conventional cubic cell for 8-atom diamond or 4-atom fcc), each side
at its own equilibrium volume. The first evaluation of a defect cell is the unrelaxed energy: reported for free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.build import find_optimal_cell_shape, make_supercell
from ase.calculators.calculator import Calculator

from mlip_autopipec.config.models import ValidationConfig
from mlip_autopipec.data.records import ValidationRow
from mlip_autopipec.validation.eos import EosResult, Relaxation, equation_of_state, relax_positions
from mlip_autopipec.validation.table import compare

GROUP = "point defects"
DEFECT_FMAX = 0.05  # eV/A: every step of the reference side is a DFT run of the whole supercell
DEFECT_RELAX_STEPS = 15  # step cap per defect cell (the row's note says when it was reached)


@dataclass(frozen=True)
class DefectEnergy:
    """One defect's formation energy with one calculator."""

    kind: str  # "vacancy" or "antisite"
    label: str  # e.g. "vacancy Si", "antisite Na<->Cl": the row's name, the same on both sides
    relaxed: float  # eV, ions relaxed at a fixed cell
    unrelaxed: float  # eV, defect cell at the perfect crystal's positions
    steps: int  # relaxation steps
    max_force: float  # eV/A at the end of the relaxation
    converged: bool  # max_force <= DEFECT_FMAX


@dataclass(frozen=True)
class DefectResult:
    """One calculator's point defects of one crystal."""

    formula: str  # of the perfect supercell
    n_atoms: int  # atoms of the perfect supercell
    supercell: tuple[tuple[int, ...], ...]  # integer matrix: supercell = P @ primitive cell
    volume: float  # A^3/atom, this calculator's equilibrium volume
    bulk_energy: float  # eV, the perfect supercell
    defects: tuple[DefectEnergy, ...]
    references_evaluated: int  # elemental crystals evaluated for chemical potentials (one evaluation each)
    eos_evaluations: int  # calculator evaluations of an equation of state this function had to compute (0 when given)

    @property
    def evaluations(self) -> int:
        """Calculator evaluations: the perfect supercell, each defect cell and relaxation step, each reference."""
        return 1 + len(self.defects) + sum(d.steps for d in self.defects) + self.references_evaluated


def defect_supercell_matrix(crystal: Atoms, target_atoms: int) -> np.ndarray:
    """The most cubic supercell (integer matrix P, supercell = P @ cell) with about ``target_atoms`` atoms."""
    cells = max(1, round(target_atoms / len(crystal)))
    if cells == 1:
        return np.eye(3, dtype=int)
    return np.asarray(find_optimal_cell_shape(crystal.cell, cells, "sc"), dtype=int)


def _nearest_unlike_pair(atoms: Atoms) -> tuple[int, int]:
    """Atom 0 and its nearest neighbour of another element (minimum image)."""
    symbols = atoms.get_chemical_symbols()
    candidates = [j for j in range(len(atoms)) if symbols[j] != symbols[0]]
    # Rounded, so that equal distances tie exactly and both sides (each at its own lattice constant) swap the same pair.
    distances = np.round(atoms.get_distances(0, candidates, mic=True) / atoms.cell.volume ** (1.0 / 3.0), 6)
    return 0, candidates[int(np.argmin(distances))]


def _energy(atoms: Atoms, calculator: Calculator) -> float:
    atoms.calc = calculator
    return float(atoms.get_potential_energy())


def _defect(kind: str, label: str, atoms: Atoms, calculator: Calculator, shift: float) -> DefectEnergy:
    """The defect cell's energy before and after relaxing its ions, plus ``shift`` (eV: what the formation
    energy subtracts, the perfect supercell and, for a vacancy, adds, the removed atom's chemical potential)."""
    unrelaxed = _energy(atoms, calculator)
    relaxation: Relaxation = relax_positions(atoms, DEFECT_FMAX, DEFECT_RELAX_STEPS)
    relaxed = float(atoms.get_potential_energy())
    return DefectEnergy(
        kind, label, relaxed + shift, unrelaxed + shift, relaxation.steps, relaxation.max_force, relaxation.converged
    )


def point_defects(
    crystal: Atoms,
    calculator: Calculator,
    cfg: ValidationConfig,
    eos: EosResult | None = None,
    references: Mapping[str, Atoms] | None = None,
) -> DefectResult:
    """Vacancies (every element of an elemental crystal; of a compound only with ``references``) and, for a
    compound or ordered alloy, one antisite, in a supercell of about ``cfg.defect_cell_atoms`` atoms.

    ``eos``: this calculator's equation of state of ``crystal`` (computed here when not given).
    ``references``: element -> its own crystal at equilibrium, for the chemical potentials of compound vacancies.
    """
    eos_evaluations = 0
    if eos is None:
        eos = equation_of_state(crystal, calculator, cfg)
        eos_evaluations = eos.evaluations
    matrix = defect_supercell_matrix(crystal, cfg.defect_cell_atoms)
    perfect = make_supercell(eos.at_equilibrium(crystal), matrix)
    n = len(perfect)
    bulk = _energy(perfect.copy(), calculator)
    elements = list(dict.fromkeys(perfect.get_chemical_symbols()))
    defects: list[DefectEnergy] = []

    potentials: dict[str, float] = {}
    if len(elements) == 1:
        potentials[elements[0]] = bulk / n
    elif references:
        for element in elements:
            if element in references:
                reference = references[element].copy()
                potentials[element] = _energy(reference, calculator) / len(reference)
    for element in elements:
        if element not in potentials:
            continue
        vacancy = perfect.copy()
        del vacancy[vacancy.get_chemical_symbols().index(element)]
        defects.append(_defect("vacancy", f"vacancy {element}", vacancy, calculator, potentials[element] - bulk))

    if len(elements) > 1:
        swapped = perfect.copy()
        i, j = _nearest_unlike_pair(swapped)
        numbers = swapped.get_atomic_numbers()
        numbers[[i, j]] = numbers[[j, i]]
        swapped.set_atomic_numbers(numbers)
        a, b = perfect.get_chemical_symbols()[i], perfect.get_chemical_symbols()[j]
        defects.append(_defect("antisite", f"antisite {a}<->{b}", swapped, calculator, -bulk))

    return DefectResult(
        formula=perfect.get_chemical_formula(),
        n_atoms=n,
        supercell=tuple(tuple(int(v) for v in row) for row in matrix),
        volume=eos.v0,
        bulk_energy=bulk,
        defects=tuple(defects),
        references_evaluated=len(potentials) if len(elements) > 1 else 0,
        eos_evaluations=eos_evaluations,
    )


def _relaxation_note(defect: DefectEnergy, side: str) -> str:
    stopped = "" if defect.converged else f", step cap reached at max force {defect.max_force:.3f} eV/A"
    return f"{defect.steps} steps {side}{stopped}"


def defect_rows(potential: DefectResult, dft: DefectResult, cfg: ValidationConfig) -> list[ValidationRow]:
    """Per defect: the relaxed formation energy (judged, absolute, eV) and the unrelaxed one (reported)."""
    theirs = {d.label: d for d in potential.defects}
    rows: list[ValidationRow] = []
    for reference in dft.defects:
        mine = theirs.get(reference.label)
        if mine is None:
            continue
        cell = f"{dft.n_atoms}-atom supercell {list(map(list, dft.supercell))} of the primitive cell at each side's own V0"
        note = (
            f"{cell}; ions relaxed at fixed cell (BFGS fmax {DEFECT_FMAX} eV/A: "
            f"{_relaxation_note(mine, 'potential')}, {_relaxation_note(reference, 'DFT')})"
        )
        name = f"{reference.label} formation energy" if reference.kind == "vacancy" else f"{reference.label} energy"
        rows.append(
            compare(GROUP, name, "eV", reference.relaxed, mine.relaxed, cfg.defect_tolerance, "absolute", dft.n_atoms, note)
        )
        rows.append(
            compare(
                GROUP,
                f"{name}, unrelaxed",
                "eV",
                reference.unrelaxed,
                mine.unrelaxed,
                None,
                "absolute",
                dft.n_atoms,
                f"{cell}; ions not relaxed",
            )
        )
    return rows
