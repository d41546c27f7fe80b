"""Snakemake script of rule `simulate_md`: committee MD (or kMC) at one temperature and ensemble, collecting uncertain frames.

MACE members run on the run config's `device` (potentials.device.requested_device: not a param, so switching it
reruns nothing); ACE members on the CPU.
"""

from mlip_autopipec.active_learning.committee_runs import committee_calculator, committee_has_torch_models, run_committee_job
from mlip_autopipec.config.models import ActiveLearningConfig, ExploreConfig
from mlip_autopipec.config.rule_params import declared_section
from mlip_autopipec.data.atomic_io import atomic_write_extxyz
from mlip_autopipec.data.records import Threshold
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.device import job_device, requested_device

snakemake = globals()["snakemake"]
log = job_logger("simulate_md", snakemake.log[0])
device = job_device(
    requested_device(getattr(snakemake, "config", None)),
    log,
    torch_models=committee_has_torch_models(snakemake.input.manifest),
    cpu_why="ACE members (pyace) run on the CPU",
)
summary, collected = run_committee_job(
    list(snakemake.input.starts),
    committee_calculator(snakemake.input.manifest, device),
    Threshold.read(snakemake.input.threshold),
    declared_section(ActiveLearningConfig, snakemake.params.active_learning, snakemake.rule, "active_learning", snakemake.config),
    declared_section(ExploreConfig, snakemake.params.explore, snakemake.rule, "explore", snakemake.config),
    temperature_K=float(snakemake.wildcards.temperature),
    ensemble=snakemake.wildcards.ensemble,
    run_seed=int(snakemake.params.seed),
    iteration=snakemake.wildcards.iteration,
    device=device,
    logger=log,
)
atomic_write_extxyz(snakemake.output.frames, collected)
summary.write(snakemake.output.summary)
