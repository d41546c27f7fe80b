"""One ``simulate_md`` job: every start structure through the chosen engine (committee MD or adaptive kMC).

Why a job function: the engine choice, the per-start seed and the job summary are the loop's behaviour,
so they live here where tests call them, and the Snakemake script only reads inputs and writes outputs.
Both engines evaluate the same committee calculator, so the config's ``device`` places MACE members for MD and
kMC alike; ACE members (pyace) have no GPU path and run on the CPU, which the summary's ``device`` says.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import ase.io
from ase import Atoms
from ase.calculators.calculator import Calculator

from mlip_autopipec.active_learning.otf import OtfResult, otf_md
from mlip_autopipec.active_learning.otf_kmc import otf_kmc
from mlip_autopipec.config.models import ActiveLearningConfig, ExploreConfig
from mlip_autopipec.data.records import OtfJobSummary, Threshold
from mlip_autopipec.data.seeds import job_seed
from mlip_autopipec.potentials.committee import CommitteeCalculator
from mlip_autopipec.potentials.committee_plan import load_committee
from mlip_autopipec.potentials.device import DeviceChoice

_log = logging.getLogger(__name__)


def committee_calculator(manifest_path: str | Path, device: DeviceChoice | None = None) -> Calculator:
    """The committee calculator of a ``committee.json`` (spread only, no extrapolation grade), its MACE members on
    ``device`` (default the CPU). The one place this stage touches the training stage's committee."""
    return CommitteeCalculator(manifest_path, extrapolation_grade=False, device=device.resolved if device else "cpu")


def committee_has_torch_models(manifest_path: str | Path) -> bool:
    """True when the committee's members are torch models (MACE) that ``device`` can place; ACE members run on the CPU."""
    return load_committee(manifest_path).manifest.backend == "mace"


def trust_bounds(threshold: Threshold | float) -> tuple[float, float | None]:
    """(lower, upper) trust levels of a ``threshold.json`` (a bare number: a lower level only)."""
    if isinstance(threshold, Threshold):
        return float(threshold.value), threshold.upper
    return float(threshold), None


def run_otf(
    start: Atoms,
    committee: Calculator,
    threshold: Threshold | float,
    settings: ActiveLearningConfig,
    explore: ExploreConfig,
    *,
    temperature_K: float,
    ensemble: str,
    seed: int,
) -> OtfResult:
    """One on-the-fly run from ``start`` with the engine ``settings.engine`` names ('md' or 'kmc'). kMC uses the
    lower trust level only: its saddles are where a committee is least sure, and each is worth a label."""
    lower, upper = trust_bounds(threshold)
    if settings.engine == "kmc":
        return otf_kmc(
            start,
            committee,
            lower,
            temperature_K=temperature_K,
            steps=settings.kmc_steps,
            searches=settings.kmc_searches,
            max_uncertain=settings.max_uncertain_per_run,
            supercell_atoms=explore.supercell_atoms,
            seed=seed,
        )
    return otf_md(
        start,
        committee,
        lower,
        temperature_K=temperature_K,
        ensemble=ensemble,
        steps=settings.md_steps,
        timestep_fs=explore.timestep_fs,
        check_every=settings.check_every,
        max_uncertain=settings.max_uncertain_per_run,
        pressure_gpa=0.0,
        supercell_atoms=explore.supercell_atoms,
        seed=seed,
        upper=upper,
    )


def _read_start(path: str) -> Atoms:
    start = ase.io.read(path)  # the last frame, as every start file holds one
    if not isinstance(start, Atoms):
        raise ValueError(f"{path}: expected one start structure")
    return start


def run_committee_job(
    starts: Sequence[str],
    committee: Calculator,
    threshold: Threshold | float,
    settings: ActiveLearningConfig,
    explore: ExploreConfig,
    *,
    temperature_K: float,
    ensemble: str,
    run_seed: int,
    iteration: int | str,
    device: DeviceChoice | None = None,
    logger: logging.Logger | None = None,
) -> tuple[OtfJobSummary, list[Atoms]]:
    """Run every start file (first frame) at one temperature and ensemble; return the job summary and the
    uncertain configurations of all runs, in start order.

    Each run's seed comes from the run seed and the job's identity (start path as given, temperature,
    ensemble, iteration), so a rerun of the same job repeats its trajectories whatever the schedule.
    ``device``: where ``committee``'s members run, recorded in the summary.
    """
    log = logger or _log
    runs, collected = [], []
    for path in starts:
        seed = job_seed(int(run_seed), path, temperature_K, ensemble, iteration)
        result = run_otf(
            _read_start(path), committee, threshold, settings, explore, temperature_K=temperature_K, ensemble=ensemble, seed=seed
        )
        runs.append(result.summary())
        collected.extend(result.uncertain)
        log.info("%s: %s", path, result.summary().model_dump())
    lower, upper = trust_bounds(threshold)
    return OtfJobSummary(threshold=lower, upper=upper, runs=runs, device=device), collected
