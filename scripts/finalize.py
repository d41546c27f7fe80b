"""Snakemake script of rule `finalize`: copy the delivered committee (and its metrics) to results/final/, then
write what runs it outside this package (LAMMPS inputs, the baseline table, README.md: potentials.export)."""

import shutil
from pathlib import Path

from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.export import export_potential

snakemake = globals()["snakemake"]
log = job_logger("finalize", snakemake.log[0])
source = Path(snakemake.input.manifest).parent
target = Path(snakemake.output.manifest).parent
staging = target.with_name(target.name + ".tmp")
shutil.rmtree(staging, ignore_errors=True)
shutil.copytree(source, staging)
export = export_potential(staging, version=str(snakemake.params.version))
shutil.rmtree(target, ignore_errors=True)
staging.rename(target)
log.info("delivered the committee of %s as %s", source, target)
if export.table_file:
    log.info("baseline table %s: pair_style table %s", export.table_file, export.table_style)
log.info("LAMMPS inputs: %s; see %s", ", ".join(m.lammps_input for m in export.members), target / export.readme)
