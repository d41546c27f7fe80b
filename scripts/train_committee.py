"""Snakemake script of rule `train_committee`: manifest, metrics, parity plot, learning curve, threshold."""

from pathlib import Path

from mlip_autopipec.active_learning.uncertainty import committee_threshold, fitted_by_members
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.committee import CommitteeCalculator
from mlip_autopipec.potentials.committee_plan import collect_committee, load_committee, load_split
from mlip_autopipec.potentials.metrics import report_committee

snakemake = globals()["snakemake"]
log = job_logger("train_committee", snakemake.log[0])
manifest_path = collect_committee(Path(snakemake.output.manifest).parent)
paths = report_committee(manifest_path)
committee = load_committee(manifest_path)
train, _ = load_split(committee)
al = snakemake.params.active_learning
calc = CommitteeCalculator(committee, extrapolation_grade=False)
threshold = committee_threshold(
    calc,
    train,
    float(al["uncertainty_percentile"]),
    al.get("uncertainty_threshold"),
    fitted_by_members(committee.manifest.model_dump()),
)
threshold.write(snakemake.output.threshold)
log.info(
    "%s committee written: %s; threshold %s", committee.manifest.backend, {k: str(v) for k, v in paths.items()}, threshold.reason
)
