"""Snakemake script of rule `import_structures`: one file per user structure, named by its content id."""

from pathlib import Path

from mlip_autopipec.data.structure_files import fan_out, read_structures
from mlip_autopipec.joblog import job_logger

snakemake = globals()["snakemake"]
log = job_logger("import_structures", snakemake.log[0])
frames = read_structures(snakemake.input.structures, allowed_elements=snakemake.params.elements)
written = fan_out(frames, Path(snakemake.output[0]).parent, origin="user") if snakemake.output else {}
missing = sorted(set(snakemake.output) - {str(path) for path in written.values()})
if missing:
    raise RuntimeError(f"structure ids changed while planning; rerun snakemake (missing {missing[0]})")
log.info("imported %d structures (%d frames read, duplicates removed)", len(written), len(frames))
