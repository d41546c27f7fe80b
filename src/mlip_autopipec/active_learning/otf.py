"""On-the-fly MD with the committee: watch its uncertainty, hand back what it does not know.

Every ``check_every`` steps the committee's force spread (``max_force_std``) is compared with two trust
levels (``trust_levels``): between them the configuration is collected for labelling; above the upper one it
is unphysical for this committee and is not labelled, the last trusted frame before it is collected instead
(once). Either way the trajectory goes back to the last trusted frame (positions, momenta and cell), so
exploration goes on from where the model is still right, until a budget of collected structures is used up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator

from mlip_autopipec.data.records import OtfRun
from mlip_autopipec.exploration.explore import Watchdog, initial_velocities, is_molecule, make_dynamics, prepare_start

UNCERTAINTY_KEY = "max_force_std"


@dataclass
class OtfResult:
    """What one on-the-fly trajectory saw."""

    temperature_K: float
    ensemble: str
    steps_done: int
    checks: int
    uncertain_checks: int
    uncertain: list[Atoms] = field(default_factory=list)
    max_uncertainty: float = 0.0
    unphysical_checks: int = 0
    spreads: list[float] = field(default_factory=list)  # every check's spread, for the report's histogram
    stopped_reason: str | None = None
    wall_time_s: float = 0.0

    @property
    def uncertain_fraction(self) -> float:
        return self.uncertain_checks / self.checks if self.checks else 1.0

    def summary(self) -> OtfRun:
        """The run's record in ``simulate/*.json`` (no frames)."""
        return OtfRun(
            temperature_K=self.temperature_K,
            ensemble=self.ensemble,
            steps_done=self.steps_done,
            checks=self.checks,
            uncertain_checks=self.uncertain_checks,
            uncertain_fraction=self.uncertain_fraction,
            collected=len(self.uncertain),
            max_uncertainty=self.max_uncertainty,
            unphysical_checks=self.unphysical_checks,
            spreads=[round(s, 6) for s in self.spreads if np.isfinite(s)],
            stopped_reason=self.stopped_reason,
            wall_time_s=round(self.wall_time_s, 2),
        )


def _snapshot(atoms: Atoms) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return atoms.get_positions().copy(), atoms.get_momenta().copy(), atoms.cell.array.copy()


def _restore(atoms: Atoms, state: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    positions, momenta, cell = state
    atoms.set_cell(cell, scale_atoms=False)
    atoms.set_positions(positions)
    atoms.set_momenta(momenta)


def _collected(atoms: Atoms, uncertainty: float, info: dict[str, Any]) -> Atoms:
    frame = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    frame.info.update(info, uncertainty=float(uncertainty), origin="active_learning")
    results = atoms.calc.results
    if "force_std" in results:
        frame.arrays["force_std"] = np.asarray(results["force_std"], dtype=float)
    frame.calc = SinglePointCalculator(frame, energy=float(results["energy"]), forces=np.asarray(results["forces"]))
    return frame


def otf_md(
    atoms: Atoms,
    committee: Calculator,
    threshold: float,
    *,
    temperature_K: float,
    ensemble: str = "nvt",
    steps: int = 1000,
    timestep_fs: float = 1.0,
    check_every: int = 10,
    max_uncertain: int = 10,
    pressure_gpa: float = 0.0,
    supercell_atoms: int = 64,
    seed: int = 0,
    watchdog: Watchdog | None = None,
    upper: float | None = None,
) -> OtfResult:
    """Run committee MD from ``atoms``; collect up to ``max_uncertain`` configurations above ``threshold`` (and, for
    a check above ``upper``, the last trusted frame before it instead of the check itself)."""
    began = time.perf_counter()
    work = prepare_start(atoms, supercell_atoms)
    used = "nvt" if is_molecule(work) else ensemble
    velocity_rng, thermostat_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(2))
    work.calc = committee
    initial_velocities(work, float(temperature_K), velocity_rng)
    dyn = make_dynamics(
        work, used, float(temperature_K), float(pressure_gpa), float(timestep_fs), 0.01, 100.0, 1000.0, thermostat_rng
    )
    dog = watchdog or Watchdog()
    result = OtfResult(float(temperature_K), used, 0, 0, 0)
    trusted = _snapshot(work)
    trusted_frame: Atoms | None = None  # the last trusted check, labelled when the next one is unphysical
    previous: float | None = None
    done = 0
    while done < steps:
        chunk = min(check_every, steps - done)
        try:
            dyn.run(chunk)
        except Exception as error:  # the model drove atoms somewhere it cannot evaluate
            result.stopped_reason = f"step {done + chunk}: MD failed ({type(error).__name__}: {error})"
            break
        done += chunk
        work.get_forces()
        uncertainty = float(committee.results.get(UNCERTAINTY_KEY, np.inf))
        result.checks += 1
        result.max_uncertainty = max(result.max_uncertainty, uncertainty)
        result.spreads.append(uncertainty)
        broken = dog.check(work, previous, float(temperature_K))
        if uncertainty > threshold or broken is not None:
            result.uncertain_checks += 1
            info = {"step": done, "temperature": float(temperature_K), "ensemble": used, "watchdog": broken or ""}
            if broken is None and upper is not None and uncertainty > upper:
                result.unphysical_checks += 1
                if trusted_frame is not None:  # each trusted frame once: the next unphysical check restarts from it too
                    result.uncertain.append(trusted_frame)
                    trusted_frame = None
            else:
                result.uncertain.append(_collected(work, uncertainty, info))
            _restore(work, trusted)
            previous = None
            if len(result.uncertain) >= max_uncertain:
                result.stopped_reason = f"step {done}: budget of {max_uncertain} uncertain structures used"
                break
            continue
        trusted = _snapshot(work)
        if upper is not None:  # kept only when an unphysical check could need it
            trusted_frame = _collected(
                work,
                uncertainty,
                {
                    "step": done,
                    "temperature": float(temperature_K),
                    "ensemble": used,
                    "watchdog": "",
                    "trust": "last trusted before unphysical",
                },
            )
        previous = float(committee.results["energy"]) / len(work)
    result.steps_done = done
    result.wall_time_s = time.perf_counter() - began
    return result
