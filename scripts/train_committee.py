"""Snakemake script of rule `train_committee`: manifest, metrics, parity plot, learning curve, trust levels."""

from pathlib import Path

from mlip_autopipec.active_learning.trust_levels import trust_levels_of_committee
from mlip_autopipec.config.models import ActiveLearningConfig
from mlip_autopipec.config.rule_params import declared_section
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.metrics import finish_committee

snakemake = globals()["snakemake"]
log = job_logger("train_committee", snakemake.log[0])
al = declared_section(ActiveLearningConfig, snakemake.params.active_learning, snakemake.rule, "active_learning", snakemake.config)
committee, pictures = finish_committee(Path(snakemake.output.manifest).parent)
threshold = trust_levels_of_committee(committee, al)
threshold.write(snakemake.output.threshold)
log.info(
    "%s committee written: %s; threshold %s",
    committee.manifest.backend,
    {k: str(v) for k, v in pictures.items()},
    threshold.reason,
)
