"""Snakemake script of rule `train_member`: one pacemaker (ACE) committee member."""

from pathlib import Path

from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.committee import train_member

snakemake = globals()["snakemake"]
log = job_logger("train_member", snakemake.log[0])
result = train_member(Path(snakemake.input.plan).parent, int(snakemake.wildcards.member))
log.info("member %s: %d functions, %d structures, %.1f s", snakemake.wildcards.member, result.n_functions, result.n_structures, result.wall_time_s)
