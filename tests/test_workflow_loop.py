"""The whole loop through Snakemake on a tiny Si case: iteration 0, a committee, committee MD, a decision.

Real everything: CHGNet exploration, DIRECT, pw.x labels, pacemaker members, committee MD; scaled down
(8-atom cells, 20 BFGS steps) so that it runs in a few minutes on 2 cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import FAST_SI_DFT
from test_workflow import snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.usefixtures("pw_available")]


def test_short_loop_delivers_a_versioned_committee(tmp_path: Path) -> None:
    config = {
        "composition": "Si",
        "temperatures": [300.0, 1200.0],
        "max_iterations": 1,
        "dft_budget": 40,
        "generate": {"target_atoms": 8, "strained_per_temperature": 3, "surfaces": False},
        "explore": {"steps": 20, "supercell_atoms": 8, "starts": 1, "ensembles": ["nvt"]},
        "select": {"initial_structures": 12, "per_iteration": 3},
        "train": {"committee_size": 2, "optimizer_steps": 20},
        "active_learning": {"md_steps": 30, "check_every": 5, "max_uncertain_per_run": 2},
        "dft": dict(FAST_SI_DFT),
        "label": {"mpi": {"ntasks": 2}},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(tmp_path, target=None)
    models = tmp_path / "results/iter_0/models"
    manifest = json.loads((models / "committee.json").read_text())
    assert len(manifest["members"]) == 2 and manifest["baseline"]["name"] == "zbl"
    assert set(manifest["reference_energies"]) == {"Si"} and manifest["training_ids"]
    metrics = json.loads((models / "metrics.json").read_text())
    assert metrics["committee"]["train"]["force_rmse"] > 0 and len(metrics["members"]) == 2
    assert (models / "parity.png").stat().st_size > 1000 and (models / "learning_curve.png").stat().st_size > 1000
    threshold = json.loads((models / "threshold.json").read_text())
    assert threshold["value"] > 0 and "percentile" in threshold["reason"] or "maximum" in threshold["reason"]
    status = json.loads((tmp_path / "results/iter_1/status.json").read_text())
    assert status["status"] in ("converged", "continue")
    evidence = status["evidence"]
    assert evidence["checks"] > 0 and evidence["md_steps"] == 2 * 30 and evidence["labels_so_far"] == 12
    final = json.loads((tmp_path / "results/final/committee.json").read_text())
    delivered = 0 if status["status"] == "converged" else 1
    assert final["config_hash"] == json.loads((tmp_path / f"results/iter_{delivered}/models/committee.json").read_text())["config_hash"]
    if status["status"] == "continue":
        ingested = json.loads((tmp_path / "results/iter_1/ingested.json").read_text())
        assert sum(ingested["labels"].values()) == status["evidence"]["selected"] <= 3
    dry = snakemake(tmp_path, "-n", target=None)
    assert "Nothing to be done" in dry.stdout + dry.stderr
