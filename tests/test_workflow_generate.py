"""Snakemake from a composition alone: generate, DIRECT select, label, ingest (real CHGNet, real pw.x)."""

from __future__ import annotations

import json
from pathlib import Path

import ase.db
import ase.io
import pytest
import yaml

from conftest import FAST_SI_DFT, snakemake
from mlip_autopipec.data.database import structure_id_of
from mlip_autopipec.data.trajectories import read_frames

pytestmark = [pytest.mark.workflow, pytest.mark.usefixtures("pw_available")]


def test_dry_run_from_a_bare_composition_lists_every_job(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("composition: FePt\n")
    result = snakemake(tmp_path, "-n", target=None)
    jobs = {
        line.split()[0]: int(line.split()[1])
        for line in result.stdout.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit() and not line.split()[0].endswith(":")
    }
    dumped = yaml.safe_load((tmp_path / "results/exec_config_dump.yaml").read_text())
    conditions = len(dumped["explore"]["temperatures"]) * len(dumped["explore"]["ensembles"])
    n_explore = dumped["explore"]["starts"] * conditions
    expected = {
        "generate": 1,
        "explore": n_explore,
        "select": 1,  # iteration 0 up to the DIRECT checkpoint
        "train_plan": 1,
        "train_member": dumped["train"]["committee_size"],
        "train_committee": 1,
        "simulate_md": conditions,
        "simulate": 1,
        "finalize": 1,
        "validate": 1,  # the delivered committee against DFT (validation.enabled by default)
        "validate_iteration": 1,  # iteration 0's committee: the stopping rule's evidence (validation.every_iteration)
        "report": 1,  # the run's HTML page (results/report/index.html)
        "all": 1,  # the first loop iteration
    }
    assert {k: v for k, v in jobs.items() if k != "total"} == expected
    assert dumped["system"]["bonding_type"] == "metallic"
    assert dumped["generate"]["enabled"] is True and dumped["generate"]["sqs_sizes"] == [8, 16]
    assert dumped["dft"]["nspin"] == 2
    for section in ("system", "generate", "explore", "select", "train", "active_learning", "dft"):
        assert dumped[section]["why"], section


def test_generate_explore_select_label_ingest(tmp_path: Path) -> None:
    """20-step CHGNet NVT of 8-atom Si at two temperatures, DIRECT picks 5 structures, pw.x labels them."""
    config = {
        "composition": "Si",
        "temperatures": [300.0, 1200.0],
        "generate": {"target_atoms": 8, "strained_per_temperature": 2, "surfaces": False},
        "explore": {"steps": 20, "supercell_atoms": 8, "starts": 1, "ensembles": ["nvt"]},
        "select": {"initial_structures": 5},
        "dft": dict(FAST_SI_DFT),
        "label": {"mpi": {"ntasks": 2}},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(tmp_path)
    generated = ase.io.read(tmp_path / "results/iter_0/generated.extxyz", index=":")
    summary = json.loads((tmp_path / "results/iter_0/generated_summary.json").read_text())
    assert summary["structures"] == len(generated) and summary["surrogate"] == "chgnet"
    explored = {t: read_frames(tmp_path / f"results/iter_0/explore/start0_nvt_{t}K.extxyz.gz") for t in ("300", "1200")}
    assert all(len(frames) > 0 and all("energy" in f.calc.results for f in frames) for frames in explored.values())
    selection = json.loads((tmp_path / "results/iter_0/selection.json").read_text())
    assert selection["selected"] == 5 and selection["forced_isolated_atoms"] == 1
    assert selection["candidates"] == len(generated) + sum(len(f) for f in explored.values())
    ingested = json.loads((tmp_path / "results/iter_0/ingested.json").read_text())
    assert ingested["labels"] == {"labelled": 5}
    db = ase.db.connect(str(tmp_path / "results/database.db"))
    assert db.count(state="labelled") == 5
    assert db.count(state="labelled", origin="isolated_atom") == 1
    selected_ids = {p.stem for p in (tmp_path / "results/iter_0/selected").glob("*.extxyz")}
    assert {structure_id_of(row) for row in db.select(state="labelled")} == selected_ids
    generated_rows = db.count(state="generated")
    assert generated_rows == len(generated) - sum(1 for row in db.select(state="labelled") if row.origin != "explore")
