"""Stability of production MD: energy conservation (NVE drift) and no explosion or collapse in NVT.

Why: a potential with small errors on a validation set can still blow up after a few picoseconds (a hole in
the training data at short range, a spurious minimum); users find out the hard way. This runs what a user
runs, ONE committee member as the production potential (``potentials.committee.member_calculator(committee,
0)``), on a cell of ``stability_atoms`` atoms grown from the crystal: a short NVE run whose total-energy drift
(linear fit, meV/atom/ps) says whether the forces are the gradient of the energy and smooth enough for the
timestep, and a Langevin run of ``stability_ps`` at each target temperature, watched for the smallest
interatomic distance (relative to the crystal's nearest-neighbour distance) and a running-away potential
energy, with the radial distribution function of its second half (a crystal keeps its peaks, a melt or an
amorphised cell does not).

How the rows are judged (``table.metric``: pass if |value| <= tolerance, warn within ``WARN_FACTOR`` x, fail
beyond): the smallest-distance row reports ``1 - d_min / d_nn`` with tolerance ``(1 - COLLAPSE_RATIO) /
WARN_FACTOR`` = 0.2, so d_min >= 0.8 d_nn passes, 0.6 <= d_min / d_nn < 0.8 warns (unusually close approaches)
and d_min < 0.6 d_nn fails (the run exploded or collapsed); a run that broke (non-finite energy, an error of
the potential) counts as d_min = 0. The energy-rise row (mean potential energy of the second half minus the
perfect crystal's, eV/atom; about 3/2 kB T for a harmonic solid) has tolerance ``RUNAWAY_EV_PER_ATOM /
WARN_FACTOR``, so a runaway beyond 1 eV/atom fails. The drift row's tolerance defaults to ``DRIFT_TOLERANCE``
(1 meV/atom/ps).
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
from ase import Atoms, units  # noqa: E402
from ase.build import find_optimal_cell_shape, make_supercell  # noqa: E402
from ase.calculators.calculator import BaseCalculator  # noqa: E402
from ase.md.verlet import VelocityVerlet  # noqa: E402

from mlip_autopipec.config.models import ValidationConfig  # noqa: E402
from mlip_autopipec.data.records import ValidationRow  # noqa: E402
from mlip_autopipec.data.seeds import job_seed  # noqa: E402
from mlip_autopipec.descriptors.neighbours import neighbour_list  # noqa: E402
from mlip_autopipec.exploration.explore import initial_velocities, make_dynamics  # noqa: E402
from mlip_autopipec.structures.perturb import supercell_for  # noqa: E402
from mlip_autopipec.validation.table import WARN_FACTOR, metric  # noqa: E402

logger = logging.getLogger(__name__)

GROUP = "stability"
DRIFT_TOLERANCE = 1.0  # meV/atom/ps: NVE total-energy drift allowed (proposed default for ValidationConfig)
COLLAPSE_RATIO = 0.6  # d_min / d_nn below this: the run exploded or collapsed
MIN_DISTANCE_TOLERANCE = (1.0 - COLLAPSE_RATIO) / WARN_FACTOR  # on 1 - d_min / d_nn: fail exactly below COLLAPSE_RATIO
RUNAWAY_EV_PER_ATOM = 1.0  # |potential-energy rise| beyond this (eV/atom): running away, the run stops
ENERGY_RISE_TOLERANCE = RUNAWAY_EV_PER_ATOM / WARN_FACTOR
FRICTION_PER_FS = 0.01  # Langevin friction (1/fs): a 100 fs thermostat, gentle on the dynamics
RDF_RANGE = 2.5  # RDF up to this x the nearest-neighbour distance
RDF_BINS = 100
DISTANCE_CAP = 1.5  # d_min / d_nn is reported as at most this (no pair within 1.5 d_nn)


@dataclass(frozen=True)
class NveDrift:
    """Total-energy drift of a short NVE run."""

    drift: float  # meV/atom/ps, slope of a linear fit of the total energy per atom
    temperature_K: float  # the target the velocities were drawn for (K); the run sits near it
    mean_temperature_K: float  # kinetic temperature averaged over the run (K)
    duration_ps: float  # integrated time (ps)
    n_samples: int  # energies the fit rests on (count)
    n_atoms: int
    broken: str | None  # why the run stopped early (non-finite energy, an error of the potential); None: it ran


@dataclass(frozen=True)
class NvtRun:
    """A Langevin run at one temperature: smallest distance, energy rise and RDF of its second half."""

    temperature_K: float  # target (K)
    mean_temperature_K: float  # kinetic temperature over the second half (K)
    requested_ps: float  # asked for (ps)
    duration_ps: float  # integrated before the end or the stop (ps)
    n_atoms: int
    nn_distance: float  # the perfect crystal's nearest-neighbour distance (A)
    min_distance: float  # smallest interatomic distance seen (A); 0 for a broken run
    energy_rise: float | None  # mean potential energy of the second half minus the perfect crystal's (eV/atom)
    n_checks: int  # configurations checked (count)
    rdf_r: np.ndarray  # bin centres (A)
    rdf_g: np.ndarray  # g(r) averaged over the second half (dimensionless); zeros when no frame
    n_rdf_frames: int
    stopped: str | None  # why the run stopped early; None when it ran to the end

    @property
    def min_distance_ratio(self) -> float:
        return min(DISTANCE_CAP, self.min_distance / self.nn_distance)

    @property
    def stable(self) -> bool:
        return self.stopped is None and self.min_distance_ratio >= COLLAPSE_RATIO


@dataclass(frozen=True)
class StabilityResult:
    drift: NveDrift
    runs: tuple[NvtRun, ...]
    timestep_fs: float
    n_atoms: int

    @property
    def stable(self) -> bool:
        return all(run.stable for run in self.runs) and self.drift.broken is None


def pair_distances(atoms: Atoms, cutoff: float) -> np.ndarray:
    """Every (i, j) and (j, i) distance below ``cutoff`` (A, periodic images included), like ASE's ``neighbor_list("d")``.

    The project's Numba cell list: a few hundred times faster than ASE's for the checks of every sampled frame.
    """
    _, _, vectors, _ = neighbour_list(
        np.ascontiguousarray(atoms.positions, dtype=float),
        np.ascontiguousarray(atoms.cell.array, dtype=float),
        np.asarray(atoms.pbc, dtype=np.bool_),
        float(cutoff),
    )
    return np.sqrt(np.einsum("ij,ij->i", vectors, vectors))


def smallest_distance(atoms: Atoms, cutoff: float) -> float:
    """Smallest interatomic distance (A, periodic images included); inf when no pair is within ``cutoff``."""
    distances = pair_distances(atoms, cutoff)
    return float(distances.min()) if distances.size else math.inf


def nearest_neighbour_distance(atoms: Atoms) -> float:
    """The crystal's nearest-neighbour distance (A)."""
    cutoff = 3.0
    while cutoff < 30.0:
        distance = smallest_distance(atoms, cutoff)
        if math.isfinite(distance):
            return distance
        cutoff *= 2
    raise ValueError("no neighbour within 30 A: not a condensed crystal")


def _rdf_counts(atoms: Atoms, edges: np.ndarray) -> np.ndarray:
    distances = pair_distances(atoms, float(edges[-1]))
    return np.histogram(distances, bins=edges)[0].astype(float)


def _rdf(counts: np.ndarray, edges: np.ndarray, n_atoms: int, volume: float, frames: int) -> np.ndarray:
    """g(r) from ordered-pair counts summed over ``frames``: counts / (N rho 4 pi r^2 dr)."""
    if frames == 0:
        return np.zeros_like(counts)
    shells = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    return counts / (frames * n_atoms * (n_atoms / volume) * shells)


def _finite(atoms: Atoms) -> bool:
    return bool(np.all(np.isfinite(atoms.positions))) and math.isfinite(float(atoms.get_potential_energy()))


def nve_drift(
    cell: Atoms,
    calculator: BaseCalculator,
    temperature_K: float,
    timestep_fs: float,
    duration_ps: float,
    seed: int,
    sample_every: int = 5,
) -> NveDrift:
    """Velocity-Verlet from the perfect ``cell`` with velocities for 2 x ``temperature_K`` (equipartition halves it)."""
    work = cell.copy()
    work.calc = calculator
    initial_velocities(work, 2.0 * temperature_K, np.random.default_rng(job_seed(seed, "stability", "nve")))
    dyn = VelocityVerlet(work, timestep=timestep_fs * units.fs)
    steps = max(sample_every, int(round(duration_ps * 1000.0 / timestep_fs)))
    n = len(work)
    times, energies, temperatures = [0.0], [float(work.get_total_energy()) / n], [float(work.get_temperature())]
    broken: str | None = None
    done = 0
    while done < steps:
        chunk = min(sample_every, steps - done)
        try:
            dyn.run(chunk)
        except Exception as error:  # the potential failed where the dynamics took it: a broken run, not a crash
            broken = f"step {done + chunk}: MD failed ({type(error).__name__}: {error})"
            break
        done += chunk
        if not _finite(work):
            broken = f"step {done}: non-finite energy or positions"
            break
        times.append(done * timestep_fs / 1000.0)
        energies.append(float(work.get_total_energy()) / n)
        temperatures.append(float(work.get_temperature()))
    if len(times) >= 2:
        drift = float(np.polyfit(np.array(times), 1e3 * np.array(energies), 1)[0])
    else:
        drift = float("nan")
    if broken is not None:
        logger.warning("stability: NVE run broke at %s", broken)
        if not math.isfinite(drift):
            drift = 1e9  # no fit possible: far beyond any tolerance, and still a number for the table
    logger.info("stability: NVE drift %.3g meV/atom/ps over %.2f ps", drift, done * timestep_fs / 1000.0)
    return NveDrift(
        drift=drift,
        temperature_K=float(temperature_K),
        mean_temperature_K=float(np.mean(temperatures)),
        duration_ps=done * timestep_fs / 1000.0,
        n_samples=len(times),
        n_atoms=n,
        broken=broken,
    )


def nvt_run(
    cell: Atoms,
    calculator: BaseCalculator,
    temperature_K: float,
    duration_ps: float,
    timestep_fs: float,
    seed: int,
    sample_every: int = 10,
) -> NvtRun:
    """Langevin from the perfect ``cell``; stops early when it explodes, collapses or its energy runs away."""
    nn = nearest_neighbour_distance(cell)
    edges = np.linspace(0.0, RDF_RANGE * nn, RDF_BINS + 1)
    work = cell.copy()
    work.calc = calculator
    n = len(work)
    e0 = float(work.get_potential_energy()) / n
    velocity_rng, thermostat_rng = (np.random.default_rng(job_seed(seed, "stability", temperature_K, p)) for p in ("v", "t"))
    initial_velocities(work, temperature_K, velocity_rng)
    dyn = make_dynamics(work, "nvt", temperature_K, 0.0, timestep_fs, FRICTION_PER_FS, 100.0, 1000.0, thermostat_rng)
    steps = max(sample_every, int(round(duration_ps * 1000.0 / timestep_fs)))
    d_min = smallest_distance(work, DISTANCE_CAP * nn)
    counts = np.zeros(RDF_BINS)
    frames, checks = 0, 0
    rises, temperatures = [], []
    rise = 0.0
    stopped: str | None = None
    done = 0
    report_every = max(1, steps // 10)
    while done < steps:
        chunk = min(sample_every, steps - done)
        try:
            dyn.run(chunk)
        except Exception as error:  # the potential failed where the dynamics took it: the run broke
            stopped, d_min = f"step {done + chunk}: MD failed ({type(error).__name__}: {error})", 0.0
            break
        done += chunk
        checks += 1
        if not _finite(work):
            stopped, d_min = f"step {done}: non-finite energy or positions", 0.0
            break
        d_min = min(d_min, smallest_distance(work, DISTANCE_CAP * nn))
        rise = float(work.get_potential_energy()) / n - e0
        if d_min / nn < COLLAPSE_RATIO:
            stopped = f"step {done}: two atoms at {d_min:.2f} A = {d_min / nn:.2f} x the nearest-neighbour distance"
            break
        if abs(rise) > RUNAWAY_EV_PER_ATOM:
            stopped = f"step {done}: potential energy {rise:+.2f} eV/atom from the crystal's (running away)"
            break
        if 2 * done >= steps:
            counts += _rdf_counts(work, edges)
            frames += 1
            rises.append(rise)
            temperatures.append(float(work.get_temperature()))
        if done % report_every < chunk:
            logger.info("stability: NVT %g K, %d/%d steps, d_min/d_nn %.2f", temperature_K, done, steps, d_min / nn)
    if stopped is not None:
        logger.warning("stability: NVT %g K stopped at %s", temperature_K, stopped)
    broken = d_min == 0.0
    energy_rise: float | None = float(np.mean(rises)) if rises and stopped is None else rise  # else: where it stopped
    if broken or not math.isfinite(rise):
        energy_rise = None
    return NvtRun(
        temperature_K=float(temperature_K),
        mean_temperature_K=float(np.mean(temperatures)) if temperatures else float(work.get_temperature()),
        requested_ps=float(duration_ps),
        duration_ps=done * timestep_fs / 1000.0,
        n_atoms=n,
        nn_distance=nn,
        min_distance=float(d_min) if math.isfinite(d_min) else DISTANCE_CAP * nn,
        energy_rise=energy_rise,
        n_checks=checks,
        rdf_r=0.5 * (edges[1:] + edges[:-1]),
        rdf_g=_rdf(counts, edges, n, float(work.cell.volume), frames),
        n_rdf_frames=frames,
        stopped=stopped,
    )


def stability_cell(crystal: Atoms, at_least: int) -> Atoms:
    """A near-cubic supercell of ``crystal`` with at least ``at_least`` atoms (a stability run on fewer atoms than
    asked would look more stable than it is): ``supercell_for`` when it reaches the count, else the most cubic cell
    of ``ceil(at_least / n)`` primitive cells (2-atom diamond, 64: the 2x2x2 conventional cell, not 3x3x3 = 54)."""
    cell = supercell_for(crystal, at_least)
    if len(cell) >= at_least:
        return cell
    n_cells = int(np.ceil(at_least / len(crystal)))
    return make_supercell(crystal, find_optimal_cell_shape(crystal.cell, n_cells, "sc"))


def run_stability(
    crystal: Atoms,
    calculator: BaseCalculator,
    temperatures: Sequence[float],
    cfg: ValidationConfig,
    timestep_fs: float,
    seed: int,
    nve_ps: float = 1.0,
    sample_every: int = 10,
) -> StabilityResult:
    """NVE drift at the lowest target temperature, then NVT of ``cfg.stability_ps`` at each target temperature.

    ``calculator``: the production potential (one member); ``crystal``: the primitive crystal, grown to about
    at least ``cfg.stability_atoms`` atoms (``stability_cell``); ``seed``: the run's seed (velocities and thermostat derive from it).
    """
    if not temperatures:
        raise ValueError("stability needs at least one target temperature")
    cell = stability_cell(crystal, cfg.stability_atoms)
    cell.calc = None
    logger.info("stability: %d atoms, timestep %g fs", len(cell), timestep_fs)
    drift = nve_drift(cell, calculator, float(min(temperatures)), timestep_fs, nve_ps, seed, max(1, sample_every // 2))
    runs = tuple(
        nvt_run(cell, calculator, float(t), cfg.stability_ps, timestep_fs, seed, sample_every) for t in sorted(temperatures)
    )
    return StabilityResult(drift=drift, runs=runs, timestep_fs=float(timestep_fs), n_atoms=len(cell))


def drift_row(d: NveDrift, drift_tolerance: float, timestep_fs: float, system: str) -> ValidationRow:
    """The judged NVE-drift row (``system`` says what ran: "64 atoms", "the molecule in vacuum")."""
    return metric(
        GROUP,
        "NVE energy drift",
        "meV/atom/ps",
        d.drift,
        drift_tolerance,
        n_samples=d.n_samples,
        note=f"linear fit of the total energy over {d.duration_ps:g} ps NVE at {d.mean_temperature_K:.0f} K, {system}, "
        f"timestep {timestep_fs:g} fs; n_samples: energies" + (f"; broke at {d.broken}" if d.broken else ""),
    )


def stability_rows(result: StabilityResult, drift_tolerance: float = DRIFT_TOLERANCE) -> list[ValidationRow]:
    """NVE drift (judged), and per temperature 1 - d_min/d_nn and the potential-energy rise (judged)."""
    rows = [drift_row(result.drift, drift_tolerance, result.timestep_fs, f"{result.drift.n_atoms} atoms")]
    for run in result.runs:
        where = f"{run.duration_ps:g} of {run.requested_ps:g} ps Langevin, {run.n_atoms} atoms"
        stopped = f"; stopped at {run.stopped}" if run.stopped else ""
        rows.append(
            metric(
                GROUP,
                f"NVT {run.temperature_K:g} K: 1 - d_min/d_nn",
                "-",
                1.0 - run.min_distance_ratio,
                MIN_DISTANCE_TOLERANCE,
                n_samples=run.n_checks,
                note=f"smallest distance {run.min_distance:.2f} A = {run.min_distance_ratio:.2f} x the crystal's "
                f"nearest-neighbour {run.nn_distance:.2f} A over {where}; fails below {COLLAPSE_RATIO:g} x "
                f"(exploded or collapsed); n_samples: configurations checked{stopped}",
            )
        )
        if run.energy_rise is not None:
            harmonic = 1.5 * units.kB * run.temperature_K
            rows.append(
                metric(
                    GROUP,
                    f"NVT {run.temperature_K:g} K: potential-energy rise",
                    "eV/atom",
                    run.energy_rise,
                    ENERGY_RISE_TOLERANCE,
                    n_samples=run.n_rdf_frames,
                    note=f"mean over the second half minus the perfect crystal (harmonic: 3/2 kB T = {harmonic:.3f} "
                    f"eV/atom); mean T {run.mean_temperature_K:.0f} K; fails beyond {RUNAWAY_EV_PER_ATOM:g} eV/atom "
                    f"(running away); n_samples: frames{stopped}",
                )
            )
    return rows


def rdf_plot(result: StabilityResult, path: str | Path, title: str = "radial distribution, second half of each NVT run") -> Path:
    """One g(r) curve per temperature (a broken run is drawn dashed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for run in result.runs:
        style = "-" if run.stable else "--"
        label = f"{run.temperature_K:g} K" + ("" if run.stable else " (unstable)")
        ax.plot(run.rdf_r, run.rdf_g, style, label=label)
    if result.runs:
        ax.axvline(result.runs[0].nn_distance, color="k", lw=0.6, ls=":", label="crystal nearest neighbour")
    ax.set_xlabel("r (A)")
    ax.set_ylabel("g(r)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
