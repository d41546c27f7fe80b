"""Harmonic vibrational frequencies of a molecule, each side at its own relaxed geometry, compared mode by mode.

Why the package's finite-difference Hessian with translations and rotations projected out: the forces of a
molecule in a plane-wave box are not exactly invariant under a rigid shift (the real-space grid, the "egg-box"
effect) nor under a rotation of a geometry relaxed only to a force threshold, so the 5 or 6 rigid modes come out
at tens of cm^-1 and may mix with soft vibrations. Projecting them out of the mass-weighted Hessian (as
quantum-chemistry codes do) leaves exactly 3N-6 (3N-5 when linear) vibrations; their sorted frequencies are
compared rank by rank (the order of the modes may differ between the sides, the spectrum is what is measured).
Imaginary frequencies are negative numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator

from mlip_autopipec.config.models import ValidationConfig
from mlip_autopipec.data.atomic_io import atomic_savefig
from mlip_autopipec.data.records import ValidationRow
from mlip_autopipec.structures.normal_modes import finite_difference_hessian, mass_weighted
from mlip_autopipec.validation.table import compare, metric

GROUP = "vibrations"
DISPLACEMENT = 0.01  # A: central differences, the package's Hessian default
RIGID_RANK_TOLERANCE = 1e-6  # relative singular value below which a rigid motion is dependent (the axis of a linear molecule)
# hbar * sqrt(eV / (A^2 amu)) in eV (as ase.vibrations), then in cm^-1
_TO_CM = units._hbar * 1e10 / np.sqrt(units._e * units._amu) / units.invcm


def rigid_motions(atoms: Atoms) -> np.ndarray:
    """(3N, k) orthonormal mass-weighted translations and rotations about the centre of mass; k = 6, 5 if linear."""
    masses = atoms.get_masses()
    root = np.sqrt(masses)
    centred = atoms.get_positions() - atoms.get_center_of_mass()
    vectors = []
    for axis in np.eye(3):
        vectors.append((root[:, None] * axis[None, :]).ravel())  # translation
        vectors.append((root[:, None] * np.cross(axis[None, :], centred)).ravel())  # rotation
    basis, singular, _ = np.linalg.svd(np.array(vectors).T, full_matrices=False)
    rank = int(np.sum(singular > RIGID_RANK_TOLERANCE * singular[0]))
    return basis[:, :rank]


def frequencies_from_hessian(atoms: Atoms, hessian: np.ndarray) -> np.ndarray:
    """Ascending vibrational frequencies (cm^-1, imaginary as negative) of a Cartesian Hessian (eV/A^2)."""
    rigid = rigid_motions(atoms)
    full, _, _ = np.linalg.svd(rigid, full_matrices=True)
    internal = full[:, rigid.shape[1] :]  # orthonormal complement of the rigid motions
    curvatures = np.linalg.eigvalsh(internal.T @ mass_weighted(hessian, atoms.get_masses()) @ internal)
    return np.sort(np.sign(curvatures) * np.sqrt(np.abs(curvatures)) * _TO_CM)


@dataclass(frozen=True, eq=False)
class Vibrations:
    """One calculator's harmonic frequencies of one molecule."""

    formula: str
    frequencies: np.ndarray  # cm^-1, ascending, negative = imaginary
    evaluations: int  # calculator calls (6N displaced molecules)

    @property
    def imaginary(self) -> int:
        return int(np.sum(self.frequencies < 0))


def harmonic_frequencies(relaxed: Atoms, calculator: Calculator, displacement: float = DISPLACEMENT) -> Vibrations:
    """Central-difference Hessian of ``relaxed`` (each atom displaced +-``displacement`` A along x, y, z)."""
    hessian = finite_difference_hessian(relaxed, calculator, delta=displacement)
    return Vibrations(relaxed.get_chemical_formula(), frequencies_from_hessian(relaxed, hessian), 6 * len(relaxed))


def frequency_rows(potential: Vibrations, dft: Vibrations, cfg: ValidationConfig) -> list[ValidationRow]:
    """Every mode (reported), the RMSE over the modes and the largest error (both judged), in cm^-1."""
    n = min(len(potential.frequencies), len(dft.frequencies))
    errors = potential.frequencies[:n] - dft.frequencies[:n]
    imaginary = f"; the potential has {potential.imaginary} imaginary mode(s) (negative)" if potential.imaginary else ""
    note = (
        f"{n} modes sorted by frequency, compared rank by rank; each side at its own relaxed geometry, central differences "
        f"of +-{DISPLACEMENT} A, translations and rotations projected out{imaginary}"
    )
    rows = [
        compare(GROUP, f"mode {k + 1} frequency", "cm^-1", dft.frequencies[k], potential.frequencies[k], None, "absolute", 1)
        for k in range(n)
    ]
    if n:
        worst = int(np.argmax(np.abs(errors)))
        rows.append(
            metric(GROUP, "frequency RMSE", "cm^-1", float(np.sqrt(np.mean(errors**2))), cfg.frequency_rmse_tolerance, n, note)
        )
        rows.append(
            metric(
                GROUP,
                "largest frequency error",
                "cm^-1",
                float(errors[worst]),
                cfg.frequency_max_tolerance,
                n,
                f"mode {worst + 1}, DFT {dft.frequencies[worst]:.0f} cm^-1; {note}",
            )
        )
    return rows


def plot_frequencies(potential: Vibrations, dft: Vibrations, path: str | Path) -> Path:
    """PNG: the potential's frequency against DFT's, mode by mode, with the diagonal."""
    from matplotlib.figure import Figure

    path = Path(path)
    figure = Figure(figsize=(4.6, 4.2), layout="constrained")
    axes = figure.add_subplot()
    n = min(len(potential.frequencies), len(dft.frequencies))
    x, y = dft.frequencies[:n], potential.frequencies[:n]
    top = float(max(np.max(np.abs(x), initial=1.0), np.max(np.abs(y), initial=1.0))) * 1.05
    low = min(0.0, float(np.min(x, initial=0.0)), float(np.min(y, initial=0.0))) * 1.05
    axes.plot([low, top], [low, top], "-", color="0.6", lw=0.8)
    axes.plot(x, y, "o", color="tab:red")
    for k in range(n):
        axes.annotate(str(k + 1), (x[k], y[k]), textcoords="offset points", xytext=(4, -10), fontsize=7)
    axes.set_xlim(low, top)
    axes.set_ylim(low, top)
    axes.set_xlabel("DFT frequency (cm$^{-1}$)")
    axes.set_ylabel("potential frequency (cm$^{-1}$)")
    axes.set_title(f"Harmonic frequencies of {dft.formula}")
    return atomic_savefig(path, figure)
