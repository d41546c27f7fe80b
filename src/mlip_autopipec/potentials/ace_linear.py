"""The exact least-squares fit of a linear ACE model, in place of pacemaker's finite-difference BFGS.

Why: with a linear embedding (``ndensity`` 1, F(rho) = rho) and the radial functions fixed, every energy and
force is a linear function of the basis coefficients, so the fit is a ridge regression with one exact
solution. pacemaker's pyace backend instead minimises it with BFGS on finite-difference gradients (one
evaluation of the whole data set per coefficient per step); after its 100 steps the demo's members were
still descending and their coefficients differed in sign from one member to the next. Here the design
matrix costs the same as one such step (one evaluation per coefficient), the solution is the minimum, and
the ridge strength is chosen by cross-validation over structures instead of being a fixed guess.

The loss matches pacemaker's: ``(1 - kappa)`` times the weighted mean squared energy error per atom plus
``kappa`` times the weighted mean squared force component error; structure weights are the bootstrap
multiplicities (``w_factor``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from ase.calculators.calculator import BaseCalculator

PosteriorDraw = tuple[int, int, int]
"""(member index, committee size, committee seed) of a member drawn from the ridge posterior."""

RIDGE_GRID = tuple(10.0**-k for k in range(1, 13))
"""Ridge strengths tried, relative to the mean squared (scaled) column norm of the design matrix."""
FOLDS = 5
"""Cross-validation folds over distinct structures (fewer when there are fewer structures)."""


@dataclass(frozen=True)
class LinearDesign:
    """Rows of the least-squares problem: per-atom energies, then force components, each with its structure."""

    matrix: np.ndarray  # (rows, coefficients), already multiplied by sqrt(row weight)
    target: np.ndarray  # (rows,), already multiplied by sqrt(row weight)
    structure: np.ndarray  # (rows,) index of the structure a row belongs to
    is_force: np.ndarray  # (rows,) bool


@dataclass
class LinearFit:
    """The solved coefficients and the evidence for the ridge strength that was chosen."""

    coefficients: np.ndarray
    covariance: np.ndarray  # Bayesian ridge posterior of the coefficients
    ridge: float  # relative to the mean squared column norm
    cv_loss: dict[float, float]
    energy_rmse_per_atom: float  # eV/atom on the (weighted) training rows
    force_rmse: float  # eV/A per component
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
                "n_coefficients": self.n_coefficients,
                "n_structures": self.n_structures,
            },
            indent=1,
        )


def unit_columns(
    evaluate: Callable[[np.ndarray], BaseCalculator], n_coefficients: int, frame: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Per-atom energies (structures x coefficients) and forces (3N x coefficients) of each basis function alone.

    ``evaluate(coefficients)`` returns the calculator of the basis with those coefficients; since the model is
    linear, the prediction with the k-th unit vector is the k-th column.
    """
    n_atoms = np.array([len(atoms) for atoms in frame["ase_atoms"]])
    energies = np.zeros((len(frame), n_coefficients))
    forces = np.zeros((3 * int(n_atoms.sum()), n_coefficients))
    for k in range(n_coefficients):
        unit = np.zeros(n_coefficients)
        unit[k] = 1.0
        calc = evaluate(unit)
        row = 0
        for index, atoms in enumerate(frame["ase_atoms"]):
            view = atoms.copy()
            view.calc = calc
            energies[index, k] = view.get_potential_energy() / len(view)
            block = view.get_forces().ravel()
            forces[row : row + block.size, k] = block
            row += block.size
    return energies, forces


def weighted_design(
    energies: np.ndarray, forces: np.ndarray, frame: pd.DataFrame, kappa: float, weights: np.ndarray
) -> LinearDesign:
    """Stack energy and force rows with pacemaker's loss weights (each part normalised by its weighted count)."""
    n_atoms = np.array([len(atoms) for atoms in frame["ase_atoms"]])
    energy_target = frame["energy_corrected"].to_numpy(float) / n_atoms
    force_target = np.concatenate([np.asarray(f, dtype=float).ravel() for f in frame["forces"]])
    force_structure = np.repeat(np.arange(len(frame)), 3 * n_atoms)
    energy_weight = (1.0 - kappa) * weights / weights.sum()
    force_weight = kappa * weights[force_structure] / (3.0 * float((weights * n_atoms).sum()))
    scale = np.sqrt(np.concatenate([energy_weight, force_weight]))
    return LinearDesign(
        matrix=np.vstack([energies, forces]) * scale[:, None],
        target=np.concatenate([energy_target, force_target]) * scale,
        structure=np.concatenate([np.arange(len(frame)), force_structure]),
        is_force=np.concatenate([np.zeros(len(frame), bool), np.ones(force_target.size, bool)]),
    )


def _normal_equations(matrix: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """(A'A + ridge * mean column norm^2 * I) in columns scaled to unit norm, and the column norms."""
    norms = np.linalg.norm(matrix, axis=0)
    norms[norms == 0] = 1.0
    scaled = matrix / norms
    strength = ridge * float(np.mean(np.sum(scaled**2, axis=0)))
    return scaled.T @ scaled + strength * np.eye(scaled.shape[1]), norms


def ridge_solve(matrix: np.ndarray, target: np.ndarray, ridge: float) -> np.ndarray:
    """argmin |A c - y|^2 + ridge |D c|^2 with D the column norms (so every basis function is penalised alike)."""
    lhs, norms = _normal_equations(matrix, ridge)
    return np.linalg.solve(lhs, (matrix / norms).T @ target) / norms


def ridge_covariance(matrix: np.ndarray, target: np.ndarray, ridge: float, coefficients: np.ndarray) -> np.ndarray:
    """The Bayesian ridge posterior covariance of the coefficients: sigma^2 (A'A + ridge D^2)^-1, with sigma^2 the
    residual variance per degree of freedom left (rows minus the effective number of parameters)."""
    lhs, norms = _normal_equations(matrix, ridge)
    inverse = np.linalg.inv(lhs)
    scaled = matrix / norms
    effective = float(np.sum(inverse * (scaled.T @ scaled)))  # trace(S (S'S + l)^-1 S'), without the rows x rows matrix
    residual = float(np.sum((matrix @ coefficients - target) ** 2))
    sigma2 = residual / max(1.0, scaled.shape[0] - effective)
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


def fit_linear(energies: np.ndarray, forces: np.ndarray, frame: pd.DataFrame, kappa: float, seed: int) -> LinearFit:
    """Cross-validated ridge fit of the unit-column design; training errors reported unweighted by the loss split."""
    weights = frame["w_factor"].to_numpy(float) if "w_factor" in frame else np.ones(len(frame))
    design = weighted_design(energies, forces, frame, kappa, weights)
    ridge, losses = choose_ridge(design, weights, seed)
    coefficients = ridge_solve(design.matrix, design.target, ridge)
    covariance = ridge_covariance(design.matrix, design.target, ridge, coefficients)
    n_atoms = np.array([len(atoms) for atoms in frame["ase_atoms"]])
    energy_error = energies @ coefficients - frame["energy_corrected"].to_numpy(float) / n_atoms
    force_error = forces @ coefficients - np.concatenate([np.asarray(f, float).ravel() for f in frame["forces"]])
    return LinearFit(
        coefficients=coefficients,
        covariance=covariance,
        ridge=ridge,
        cv_loss=losses,
        energy_rmse_per_atom=float(np.sqrt(np.mean(energy_error**2))),
        force_rmse=float(np.sqrt(np.mean(force_error**2))),
        n_coefficients=int(coefficients.size),
        n_structures=int(np.count_nonzero(weights > 0)),
    )
