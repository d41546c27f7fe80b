"""Thermal displacements: atoms moved the way a harmonic crystal at temperature T moves them, mode by mode.

Why not independent rattles: a Gaussian rattle of every atom on its own, at the per-atom amplitude of thermal motion,
stretches and squeezes bonds far more than heat does (in acoustic and low optical modes neighbours move together).
Measured on 8-atom Si cells rattled for 1100 K with one spring constant for every material: nearest distances of
1.71-2.07 A (crystal 2.37 A, surrogate MD at 1320 K 2.10-2.25 A) and 0.24-0.89 eV/atom above the crystal (harmonic
equipartition: 3/2 kT = 0.14 eV/atom): configurations the material does not visit at that temperature.

Here the force constants of the cell itself (periodic images included) come from phonopy finite displacements with
a calculator (the run's exploration surrogate: cheap, offline, and trained by none of the potentials it helps judge),
and the displacements from ASE's ``phonon_harmonics`` (classical amplitudes: each mode holds kT/2 of potential
energy on average, as in classical MD). A spectrum with unstable modes (a surface that would reconstruct, a
surrogate that dislikes the cell) falls back to independent displacements with each atom's own Einstein spring
constant, the on-site block of the same force constants.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator
from ase.md.velocitydistribution import phonon_harmonics
from ase.units import kB
from phonopy import Phonopy
from phonopy.structure.atoms import PhonopyAtoms

logger = logging.getLogger(__name__)

FINITE_DISPLACEMENT = 0.01  # A: phonopy's default amplitude
MIN_EINSTEIN_SPRING = 0.5  # eV/A^2: floor of the fallback's spring constant (a floppy atom would fly apart)
MAX_DISPLACEMENT = 0.25  # A: cap of the fallback's per-direction amplitude (as structures.perturb.MAX_RATTLE)

Sampling = Literal["harmonic", "einstein"]


def phonopy_atoms(atoms: Atoms) -> PhonopyAtoms:
    """The same cell for phonopy (symbols, cell, fractional positions, masses)."""
    return PhonopyAtoms(
        symbols=atoms.get_chemical_symbols(),
        cell=np.array(atoms.cell),
        scaled_positions=atoms.get_scaled_positions(),
        masses=atoms.get_masses(),
    )


def cell_force_constants(atoms: Atoms, calculator: BaseCalculator, displacement: float = FINITE_DISPLACEMENT) -> np.ndarray:
    """(3N, 3N) force constants (eV/A^2) of ``atoms`` as a periodic cell of its own (supercell = the cell).

    Symmetry-reduced +- displacements (one displaced cell pair for cubic Si), translational sum rule imposed,
    made exactly symmetric. Costs one calculator call per displaced cell.
    """
    phonon = Phonopy(phonopy_atoms(atoms), supercell_matrix=np.eye(3, dtype=int), primitive_matrix="P")
    phonon.generate_displacements(distance=displacement, is_plusminus=True)
    displaced = phonon.supercells_with_displacements
    assert displaced is not None
    forces = []
    for cell in displaced:
        assert cell.scaled_positions is not None
        moved = atoms.copy()
        moved.set_scaled_positions(cell.scaled_positions)
        moved.calc = calculator
        forces.append(np.array(moved.get_forces(), dtype=float))
    phonon.forces = np.array(forces)
    phonon.produce_force_constants(show_drift=False)
    phonon.symmetrize_force_constants()
    constants = phonon.force_constants
    assert constants is not None
    n = len(atoms)
    matrix = np.asarray(constants, dtype=float).transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)
    return (matrix + matrix.T) / 2


@dataclass(frozen=True)
class HarmonicModel:
    """The harmonic model of one cell: how its atoms move at a temperature."""

    force_constants: np.ndarray  # (3N, 3N), eV/A^2
    masses: np.ndarray  # (N,), amu
    sampling: Sampling  # 'harmonic' (normal modes) or 'einstein' (the fallback: independent atoms)
    why: str  # the reason for the sampling, for the set's provenance

    @property
    def einstein_springs(self) -> np.ndarray:
        """(N,) eV/A^2: each atom's on-site spring constant (a third of the trace of its diagonal block)."""
        n = len(self.masses)
        blocks = self.force_constants.reshape(n, 3, n, 3)
        return np.array([np.trace(blocks[i, :, i, :]) / 3 for i in range(n)])

    def displacements(self, rng: np.random.Generator, temperature: float) -> np.ndarray:
        """(N, 3) A: one classical thermal draw at ``temperature`` K (no centre-of-mass motion in 'harmonic')."""
        if self.sampling == "harmonic":
            moved, _ = phonon_harmonics(self.force_constants, self.masses, temperature_K=temperature, rng=rng.random)
            return np.asarray(moved, dtype=float)
        return rng.normal(0.0, 1.0, size=(len(self.masses), 3)) * self.einstein_sigma(temperature)[:, None]

    def einstein_sigma(self, temperature: float) -> np.ndarray:
        """(N,) A per direction: the fallback's amplitude of each atom on its floored spring, capped."""
        springs = np.maximum(self.einstein_springs, MIN_EINSTEIN_SPRING)
        return np.minimum(np.sqrt(kB * temperature / springs), MAX_DISPLACEMENT)


def harmonic_model(atoms: Atoms, calculator: BaseCalculator) -> HarmonicModel:
    """The cell's force constants from ``calculator`` and the sampling they allow (normal modes when stable)."""
    constants = cell_force_constants(atoms, calculator)
    masses = atoms.get_masses()
    try:  # ASE's own check: three translations at zero, no negative eigenvalue of the dynamical matrix
        phonon_harmonics(constants, masses, temperature_K=1.0, rng=np.random.default_rng(0).random)
    except ValueError as error:
        why = f"independent displacements with per-atom Einstein springs: unstable harmonic spectrum ({error})"
        logger.warning("thermal displacements of %s: %s", atoms.get_chemical_formula(), why)
        return HarmonicModel(constants, masses, "einstein", why)
    return HarmonicModel(constants, masses, "harmonic", "normal modes of the cell's own force constants")


def thermal_displacer(
    atoms: Atoms, calculator: BaseCalculator | None, fallback_amplitude: Callable[[float], float]
) -> tuple[Callable[[np.random.Generator, float], np.ndarray], str]:
    """A draw of thermal displacements of ``atoms``, and what it is.

    With a calculator: its harmonic model (``harmonic_model``). Without one: independent Gaussian displacements of
    ``fallback_amplitude(T)`` A per direction for every atom (the old rattle, kept for runs with no calculator).
    """
    if calculator is None:

        def independent(rng: np.random.Generator, temperature: float) -> np.ndarray:
            return rng.normal(0.0, fallback_amplitude(temperature), size=(len(atoms), 3))

        return independent, "independent displacements, one spring constant for every material"
    model = harmonic_model(atoms, calculator)
    return model.displacements, model.why


def mean_square_displacement(model: HarmonicModel, temperature: float) -> float:
    """A^2 per direction, averaged over atoms: the classical harmonic <u^2> of the model at ``temperature`` K."""
    if model.sampling == "einstein":
        return float(np.mean(model.einstein_sigma(temperature) ** 2))
    inverse_sqrt_mass = (model.masses**-0.5).repeat(3)
    dynamical = model.force_constants * inverse_sqrt_mass[:, None] * inverse_sqrt_mass[None, :]
    w2, modes = np.linalg.eigh(dynamical)
    modes, w2 = modes[:, 3:], w2[3:]
    per_coordinate = (modes**2 / w2[None, :]).sum(axis=1) * kB * temperature * inverse_sqrt_mass**2
    return float(per_coordinate.mean())
