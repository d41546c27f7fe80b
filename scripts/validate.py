"""Snakemake script of rule `validate`: the delivered committee against DFT from the same engine -> validation.json."""

from pathlib import Path

from mlip_autopipec.config.models import DFTConfig, LabelConfig, SystemConfig, ValidationConfig
from mlip_autopipec.config.rule_params import declared_section
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.validation.validate import ValidationSetup, validate_committee

snakemake = globals()["snakemake"]
log = job_logger("validate", snakemake.log[0])
params = snakemake.params
sections = {"system": SystemConfig, "dft": DFTConfig, "label": LabelConfig, "validation": ValidationConfig}
values = {key: params[key] for key in ValidationSetup.model_fields if key not in sections}
values.update(
    {key: declared_section(model, params[key], snakemake.rule, key, snakemake.config) for key, model in sections.items()}
)
setup = ValidationSetup.model_validate(values)
report = validate_committee(
    snakemake.input.manifest,
    setup,
    Path(snakemake.output.report).parent,
    ntasks=int(snakemake.resources.get("tasks", 1)),
    generated=snakemake.input.get("generated") or None,
)
log.info(
    "validation: %d rows, %d fail; %d DFT runs (%.0f s)",
    len(report.rows),
    len(report.failed),
    report.dft_runs,
    report.dft_seconds,
)
