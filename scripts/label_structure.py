"""Snakemake script of rule `label`: one structure through the labelling engine (or the label cache) to a label record."""

import signal
import sys

import ase.io

from mlip_autopipec.config.models import DFTConfig, LabelConfig
from mlip_autopipec.config.rule_params import declared_section
from mlip_autopipec.dft.labeller import label_structure
from mlip_autopipec.errors import EnvironmentFailure
from mlip_autopipec.joblog import job_logger

snakemake = globals()["snakemake"]
log = job_logger("label", snakemake.log[0])
# SIGTERM (Snakemake stopping, scancel) becomes SystemExit, so the runner kills the DFT program on the way out
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
atoms = ase.io.read(snakemake.input.structure)
try:
    record = label_structure(
        atoms,
        declared_section(DFTConfig, snakemake.params.dft, snakemake.rule, "dft", snakemake.config),
        declared_section(LabelConfig, snakemake.params.label, snakemake.rule, "label", snakemake.config),
        workdir=snakemake.params.workdir,
        iteration=int(snakemake.wildcards.iteration),
        ntasks=int(snakemake.resources.get("tasks", snakemake.threads)),
    )
except EnvironmentFailure as error:  # pw.x never started: one line, no label file, so nothing reaches the database
    log.error("%s", error)
    sys.exit(error.exit_code)
for attempt in record.attempts:
    log.info("attempt %d (%s): %s %s [%.1f s]", attempt.number, attempt.rung, attempt.status, attempt.reason, attempt.wall_time_s)
log.info("%s %s%s", record.structure_id, record.state, " (from the label cache)" if record.cache_hit else "")
record.write(snakemake.output.label)
