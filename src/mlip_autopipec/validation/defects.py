"""Point-defect formation energies in a small supercell, ions relaxed at a fixed cell.

Why these definitions: they need no reference other than the perfect supercell of the same calculator, so the
potential and DFT are compared on numbers that each computes on its own.
- Vacancy of an elemental crystal: E_f = E(N-1) - (N-1)/N E(N), the removed atom returned to the bulk.
- Vacancy in a compound: E_f = E(N-1) - E(N) + mu(X), with mu(X) the energy per atom of the element's own
  crystal computed with the same calculator; reported only when the caller passes those elemental crystals
  (``references``), since a compound's potential is not trained on them and DFT of them costs runs.
- Antisite of a compound or ordered alloy: swap one atom with its nearest unlike neighbour,
  E = E(swapped) - E(N); the composition is unchanged, so no chemical potential enters.
- Ionic crystal (the caller passes the oxidation states): a Schottky defect, one formula unit of vacancies
  (NaCl: one Na and one Cl; CaF2: one Ca and two F), charge-neutral without a chemical potential:
  E_S = E(N - n) - (N - n)/N E(N), the removed ions returned to the bulk; the vacancies are placed as far apart
  as the cell allows (the isolated-pair limit). Antisites only between ions of the same sign (a cation on an
  anion site costs many eV in any potential and is never sampled): none in NaCl, A<->B in a perovskite ABX3.
The supercell is the most cubic one (ASE's ``find_optimal_cell_shape``) of about ``cfg.defect_cell_atoms``
atoms grown from the primitive cell (the conventional cubic cell for 8-atom diamond or 4-atom fcc), each side
at its own equilibrium volume. The first evaluation of a defect cell is the unrelaxed energy: reported for free.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce
from math import gcd

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

    kind: str  # "vacancy", "schottky" or "antisite"
    label: str  # e.g. "vacancy Si", "Schottky defect Na+Cl", "antisite Cu<->Au": the row's name, the same on both sides
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


def _scaled_distances(atoms: Atoms, i: int, others: list[int]) -> np.ndarray:
    """Minimum-image distances in units of the cell's cube root, rounded: equal distances tie exactly, so both
    sides (each at its own lattice constant) pick the same atoms."""
    return np.round(atoms.get_distances(i, others, mic=True) / atoms.cell.volume ** (1.0 / 3.0), 6)


def _nearest_unlike_pair(atoms: Atoms, among: set[str] | None = None) -> tuple[int, int] | None:
    """The first atom of an element in ``among`` (any element by default) and its nearest neighbour of another
    element in ``among`` (minimum image); None when ``among`` holds fewer than two of the cell's elements."""
    symbols = atoms.get_chemical_symbols()
    allowed = set(symbols) if among is None else among & set(symbols)
    if len(allowed) < 2:
        return None
    first = next(i for i, symbol in enumerate(symbols) if symbol in allowed)
    candidates = [j for j in range(len(atoms)) if symbols[j] in allowed and symbols[j] != symbols[first]]
    return first, candidates[int(np.argmin(_scaled_distances(atoms, first, candidates)))]


def _antisite_pair(atoms: Atoms, charges: Mapping[str, float] | None) -> tuple[int, int] | None:
    """The pair an antisite swaps: any two unlike atoms, or in an ionic crystal two unlike ions of the same sign
    (cations first); None when there is no such pair (an element, or NaCl)."""
    if charges is None:
        return _nearest_unlike_pair(atoms)
    for sign in (1.0, -1.0):
        same = {el for el in set(atoms.get_chemical_symbols()) if np.sign(charges.get(el, 0.0)) == sign}
        if len(same) > 1:
            return _nearest_unlike_pair(atoms, same)
    return None


def schottky_vacancies(atoms: Atoms, charges: Mapping[str, float]) -> list[int]:
    """The ions of one formula unit to remove (cations first), each as far as possible from those already chosen."""
    counts = Counter(atoms.get_chemical_symbols())
    unit = reduce(gcd, counts.values())
    order = sorted(counts, key=lambda el: (-charges.get(el, 0.0), el))
    symbols = atoms.get_chemical_symbols()
    chosen: list[int] = []
    for element in order:
        for _ in range(counts[element] // unit):
            candidates = [j for j, s in enumerate(symbols) if s == element and j not in chosen]
            if not chosen:
                chosen.append(candidates[0])
                continue
            nearest = np.min([_scaled_distances(atoms, i, candidates) for i in chosen], axis=0)
            chosen.append(candidates[int(np.argmax(nearest))])
    return chosen


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
    charges: Mapping[str, float] | None = None,
) -> DefectResult:
    """Vacancies (every element of an elemental crystal; of a compound only with ``references``) and, for a
    compound or ordered alloy, one antisite, in a supercell of about ``cfg.defect_cell_atoms`` atoms.

    ``eos``: this calculator's equation of state of ``crystal`` (computed here when not given).
    ``references``: element -> its own crystal at equilibrium, for the chemical potentials of compound vacancies.
    ``charges``: element -> oxidation state of an ionic crystal: adds a Schottky defect and limits antisites to
    ions of the same sign.
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

    if charges is not None and len(elements) > 1 and reduce(gcd, Counter(perfect.get_chemical_symbols()).values()) > 1:
        removed = schottky_vacancies(perfect, charges)  # needs two formula units: one removed, one left
        schottky = perfect.copy()
        names = [schottky[i].symbol for i in removed]
        del schottky[sorted(removed)]
        shift = -bulk * len(schottky) / n
        defects.append(_defect("schottky", f"Schottky defect {'+'.join(names)}", schottky, calculator, shift))

    pair = _antisite_pair(perfect, charges)
    if pair is not None:
        swapped = perfect.copy()
        i, j = pair
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
        name = f"{reference.label} energy" if reference.kind == "antisite" else f"{reference.label} formation energy"
        if reference.kind == "schottky":
            note = f"one formula unit of vacancies, as far apart as the cell allows; {note}"
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
