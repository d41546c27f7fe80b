"""Snakemake script of checkpoint `simulate`: uncertain frames -> extraction, de-duplication, budget -> status.json."""

from pathlib import Path

from mlip_autopipec.active_learning.convergence import held_out_history
from mlip_autopipec.active_learning.iteration import committee_cutoff, decide_iteration, read_runs, read_uncertain_frames
from mlip_autopipec.config.models import ActiveLearningConfig
from mlip_autopipec.config.rule_params import declared_section
from mlip_autopipec.data.records import Threshold, ValidationReport
from mlip_autopipec.data.structure_files import fan_out
from mlip_autopipec.joblog import job_logger

snakemake = globals()["snakemake"]
log = job_logger("simulate", snakemake.log[0])
params = snakemake.params
status, chosen = decide_iteration(
    int(snakemake.wildcards.iteration),
    read_uncertain_frames(snakemake.input.frames),
    read_runs(snakemake.input.summaries),
    Threshold.read(snakemake.input.threshold),
    committee_cutoff(snakemake.input.manifest),
    declared_section(ActiveLearningConfig, params.active_learning, snakemake.rule, "active_learning", snakemake.config),
    elements=params.elements,
    labels_so_far=int(params.labels_so_far),
    dft_budget=int(params.dft_budget),
    per_iteration=int(params.per_iteration),
    held_out_history=held_out_history(snakemake.input.metrics),
    validation=ValidationReport.read(snakemake.input.validation[0]) if snakemake.input.validation else None,
)
fan_out(chosen, snakemake.output.folder, origin="active_learning")
Path(snakemake.output.folder).mkdir(parents=True, exist_ok=True)
status.write(snakemake.output.status)
log.info("iteration %d: %s (%s)", status.iteration, status.status, status.reason)
