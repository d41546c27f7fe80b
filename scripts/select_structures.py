"""Snakemake script of checkpoint `select`: DIRECT picks the structures worth a DFT label, one file each."""

import ase.io

from mlip_autopipec.config.models import SelectConfig
from mlip_autopipec.config.rule_params import declared_section
from mlip_autopipec.data.trajectories import read_frames
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.sampling.initial_selection import select_initial_structures

snakemake = globals()["snakemake"]
log = job_logger("select", snakemake.log[0])
params = snakemake.params
summary = select_initial_structures(
    ase.io.read(snakemake.input.generated, index=":"),
    [frame for path in snakemake.input.explored for frame in read_frames(path)],
    snakemake.output.folder,
    declared_section(SelectConfig, params.select, snakemake.rule, "select", snakemake.config),
    params.elements,
    int(params.seed),
)
summary.write(snakemake.output.summary)
log.info("selected %s", summary.model_dump())
