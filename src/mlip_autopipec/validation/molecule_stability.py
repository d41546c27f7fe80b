"""Stability of a molecule in production MD: energy conservation, and no dissociation or collapse in vacuum.

Why: the crystal's stability runs (``stability``) grow a periodic cell, which a molecule does not have; but a
potential fitted to a few dozen molecular geometries can still pull a bond apart or fold two atoms into each other
after a few picoseconds at the temperatures the user asked for. This runs ONE committee member (the production
potential) on the molecule alone in vacuum: a short NVE run for the total-energy drift (``stability.nve_drift``),
then ``stability_ps`` of Langevin dynamics at each target temperature, watching every bond of the relaxed molecule
(pairs closer than ``BOND_FACTOR`` x the sum of covalent radii) and the smallest interatomic distance.

How the rows are judged (``table.metric``): the bond row reports the largest ``d / d0 - 1`` over bonds and frames,
tolerance ``STRETCH_TOLERANCE``: within 25 % passes (thermal vibration), up to 50 % warns, beyond fails (the bond
broke: a target-temperature molecule does not dissociate in picoseconds); the collapse row reports
``1 - d_min / d0_min`` as the crystal's does, failing below ``COLLAPSE_RATIO`` of the shortest bond; the drift
row is the crystal's (meV/atom/ps).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from ase import Atoms  # noqa: E402
from ase.calculators.calculator import BaseCalculator  # noqa: E402
from ase.data import covalent_radii  # noqa: E402

from mlip_autopipec.config.models import ValidationConfig  # noqa: E402
from mlip_autopipec.data.records import ValidationRow  # noqa: E402
from mlip_autopipec.data.seeds import job_seed  # noqa: E402
from mlip_autopipec.exploration.explore import initial_velocities, make_dynamics  # noqa: E402
from mlip_autopipec.validation.stability import (  # noqa: E402
    COLLAPSE_RATIO,
    DRIFT_TOLERANCE,
    FRICTION_PER_FS,
    GROUP,
    MIN_DISTANCE_TOLERANCE,
    NveDrift,
    drift_row,
    nve_drift,
)
from mlip_autopipec.validation.table import WARN_FACTOR, metric  # noqa: E402

logger = logging.getLogger(__name__)

BOND_FACTOR = 1.25  # a bond: two atoms closer than this x the sum of their covalent radii in the relaxed molecule
STRETCH_TOLERANCE = 0.25  # on max(d / d0) - 1: warn beyond 25 %, fail beyond WARN_FACTOR x (a broken bond)
HISTOGRAM_BINS = 60


@dataclass(frozen=True)
class MoleculeRun:
    """A Langevin run of the molecule in vacuum at one temperature."""

    temperature_K: float  # target (K)
    mean_temperature_K: float  # kinetic temperature over the run (K)
    requested_ps: float
    duration_ps: float  # integrated before the end or the stop (ps)
    max_stretch: float  # largest d / d0 over bonds and frames (dimensionless)
    min_distance_ratio: float  # smallest interatomic distance over the shortest bond of the relaxed molecule
    n_checks: int  # frames checked (count)
    stretches: np.ndarray  # every bond's d / d0 in every checked frame, for the figure
    stopped: str | None  # why the run stopped early; None when it ran to the end


@dataclass(frozen=True)
class MoleculeStability:
    drift: NveDrift
    runs: tuple[MoleculeRun, ...]
    timestep_fs: float
    n_atoms: int
    n_bonds: int


def bonds(molecule: Atoms) -> tuple[np.ndarray, np.ndarray]:
    """(pairs (i, j), their lengths d0) of the relaxed molecule: closer than ``BOND_FACTOR`` x the covalent radii."""
    distances = molecule.get_all_distances()
    radii = covalent_radii[molecule.numbers]
    i, j = np.triu_indices(len(molecule), k=1)
    bonded = distances[i, j] < BOND_FACTOR * (radii[i] + radii[j])
    pairs = np.stack([i[bonded], j[bonded]], axis=1)
    return pairs, distances[i, j][bonded]


def molecule_run(
    molecule: Atoms,
    calculator: BaseCalculator,
    temperature_K: float,
    duration_ps: float,
    timestep_fs: float,
    seed: int,
    sample_every: int = 10,
) -> MoleculeRun:
    """Langevin from the relaxed ``molecule``; stops early once a bond breaks (beyond ``WARN_FACTOR`` x the
    tolerance) or two atoms come closer than ``COLLAPSE_RATIO`` x the shortest bond."""
    if len(molecule) < 2:
        raise ValueError("molecule stability needs at least two atoms")
    pairs, d0 = bonds(molecule)
    shortest = float(d0.min()) if d0.size else float(np.min(molecule.get_all_distances()[np.triu_indices(len(molecule), 1)]))
    work = molecule.copy()
    work.calc = calculator
    velocity_rng, thermostat_rng = (np.random.default_rng(job_seed(seed, "molecule stability", temperature_K, p)) for p in "vt")
    initial_velocities(work, temperature_K, velocity_rng)
    dyn = make_dynamics(work, "nvt", temperature_K, 0.0, timestep_fs, FRICTION_PER_FS, 100.0, 1000.0, thermostat_rng)
    steps = max(sample_every, int(round(duration_ps * 1000.0 / timestep_fs)))
    broken_at = 1.0 + WARN_FACTOR * STRETCH_TOLERANCE
    stretches, temperatures = [], []
    max_stretch, min_ratio = 1.0, math.inf
    stopped: str | None = None
    done = checks = 0
    while done < steps:
        chunk = min(sample_every, steps - done)
        try:
            dyn.run(chunk)
        except Exception as error:  # the potential failed where the dynamics took it: the run broke
            stopped, max_stretch = f"step {done + chunk}: MD failed ({type(error).__name__}: {error})", math.inf
            break
        done += chunk
        checks += 1
        if not np.all(np.isfinite(work.positions)) or not math.isfinite(float(work.get_potential_energy())):
            stopped, max_stretch = f"step {done}: non-finite energy or positions", math.inf
            break
        distances = work.get_all_distances()
        ratio = distances[pairs[:, 0], pairs[:, 1]] / d0 if d0.size else np.ones(0)
        stretches.append(ratio)
        temperatures.append(float(work.get_temperature()))
        max_stretch = max(max_stretch, float(ratio.max()) if ratio.size else 1.0)
        min_ratio = min(min_ratio, float(distances[np.triu_indices(len(work), 1)].min()) / shortest)
        if max_stretch > broken_at:
            worst = int(np.argmax(ratio))
            a, b = pairs[worst]
            stopped = f"step {done}: bond {work[a].symbol}{a}-{work[b].symbol}{b} at {ratio[worst]:.2f} x its length (broken)"
            break
        if min_ratio < COLLAPSE_RATIO:
            stopped = f"step {done}: two atoms at {min_ratio:.2f} x the shortest bond (collapsed)"
            break
    if stopped is not None:
        logger.warning("molecule stability: %g K stopped at %s", temperature_K, stopped)
    return MoleculeRun(
        temperature_K=float(temperature_K),
        mean_temperature_K=float(np.mean(temperatures)) if temperatures else float("nan"),
        requested_ps=float(duration_ps),
        duration_ps=done * timestep_fs / 1000.0,
        max_stretch=max_stretch,
        min_distance_ratio=min(min_ratio, 1.5),
        n_checks=checks,
        stretches=np.concatenate(stretches) if stretches else np.zeros(0),
        stopped=stopped,
    )


def run_molecule_stability(
    molecule: Atoms,
    calculator: BaseCalculator,
    temperatures: Sequence[float],
    cfg: ValidationConfig,
    timestep_fs: float,
    seed: int,
    nve_ps: float = 1.0,
) -> MoleculeStability:
    """NVE drift at the lowest target temperature, then ``cfg.stability_ps`` of NVT at each, from the relaxed
    ``molecule`` (non-periodic, in vacuum) with ``calculator`` (the production potential: one member)."""
    if not temperatures:
        raise ValueError("stability needs at least one target temperature")
    start = molecule.copy()
    start.calc = None
    drift = nve_drift(start, calculator, float(min(temperatures)), timestep_fs, nve_ps, seed)
    runs = tuple(molecule_run(start, calculator, float(t), cfg.stability_ps, timestep_fs, seed) for t in sorted(temperatures))
    return MoleculeStability(drift, runs, float(timestep_fs), len(start), len(bonds(start)[0]))


def molecule_stability_rows(result: MoleculeStability, drift_tolerance: float = DRIFT_TOLERANCE) -> list[ValidationRow]:
    """NVE drift, and per temperature the largest bond stretch and the closest approach (all judged)."""
    rows = [drift_row(result.drift, drift_tolerance, result.timestep_fs, "the molecule in vacuum")]
    for run in result.runs:
        where = f"{run.duration_ps:g} of {run.requested_ps:g} ps Langevin in vacuum"
        stopped = f"; stopped at {run.stopped}" if run.stopped else ""
        rows.append(
            metric(
                GROUP,
                f"NVT {run.temperature_K:g} K: largest bond stretch d/d0 - 1",
                "-",
                run.max_stretch - 1.0 if math.isfinite(run.max_stretch) else 1e9,
                STRETCH_TOLERANCE,
                n_samples=run.n_checks,
                note=f"over the {result.n_bonds} bonds of the relaxed molecule and {where}; mean T "
                f"{run.mean_temperature_K:.0f} K; fails beyond {WARN_FACTOR * STRETCH_TOLERANCE:.0%} (a broken bond); "
                f"n_samples: frames checked{stopped}",
            )
        )
        rows.append(
            metric(
                GROUP,
                f"NVT {run.temperature_K:g} K: 1 - d_min/d_bond",
                "-",
                1.0 - run.min_distance_ratio,
                MIN_DISTANCE_TOLERANCE,
                n_samples=run.n_checks,
                note=f"smallest interatomic distance over the shortest bond of the relaxed molecule, {where}; fails "
                f"below {COLLAPSE_RATIO:g} x (collapsed); n_samples: frames checked{stopped}",
            )
        )
    return rows


def bond_stretch_histogram(result: MoleculeStability, path: str | Path) -> Path:
    """The distribution of d / d0 over every bond and frame, one curve per temperature."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    edges = np.linspace(0.6, 1.0 + WARN_FACTOR * STRETCH_TOLERANCE, HISTOGRAM_BINS + 1)
    for run in result.runs:
        if run.stretches.size:
            counts, _ = np.histogram(np.clip(run.stretches, edges[0], edges[-1]), bins=edges, density=True)
            label = f"{run.temperature_K:g} K" + (" (stopped)" if run.stopped else "")
            ax.plot(0.5 * (edges[1:] + edges[:-1]), counts, "-" if run.stopped is None else "--", label=label)
    ax.axvline(1.0 + STRETCH_TOLERANCE, color="k", lw=0.6, ls=":", label="tolerance")
    ax.set_xlabel("bond length / relaxed bond length")
    ax.set_ylabel("density")
    ax.set_title("bond lengths in production MD of the molecule in vacuum", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
