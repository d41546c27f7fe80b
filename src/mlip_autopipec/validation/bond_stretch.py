"""The bond-stretch curve of a molecule: one bond pulled and pushed, the rest held, DFT against the potential.

Why the same structures on both sides: the curve is the potential's energy landscape along one path, and a
path through DFT's relaxed molecule makes the two sides' curves comparable point by point (the potential's own
bond length is judged in the geometry rows). Energies are relative to each side's energy of DFT's relaxed
molecule, so a constant offset between the sides (reference energies) does not count. Why an X-H bond first:
its stretch is the fastest motion of a molecule and the one MD at high temperature and reactions explore first.
The bond is stretched by moving its terminal atom (the one with fewer bonds) along the bond axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from mlip_autopipec.config.models import ValidationConfig
from mlip_autopipec.data.atomic_io import atomic_savefig
from mlip_autopipec.data.records import ValidationRow
from mlip_autopipec.validation.molecules import bonds
from mlip_autopipec.validation.table import metric

GROUP = "bond stretch"


@dataclass(frozen=True)
class StretchedBond:
    """Which bond is stretched: ``fixed`` stays, ``moved`` slides along the bond axis."""

    fixed: int
    moved: int
    label: str  # e.g. "O-H"
    length: float  # A, in the molecule the curve starts from


def stretched_bond(relaxed: Atoms) -> StretchedBond:
    """The first bond to a hydrogen (else the first bond), its terminal atom moved."""
    bonded = bonds(relaxed)
    if not bonded:
        raise ValueError(f"{relaxed.get_chemical_formula()} has no bond to stretch")
    symbols = relaxed.get_chemical_symbols()
    i, j = next((pair for pair in bonded if "H" in (symbols[pair[0]], symbols[pair[1]])), bonded[0])
    degree = {n: sum(n in pair for pair in bonded) for n in (i, j)}
    if degree[i] < degree[j] or (degree[i] == degree[j] and symbols[i] == "H" != symbols[j]):
        fixed, moved = j, i
    else:
        fixed, moved = i, j
    return StretchedBond(fixed, moved, f"{symbols[fixed]}-{symbols[moved]}", float(relaxed.get_distance(fixed, moved)))


def stretch_factors(cfg: ValidationConfig) -> np.ndarray:
    """``cfg.stretch_points`` multiples of the bond length over ``cfg.stretch_range``, with 1 added if missing."""
    low, high = cfg.stretch_range
    factors = np.linspace(low, high, cfg.stretch_points)
    return np.unique(np.round(np.append(factors, 1.0), 10))


def stretched(relaxed: Atoms, bond: StretchedBond, factor: float) -> Atoms:
    """``relaxed`` with the bond at ``factor`` times its length (the moved atom slid along the axis)."""
    atoms = relaxed.copy()
    atoms.calc = None
    if factor != 1.0:  # the unstretched molecule keeps its exact positions: its label is the relaxation's last one
        axis = atoms.positions[bond.moved] - atoms.positions[bond.fixed]
        atoms.positions[bond.moved] = atoms.positions[bond.fixed] + factor * axis
    atoms.info["origin"] = "validation_bond_stretch"
    return atoms


@dataclass(frozen=True, eq=False)
class StretchCurve:
    """One calculator's energies along the stretch."""

    formula: str
    bond: StretchedBond
    distances: np.ndarray  # A
    energies: np.ndarray  # eV, relative to the energy at the starting bond length


def stretch_curve(
    relaxed: Atoms, calculator: Calculator, cfg: ValidationConfig, bond: StretchedBond | None = None
) -> StretchCurve:
    """Energies of ``relaxed`` with ``bond`` (default ``stretched_bond(relaxed)``) at every stretch factor."""
    bond = bond if bond is not None else stretched_bond(relaxed)
    factors = stretch_factors(cfg)
    energies = []
    for factor in factors:
        atoms = stretched(relaxed, bond, float(factor))
        atoms.calc = calculator
        energies.append(float(atoms.get_potential_energy()))
    values = np.asarray(energies)
    reference = values[int(np.argmin(np.abs(factors - 1.0)))]
    return StretchCurve(relaxed.get_chemical_formula(), bond, factors * bond.length, values - reference)


def stretch_rows(potential: StretchCurve, dft: StretchCurve, cfg: ValidationConfig) -> list[ValidationRow]:
    """RMSE over the curve (judged) and the largest error (reported), eV."""
    errors = potential.energies - dft.energies
    n = len(errors)
    label = dft.bond.label
    note = (
        f"{label} bond of DFT's relaxed molecule at {n} lengths {dft.distances[0]:.3f}-{dft.distances[-1]:.3f} A "
        f"(x{cfg.stretch_range[0]:g}-{cfg.stretch_range[1]:g}), atom {dft.bond.moved} moved, the rest held; energies relative "
        "to each side's energy at DFT's bond length"
    )
    worst = int(np.argmax(np.abs(errors)))
    return [
        metric(
            GROUP, f"{label} stretch energy RMSE", "eV", float(np.sqrt(np.mean(errors**2))), cfg.stretch_rmse_tolerance, n, note
        ),
        metric(
            GROUP,
            f"{label} stretch largest energy error",
            "eV",
            float(errors[worst]),
            None,
            n,
            f"at {dft.distances[worst]:.3f} A (DFT {dft.energies[worst]:+.3f} eV); {note}",
        ),
    ]


def plot_stretch(potential: StretchCurve, dft: StretchCurve, path: str | Path) -> Path:
    """PNG: both sides' energy along the stretch (DFT points and line, the potential over them)."""
    from matplotlib.figure import Figure

    path = Path(path)
    figure = Figure(figsize=(5.0, 3.8), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(dft.distances, dft.energies, "o--", color="black", label="DFT")
    axes.plot(potential.distances, potential.energies, "s-", color="tab:red", label="potential", markersize=4)
    axes.axvline(dft.bond.length, color="0.7", lw=0.6)
    axes.axhline(0.0, color="0.7", lw=0.6)
    axes.set_xlabel(f"{dft.bond.label} distance (A)")
    axes.set_ylabel("E - E(DFT bond length) (eV)")
    axes.set_title(f"{dft.bond.label} stretch in {dft.formula}")
    axes.legend(fontsize=8)
    return atomic_savefig(path, figure)
