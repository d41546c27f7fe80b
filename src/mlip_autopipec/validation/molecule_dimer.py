"""The binding curve of two molecules: a molecule and a copy of it brought together, DFT against the potential.

Why: a potential for a molecular material must hold molecules together (liquid, crystal, clusters) at the right
distance and strength, and that rests on weak intermolecular energies that an error in the intramolecular terms
(bonds, angles, the other rows) can hide. The path: DFT's relaxed molecule and a copy of it turned by 180 degrees
about the z axis through its centre, its centre moved along x until the closest intermolecular pair of atoms sits at
``DIMER_FACTORS`` x the sum of their covalent radii (from a compressed contact to nearly apart). The same structures
on both sides; binding energies E(dimer) - 2 E(molecule), each side its own molecule's energy, so reference
energies cancel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.data import covalent_radii
from scipy.optimize import brentq

from mlip_autopipec.config.models import ValidationConfig
from mlip_autopipec.data.atomic_io import atomic_savefig
from mlip_autopipec.data.records import ValidationRow
from mlip_autopipec.validation.table import metric

GROUP = "molecule dimer"
DIMER_FACTORS = (1.2, 1.5, 1.8, 2.1, 2.5, 3.0, 4.0)  # closest contact / sum of covalent radii along the curve


def _closest_contact_ratio(first: Atoms, second: Atoms) -> float:
    """The smallest intermolecular distance over the sum of the two atoms' covalent radii."""
    radii_a = covalent_radii[first.numbers][:, None]
    radii_b = covalent_radii[second.numbers][None, :]
    distances = np.linalg.norm(first.positions[:, None, :] - second.positions[None, :, :], axis=-1)
    return float((distances / (radii_a + radii_b)).min())


def dimer_at(molecule: Atoms, factor: float, vacuum: float) -> Atoms:
    """``molecule`` and its turned copy with the closest contact at ``factor`` x covalent radii, in vacuum."""
    first = molecule.copy()
    first.calc = None
    first.positions -= first.get_center_of_mass()
    second = first.copy()
    second.rotate(180.0, "z", center=(0.0, 0.0, 0.0))
    extent = float(np.ptp(first.positions[:, 0]) + np.ptp(second.positions[:, 0]))

    def gap(shift: float) -> float:
        moved = second.copy()
        moved.positions[:, 0] += shift
        return _closest_contact_ratio(first, moved) - factor

    # the outermost shift with that contact: walk in from far apart, then bisect the last step
    far = extent + 4.0 * factor + 5.0
    near = far
    while gap(near) > 0.0:
        far, near = near, near - 0.05
    shift = brentq(gap, near, far, xtol=1e-6)
    second.positions[:, 0] += shift
    dimer = first + second
    dimer.center(vacuum=vacuum)
    dimer.pbc = False
    dimer.info["origin"] = "validation_molecule_dimer"
    dimer.info["contact_factor"] = float(factor)
    return dimer


@dataclass(frozen=True, eq=False)
class DimerCurve:
    """One calculator's binding energies along the approach."""

    formula: str
    factors: np.ndarray  # closest contact / covalent radii
    distances: np.ndarray  # A, centre-of-mass separation
    energies: np.ndarray  # eV, E(dimer) - 2 E(molecule)


def dimer_curve(molecule: Atoms, calculator: Calculator, cfg: ValidationConfig) -> DimerCurve:
    """Binding energies of ``molecule``'s dimer at every factor of ``DIMER_FACTORS``."""
    single = molecule.copy()
    single.calc = calculator
    monomer = float(single.get_potential_energy())
    energies, distances = [], []
    half = len(molecule)
    for factor in DIMER_FACTORS:
        dimer = dimer_at(molecule, factor, cfg.molecule_vacuum)
        distances.append(float(np.linalg.norm(dimer[:half].get_center_of_mass() - dimer[half:].get_center_of_mass())))
        dimer.calc = calculator
        energies.append(float(dimer.get_potential_energy()) - 2.0 * monomer)
    return DimerCurve(molecule.get_chemical_formula(), np.asarray(DIMER_FACTORS), np.asarray(distances), np.asarray(energies))


def dimer_rows(potential: DimerCurve, dft: DimerCurve, cfg: ValidationConfig) -> list[ValidationRow]:
    """RMSE of the binding energies over the curve (judged on the bond-stretch tolerance) and the binding energy at
    DFT's lowest point (reported)."""
    errors = potential.energies - dft.energies
    n = len(errors)
    note = (
        f"two {dft.formula} (DFT's relaxed geometry, the second turned 180 deg about z) at {n} separations, closest "
        f"contact {DIMER_FACTORS[0]:g}-{DIMER_FACTORS[-1]:g} x covalent radii; E(dimer) - 2 E(molecule) on each side"
    )
    lowest = int(np.argmin(dft.energies))
    return [
        metric(
            GROUP,
            f"{dft.formula} dimer binding energy RMSE",
            "eV",
            float(np.sqrt(np.mean(errors**2))),
            cfg.stretch_rmse_tolerance,
            n,
            note,
        ),
        metric(
            GROUP,
            f"{dft.formula} dimer binding energy at DFT's lowest point",
            "eV",
            float(potential.energies[lowest]),
            None,
            n,
            f"DFT {dft.energies[lowest]:+.4f} eV at {dft.distances[lowest]:.2f} A between centres; {note}",
        ),
    ]


def plot_dimer(potential: DimerCurve, dft: DimerCurve, path: str | Path) -> Path:
    """PNG: both sides' binding energy against the centre-of-mass separation."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.0, 3.8), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(dft.distances, dft.energies, "o--", color="black", label="DFT")
    axes.plot(potential.distances, potential.energies, "s-", color="tab:red", label="potential", markersize=4)
    axes.axhline(0.0, color="0.7", lw=0.6)
    axes.set_xlabel("centre-of-mass separation (A)")
    axes.set_ylabel("E(dimer) - 2 E(molecule) (eV)")
    axes.set_title(f"{dft.formula} dimer binding curve")
    axes.legend(fontsize=8)
    return atomic_savefig(Path(path), figure)
