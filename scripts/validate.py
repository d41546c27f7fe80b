"""Snakemake script of rule `validate`: the delivered committee against DFT from the same engine -> validation.json."""

from pathlib import Path

from mlip_autopipec.joblog import job_logger
from mlip_autopipec.validation.validate import ValidationSetup, validate_committee

snakemake = globals()["snakemake"]
log = job_logger("validate", snakemake.log[0])
params = snakemake.params
setup = ValidationSetup.model_validate({key: params[key] for key in ValidationSetup.model_fields})
report = validate_committee(
    snakemake.input.manifest, setup, Path(snakemake.output.report).parent, ntasks=int(snakemake.resources.get("tasks", 1))
)
log.info(
    "validation: %d rows, %d fail; %d DFT runs (%.0f s)",
    len(report.rows),
    len(report.failed),
    report.dft_runs,
    report.dft_seconds,
)
