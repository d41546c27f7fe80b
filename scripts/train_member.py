"""Snakemake script of rule `train_member`: one committee member (ACE or MACE, as the plan says)."""

from pathlib import Path

from mlip_autopipec.data.records import CommitteePlan
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.committee_plan import train_member

snakemake = globals()["snakemake"]
log = job_logger("train_member", snakemake.log[0])
result = train_member(Path(snakemake.input.plan).parent, int(snakemake.wildcards.member), threads=int(snakemake.threads))
log.info(
    "member %s (%s): %d structures, seed %d, %.1f s",
    snakemake.wildcards.member,
    CommitteePlan.read(snakemake.input.plan).backend,
    result.n_structures,
    result.seed,
    result.wall_time_s,
)
