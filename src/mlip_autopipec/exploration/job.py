"""One ``explore`` job: a start structure at one temperature and ensemble, every pressure in turn, one summary.

Why a job function: reading the wildcards (temperature spellings, optional pressure), choosing the surrogate
and deriving each trajectory's seed are the stage's behaviour; tests call :func:`run_exploration_job` and the
Snakemake script only reads inputs and writes outputs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

from ase import Atoms

from mlip_autopipec.config.models import ExploreConfig
from mlip_autopipec.data.ids import id_digest, structure_id
from mlip_autopipec.data.records import ExploreSummary
from mlip_autopipec.data.seeds import job_seed
from mlip_autopipec.exploration.explore import Watchdog, default_sample_every, explore_md
from mlip_autopipec.potentials.device import DeviceChoice, as_choice
from mlip_autopipec.potentials.surrogate import make_surrogate

_log = logging.getLogger(__name__)


def parse_temperature(text: str | float) -> float:
    """A temperature wildcard in K: "300", "300.0", "300K" and "T300" all read as 300."""
    return float(str(text).strip().lstrip("Tt").rstrip("Kk"))


def job_pressures(ensemble: str, pressure: str | float | None, explore: ExploreConfig) -> list[float]:
    """Pressures (GPa) to run: the job's own when it names one, else every configured one for NPT, else 0."""
    if pressure is not None:
        return [float(pressure)]
    if ensemble == "npt":
        return [float(p) for p in explore.pressures]
    return [0.0]


def start_identity(atoms: Atoms, sid: str | None = None) -> str:
    """The start structure's id: the job's own, else the one the file carries, else its content id."""
    return str(sid or atoms.info.get("structure_id") or structure_id(atoms))


def run_exploration_job(
    atoms: Atoms,
    explore: ExploreConfig,
    *,
    temperature: str | float,
    ensemble: str,
    run_seed: int,
    sid: str | None = None,
    pressure: str | float | None = None,
    surrogate: Mapping[str, Any] | None = None,
    sample_every: int | None = None,
    watchdog: Mapping[str, Any] | None = None,
    device: DeviceChoice | str = "auto",
    logger: logging.Logger | None = None,
) -> tuple[list[Atoms], ExploreSummary]:
    """Surrogate MD from ``atoms`` at ``temperature`` (K, wildcard spelling allowed) and each pressure of the job;
    return all sampled frames and the job summary.

    ``surrogate``: ``{"name": ..., "model": ...}``, default ``explore.surrogate`` / ``explore.surrogate_model``;
    ``sample_every``: steps between frames, default about ``FRAMES_PER_JOB`` frames per trajectory;
    ``watchdog``: fields of :class:`Watchdog`; ``device``: where the surrogate runs (a choice, or ``auto``/``cpu``/``cuda``
    to resolve here), recorded in the summary. Each trajectory's seed comes from the run seed and the job's
    identity (start id, temperature, ensemble, pressure). A molecule asked for NPT runs NVT once.
    """
    log = logger or _log
    start_id = start_identity(atoms, sid)
    temperature_K = parse_temperature(temperature)
    ensemble = str(ensemble).lower()
    spec = surrogate or {"name": explore.surrogate, "model": explore.surrogate_model}
    choice = as_choice(device)
    calculator, surrogate_name = make_surrogate(spec["name"], spec.get("model"), choice.resolved)
    log.info("surrogate: %s on %s", surrogate_name, choice.resolved)
    every = int(sample_every or default_sample_every(explore.steps))
    dog = Watchdog(**(watchdog or {}))
    frames: list[Atoms] = []
    runs = []
    for job_pressure in job_pressures(ensemble, pressure, explore):
        result = explore_md(
            atoms,
            calculator,
            temperature_K=temperature_K,
            ensemble=ensemble,
            steps=explore.steps,
            timestep_fs=explore.timestep_fs,
            sample_every=every,
            supercell_atoms=explore.supercell_atoms,
            pressure_gpa=job_pressure,
            seed=job_seed(int(run_seed), id_digest(start_id), temperature_K, ensemble, job_pressure),
            start_id=start_id,
            watchdog=dog,
            surrogate_name=surrogate_name,
            progress=sys.stderr.isatty(),
            logger=log,
        )
        frames.extend(result.frames)
        runs.append(result.summary())
        if result.ensemble != ensemble:  # a molecule: npt ran as nvt, once is enough
            break
    return frames, ExploreSummary(surrogate=surrogate_name, frames=len(frames), runs=runs, device=choice)
