"""Snakemake script of rule `generate`: starting structures from the composition (Module A)."""

from mlip_autopipec.config.models import GenerateConfig, SystemConfig
from mlip_autopipec.config.rule_params import declared_section
from mlip_autopipec.data.atomic_io import atomic_write_extxyz
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.structures.generate import OnDemandSurrogate, exploration_starts, generate_structures

snakemake = globals()["snakemake"]
log = job_logger("generate", snakemake.log[0])
params = snakemake.params
surrogate = OnDemandSurrogate(params.surrogate["name"], params.surrogate["model"], log)
result = generate_structures(
    params.composition,
    int(params.seed),
    declared_section(SystemConfig, params.system, snakemake.rule, "system", snakemake.config),
    declared_section(GenerateConfig, params.generate, snakemake.rule, "generate", snakemake.config),
    surrogate,
)
atomic_write_extxyz(snakemake.output.structures, result.frames)
for path, start in zip(snakemake.output.starts, exploration_starts(result.frames, len(snakemake.output.starts)), strict=False):
    atomic_write_extxyz(path, start)
summary = result.summary(surrogate.used)
summary.write(snakemake.output.summary)
log.info("generated %s", summary.model_dump())
