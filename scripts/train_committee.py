"""Snakemake script of rule `train_committee`: manifest, metrics, parity plot, learning curve, threshold."""

from pathlib import Path

from mlip_autopipec.data.atomic_io import atomic_write_json
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.committee import CommitteeCalculator, collect_committee, load_manifest, load_split
from mlip_autopipec.potentials.metrics import report_committee
from mlip_autopipec.simulation.uncertainty import committee_threshold, fitted_by_members

snakemake = globals()["snakemake"]
log = job_logger("train_committee", snakemake.log[0])
manifest_path = collect_committee(Path(snakemake.output.manifest).parent)
paths = report_committee(manifest_path)
manifest = load_manifest(manifest_path)
train, _ = load_split(manifest)
al = snakemake.params.active_learning
calc = CommitteeCalculator(manifest, extrapolation_grade=False)
threshold = committee_threshold(calc, train, float(al["uncertainty_percentile"]), al.get("uncertainty_threshold"), fitted_by_members(manifest))
atomic_write_json(snakemake.output.threshold, threshold.to_dict())
log.info("%s committee written: %s; threshold %s", manifest["backend"], {k: str(v) for k, v in paths.items()}, threshold.reason)
