"""Snakemake script of rule `train_plan`: the committee's data split, reference energies, backend and settings."""

import json
from pathlib import Path

from mlip_autopipec.data.labels import LabelRecord
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.ace import choose_ace_settings
from mlip_autopipec.potentials.committee import plan_committee

snakemake = globals()["snakemake"]
log = job_logger("train_plan", snakemake.log[0])
records = [LabelRecord.read(p) for p in snakemake.input.labels]
labelled = [r for r in records if r.state == "labelled"]
structures = [r.to_atoms() for r in labelled]
isolated = {r.to_atoms().get_chemical_symbols()[0]: float(r.energy) for r in labelled if r.origin == "isolated_atom" and len(r.numbers) == 1}
train = snakemake.params.train
previous = dict(snakemake.input.items()).get("previous_plan") or []  # the last iteration's plan: its test set stays held out
previous = [previous] if isinstance(previous, str) else list(previous)
settings, _ = choose_ace_settings(len(structures), snakemake.params.elements)
if train.get("optimizer_steps"):
    settings = settings.model_copy(update={"maxiter": int(train["optimizer_steps"])})
plan = plan_committee(
    structures,
    Path(snakemake.output.plan).parent,
    snakemake.params.elements,
    committee_size=int(train["committee_size"]),
    baseline=train["baseline"],
    settings=settings,
    isolated_energies=isolated or None,
    backend=train["backend"],
    mace_epochs=train.get("mace_epochs"),
    mace_options=train.get("mace_options"),
    previous_plan=json.loads(Path(previous[0]).read_text()) if previous else None,
)
log.info("planned %d %s members on %d labelled structures (%d failed labels left out); reference energies %s%s",
         plan["committee_size"], plan["backend"], len(structures), len(records) - len(labelled), plan["reference_energies"],
         f"; {plan['mace']['max_epochs']} epochs ({plan['settings_why']['mace_epochs']})" if "mace" in plan else "")
