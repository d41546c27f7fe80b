"""Snakemake script of rule `simulate_md`: committee MD at one temperature and ensemble, collecting uncertain frames."""

import json
from pathlib import Path

import ase.io

from mlip_autopipec.config.models import ExploreConfig
from mlip_autopipec.data.atomic_io import atomic_write_extxyz, atomic_write_json
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.committee import CommitteeCalculator
from mlip_autopipec.simulation.explore import job_seed
from mlip_autopipec.simulation.otf import otf_md
from mlip_autopipec.simulation.otf_kmc import otf_kmc

snakemake = globals()["snakemake"]
log = job_logger("simulate_md", snakemake.log[0])
explore = ExploreConfig.model_validate(snakemake.params.explore)
al = snakemake.params.active_learning
threshold = json.loads(Path(snakemake.input.threshold).read_text())["value"]
committee = CommitteeCalculator(snakemake.input.manifest, extrapolation_grade=False)
temperature = float(snakemake.wildcards.temperature)
ensemble = snakemake.wildcards.ensemble
summaries, collected = [], []
for path in snakemake.input.starts:
    start = ase.io.read(path)
    seed = job_seed(int(snakemake.params.seed), path, temperature, ensemble, snakemake.wildcards.iteration)
    if al["engine"] == "kmc":
        result = otf_kmc(
            start, committee, threshold, temperature_K=temperature, steps=int(al["kmc_steps"]), searches=int(al["kmc_searches"]),
            max_uncertain=int(al["max_uncertain_per_run"]), supercell_atoms=explore.supercell_atoms, seed=seed,
        )
    else:
        result = otf_md(
            start, committee, threshold,
            temperature_K=temperature, ensemble=ensemble, steps=int(al["md_steps"]), timestep_fs=explore.timestep_fs,
            check_every=int(al["check_every"]), max_uncertain=int(al["max_uncertain_per_run"]),
            pressure_gpa=0.0, supercell_atoms=explore.supercell_atoms, seed=seed,
        )
    summaries.append(result.summary())
    collected.extend(result.uncertain)
    log.info("%s: %s", path, result.summary())
atomic_write_extxyz(snakemake.output.frames, collected)
atomic_write_json(snakemake.output.summary, {"threshold": threshold, "runs": summaries})
