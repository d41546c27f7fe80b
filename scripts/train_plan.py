"""Snakemake script of rule `train_plan`: the committee's data split, reference energies, backend and settings."""

from pathlib import Path

from mlip_autopipec.config.models import TrainConfig
from mlip_autopipec.config.rule_params import declared_section
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.committee_plan import plan_from_labels
from mlip_autopipec.potentials.stability_probe import ProbeSettings

snakemake = globals()["snakemake"]
log = job_logger("train_plan", snakemake.log[0])
previous = dict(snakemake.input.items()).get("previous_plan") or []  # the last iteration's plan: its test set stays held out
previous = [previous] if isinstance(previous, str) else list(previous)
train = declared_section(TrainConfig, snakemake.params.train, snakemake.rule, "train", snakemake.config)
planned = plan_from_labels(
    snakemake.input.labels,
    Path(snakemake.output.plan).parent,
    snakemake.params.elements,
    train,
    seed=int(snakemake.params.seed),
    previous_plan_file=previous[0] if previous else None,
    probe=ProbeSettings(
        float(snakemake.params.probe_temperature), float(snakemake.params.probe_timestep_fs), seed=int(snakemake.params.seed)
    ),
)
plan = planned.plan
log.info(
    "planned %d %s members on %d labelled structures (%d failed labels left out); reference energies %s; settings: %s",
    plan.committee_size,
    plan.backend,
    planned.n_labelled,
    planned.n_failed,
    plan.reference_energies,
    plan.settings_why,
)
