"""Snakemake script of rule `train_member`: one committee member (ACE or MACE, as the plan says).

MACE trains on the run config's `device` (potentials.device.requested_device: not a param, so switching it reruns
nothing); ACE (pacemaker) always on the CPU.
"""

from pathlib import Path

from mlip_autopipec.data.records import CommitteePlan
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.committee_plan import train_member
from mlip_autopipec.potentials.device import job_device, requested_device

snakemake = globals()["snakemake"]
log = job_logger("train_member", snakemake.log[0])
backend = CommitteePlan.read(snakemake.input.plan).backend
device = job_device(
    requested_device(getattr(snakemake, "config", None)),
    log,
    torch_models=backend == "mace",
    cpu_why="ACE members (pacemaker) train on the CPU",
)
result = train_member(
    Path(snakemake.input.plan).parent, int(snakemake.wildcards.member), threads=int(snakemake.threads), device=device
)
log.info(
    "member %s (%s): %d structures, seed %d, %.1f s",
    snakemake.wildcards.member,
    backend,
    result.n_structures,
    result.seed,
    result.wall_time_s,
)
