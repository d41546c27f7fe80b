"""Snakemake script of rule `finalize`: copy the delivered committee (and its metrics) to results/final/."""

import shutil
from pathlib import Path

from mlip_autopipec.joblog import job_logger

snakemake = globals()["snakemake"]
log = job_logger("finalize", snakemake.log[0])
source = Path(snakemake.input.manifest).parent
target = Path(snakemake.output.manifest).parent
staging = target.with_name(target.name + ".tmp")
shutil.rmtree(staging, ignore_errors=True)
shutil.copytree(source, staging)
shutil.rmtree(target, ignore_errors=True)
staging.rename(target)
log.info("delivered the committee of %s as %s", source, target)
