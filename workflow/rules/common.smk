# Helpers shared by every rules file: the expanded config, per-rule params, wildcard constraints.
import sys
from pathlib import Path

import mlip_autopipec
from mlip_autopipec.config.expander import expand_config, write_exec_config
from mlip_autopipec.data.ids import ID_PATTERN
from mlip_autopipec.data.structure_files import structure_ids_in_file
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


def explored_frames():
    """Every exploration trajectory of iteration 0 (empty when exploration is off)."""
    if not FULL.explore.enabled:
        return []
    return expand(
        "results/iter_0/explore/start{start}_{ensemble}_{temperature}K.extxyz.gz",
        start=range(FULL.explore.starts),
        ensemble=FULL.explore.ensembles,
        temperature=[f"{t:g}" for t in FULL.explore.temperatures],
    )


def section(name):
    """One config section as a plain dict: Snakemake tracks plain values (not pydantic objects) for reruns."""
    return getattr(FULL, name).model_dump(mode="json")


def selected_ids(iteration):
    """Structure ids chosen by the select checkpoint of ``iteration`` (raises until it has run)."""
    if int(iteration) == 0 and not FULL.generate.enabled:
        return []
    folder = checkpoints.select.get(iteration=iteration).output.folder
    return sorted(glob_wildcards(f"{folder}/{{sid,{ID_PATTERN}}}.extxyz").sid)


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
    user = USER_IDS if iteration == 0 else []
    chosen = selected_ids(iteration)
    ids = sorted(set(user) | set(chosen))
    inputs = {
        "selected": [structure_path(iteration, sid) for sid in ids],
        "labels": expand("results/iter_{iteration}/labels/{sid}.json", iteration=iteration, sid=ids),
    }
    if iteration == 0 and FULL.generate.enabled:
        inputs["generated"] = "results/iter_0/generated.extxyz"
    return inputs
