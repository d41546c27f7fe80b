# Helpers shared by every rules file: the expanded config, per-rule params, wildcard constraints.
import json
import sys
from pathlib import Path

import mlip_autopipec
from mlip_autopipec.config.expander import expand_config, write_exec_config
from mlip_autopipec.data.ids import ID_PATTERN
from mlip_autopipec.data.records import IterationStatus
from mlip_autopipec.data.structure_files import structure_ids_in_file
from mlip_autopipec.dft.espresso.pseudopotentials import OFFLINE_FAMILIES
from mlip_autopipec.errors import UserInputError

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


def request(rule, key):
    """One value of the expanded config's `resources` entry for `rule` (or its `default` entry): threads, tasks,
    mem_mb, runtime (minutes) or gpus. Resources are not params, so changing one reruns nothing."""
    entry = getattr(FULL.resources, rule) if rule in type(FULL.resources).model_fields else FULL.resources.default
    return getattr(entry, key)


def mpi_job(rule):
    """The SLURM plugin's MPI marker ('srun') for a rule with several MPI tasks; empty (not an MPI job) for one task,
    which the plugin refuses as an MPI job ("'tasks' must be greater than 1") although pw.x runs fine serially."""
    return "srun" if request(rule, "tasks") > 1 else ""


def section(name):
    """One config section as a plain dict: Snakemake tracks plain values (not pydantic objects) for reruns."""
    return getattr(FULL, name).model_dump(mode="json")


LABEL_KEYS = ('command', 'mpi', 'walltime_s', 'max_attempts', 'cache_dir', 'retry_failed', 'keep_scratch')
"""The `label` keys a DFT job reads (not the ingest stop settings)."""
DFT_KEYS = ('functional', 'pseudo_family', 'pseudo_dir', 'pseudopotentials', 'pseudo_md5', 'ecutwfc', 'ecutrho', 'kpoint_spacing', 'occupations', 'smearing', 'degauss', 'nspin', 'initial_magnetic_moments', 'conv_thr_per_atom', 'mixing_beta', 'electron_maxstep', 'diagonalization')
"""Every `dft` key: each one changes the DFT hash, so each one reruns (from the label cache) what depends on it."""
VALIDATION_KEYS = tuple(
    key
    for key in FULL.validation.model_dump()
    if key not in ("enabled", "every_iteration", "iteration_skips", "why")
)
"""The `validation` keys a validation job reads: the switches that decide whether it runs are not among them."""


def dft_params():
    """Every `dft` key, with an offline family's folder left for the job to find (config.rule_params' strictness
    still sees the key): its absolute path names the virtual environment, and a reinstall must not rerun labels."""
    values = used("dft", *DFT_KEYS)
    if values["pseudo_family"] in OFFLINE_FAMILIES and not (config.get("dft") or {}).get("pseudo_dir"):
        values["pseudo_dir"] = None
    return values


def used(name, *keys):
    """Only these keys of one config section, never its `why` texts: a rule's params are its rerun trigger, so each
    rule passes exactly what its script reads (scripts build the section with config.rule_params.declared_section,
    which refuses any other key)."""
    values = section(name)
    unknown = sorted(set(keys) - set(values))
    if unknown:
        raise ValueError(f"used('{name}', ...): {unknown} are not keys of the '{name}' section")
    return {key: values[key] for key in keys}


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


def decisions():
    """The loop's decisions (each iteration's status.json) up to the first 'converged', else all of them."""
    statuses = []
    for i in range(1, FULL.max_iterations + 1):
        statuses.append(checkpoints.simulate.get(iteration=i).output.status)
        if IterationStatus.read(statuses[-1]).status == "converged":
            break
    return statuses


def final_iteration():
    """The committee to deliver: the one before the first converged simulate, else the last trained."""
    statuses = decisions()
    converged = statuses and IterationStatus.read(statuses[-1]).status == "converged"
    return len(statuses) - 1 if converged else FULL.max_iterations


def final_inputs(wildcards):
    """The delivered committee, and the decisions as inputs: without them a finished checkpoint is in no job's
    inputs, and editing a stopping-rule value would replan nothing."""
    last = final_iteration()
    return {
        "manifest": f"{models(last)}/committee.json",
        "metrics": f"{models(last)}/metrics.json",
        "ingested": [f"results/iter_{k}/ingested.json" for k in range(last + 1)],
        "decisions": decisions(),
    }


def structure_path(iteration, sid):
    """Where a structure to label lives: the user's folder or the select checkpoint's."""
    if int(iteration) == 0 and sid in USER_IDS:
        return f"results/iter_0/user/{sid}.extxyz"
    return f"results/iter_{iteration}/selected/{sid}.extxyz"


def structure_file(wildcards):
    return structure_path(wildcards.iteration, wildcards.sid)


def ranked_crystal_input(wildcards):
    """generated.extxyz when the run generates structures: the validation measures its surrogate-ranked crystal."""
    return "results/iter_0/generated.extxyz" if FULL.generate.enabled else []


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
