"""The training stage through Snakemake with ``train.backend: mace``: real pw.x labels, real ``mace_run_train``.

Eight 2-atom Si cells (``structures:``) are labelled at the fast DFT settings and a two-member MACE
committee (3 epochs each) is trained, collected and reported by the same rules as the ACE one.
"""

from __future__ import annotations

import json
from pathlib import Path

import ase.io
import pytest
import yaml

from conftest import copy_run, small_si_structures, snakemake, write_config

pytestmark = [pytest.mark.workflow, pytest.mark.usefixtures("pw_available")]

COMMITTEE = "results/iter_0/models/committee.json"
EPOCHS = 3


@pytest.fixture(scope="module")
def mace_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("mace_run")
    ase.io.write(workdir / "si.extxyz", small_si_structures(8))
    write_config(workdir, train={"backend": "mace", "committee_size": 2, "mace_epochs": EPOCHS})
    snakemake(workdir, target=COMMITTEE)
    return workdir


def test_mace_committee_from_the_workflow(mace_run: Path) -> None:
    models = mace_run / "results/iter_0/models"
    manifest = json.loads((models / "committee.json").read_text())
    assert manifest["backend"] == "mace" and manifest["mace"]["max_epochs"] == EPOCHS
    assert len(manifest["members"]) == 2 and len(manifest["training_ids"]) + len(manifest["test_ids"]) == 8
    for member in manifest["members"]:
        assert (models / member["model"]).is_file() and member["model"].endswith(".model")
        assert (models / member["model"]).parent.joinpath("member.json").is_file()
        assert set(member["bootstrap"]) <= set(manifest["training_ids"])
    metrics = json.loads((models / "metrics.json").read_text())
    assert len(metrics["members"]) == 2 and metrics["committee"]["test"]["n_structures"] == len(manifest["test_ids"]) > 0
    assert metrics["committee"]["test"]["force_rmse"] > 0 and metrics["config_hash"] == manifest["config_hash"]
    assert json.loads((models / "threshold.json").read_text())["value"] > 0
    for picture in ("parity.png", "learning_curve.png"):
        assert (models / picture).stat().st_size > 1000
    dump = yaml.safe_load((mace_run / "results/exec_config_dump.yaml").read_text())
    assert dump["train"]["backend"] == "mace" and dump["train"]["mace_epochs"] == EPOCHS
    logs = "".join(p.read_text() for p in (mace_run / "logs/train/iter_0").glob("member_*.log"))
    assert "(mace)" in logs


def test_switching_the_backend_retrains(mace_run: Path, tmp_path: Path) -> None:
    """The backend is a parameter of train_plan: changing it reruns the plan and, through plan.json, the members."""
    mace_run = copy_run(mace_run, tmp_path / "run")
    config = yaml.safe_load((mace_run / "config.yaml").read_text())
    config["train"]["backend"] = "ace"
    (mace_run / "config.yaml").write_text(yaml.safe_dump(config))
    dry = snakemake(mace_run, "-n", target=COMMITTEE)
    words = [line.split() for line in dry.stdout.splitlines()]
    counts = {w[0]: int(w[1]) for w in words if len(w) == 2 and w[1].isdigit() and not w[0].endswith(":")}
    assert counts.get("train_plan") == 1 and counts.get("train_member") == 2 and counts.get("train_committee") == 1
    assert "label" not in counts  # the labels stay
