"""Elastic constants from stress-strain slopes, ions relaxed, at each calculator's own equilibrium volume.

Why relaxed ions: in crystals with internal degrees of freedom (diamond Si under shear) the atoms move inside
the strained cell (Kleinman relaxation) and the clamped-ion C44 of Si is about 30 % too high; a potential that
gets the internal relaxation wrong must show it. Why each side's own V0: elastic constants at a volume that is
not the calculator's equilibrium mix in the pressure derivative of C, so the potential is strained about its own
minimum and DFT about DFT's.

Strains of +-e and +-e/2 (e = ``cfg.elastic_strain``); the slope of a straight-line fit of each stress component
gives a column of the 6x6 Voigt matrix (shear strains are engineering strains, gamma = 2 eps_ij; ASE's stress is
positive in tension, so sigma = C eps with no sign change). The intercept absorbs a residual stress at V0 (a
non-cubic cell keeps the reference cell shape). A crystal whose point group holds the cubic group's [111]
three-fold axis and the two-fold axis along z in its Cartesian frame is cubic in that frame: C11 and C12 come
from one uniaxial strain, C44 from one shear (8 strained cells); any other crystal gets all 6 strain components
(24 cells) and the full matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import spglib
from ase import Atoms, units
from ase.calculators.calculator import Calculator

from mlip_autopipec.config.models import ValidationConfig
from mlip_autopipec.data.records import ValidationRow
from mlip_autopipec.validation.eos import EosResult, equation_of_state, relax_positions
from mlip_autopipec.validation.table import compare

GROUP = "elastic constants"
ELASTIC_FMAX = 0.005  # eV/A: the internal-relaxation force of Si at 0.5 % shear is about 0.035 eV/A
ELASTIC_RELAX_STEPS = 20  # step cap per strained cell
OFF_DIAGONAL_MIN = 5.0  # GPa: off-diagonal entries of a non-cubic matrix get a row above this on either side
VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))  # Voigt index -> Cartesian pair, ASE's stress order
UNIAXIAL_X, SHEAR_YZ = 0, 3

Matrix = tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class ElasticResult:
    """One calculator's elastic constants of one crystal at its own equilibrium volume."""

    formula: str
    n_atoms: int  # atoms of the strained cell
    cubic: bool  # C11, C12, C44 from one uniaxial and one shear strain in the cubic axes; matrix filled from them
    volume: float  # A^3/atom, the equilibrium volume the strains are applied at
    strains: tuple[float, ...]  # the strains of each fit (engineering strain for shear)
    matrix: Matrix  # GPa, 6x6 Voigt, ions relaxed
    clamped: Matrix  # GPa, 6x6 Voigt, ions clamped (the first evaluation of each strained cell)
    cells: int  # strained cells evaluated
    relax_steps: int  # relaxation steps over all strained cells
    unconverged: int  # strained cells whose relaxation reached the step cap above ELASTIC_FMAX
    eos_evaluations: int  # calculator evaluations of an equation of state this function had to compute (0 when given)

    @property
    def c11(self) -> float:
        return self.matrix[0][0]

    @property
    def c12(self) -> float:
        return self.matrix[0][1]

    @property
    def c44(self) -> float:
        return self.matrix[3][3]

    @property
    def bulk_modulus(self) -> float:
        """Voigt average (GPa); (C11 + 2 C12) / 3 for a cubic crystal, comparable with the EOS bulk modulus."""
        c = np.asarray(self.matrix)
        return float((c[0, 0] + c[1, 1] + c[2, 2] + 2.0 * (c[0, 1] + c[0, 2] + c[1, 2])) / 9.0)

    @property
    def evaluations(self) -> int:
        """Calculator evaluations of the strained cells (each one a DFT run on the reference side)."""
        return self.cells + self.relax_steps


def cubic_in_cartesian_frame(crystal: Atoms, symprec: float = 1e-3) -> bool:
    """Whether the crystal's point group, in Cartesian coordinates, holds the 3-fold about [111] and the 2-fold
    about z: then (group 23 and every cubic group above it) the elastic matrix has the cubic form C11, C12, C44."""
    cell = (crystal.cell.array, crystal.get_scaled_positions(), crystal.get_atomic_numbers())
    dataset = spglib.get_symmetry_dataset(cell, symprec=symprec)
    if dataset is None:
        return False
    lattice = crystal.cell.array.T  # columns are the lattice vectors: r = L x
    inverse = np.linalg.inv(lattice)
    cartesian = [lattice @ rotation @ inverse for rotation in dataset.rotations]
    wanted = (np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.diag([-1.0, -1.0, 1.0]))
    return all(any(np.allclose(r, w, atol=1e-4) for r in cartesian) for w in wanted)


def _strained(base: Atoms, voigt: int, strain: float) -> Atoms:
    """``base`` under one Voigt strain component (engineering strain for shear), fractional coordinates kept."""
    epsilon = np.zeros((3, 3))
    i, j = VOIGT[voigt]
    if i == j:
        epsilon[i, i] = strain
    else:
        epsilon[i, j] = epsilon[j, i] = strain / 2.0
    atoms = base.copy()
    atoms.calc = None
    atoms.set_cell(base.cell.array @ (np.eye(3) + epsilon), scale_atoms=True)
    return atoms


def _columns(
    base: Atoms, calculator: Calculator, voigt: int, strains: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """d sigma / d strain of all six stress components (GPa), relaxed and clamped, for one strain component."""
    relaxed, clamped = [], []
    steps = unconverged = 0
    for strain in strains:
        atoms = _strained(base, voigt, strain)
        atoms.calc = calculator
        clamped.append(atoms.get_stress(voigt=True) / units.GPa)
        relaxation = relax_positions(atoms, ELASTIC_FMAX, ELASTIC_RELAX_STEPS)
        steps += relaxation.steps
        unconverged += int(not relaxation.converged)
        relaxed.append(atoms.get_stress(voigt=True) / units.GPa)
    x = np.asarray(strains)
    slope_relaxed = np.polyfit(x, np.asarray(relaxed), 1)[0]
    slope_clamped = np.polyfit(x, np.asarray(clamped), 1)[0]
    return slope_relaxed, slope_clamped, steps, unconverged


def _cubic_matrix(c11: float, c12: float, c44: float) -> np.ndarray:
    matrix = np.zeros((6, 6))
    matrix[:3, :3] = c12
    np.fill_diagonal(matrix[:3, :3], c11)
    matrix[3, 3] = matrix[4, 4] = matrix[5, 5] = c44
    return matrix


def _as_tuple(matrix: np.ndarray) -> Matrix:
    return tuple(tuple(float(v) for v in row) for row in matrix)


def elastic_constants(
    crystal: Atoms, calculator: Calculator, cfg: ValidationConfig, eos: EosResult | None = None
) -> ElasticResult:
    """Relaxed-ion elastic constants (GPa) of ``crystal`` at ``calculator``'s own equilibrium volume.

    ``eos``: this calculator's equation of state of ``crystal`` (computed here when not given).
    """
    eos_evaluations = 0
    if eos is None:
        eos = equation_of_state(crystal, calculator, cfg)
        eos_evaluations = eos.evaluations
    base = eos.at_equilibrium(crystal)
    e = cfg.elastic_strain
    strains = (-e, -e / 2.0, e / 2.0, e)
    cubic = cubic_in_cartesian_frame(base)
    components = (UNIAXIAL_X, SHEAR_YZ) if cubic else tuple(range(6))
    relaxed, clamped = np.zeros((6, 6)), np.zeros((6, 6))
    steps = unconverged = 0
    for voigt in components:
        relaxed[:, voigt], clamped[:, voigt], more_steps, more_unconverged = _columns(base, calculator, voigt, strains)
        steps += more_steps
        unconverged += more_unconverged
    if cubic:
        relaxed, clamped = (_cubic_matrix(m[0, 0], 0.5 * (m[1, 0] + m[2, 0]), m[3, 3]) for m in (relaxed, clamped))
    else:
        relaxed, clamped = 0.5 * (relaxed + relaxed.T), 0.5 * (clamped + clamped.T)
    return ElasticResult(
        formula=crystal.get_chemical_formula(),
        n_atoms=len(crystal),
        cubic=cubic,
        volume=eos.v0,
        strains=strains,
        matrix=_as_tuple(relaxed),
        clamped=_as_tuple(clamped),
        cells=len(components) * len(strains),
        relax_steps=steps,
        unconverged=unconverged,
        eos_evaluations=eos_evaluations,
    )


def _note(potential: ElasticResult, dft: ElasticResult) -> str:
    strains = f"strains +-{max(dft.strains):g} and +-{max(dft.strains) / 2:g}"
    cells = "1 uniaxial + 1 shear strain, cubic axes" if dft.cubic else "all 6 strain components"
    caveat = ""
    if potential.unconverged or dft.unconverged:
        caveat = f"; relaxation hit the step cap in {potential.unconverged} (potential) / {dft.unconverged} (DFT) cells"
    return (
        f"stress-strain slopes of the {dft.n_atoms}-atom cell at each side's own V0 ({cells}, {strains}), ions relaxed "
        f"(BFGS fmax {ELASTIC_FMAX} eV/A: {potential.relax_steps} steps potential, {dft.relax_steps} steps DFT){caveat}"
    )


def elastic_rows(potential: ElasticResult, dft: ElasticResult, cfg: ValidationConfig) -> list[ValidationRow]:
    """Cubic: C11, C12, C44 (judged, relative) and the clamped-ion C44 (reported). Otherwise the diagonal
    C11..C66 and the off-diagonal entries above ``OFF_DIAGONAL_MIN`` on either side (judged, relative): the
    near-zero entries of a 21-entry table would only show relative noise."""
    note = _note(potential, dft)
    n = dft.cells
    if dft.cubic and potential.cubic:
        rows = [
            compare(GROUP, name, "GPa", dft.matrix[i][j], potential.matrix[i][j], cfg.elastic_tolerance, "relative", n, note)
            for name, (i, j) in (("C11", (0, 0)), ("C12", (0, 1)), ("C44", (3, 3)))
        ]
        rows.append(
            compare(GROUP, "C44, ions clamped", "GPa", dft.clamped[3][3], potential.clamped[3][3], None, "relative", n, note)
        )
        return rows
    rows = []
    for i in range(6):
        for j in range(i, 6):
            d, p = dft.matrix[i][j], potential.matrix[i][j]
            if i == j or max(abs(d), abs(p)) > OFF_DIAGONAL_MIN:
                rows.append(compare(GROUP, f"C{i + 1}{j + 1}", "GPa", d, p, cfg.elastic_tolerance, "relative", n, note))
    return rows
