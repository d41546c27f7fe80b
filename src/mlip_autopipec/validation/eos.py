"""Equation of state: lattice constant, bulk modulus and E-V curve of a crystal with any ASE calculator.

Why isotropic scaling of the primitive cell: every point is one DFT run, and the primitive cell is the
cheapest cell with the crystal's energy per atom. For a cubic crystal that is the whole equation of state; for
any other lattice the cell shape (c/a, angles) stays that of the given crystal, so the numbers are the equation
of state at the reference cell shape (the rows say so). Positions are relaxed at a volume only when a force
exceeds ``EOS_FMAX`` (never for diamond, fcc, bcc or rocksalt, where symmetry cancels every force).

The same function runs with the potential and with ``LabelledDft``; ``eos_rows`` puts the two side by side.
``at_volume`` and ``relax_positions`` are the cell helpers the elastic and defect checks build on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.eos import EquationOfState
from ase.optimize import BFGS

from mlip_autopipec.config.models import ValidationConfig
from mlip_autopipec.data.records import ValidationRow
from mlip_autopipec.validation.table import compare

GROUP = "equation of state"
EOS_FMAX = 0.02  # eV/A: relax positions at a volume only when a force exceeds this
EOS_RELAX_STEPS = 20  # step cap of that relaxation
MAX_WINDOW_SHIFTS = 3  # moves of the volume window towards lower energy before the curve is refused
RECENTRE_FRACTION = 2.0 / 3.0  # recentre the curve when the minimum is beyond this part of the half-range
# primitive cells in the conventional cubic cell, by ASE's Bravais lattice name of the cell
CONVENTIONAL_CELLS = {"CUB": 1, "BCC": 2, "FCC": 4}


@dataclass(frozen=True)
class Relaxation:
    """Positions relaxed at a fixed cell: how many optimiser steps and where it stopped."""

    steps: int  # optimiser steps (each one calculator evaluation)
    max_force: float  # eV/A, the largest force component norm at the end
    converged: bool  # max_force <= fmax


def max_force(atoms: Atoms) -> float:
    """The largest force on an atom (eV/A)."""
    forces = atoms.get_forces()
    return float(np.sqrt((forces**2).sum(axis=1)).max()) if len(atoms) else 0.0


def relax_positions(atoms: Atoms, fmax: float, steps: int) -> Relaxation:
    """BFGS on the positions of ``atoms`` (its calculator attached) at a fixed cell, in place.

    No step at all when the forces are already below ``fmax``: by symmetry that is the case for most strained
    or scaled high-symmetry cells, and each step is a DFT run on the reference side.
    """
    start = max_force(atoms)
    if start <= fmax:
        return Relaxation(0, start, True)
    optimizer = BFGS(atoms, logfile=None)
    optimizer.run(fmax=fmax, steps=steps)
    end = max_force(atoms)
    return Relaxation(int(optimizer.nsteps), end, end <= fmax)


def at_volume(crystal: Atoms, volume_per_atom: float) -> Atoms:
    """A copy of ``crystal`` scaled isotropically to ``volume_per_atom`` (A^3), fractional coordinates kept."""
    scaled = crystal.copy()
    scaled.calc = None
    factor = (volume_per_atom * len(crystal) / crystal.get_volume()) ** (1.0 / 3.0)
    scaled.set_cell(crystal.cell.array * factor, scale_atoms=True)
    return scaled


def fixed_mesh_spacing(crystal: Atoms, spacing: float, cfg: ValidationConfig) -> float:
    """The largest k-point spacing (1/A, 2 pi included) not above ``spacing`` whose Monkhorst-Pack mesh is the
    same for every cell of the equation of state and of the elastic strains of ``crystal``.

    Why: the labelling engine derives each structure's mesh from its cell (``dft.kpoints.kpoint_mesh``), so
    along an E-V curve the mesh can jump (4x4x4 to 5x5x5 for 2-atom Si at 0.5 1/A near a = 5.44 A) and the
    energy with it (0.05 eV/atom there, a bulk modulus off by a factor of four). A DFT side computed with this
    spacing samples at least as densely as the training labels and with one mesh for all volumes and strains.
    Covered: cell lengths scaled by (1 +- 2 ``cfg.eos_volume_range``)^(1/3) * (1 +- ``cfg.elastic_strain``): a curve
    re-centred on a minimum off the first window, and the elastic strains at either side's equilibrium.
    Returns ``spacing`` itself when it already gives one mesh, or when no spacing does (a very dense mesh).
    """
    low = (1.0 - 2.0 * cfg.eos_volume_range) ** (1.0 / 3.0) * (1.0 - cfg.elastic_strain)
    high = (1.0 + 2.0 * cfg.eos_volume_range) ** (1.0 / 3.0) * (1.0 + cfg.elastic_strain)
    reciprocal = [
        2.0 * np.pi * float(np.linalg.norm(b))
        for b, periodic in zip(crystal.cell.reciprocal(), crystal.pbc, strict=True)
        if periodic
    ]

    def constant(trial: float) -> bool:  # the engine's rule: n = ceil(length / spacing - 1e-9)
        return all(np.ceil(r / low / trial - 1e-9) == np.ceil(r / high / trial - 1e-9) for r in reciprocal)

    candidates = [spacing]
    for r in reciprocal:  # the spacings at which the densest cell of the range just reaches k divisions
        first = int(np.ceil(r / low / spacing - 1e-9))
        candidates += [r / low / k for k in range(first, first + 64)]
    for trial in sorted((c for c in candidates if c <= spacing), reverse=True):
        if constant(trial):
            return float(trial)
    return float(spacing)


def cubic_multiplicity(crystal: Atoms) -> int | None:
    """Primitive cells of ``crystal`` in its conventional cubic cell; None when its lattice is not cubic."""
    try:
        name = crystal.cell.get_bravais_lattice().name
    except (ValueError, RuntimeError):  # a cell ASE cannot classify is not one of the cubic ones
        return None
    return CONVENTIONAL_CELLS.get(name)


@dataclass(frozen=True)
class EosResult:
    """One calculator's equation of state of one crystal (per-atom quantities, so any cell compares)."""

    formula: str
    n_atoms: int  # atoms of the cell that was scaled
    lattice: str  # ASE Bravais lattice name of that cell (FCC, BCC, CUB, HEX, ...)
    cubic: bool  # lattice constants are the conventional cubic a
    volumes: tuple[float, ...]  # A^3/atom, the E-V curve
    energies: tuple[float, ...]  # eV/atom, the E-V curve
    v0: float  # A^3/atom, fitted equilibrium volume
    e0: float  # eV/atom, fitted energy at v0
    bulk_modulus: float  # GPa, Birch-Murnaghan B at v0
    lattice_constants: Mapping[str, float]  # A: {"a": ...} cubic; otherwise the distinct primitive cell lengths
    reference_volume: float  # A^3/atom of the given crystal
    volume_range: float  # the curve spans the centre volume * (1 +- this)
    recentred: bool  # the first fit's minimum lay off the curve's inner two thirds and the curve was redone around it
    relax_steps: int  # position relaxation steps over all volumes
    evaluations: int  # calculator evaluations (volumes + relaxation steps)
    window_shifts: int = 0  # moves of the volume window towards the minimum before it was bracketed

    def at_equilibrium(self, crystal: Atoms) -> Atoms:
        """``crystal`` scaled to this calculator's own equilibrium volume (cell shape kept)."""
        return at_volume(crystal, self.v0)


def _lattice_constants(crystal: Atoms, v0: float, multiplicity: int | None) -> dict[str, float]:
    if multiplicity is not None:
        return {"a": float((v0 * len(crystal) * multiplicity) ** (1.0 / 3.0))}
    lengths = at_volume(crystal, v0).cell.lengths()
    constants: dict[str, float] = {}
    for name, length in zip("abc", lengths, strict=True):
        if all(abs(length - seen) > 1e-4 * length for seen in constants.values()):
            constants[name] = float(length)
    return constants


def _curve(crystal: Atoms, calculator: Calculator, centre: float, cfg: ValidationConfig) -> tuple[list[float], list[float], int]:
    volumes = np.linspace(1.0 - cfg.eos_volume_range, 1.0 + cfg.eos_volume_range, cfg.eos_points) * centre
    energies: list[float] = []
    steps = 0
    for volume in volumes:
        atoms = at_volume(crystal, float(volume))
        atoms.calc = calculator
        if len(atoms) > 1:
            steps += relax_positions(atoms, EOS_FMAX, EOS_RELAX_STEPS).steps
        energies.append(atoms.get_potential_energy() / len(atoms))
    return [float(v) for v in volumes], energies, steps


class EosFitFailed(ValueError):
    """The E-V curve has no minimum inside the sampled volumes: the checks built on V0 have nothing to stand on."""


def _fit(volumes: list[float], energies: list[float]) -> tuple[float, float, float]:
    try:
        v0, e0, bulk = EquationOfState(volumes, energies, eos="birchmurnaghan").fit(warn=False)
    except (ValueError, RuntimeError) as error:  # ASE: "No minimum!", or the fit does not converge
        raise EosFitFailed(f"no energy minimum: the Birch-Murnaghan fit failed ({error})") from None
    return float(v0), float(e0), float(bulk / units.GPa)


def equation_of_state(crystal: Atoms, calculator: Calculator, cfg: ValidationConfig) -> EosResult:
    """Birch-Murnaghan fit of ``cfg.eos_points`` volumes over V(1 +- ``cfg.eos_volume_range``) around ``crystal``.

    When the lowest energy lies at an edge of the sampled volumes, the window moves to that edge (at most
    ``MAX_WINDOW_SHIFTS`` times) until the minimum is bracketed: a potential with its own equilibrium 15 % off the
    reference volume still gets its V0 and B. When the fitted minimum falls outside the inner two thirds of the
    sampled volumes, the curve is computed once more around that minimum: a Birch-Murnaghan B from a window that
    ends near the minimum is biased (1.3 % for EMT Cu, against 0.3 % with the minimum 3 % off the centre).
    """
    reference = float(crystal.get_volume() / len(crystal))
    volumes, energies, steps = _curve(crystal, calculator, reference, cfg)
    evaluations = len(volumes) + steps
    shifts = 0
    for _ in range(MAX_WINDOW_SHIFTS):  # the lowest energy at an edge: the minimum lies beyond, follow it downhill
        lowest = int(np.argmin(energies))
        if 0 < lowest < len(energies) - 1:
            break
        volumes, energies, more = _curve(crystal, calculator, volumes[lowest], cfg)
        steps += more
        evaluations += len(volumes) + more
        shifts += 1
    v0, e0, bulk = _fit(volumes, energies)
    middle = float(np.mean(volumes))
    recentred = abs(v0 / middle - 1.0) > RECENTRE_FRACTION * cfg.eos_volume_range
    if recentred:
        centre = float(np.clip(v0, middle * (1 - 2 * cfg.eos_volume_range), middle * (1 + 2 * cfg.eos_volume_range)))
        volumes, energies, more = _curve(crystal, calculator, centre, cfg)
        v0, e0, bulk = _fit(volumes, energies)
        steps += more
        evaluations += len(volumes) + more
    if not (min(volumes) <= v0 <= max(volumes)) or not bulk > 0:
        raise EosFitFailed(
            f"no energy minimum within V = {min(volumes):.3g}-{max(volumes):.3g} A^3/atom (fit: V0 = {v0:.4g} A^3/atom, "
            f"B = {bulk:.4g} GPa): the E-V curve has no bound equilibrium near the reference crystal"
        )
    multiplicity = cubic_multiplicity(crystal)
    return EosResult(
        formula=crystal.get_chemical_formula(),
        n_atoms=len(crystal),
        lattice=_lattice_name(crystal),
        cubic=multiplicity is not None,
        volumes=tuple(volumes),
        energies=tuple(energies),
        v0=v0,
        e0=e0,
        bulk_modulus=bulk,
        lattice_constants=_lattice_constants(crystal, v0, multiplicity),
        reference_volume=reference,
        volume_range=cfg.eos_volume_range,
        recentred=recentred,
        relax_steps=steps,
        evaluations=evaluations,
        window_shifts=shifts,
    )


def _lattice_name(crystal: Atoms) -> str:
    try:
        return str(crystal.cell.get_bravais_lattice().name)
    except (ValueError, RuntimeError):
        return "unknown"


def _note(result: EosResult) -> str:
    shape = "" if result.cubic else ", at the reference cell shape (cell ratios and angles not relaxed)"
    relaxed = f", positions relaxed ({result.relax_steps} steps)" if result.relax_steps else ""
    recentred = ", recentred once on the first fit's minimum" if result.recentred else ""
    return (
        f"Birch-Murnaghan fit of {len(result.volumes)} volumes over V(1 +- {result.volume_range:g}), isotropic scaling "
        f"of the {result.n_atoms}-atom {result.lattice} primitive cell{shape}{relaxed}{recentred}"
    )


def eos_rows(potential: EosResult, dft: EosResult, cfg: ValidationConfig) -> list[ValidationRow]:
    """Lattice constant(s) and bulk modulus (judged, relative), V0 and E0 per atom (reported)."""
    mine, theirs = _note(potential), _note(dft)
    note = theirs if mine == theirs else f"potential: {mine}; DFT: {theirs}"
    n = len(dft.volumes)
    rows: list[ValidationRow] = []
    for name, value in dft.lattice_constants.items():
        if name not in potential.lattice_constants:
            continue
        quantity = "lattice constant a (conventional cubic)" if dft.cubic else f"primitive cell length {name}"
        rows.append(
            compare(GROUP, quantity, "A", value, potential.lattice_constants[name], cfg.lattice_tolerance, "relative", n, note)
        )
    rows.append(
        compare(
            GROUP,
            "bulk modulus B",
            "GPa",
            dft.bulk_modulus,
            potential.bulk_modulus,
            cfg.bulk_modulus_tolerance,
            "relative",
            n,
            note,
        )
    )
    rows.append(compare(GROUP, "equilibrium volume V0", "A^3/atom", dft.v0, potential.v0, None, "relative", n, note))
    rows.append(compare(GROUP, "energy at V0", "eV/atom", dft.e0, potential.e0, None, "absolute", n, note))
    return rows


def plot_eos(potential: EosResult, dft: EosResult, path: str | Path) -> Path:
    """The two E-V curves (points and Birch-Murnaghan fits) in one PNG, energies relative to DFT's E0.

    Absolute energies of the two sides may differ by a constant that says nothing about the curve's shape, so
    each curve is drawn relative to its own E0 and the offset is in the legend.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.0, 3.8), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for result, label, colour in ((dft, "DFT", "black"), (potential, "potential", "tab:red")):
        volumes = np.asarray(result.volumes)
        energies = np.asarray(result.energies) - result.e0
        fine = np.linspace(volumes.min(), volumes.max(), 200)
        eos = EquationOfState(result.volumes, result.energies, eos="birchmurnaghan")
        eos.fit(warn=False)
        curve = eos.func(fine, *eos.eos_parameters) - result.e0
        offset = "" if result is dft else f", E0 {result.e0 - dft.e0:+.3f} eV/atom vs DFT"
        axes.plot(volumes, energies, "o", color=colour)
        axes.plot(fine, curve, "-", color=colour, label=f"{label}: B {result.bulk_modulus:.1f} GPa{offset}")
    axes.set_xlabel("volume (A^3/atom)")
    axes.set_ylabel("E - E0 (eV/atom)")
    axes.set_title(f"Equation of state of {dft.formula}")
    axes.legend(fontsize=8)
    figure.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target)
    return target
