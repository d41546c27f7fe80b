"""The exact least-squares fit of a linear ACE model, in place of pacemaker's finite-difference BFGS.

Why: with a linear embedding (``ndensity`` 1, F(rho) = rho) and the radial functions fixed, every energy and
force is a linear function of the basis coefficients, so the fit is a ridge regression with one exact
solution. pacemaker's pyace backend instead minimises it with BFGS on finite-difference gradients (one
evaluation of the whole data set per coefficient per step); after its 100 steps the demo's members were
still descending and their coefficients differed in sign from one member to the next. Here the design
matrix costs the same as one such step (one evaluation per coefficient), the solution is the minimum, and
the ridge strength is chosen by cross-validation over structures instead of being a fixed guess.

The loss extends pacemaker's: ``(1 - kappa)`` times the weighted mean squared energy error per atom plus
``kappa`` times the weighted mean squared force component error, plus ``stress_weight x (1 - kappa)`` times the
mean squared stress error (as stress x volume per atom, eV/atom): stresses are exact strain derivatives of the
energy that DFT gives for free with every periodic label, and the elastic constants and the equation of state
are made of them. Structure weights are the bootstrap multiplicities (``w_factor``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from ase.calculators.calculator import BaseCalculator
from ase.units import GPa as GPA

from mlip_autopipec.potentials.delta import fast_model_prediction

PosteriorDraw = tuple[int, int, int]
"""(member index, committee size, committee seed) of a member drawn from the ridge posterior."""

RIDGE_GRID = tuple(10.0**-k for k in range(1, 13))
"""Ridge strengths tried, relative to the mean squared (scaled) column norm of the design matrix."""
FOLDS = 5
"""Cross-validation folds over distinct structures (fewer when there are fewer structures)."""


@dataclass(frozen=True)
class UnitColumns:
    """Each basis function's own predictions on a data set: the columns of every linear least-squares problem.

    Stress enters as ``stress x volume / atoms`` (eV/atom, the strain derivative of the energy per atom), so that
    its rows share the energy rows' unit; only fully periodic structures with a stress label have them.
    """

    energies: np.ndarray  # (structures, coefficients) energy per atom
    forces: np.ndarray  # (3 x all atoms, coefficients)
    stresses: np.ndarray  # (6 x structures with a stress target, coefficients) stress x volume per atom
    stress_structure: np.ndarray  # (6 x structures with a stress target,) structure index of each stress row


@dataclass(frozen=True)
class LinearDesign:
    """Rows of the least-squares problem: per-atom energies, force components, then stress rows, each with its
    structure and kind (0 energy, 1 force, 2 stress)."""

    matrix: np.ndarray  # (rows, coefficients), already multiplied by sqrt(row weight)
    target: np.ndarray  # (rows,), already multiplied by sqrt(row weight)
    structure: np.ndarray  # (rows,) index of the structure a row belongs to
    kind: np.ndarray  # (rows,) 0 energy, 1 force, 2 stress

    @property
    def is_force(self) -> np.ndarray:
        return self.kind == 1


@dataclass
class LinearFit:
    """The solved coefficients and the evidence for the ridge strength that was chosen."""

    coefficients: np.ndarray
    covariance: np.ndarray  # Bayesian ridge posterior of the coefficients
    ridge: float  # relative to the mean squared column norm
    cv_loss: dict[float, float]  # empty when the ridge was given (chosen by the plan's basis selection)
    energy_rmse_per_atom: float  # eV/atom on the (weighted) training rows
    force_rmse: float  # eV/A per component
    stress_rmse_gpa: float | None  # GPa per Voigt component; None without stress rows
    n_coefficients: int
    n_structures: int

    def to_json(self, posterior_draw: PosteriorDraw | None = None) -> str:
        """The fit's evidence (not the coefficients, which live in the potential file) as JSON."""
        return json.dumps(
            {
                "member": "all-data ridge solution"
                if posterior_draw is None
                else f"posterior draw {posterior_draw[0]} of {posterior_draw[1]} (committee seed {posterior_draw[2]}), "
                "centred on the all-data ridge solution",
                "ridge": self.ridge,
                "cv_loss_by_ridge": {f"{ridge:g}": loss for ridge, loss in self.cv_loss.items()},
                "train_energy_rmse_per_atom_eV": self.energy_rmse_per_atom,
                "train_force_rmse_eV_per_A": self.force_rmse,
                "train_stress_rmse_GPa": self.stress_rmse_gpa,
                "n_coefficients": self.n_coefficients,
                "n_structures": self.n_structures,
            },
            indent=1,
        )


def has_stress_target(frame: pd.DataFrame) -> np.ndarray:
    """Per structure: does it carry a stress target (fully periodic, stress labelled)?"""
    if "stress" not in frame:
        return np.zeros(len(frame), bool)
    return np.array([value is not None and np.size(value) == 6 for value in frame["stress"]])


def unit_columns(evaluate: Callable[[np.ndarray], BaseCalculator], n_coefficients: int, frame: pd.DataFrame) -> UnitColumns:
    """Per-atom energies, forces and stress rows of each basis function alone.

    ``evaluate(coefficients)`` returns the calculator of the basis with those coefficients; since the model is
    linear, the prediction with the k-th unit vector is the k-th column.
    """
    n_atoms = np.array([len(atoms) for atoms in frame["ase_atoms"]])
    with_stress = has_stress_target(frame)
    energies = np.zeros((len(frame), n_coefficients))
    forces = np.zeros((3 * int(n_atoms.sum()), n_coefficients))
    stresses = np.zeros((6 * int(with_stress.sum()), n_coefficients))
    for k in range(n_coefficients):
        unit = np.zeros(n_coefficients)
        unit[k] = 1.0
        calc = evaluate(unit)
        row = stress_row = 0
        for index, atoms in enumerate(frame["ase_atoms"]):
            prediction = fast_model_prediction(calc, atoms, bool(with_stress[index]))
            energies[index, k] = prediction.energy / len(atoms)
            block = prediction.forces.ravel()
            forces[row : row + block.size, k] = block
            row += block.size
            if with_stress[index]:
                assert prediction.stress is not None
                stresses[stress_row : stress_row + 6, k] = prediction.stress * atoms.get_volume() / len(atoms)
                stress_row += 6
    return UnitColumns(energies, forces, stresses, np.repeat(np.flatnonzero(with_stress), 6))


def volume_per_atom(frame: pd.DataFrame, structures: np.ndarray) -> np.ndarray:
    """Volume per atom (A^3) of each listed structure (those with a stress target: a molecule has no cell volume)."""
    return np.array([frame["ase_atoms"].iloc[i].get_volume() / len(frame["ase_atoms"].iloc[i]) for i in structures])


def targets(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the columns are fitted to: energy per atom, force components, stress x volume per atom (delta targets)."""
    n_atoms = np.array([len(atoms) for atoms in frame["ase_atoms"]])
    energy = frame["energy_corrected"].to_numpy(float) / n_atoms
    force = np.concatenate([np.asarray(f, dtype=float).ravel() for f in frame["forces"]])
    with_stress = has_stress_target(frame)
    stress = [
        np.asarray(frame["stress"].iloc[i], float) * atoms.get_volume() / len(atoms)
        for i, atoms in enumerate(frame["ase_atoms"])
        if with_stress[i]
    ]
    return energy, force, np.concatenate(stress) if stress else np.zeros(0)


def row_weights(
    columns: UnitColumns, frame: pd.DataFrame, kappa: float, stress_weight: float, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pacemaker's loss weights per row, each part normalised by its weighted count: energies ``1 - kappa``, forces
    ``kappa``, stress rows ``stress_weight x (1 - kappa)`` (a stress row counts like an energy per atom)."""
    n_atoms = np.array([len(atoms) for atoms in frame["ase_atoms"]])
    force_structure = np.repeat(np.arange(len(frame)), 3 * n_atoms)
    energy = (1.0 - kappa) * weights / weights.sum()
    force = kappa * weights[force_structure] / (3.0 * float((weights * n_atoms).sum()))
    stress_w = weights[columns.stress_structure]
    stress = stress_weight * (1.0 - kappa) * stress_w / max(float(stress_w.sum()), 1e-300)
    return energy, force, stress


def weighted_design(
    columns: UnitColumns, frame: pd.DataFrame, kappa: float, weights: np.ndarray, stress_weight: float = 0.0
) -> LinearDesign:
    """Stack energy, force and stress rows with their loss weights (see ``row_weights``); no stress rows at stress
    weight 0 (rows of weight 0 would count as degrees of freedom in the posterior's residual variance)."""
    n_atoms = np.array([len(atoms) for atoms in frame["ase_atoms"]])
    energy_target, force_target, stress_target = targets(frame)
    if stress_weight == 0:
        columns = replace(columns, stresses=columns.stresses[:0], stress_structure=columns.stress_structure[:0])
        stress_target = stress_target[:0]
    energy_w, force_w, stress_w = row_weights(columns, frame, kappa, stress_weight, weights)
    scale = np.sqrt(np.concatenate([energy_w, force_w, stress_w]))
    return LinearDesign(
        matrix=np.vstack([columns.energies, columns.forces, columns.stresses]) * scale[:, None],
        target=np.concatenate([energy_target, force_target, stress_target]) * scale,
        structure=np.concatenate(
            [np.arange(len(frame)), np.repeat(np.arange(len(frame)), 3 * n_atoms), columns.stress_structure]
        ),
        kind=np.concatenate([np.zeros(len(frame), int), np.ones(force_target.size, int), np.full(stress_target.size, 2)]),
    )


def _scaled_normal_equations(gram: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """(A'A + ridge * mean column norm^2 * I) in columns scaled to unit norm, and the column norms, from A'A."""
    norms = np.sqrt(np.clip(np.diag(gram), 0.0, None))
    norms[norms == 0] = 1.0
    scaled = gram / np.outer(norms, norms)
    strength = ridge * float(np.mean(np.diag(scaled)))
    return scaled + strength * np.eye(gram.shape[0]), norms


def ridge_solve_gram(gram: np.ndarray, rhs: np.ndarray, ridge: float) -> np.ndarray:
    """argmin |A c - y|^2 + ridge |D c|^2 from A'A and A'y, with D the column norms (every function penalised alike)."""
    lhs, norms = _scaled_normal_equations(gram, ridge)
    return np.linalg.solve(lhs, rhs / norms) / norms


def ridge_solve(matrix: np.ndarray, target: np.ndarray, ridge: float) -> np.ndarray:
    """``ridge_solve_gram`` of the rows themselves."""
    return ridge_solve_gram(matrix.T @ matrix, matrix.T @ target, ridge)


def ridge_covariance(matrix: np.ndarray, target: np.ndarray, ridge: float, coefficients: np.ndarray) -> np.ndarray:
    """The Bayesian ridge posterior covariance of the coefficients: sigma^2 (A'A + ridge D^2)^-1, with sigma^2 the
    residual variance per degree of freedom left (rows minus the effective number of parameters)."""
    gram = matrix.T @ matrix
    lhs, norms = _scaled_normal_equations(gram, ridge)
    inverse = np.linalg.inv(lhs)
    scaled_gram = gram / np.outer(norms, norms)
    effective = float(np.sum(inverse * scaled_gram))  # trace(S (S'S + l)^-1 S'), without the rows x rows matrix
    residual = float(np.sum((matrix @ coefficients - target) ** 2))
    sigma2 = residual / max(1.0, matrix.shape[0] - effective)
    return sigma2 * inverse / np.outer(norms, norms)


def posterior_member(mean: np.ndarray, covariance: np.ndarray, member: int, committee_size: int, seed: int) -> np.ndarray:
    """Member ``member`` of a committee drawn from the ridge posterior, centred so that the committee's mean is
    exactly the all-data solution: every member is fitted to all the data, and they differ only where the data
    leave the coefficients undetermined (the spread the active learning looks for)."""
    rng = np.random.default_rng([int(seed), 7])
    draws = rng.standard_normal((committee_size, mean.size))
    draws -= draws.mean(axis=0)
    draws *= np.sqrt(committee_size / max(1, committee_size - 1))
    eigenvalues, eigenvectors = np.linalg.eigh((covariance + covariance.T) / 2)
    root = eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    return mean + root @ draws[member]


def choose_ridge(design: LinearDesign, weights: np.ndarray, seed: int) -> tuple[float, dict[float, float]]:
    """The ridge strength of least held-out loss, by K-fold cross-validation over structures with weight > 0."""
    fitted = np.flatnonzero(weights > 0)
    folds = min(FOLDS, len(fitted))
    if folds < 2:
        return RIDGE_GRID[len(RIDGE_GRID) // 2], {}
    order = np.random.default_rng(seed).permutation(fitted)
    fold_of = {int(s): i % folds for i, s in enumerate(order)}
    row_fold = np.array([fold_of.get(int(s), -1) for s in design.structure])
    losses: dict[float, float] = {}
    for ridge in RIDGE_GRID:
        total = 0.0
        for fold in range(folds):
            train, held = row_fold != fold, row_fold == fold
            coefficients = ridge_solve(design.matrix[train], design.target[train], ridge)
            total += float(np.sum((design.matrix[held] @ coefficients - design.target[held]) ** 2))
        losses[ridge] = total
    return min(losses, key=lambda r: losses[r]), losses


def fit_linear(
    columns: UnitColumns,
    frame: pd.DataFrame,
    kappa: float,
    seed: int,
    stress_weight: float = 0.0,
    ridge: float | None = None,
) -> LinearFit:
    """Ridge fit of the unit-column design (its strength by cross-validation unless given); training errors unweighted."""
    weights = frame["w_factor"].to_numpy(float) if "w_factor" in frame else np.ones(len(frame))
    design = weighted_design(columns, frame, kappa, weights, stress_weight)
    losses: dict[float, float] = {}
    if ridge is None:
        ridge, losses = choose_ridge(design, weights, seed)
    coefficients = ridge_solve(design.matrix, design.target, ridge)
    covariance = ridge_covariance(design.matrix, design.target, ridge, coefficients)
    energy_target, force_target, stress_target = targets(frame)
    energy_error = columns.energies @ coefficients - energy_target
    force_error = columns.forces @ coefficients - force_target
    stress_rmse = None
    if stress_target.size:
        stress_error = (columns.stresses @ coefficients - stress_target) / volume_per_atom(frame, columns.stress_structure)
        stress_rmse = float(np.sqrt(np.mean(stress_error**2)) / GPA)
    return LinearFit(
        coefficients=coefficients,
        covariance=covariance,
        ridge=ridge,
        cv_loss=losses,
        energy_rmse_per_atom=float(np.sqrt(np.mean(energy_error**2))),
        force_rmse=float(np.sqrt(np.mean(force_error**2))),
        stress_rmse_gpa=stress_rmse,
        n_coefficients=int(coefficients.size),
        n_structures=int(np.count_nonzero(weights > 0)),
    )
