"""Snakemake script of checkpoint `simulate`: uncertain frames -> extraction, de-duplication, budget -> status.json."""

import json
from pathlib import Path

import ase.io

from mlip_autopipec.data.atomic_io import atomic_write_json
from mlip_autopipec.data.structure_files import fan_out
from mlip_autopipec.descriptors import DescriptorSpec
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.committee import load_manifest, model_cutoff
from mlip_autopipec.simulation.convergence import decide_status, held_out_force_rmse
from mlip_autopipec.simulation.extraction import extract_uncertain
from mlip_autopipec.simulation.uncertainty import remove_near_duplicates

snakemake = globals()["snakemake"]
log = job_logger("simulate", snakemake.log[0])
al = snakemake.params.active_learning
iteration = int(snakemake.wildcards.iteration)
manifest = load_manifest(snakemake.input.manifest)
cutoff = model_cutoff(manifest)

uncertain = []
summaries = []
for path in snakemake.input.frames:
    if Path(path).stat().st_size:
        uncertain += ase.io.read(path, index=":")
for path in snakemake.input.summaries:
    summaries += json.loads(Path(path).read_text())["runs"]
candidates = []
for atoms in uncertain:
    for piece in extract_uncertain(atoms, cutoff, float(al["extraction_buffer"]), force_std=atoms.arrays.get("force_std"),
                                   max_whole_atoms=int(al["extraction_max_whole_atoms"])):
        piece.info.setdefault("uncertainty", atoms.info.get("uncertainty"))
        piece.info["origin"] = "active_learning"
        candidates.append(piece)
spec = DescriptorSpec(species=tuple(snakemake.params.elements), n_max=6, l_max=4)
unique, duplicates = remove_near_duplicates(candidates, spec, float(al["duplicate_distance"]))
unique.sort(key=lambda a: -float(a.info.get("uncertainty") or 0.0))

labels_so_far = int(snakemake.params.labels_so_far)
remaining = max(0, int(snakemake.params.dft_budget) - labels_so_far)
chosen = unique[: min(int(snakemake.params.per_iteration), remaining)]
history = [held_out_force_rmse(json.loads(Path(p).read_text())) for p in snakemake.input.metrics]
status = decide_status(summaries, float(al["converged_uncertain_fraction"]), history, labels_so_far, int(snakemake.params.dft_budget),
                       float(al["min_error_improvement"]), al.get("target_force_rmse"))
if status["status"] == "converged":
    chosen = []
status["evidence"].update(uncertain_frames=len(uncertain), extracted=len(candidates), near_duplicates_removed=duplicates, selected=len(chosen),
                          threshold=json.loads(Path(snakemake.input.threshold).read_text()))
fan_out(chosen, snakemake.output.folder, origin="active_learning")
Path(snakemake.output.folder).mkdir(parents=True, exist_ok=True)
atomic_write_json(snakemake.output.status, {"iteration": iteration, **status})
log.info("iteration %d: %s (%s)", iteration, status["status"], status["reason"])
