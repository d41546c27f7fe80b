"""Snakemake script of rule `ingest`: the single writer of the database index for one iteration."""

import sys
from pathlib import Path

from mlip_autopipec.data.ingest import ingest_iteration
from mlip_autopipec.errors import UserInputError
from mlip_autopipec.joblog import job_logger

snakemake = globals()["snakemake"]
log = job_logger("ingest", snakemake.log[0])
try:
    summary = ingest_iteration(
        snakemake.params.database,
        int(snakemake.wildcards.iteration),
        [Path(p) for p in snakemake.input.selected],
        [Path(p) for p in snakemake.input.labels],
        generated=Path(snakemake.input.generated) if "generated" in snakemake.input.keys() else None,
        stop_fraction=float(snakemake.params.stop_fraction),
        stop_min_labels=int(snakemake.params.stop_min_labels),
    )
    log.info("ingested: %s", summary.model_dump())
    summary.write(snakemake.output.summary)
except UserInputError as error:  # most labels failed for one reason, a damaged file, the index locked: one line
    log.error("%s", error)
    sys.exit(error.exit_code)
