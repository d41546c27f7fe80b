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

if FULL.structures is None:
    sys.exit(
        "mlip-pipe: structures: no structure file given; set 'structures: path/to/file.extxyz' "
        "(automatic structure generation from the composition is not available yet)"
    )
try:
    USER_IDS = structure_ids_in_file(FULL.structures, FULL.elements)
except UserInputError as error:
    sys.exit(f"mlip-pipe: {error}")

write_exec_config(FULL, "results/exec_config_dump.yaml")
VERSION = mlip_autopipec.__version__


wildcard_constraints:
    iteration=r"\d+",
    sid=ID_PATTERN,


def section(name):
    """One config section as a plain dict: Snakemake tracks plain values (not pydantic objects) for reruns."""
    return getattr(FULL, name).model_dump(mode="json")


def selected_ids(iteration):
    """Structure ids to label in ``iteration``."""
    return USER_IDS if int(iteration) == 0 else []


def ingest_inputs(wildcards):
    """The selected structures and label records one iteration's ingest job gathers."""
    ids = selected_ids(wildcards.iteration)
    return {
        "selected": expand("results/iter_{iteration}/selected/{sid}.extxyz", iteration=wildcards.iteration, sid=ids),
        "labels": expand("results/iter_{iteration}/labels/{sid}.json", iteration=wildcards.iteration, sid=ids),
    }
