# Helpers shared by every rules file: the expanded config, per-rule params, wildcard constraints.
import json
import sys
from pathlib import Path

import mlip_autopipec
from mlip_autopipec.config.expander import expand_config, write_exec_config
from mlip_autopipec.data.ids import ID_PATTERN
from mlip_autopipec.data.records import IterationStatus
from mlip_autopipec.data.structure_files import structure_ids_in_file
from mlip_autopipec.errors import UserInputError
from mlip_autopipec.potentials.device import slurm_gpus

try:
    FULL = expand_config(config)
except UserInputError as error:
    sys.exit(f"mlip-pipe: {error}")

try:
    USER_IDS = structure_ids_in_file(FULL.structures, FULL.elements) if FULL.structures else []
except UserInputError as error:
    sys.exit(f"mlip-pipe: {error}")
if not USER_IDS and not FULL.generate.enabled:
    sys.exit("mlip-pipe: generate.enabled: is false and no 'structures:' file is given; nothing to label, enable one of them")

write_exec_config(FULL, "results/exec_config_dump.yaml")
VERSION = mlip_autopipec.__version__


wildcard_constraints:
    iteration=r"\d+",
    sid=ID_PATTERN,
    start=r"\d+",
    ensemble="nvt|npt",
    temperature=r"[0-9.]+",
    member=r"\d\d",


def explored_frames():
    """Every exploration trajectory of iteration 0 (empty when exploration is off)."""
    if not (FULL.explore.enabled and FULL.generate.enabled):
        return []
    return expand(
        "results/iter_0/explore/start{start}_{ensemble}_{temperature}K.extxyz.gz",
        start=range(FULL.explore.starts),
        ensemble=FULL.explore.ensembles,
        temperature=[f"{t:g}" for t in FULL.explore.temperatures],
    )


def torch_gpus(torch_models=True):
    """GPUs the job asks the scheduler for: one when its torch models run on `device: cuda`, else none."""
    return slurm_gpus(FULL.device, torch_models)


def section(name):
    """One config section as a plain dict: Snakemake tracks plain values (not pydantic objects) for reruns."""
    return getattr(FULL, name).model_dump(mode="json")


def selected_ids(iteration):
    """Structure ids chosen by the checkpoint of ``iteration``: DIRECT `select` (0) or `simulate` (1, 2, ...)."""
    i = int(iteration)
    if i == 0:
        if not FULL.generate.enabled:
            return []
        folder = checkpoints.select.get(iteration=0).output.folder
    else:
        folder = checkpoints.simulate.get(iteration=i).output.folder
    return sorted(glob_wildcards(f"{folder}/{{sid,{ID_PATTERN}}}.extxyz").sid)


def label_ids(iteration):
    i = int(iteration)
    return sorted(set(USER_IDS if i == 0 else []) | set(selected_ids(i)))


def label_files(iteration):
    return expand("results/iter_{i}/labels/{sid}.json", i=int(iteration), sid=label_ids(iteration))


def labels_up_to(wildcards):
    """Every label of iterations 0..iteration: what train(iteration) learns from."""
    return [path for k in range(int(wildcards.iteration) + 1) for path in label_files(k)]


def previous_plan(wildcards):
    """The last iteration's committee plan (its test set stays held out); none in iteration 0."""
    i = int(wildcards.iteration)
    return [] if i == 0 else [f"{models(i - 1)}/plan.json"]


def previous_labels(wildcards):
    return [path for k in range(int(wildcards.iteration)) for path in label_files(k)]


def simulation_starts():
    """Start structures of the committee MD: the exploration starts, or the user's structures."""
    if FULL.generate.enabled:
        return expand("results/iter_0/starts/start_{start}.extxyz", start=range(FULL.explore.starts))
    return [f"results/iter_0/user/{sid}.extxyz" for sid in USER_IDS[: FULL.explore.starts]]


def md_jobs(iteration):
    """One committee-simulation job per ensemble and temperature (kMC: per temperature; its 'ensemble' is nvt)."""
    return expand(
        "results/iter_{i}/simulate/{ensemble}_{temperature}K",
        i=int(iteration),
        ensemble=["nvt"] if FULL.active_learning.engine == "kmc" else FULL.explore.ensembles,
        temperature=[f"{t:g}" for t in FULL.explore.temperatures],
    )


def models(iteration):
    return f"results/iter_{int(iteration)}/models"


def iteration_validation(iteration):
    """The validation table of one iteration's committee, when the stopping rule reads it (else nothing)."""
    if FULL.validation.enabled and FULL.validation.every_iteration:
        return [f"results/iter_{int(iteration)}/validation/validation.json"]
    return []


def final_iteration():
    """The committee to deliver: the one before the first converged simulate, else the last trained."""
    for i in range(1, FULL.max_iterations + 1):
        if IterationStatus.read(checkpoints.simulate.get(iteration=i).output.status).status == "converged":
            return i - 1
    return FULL.max_iterations


def final_inputs(wildcards):
    last = final_iteration()
    return {
        "manifest": f"{models(last)}/committee.json",
        "metrics": f"{models(last)}/metrics.json",
        "ingested": [f"results/iter_{k}/ingested.json" for k in range(last + 1)],
    }


def structure_path(iteration, sid):
    """Where a structure to label lives: the user's folder or the select checkpoint's."""
    if int(iteration) == 0 and sid in USER_IDS:
        return f"results/iter_0/user/{sid}.extxyz"
    return f"results/iter_{iteration}/selected/{sid}.extxyz"


def structure_file(wildcards):
    return structure_path(wildcards.iteration, wildcards.sid)


def ingest_inputs(wildcards):
    """The selected structures and label records one iteration's ingest job gathers."""
    iteration = int(wildcards.iteration)
    ids = label_ids(iteration)
    inputs = {
        "selected": [structure_path(iteration, sid) for sid in ids],
        "labels": expand("results/iter_{iteration}/labels/{sid}.json", iteration=iteration, sid=ids),
    }
    if iteration == 0 and FULL.generate.enabled:
        inputs["generated"] = "results/iter_0/generated.extxyz"
    if iteration > 0:
        inputs["previous"] = f"results/iter_{iteration - 1}/ingested.json"  # one writer of the database at a time
    return inputs
