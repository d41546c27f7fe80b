"""Snakemake script of checkpoint `select`: DIRECT picks the structures worth a DFT label, one file each."""

from pathlib import Path

import ase.io

from mlip_autopipec.data.atomic_io import atomic_write_json
from mlip_autopipec.data.structure_files import fan_out
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.sampling.structures import select_structures
from mlip_autopipec.simulation.explore import read_frames

snakemake = globals()["snakemake"]
log = job_logger("select", snakemake.log[0])
frames = ase.io.read(snakemake.input.generated, index=":")
n_generated = len(frames)
for path in snakemake.input.explored:
    frames += read_frames(path)
n_select = int(snakemake.params.select["initial_structures"])
selection = select_structures(frames, n_select, list(snakemake.params.elements), int(snakemake.params.seed),
                              float(snakemake.params.select["cluster_fraction"]))
chosen = [frames[i] for i in selection.indices]
folder = Path(snakemake.output.folder)
written = fan_out(chosen, folder, origin="generated")
summary = {
    "candidates": len(frames),
    "generated": n_generated,
    "explored": len(frames) - n_generated,
    "selected_from_exploration": sum(1 for i in selection.indices if i >= n_generated),
    "selected": len(written),
    "forced_isolated_atoms": len(selection.forced),
    "few_atom_clusters": selection.n_few_atom_clusters,
    "coverage": selection.coverage,
    "clusters": selection.n_clusters,
    "pca_components": selection.n_components,
}
atomic_write_json(snakemake.output.summary, summary)
log.info("selected %s", summary)
