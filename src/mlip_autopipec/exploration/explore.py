"""Exploration molecular dynamics with the surrogate: one (start structure, temperature, ensemble) per job.

Each job runs one short trajectory with ASE and writes the sampled frames, with the surrogate's energy,
forces (and stress for periodic cells), as one gzip-compressed extxyz file, so SLURM can spread the
jobs over many nodes.

Ensembles
- ``nvt``: Langevin dynamics (``ase.md.langevin.Langevin``), friction 0.01 / fs by default.
- ``npt``: the Martyna-Tobias-Klein barostat with Nose-Hoover chains (``ase.md.nose_hoover_chain.MTKNPT``,
  ASE >= 3.25). It moves all six cell degrees of freedom of any cell, triclinic included, needs no
  compressibility (Berendsen does) and no upper-triangular cell (``ase.md.npt.NPT`` does). Partly periodic
  cells (slabs, wires) use ``MaskedMTKNPT`` so that only the periodic axes fluctuate. Molecules
  (``pbc`` all False) have no cell to move: an ``npt`` request runs NVT instead and says so.

A watchdog looks at every sample (the start structure included) and stops the trajectory at the first
sign of an explosion: two atoms closer than ``min_distance_factor`` x their covalent bond length, an energy
change per atom above ``max_energy_jump_per_atom`` since the previous sample, a kinetic temperature far
above the target, a non-finite energy or force, or the surrogate/integrator raising. The frames sampled
before the event are kept and the reason is recorded.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase import Atoms, units
from ase.build import make_supercell
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.md import MolecularDynamics
from ase.md.nose_hoover_chain import MTKNPT, MaskedMTKNPT
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary, ZeroRotation

from mlip_autopipec.data.records import ExploreRun
from mlip_autopipec.data.trajectories import write_frames
from mlip_autopipec.structures.filters import min_distance_ratio
from mlip_autopipec.structures.perturb import supercell_for

Ensemble = Literal["nvt", "npt"]
ENSEMBLES: tuple[str, ...] = ("nvt", "npt")
ORIGIN = "explore"
MOLECULE_VACUUM = 6.0  # Angstrom of vacuum around a molecule that comes without a cell
FRAMES_PER_JOB = 100  # default sampling: about this many frames per trajectory

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Watchdog:
    """When to stop a trajectory that explodes; checked at every sample (the start included)."""

    min_distance_factor: float = 0.5
    """Stop when any pair is closer than this fraction of the sum of their covalent radii."""
    max_energy_jump_per_atom: float = 1.0
    """Stop when the potential energy per atom changes by more than this (eV) between two samples."""
    max_temperature_factor: float = 5.0
    max_temperature_margin_K: float = 2000.0
    """Stop when the kinetic temperature exceeds max(factor x target, target + margin)."""

    def temperature_limit(self, temperature_K: float) -> float:
        return max(self.max_temperature_factor * temperature_K, temperature_K + self.max_temperature_margin_K)

    def check(self, atoms: Atoms, previous_energy_per_atom: float | None, temperature_K: float) -> str | None:
        """The reason to stop, or None when ``atoms`` (with a calculator attached) looks physical."""
        energy = float(atoms.get_potential_energy())
        forces = np.asarray(atoms.get_forces())
        if not math.isfinite(energy) or not np.all(np.isfinite(forces)):
            return "the surrogate returned a non-finite energy or force"
        if len(atoms) > 1 or atoms.pbc.any():
            ratio = min_distance_ratio(atoms)
            if ratio < self.min_distance_factor:
                return (
                    f"close contact: two atoms at {ratio:.2f} of their covalent bond length (limit {self.min_distance_factor:g})"
                )
        per_atom = energy / len(atoms)
        if previous_energy_per_atom is not None:
            jump = abs(per_atom - previous_energy_per_atom)
            if jump > self.max_energy_jump_per_atom:
                return f"energy jump: {jump:.2f} eV/atom between two samples (limit {self.max_energy_jump_per_atom:g} eV/atom)"
        kinetic = float(atoms.get_temperature()) if len(atoms) else 0.0
        limit = self.temperature_limit(temperature_K)
        if not math.isfinite(kinetic) or kinetic > limit:
            return f"temperature runaway: {kinetic:.0f} K (target {temperature_K:g} K, limit {limit:.0f} K)"
        return None


@dataclass
class ExploreResult:
    """What one exploration trajectory did. ``n_steps_done`` counts the MD steps integrated."""

    start_id: str
    temperature_K: float
    ensemble: str
    """The ensemble actually run (``nvt`` for a molecule that was asked for ``npt``)."""
    pressure_gpa: float | None
    n_atoms: int
    n_steps_requested: int
    n_steps_done: int
    sample_every: int
    stopped_early: bool
    reason: str | None
    frames_path: Path | None
    wall_time_s: float
    notes: list[str] = field(default_factory=list)
    frames: list[Atoms] = field(default_factory=list, repr=False)

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    def summary(self) -> ExploreRun:
        """The trajectory's record in the job summary (no frames)."""
        return ExploreRun(
            start_id=self.start_id,
            temperature_K=self.temperature_K,
            ensemble=self.ensemble,
            pressure_gpa=self.pressure_gpa,
            n_atoms=self.n_atoms,
            n_steps_requested=self.n_steps_requested,
            n_steps_done=self.n_steps_done,
            sample_every=self.sample_every,
            n_frames=self.n_frames,
            stopped_early=self.stopped_early,
            reason=self.reason,
            frames_path=str(self.frames_path) if self.frames_path else None,
            wall_time_s=round(self.wall_time_s, 2),
            notes=list(self.notes),
        )


def default_sample_every(steps: int) -> int:
    """Sample interval that gives about ``FRAMES_PER_JOB`` frames per trajectory."""
    return max(1, int(steps) // FRAMES_PER_JOB)


def is_molecule(atoms: Atoms) -> bool:
    return not bool(np.any(atoms.pbc))


def prepare_start(atoms: Atoms, supercell_atoms: int) -> Atoms:
    """A clean copy to run: periodic cells grown to about ``supercell_atoms`` atoms along their periodic
    axes; a molecule without a cell gets a box of vacuum (still ``pbc`` False) for surrogates that need one."""
    clean = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    pbc = np.asarray(clean.pbc, dtype=bool)
    if pbc.all():
        return supercell_for(clean, supercell_atoms)
    if not pbc.any():
        lengths = clean.cell.lengths()
        if clean.cell.rank < 3 or np.any(lengths < 1e-6):
            clean.center(vacuum=MOLECULE_VACUUM)
        return clean
    # Partly periodic (slab, wire): repeat along the periodic axes only.
    lengths = clean.cell.lengths()
    n_periodic = int(pbc.sum())
    scale = max(1.0, (supercell_atoms / len(clean)) ** (1 / n_periodic))
    mean = float(np.exp(np.mean(np.log(lengths[pbc]))))
    reps = [max(1, int(round(scale * mean / length))) if periodic else 1 for length, periodic in zip(lengths, pbc, strict=False)]
    return make_supercell(clean, np.diag(reps))


def initial_velocities(atoms: Atoms, temperature_K: float, rng: np.random.Generator) -> None:
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng, force_temp=len(atoms) > 1)
    if len(atoms) > 1:
        Stationary(atoms)
    if is_molecule(atoms) and len(atoms) > 2:
        moments = atoms.get_moments_of_inertia()
        if np.all(moments > 1e-8):  # a linear molecule has a zero moment; ZeroRotation would divide by it
            ZeroRotation(atoms)


def make_dynamics(
    atoms: Atoms,
    ensemble: str,
    temperature_K: float,
    pressure_gpa: float,
    timestep_fs: float,
    friction_per_fs: float,
    tdamp_steps: float,
    pdamp_steps: float,
    rng: np.random.Generator,
) -> MolecularDynamics:
    """The thermostat (Langevin) or barostat (MTK) of one run. A non-periodic system (a molecule, a cluster) keeps its
    centre of mass fixed by a ``FixCom`` constraint instead of Langevin's ``fixcm``: on a 3-atom water molecule
    ``fixcm`` thermostats to about 2.7 x the target temperature (800 K for 300 K; with ``FixCom``: 240 K, the target
    within the fluctuations of 6 degrees of freedom), as ASE's own warning says it can for small systems."""
    dt = timestep_fs * units.fs
    if ensemble == "nvt":
        periodic = bool(np.any(atoms.pbc))
        if not periodic and not any(isinstance(c, FixCom) for c in atoms.constraints):
            atoms.set_constraint([*atoms.constraints, FixCom()])
        friction = friction_per_fs / units.fs
        return Langevin(atoms, dt, temperature_K=temperature_K, friction=friction, fixcm=periodic, rng=rng)
    pressure_au = pressure_gpa * units.GPa
    tdamp = tdamp_steps * dt
    pdamp = pdamp_steps * dt
    if np.all(atoms.pbc):
        return MTKNPT(atoms, dt, temperature_K=temperature_K, pressure_au=pressure_au, tdamp=tdamp, pdamp=pdamp)
    pbc = atoms.pbc
    mask = (bool(pbc[0]), bool(pbc[1]), bool(pbc[2]))
    return MaskedMTKNPT(atoms, dt, mask=mask, temperature_K=temperature_K, pressure_au=pressure_au, tdamp=tdamp, pdamp=pdamp)


def _frame(atoms: Atoms, info: dict[str, Any]) -> Atoms:
    """A plain copy with the surrogate's results as a SinglePointCalculator and the sampling metadata."""
    frame = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    if frame.pbc.any():
        frame.wrap()
    results: dict[str, Any] = {
        "energy": float(atoms.get_potential_energy()),
        "forces": np.array(atoms.get_forces()),
    }
    stress = atoms.calc.results.get("stress") if atoms.calc is not None else None
    if stress is not None and np.all(atoms.pbc):
        results["stress"] = np.array(stress)
    frame.calc = SinglePointCalculator(frame, **results)
    frame.info.update(info)
    return frame


def explore_md(
    atoms: Atoms,
    calculator: Calculator,
    *,
    temperature_K: float,
    ensemble: str = "nvt",
    steps: int = 2000,
    timestep_fs: float = 1.0,
    sample_every: int | None = None,
    supercell_atoms: int = 64,
    pressure_gpa: float = 0.0,
    seed: int = 0,
    start_id: str | None = None,
    output: str | Path | None = None,
    watchdog: Watchdog | None = None,
    friction_per_fs: float = 0.01,
    tdamp_steps: float = 100.0,
    pdamp_steps: float = 1000.0,
    surrogate_name: str | None = None,
    progress: bool = False,
    logger: logging.Logger | None = None,
) -> ExploreResult:
    """Run one exploration trajectory from ``atoms`` with ``calculator`` and sample it.

    Frames are taken every ``sample_every`` steps (default: about ``FRAMES_PER_JOB`` frames), never at
    step 0 (the start structure is already in the data set), and written to ``output`` (``.extxyz.gz``)
    when given, even when the watchdog stopped the run early. Each frame carries the surrogate energy,
    forces (and stress for periodic cells) and ``info``: origin='explore', temperature (target, K),
    kinetic_temperature (K), ensemble, pressure_gpa (NPT), step, time_fs, start_structure_id, surrogate.
    """
    log = logger or _log
    began = time.perf_counter()
    if ensemble not in ENSEMBLES:
        raise ValueError(f"explore: unknown ensemble '{ensemble}'; use one of {', '.join(ENSEMBLES)}")
    if not temperature_K > 0:
        raise ValueError(f"explore: temperature must be above 0 K, got {temperature_K}")
    if steps < 1:
        raise ValueError(f"explore: steps must be at least 1, got {steps}")
    every = int(sample_every) if sample_every else default_sample_every(steps)
    if every < 1:
        raise ValueError(f"explore: sample_every must be at least 1, got {sample_every}")
    dog = watchdog or Watchdog()
    start_id = start_id or str(atoms.info.get("structure_id", "unknown"))
    notes: list[str] = []

    work = prepare_start(atoms, supercell_atoms)
    ensemble_used = ensemble
    if ensemble == "npt" and is_molecule(work):
        ensemble_used = "nvt"
        notes.append("a molecule has no cell: npt was run as nvt")
        log.info("start %s is a molecule (pbc all False): running NVT instead of NPT", start_id)
    pressure = float(pressure_gpa) if ensemble_used == "npt" else None

    def result(n_done: int, reason: str | None, frames: list[Atoms]) -> ExploreResult:
        path = write_frames(output, frames) if output is not None else None
        return ExploreResult(
            start_id=start_id,
            temperature_K=float(temperature_K),
            ensemble=ensemble_used,
            pressure_gpa=pressure,
            n_atoms=len(work),
            n_steps_requested=int(steps),
            n_steps_done=n_done,
            sample_every=every,
            stopped_early=reason is not None,
            reason=reason,
            frames_path=path,
            wall_time_s=time.perf_counter() - began,
            notes=notes,
            frames=frames,
        )

    if len(work) == 1 and is_molecule(work):
        notes.append("an isolated atom: nothing to explore")
        return result(0, None, [])

    velocity_rng, thermostat_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(2))
    work.calc = calculator
    initial_velocities(work, float(temperature_K), velocity_rng)
    dyn = make_dynamics(
        work,
        ensemble_used,
        float(temperature_K),
        float(pressure_gpa),
        float(timestep_fs),
        friction_per_fs,
        tdamp_steps,
        pdamp_steps,
        thermostat_rng,
    )
    base_info: dict[str, Any] = {
        "origin": ORIGIN,
        "temperature": float(temperature_K),
        "ensemble": ensemble_used,
        "start_structure_id": start_id,
    }
    if pressure is not None:
        base_info["pressure_gpa"] = pressure
    if surrogate_name:
        base_info["surrogate"] = surrogate_name
    log.info(
        "exploring %s: %d atoms, %s at %g K%s, %d steps of %g fs, a frame every %d steps",
        start_id,
        len(work),
        ensemble_used.upper(),
        temperature_K,
        f" and {pressure:g} GPa" if pressure is not None else "",
        steps,
        timestep_fs,
        every,
    )

    frames: list[Atoms] = []
    previous: float | None = None
    reason: str | None = None
    bar = _Progress(progress, f"{start_id[:8]} {ensemble_used} {temperature_K:g} K", steps)
    try:
        for _ in dyn.irun(steps):
            step = int(dyn.nsteps)
            bar.update(step)
            if step % every and step != 0:
                continue
            reason = dog.check(work, previous, float(temperature_K))
            if reason is not None:
                reason = f"step {step}: {reason}" if step else f"start structure: {reason}"
                break
            previous = float(work.get_potential_energy()) / len(work)
            if step > 0:
                info = dict(
                    base_info, step=step, time_fs=step * float(timestep_fs), kinetic_temperature=float(work.get_temperature())
                )
                frames.append(_frame(work, info))
    except Exception as error:  # the surrogate or the integrator gave up: keep what came before
        reason = f"step {int(dyn.nsteps) + 1}: the surrogate or the integrator failed ({type(error).__name__}: {error})"
    finally:
        bar.close()
    n_done = int(dyn.nsteps)
    if reason is not None:
        log.warning("stopped %s after %d of %d steps, keeping %d frames: %s", start_id, n_done, steps, len(frames), reason)
    else:
        log.info("finished %s: %d steps, %d frames", start_id, n_done, len(frames))
    return result(n_done, reason, frames)


class _Progress:
    """A ``rich`` progress bar when asked for and available; otherwise nothing."""

    def __init__(self, enabled: bool, description: str, total: int) -> None:
        self._bar: Any = None
        if not enabled:
            return
        try:
            from rich.progress import Progress
        except ImportError:  # rich is optional here
            return
        self._bar = Progress(transient=True)
        self._task = self._bar.add_task(description, total=total)
        self._bar.start()

    def update(self, step: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=step)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
