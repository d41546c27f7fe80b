"""Normal-mode sampling of molecules: Boltzmann-distributed displacements along harmonic modes.

Each mode i with angular frequency w_i gets a classical harmonic displacement q_i ~ N(0, kT / w_i^2)
in mass-weighted coordinates, so soft modes move far and stiff bonds little, as at temperature T.
The Hessian comes from central finite differences of the forces of any ASE calculator (the surrogate).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.optimize import BFGS
from ase.units import kB

# Modes softer than this (rigid-body motions, numerical noise, floppy torsions) are clamped to it, so
# no displacement is unbounded: 100 cm^-1 in ASE's units of sqrt(eV/amu)/A.
MIN_MODE_ENERGY_EV = 100 * 1.2398e-4


def relax_molecule(molecule: Atoms, calculator: Calculator, fmax: float = 0.01, steps: int = 300) -> Atoms:
    relaxed = molecule.copy()
    relaxed.calc = calculator
    BFGS(relaxed, logfile=None).run(fmax=fmax, steps=steps)
    result = relaxed.copy()
    return result


def finite_difference_hessian(
    atoms: Atoms, calculator: Calculator | None = None, delta: float = 0.01, indices: Sequence[int] | np.ndarray | None = None
) -> np.ndarray:
    """(3M, 3M) Hessian in eV/A^2 over the atoms ``indices`` (all by default) by central differences of the forces, symmetrised.

    The one finite-difference Hessian of the package (normal-mode sampling, kMC prefactors). ``calculator``
    defaults to ``atoms.calc``; a copy is displaced, so ``atoms`` is left as it was. Constraints are not applied:
    the Hessian is the potential's, whatever a relaxation would hold fixed.
    """
    work = atoms.copy()
    work.calc = calculator if calculator is not None else atoms.calc
    indices = np.arange(len(work)) if indices is None else np.asarray(indices, dtype=int)
    reference = work.get_positions()
    dof = [(atom, axis) for atom in indices for axis in range(3)]
    hessian = np.zeros((len(dof), len(dof)))
    for row, (atom, axis) in enumerate(dof):
        forces = []
        for sign in (1.0, -1.0):
            positions = reference.copy()
            positions[atom, axis] += sign * delta
            work.set_positions(positions, apply_constraint=False)
            forces.append(work.get_forces(apply_constraint=False)[indices].ravel())
        hessian[row] = -(forces[0] - forces[1]) / (2.0 * delta)
    return 0.5 * (hessian + hessian.T)


def mass_weighted(hessian: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """H_ij / sqrt(m_i m_j) for a Cartesian Hessian and the masses (amu) of its atoms."""
    weights = np.repeat(masses, 3)
    return hessian / np.sqrt(np.outer(weights, weights))


def normal_modes(molecule: Atoms, hessian: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mode energies hbar*w in eV, mass-weighted eigenvectors as columns) of the vibrations (rigid motions removed)."""
    weighted = mass_weighted(hessian, molecule.get_masses())
    eigenvalues, vectors = np.linalg.eigh(weighted)
    n_rigid = 5 if _is_linear(molecule) else 6
    n_rigid = min(n_rigid, len(eigenvalues) - 1) if len(molecule) > 1 else len(eigenvalues)
    order = np.argsort(np.abs(eigenvalues))
    keep = np.sort(order[n_rigid:])
    from ase.units import _amu, _e, _hbar

    omega = np.sqrt(np.abs(eigenvalues[keep]) * _e / _amu) * 1e10  # rad/s
    energies = _hbar * omega / _e
    return energies, vectors[:, keep]


def _is_linear(molecule: Atoms) -> bool:
    if len(molecule) < 3:
        return True
    centred = molecule.get_positions() - molecule.get_positions().mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    return bool(singular[1] < 1e-3 * singular[0])


def sample_normal_modes(
    molecule: Atoms, hessian: np.ndarray, temperature: float, count: int, rng: np.random.Generator
) -> list[Atoms]:
    """``count`` copies of ``molecule`` displaced along its modes as a classical harmonic ensemble at ``temperature``."""
    energies, vectors = normal_modes(molecule, hessian)
    if len(energies) == 0:
        return [molecule.copy() for _ in range(count)]
    masses = np.repeat(molecule.get_masses(), 3)
    # Mass-weighted curvature w^2 in eV/(amu A^2): energies are hbar*w, so w^2 = (E / hbar)^2 in ASE units.
    from ase.units import _amu, _e, _hbar

    hbar_ase = _hbar / _e * np.sqrt(_e / _amu) * 1e10  # eV / (sqrt(eV/amu)/A)
    omega = np.maximum(energies, MIN_MODE_ENERGY_EV) / hbar_ase
    samples = []
    for _ in range(count):
        q = rng.normal(0.0, np.sqrt(kB * temperature) / omega)
        displacement = (vectors @ q) / np.sqrt(masses)
        displaced = molecule.copy()
        displaced.positions += displacement.reshape(-1, 3)
        samples.append(displaced)
    return samples
