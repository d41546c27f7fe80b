"""Snakemake script of rule `train_member`: one committee member (ACE or MACE, as the plan says)."""

from pathlib import Path

from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.committee import get_backend, load_plan, train_member

snakemake = globals()["snakemake"]
log = job_logger("train_member", snakemake.log[0])
workdir = Path(snakemake.input.plan).parent
result = train_member(workdir, int(snakemake.wildcards.member), threads=int(snakemake.threads))
log.info("member %s (%s): %d structures, seed %d, %.1f s", snakemake.wildcards.member, get_backend(load_plan(workdir)).name,
         result.n_structures, result.seed, result.wall_time_s)
