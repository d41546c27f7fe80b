"""Snakemake script of rule `label`: one structure through the labelling engine (or the label cache) to a label record."""

import signal
import sys

from mlip_autopipec.config.models import DFTConfig, LabelConfig
from mlip_autopipec.config.rule_params import declared_section
from mlip_autopipec.data.structure_files import read_run_structure
from mlip_autopipec.dft.labeller import label_structure
from mlip_autopipec.errors import UserInputError
from mlip_autopipec.joblog import job_logger

snakemake = globals()["snakemake"]
log = job_logger("label", snakemake.log[0])
# SIGTERM (Snakemake stopping, scancel) becomes SystemExit, so the runner kills the DFT program on the way out
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
try:
    atoms = read_run_structure(snakemake.input.structure)  # a damaged file: one line naming it and the fix
    record = label_structure(
        atoms,
        declared_section(DFTConfig, snakemake.params.dft, snakemake.rule, "dft", snakemake.config),
        declared_section(LabelConfig, snakemake.params.label, snakemake.rule, "label", snakemake.config),
        workdir=snakemake.params.workdir,
        iteration=int(snakemake.wildcards.iteration),
        ntasks=int(snakemake.resources.get("tasks", snakemake.threads)),
    )
    for attempt in record.attempts:
        log.info(
            "attempt %d (%s): %s %s [%.1f s]", attempt.number, attempt.rung, attempt.status, attempt.reason, attempt.wall_time_s
        )
    log.info("%s %s%s", record.structure_id, record.state, " (from the label cache)" if record.cache_hit else "")
    record.write(snakemake.output.label)
except UserInputError as error:  # pw.x never started, a full disk, a damaged input: one line, no label file
    log.error("%s", error)
    sys.exit(error.exit_code)
