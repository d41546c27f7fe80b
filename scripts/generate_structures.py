"""Snakemake script of rule `generate`: starting structures from the composition (Module A)."""

from mlip_autopipec.config.models import GenerateConfig, SystemConfig
from mlip_autopipec.data.atomic_io import atomic_write_extxyz, atomic_write_json
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.surrogate import make_surrogate
from mlip_autopipec.structures.generate import exploration_starts, generate_structures

snakemake = globals()["snakemake"]
log = job_logger("generate", snakemake.log[0])
params = snakemake.params
surrogate_used: list[str] = []


def surrogate():
    calculator, name = make_surrogate(params.surrogate["name"], params.surrogate["model"])
    surrogate_used.append(name)
    log.info("surrogate for relaxations and normal modes: %s", name)
    return calculator


result = generate_structures(
    params.composition,
    int(params.seed),
    SystemConfig.model_validate(params.system),
    GenerateConfig.model_validate(params.generate),
    surrogate,
)
atomic_write_extxyz(snakemake.output.structures, result.frames)
for path, start in zip(snakemake.output.starts, exploration_starts(result.frames, len(snakemake.output.starts))):
    atomic_write_extxyz(path, start)
summary = {
    "structures": len(result.frames),
    "by_origin": result.counts,
    "dropped_min_distance": result.dropped,
    "duplicates": result.duplicates,
    "wall_time_s": round(result.wall_time_s, 2),
    "surrogate": surrogate_used[0] if surrogate_used else None,
}
atomic_write_json(snakemake.output.summary, summary)
log.info("generated %s", summary)
