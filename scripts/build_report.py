"""Snakemake script of rule `report`: the run's HTML page (results/report/index.html) from the files under results/."""

from pathlib import Path

from mlip_autopipec.joblog import job_logger
from mlip_autopipec.report import SNAKEMAKE_REPORT, build_report

snakemake = globals()["snakemake"]
log = job_logger("report", snakemake.log[0])
folder = Path(snakemake.output.index).parent
results = folder.parent  # results/report/index.html -> results
provenance = folder / SNAKEMAKE_REPORT  # written by `mlip-pipe report` (snakemake --report); linked once it exists
page = build_report(results, folder, provenance if provenance.is_file() else None)
log.info("report: %s", page)
