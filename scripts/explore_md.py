"""Snakemake script of rule `explore`: one surrogate MD trajectory per (start structure, temperature, ensemble).

input.structure: the start (first frame); wildcards.temperature (K; "300", "300K", "T300"), ensemble (nvt|npt), and
optionally sid (start id) and pressure (GPa; else npt runs every explore.pressures); params.explore (ExploreConfig),
params.seed, optionally params.surrogate {"name", "model"}, sample_every, watchdog (Watchdog fields); the run config's
`device` (potentials.device.requested_device: not a param, so switching it reruns nothing); output.frames (gzip extxyz), optionally output.summary (ExploreSummary JSON). See exploration.job.run_exploration_job.
"""

import ase.io

from mlip_autopipec.config.models import ExploreConfig
from mlip_autopipec.config.rule_params import declared_section
from mlip_autopipec.data.trajectories import write_frames
from mlip_autopipec.exploration.job import run_exploration_job
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.device import job_device, requested_device

snakemake = globals()["snakemake"]
log = job_logger("explore", snakemake.log[0])
params, wildcards = snakemake.params, snakemake.wildcards
device = job_device(requested_device(getattr(snakemake, "config", None)), log)
frames, summary = run_exploration_job(
    ase.io.read(snakemake.input.structure, index=0),
    declared_section(ExploreConfig, params.explore, snakemake.rule, "explore", snakemake.config),
    temperature=wildcards.temperature,
    ensemble=wildcards.ensemble,
    run_seed=int(params.seed),
    sid=wildcards.get("sid"),
    pressure=wildcards.get("pressure"),
    surrogate=params.get("surrogate"),
    sample_every=params.get("sample_every"),
    watchdog=params.get("watchdog"),
    device=device,
    logger=log,
)
write_frames(snakemake.output.frames, frames)
if snakemake.output.get("summary"):
    summary.write(snakemake.output.summary)
log.info("wrote %d frames to %s", len(frames), snakemake.output.frames)
