"""Real Snakemake runs of the labelling workflow in a temporary directory, with the real pw.x."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import ase.db
import ase.io
import pytest
import yaml

from conftest import PYTHON, REPO, SNAKEFILE, copy_run, direct_ase_energy, small_si_structures, snakemake, write_config
from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.data.database import structure_id_of

pytestmark = [pytest.mark.workflow, pytest.mark.usefixtures("pw_available")]


@pytest.fixture(scope="module")
def labelled_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three small Si structures labelled through Snakemake; shared by the checks below."""
    workdir = tmp_path_factory.mktemp("run")
    ase.io.write(workdir / "si.extxyz", small_si_structures(3))
    write_config(workdir)
    snakemake(workdir)
    return workdir


def _summary(workdir: Path) -> dict:
    return json.loads((workdir / "results/iter_0/ingested.json").read_text())


def test_dry_run_lists_every_label_job(tmp_path: Path) -> None:
    ase.io.write(tmp_path / "si.extxyz", small_si_structures(3))
    write_config(tmp_path)
    result = snakemake(tmp_path, "-n")
    counts = {
        line.split()[0]: int(line.split()[1])
        for line in result.stdout.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit() and not line.split()[0].endswith(":")
    }
    assert counts["label"] == 3 and counts["ingest"] == 1 and counts["import_structures"] == 1
    assert not (tmp_path / "results" / "iter_0" / "labels").exists()


def test_database_holds_labels_matching_a_direct_ase_run(labelled_run: Path) -> None:
    summary = _summary(labelled_run)
    assert summary["labels"] == {"labelled": 3} and summary["pw_calls_this_run"] == 3
    db = ase.db.connect(str(labelled_run / "results/database.db"))
    rows = list(db.select())
    assert len(rows) == 3 and {row.state for row in rows} == {"labelled"}
    assert all(row.origin == "test_rattle" and row.iteration == 0 and row.dft_hash for row in rows)
    full = expand_config(
        yaml.safe_load((labelled_run / "config.yaml").read_text()) | {"structures": str(labelled_run / "si.extxyz")}
    )
    by_formula_positions = {structure_id_of(row): row for row in rows}
    from mlip_autopipec.data.ids import structure_id

    for number, atoms in enumerate(small_si_structures(3)):
        row = by_formula_positions[structure_id(atoms)]
        energy, _ = direct_ase_energy(atoms, full, labelled_run / f"direct_{number}")
        assert row.energy == pytest.approx(energy, abs=1e-5)
    assert (labelled_run / "results/exec_config_dump.yaml").is_file()
    assert all((labelled_run / "logs/label/iter_0").glob("*.log"))


def test_unrelated_edit_runs_no_job(labelled_run: Path, tmp_path: Path) -> None:
    labelled_run = copy_run(labelled_run, tmp_path / "run")
    config = yaml.safe_load((labelled_run / "config.yaml").read_text())
    config["temperatures"] = [600.0, 1200.0]
    config["max_iterations"] = 7
    (labelled_run / "config.yaml").write_text(yaml.safe_dump(config))
    label_files = sorted((labelled_run / "results/iter_0/labels").glob("*.json"))
    before = [p.stat().st_mtime_ns for p in label_files]
    result = snakemake(labelled_run)
    assert "Nothing to be done" in result.stderr + result.stdout
    assert [p.stat().st_mtime_ns for p in label_files] == before


def test_deleting_results_recomputes_nothing_thanks_to_the_label_cache(labelled_run: Path, tmp_path: Path) -> None:
    labelled_run = copy_run(labelled_run, tmp_path / "run")
    import shutil

    shutil.rmtree(labelled_run / "results")
    snakemake(labelled_run)
    summary = _summary(labelled_run)
    assert summary["labels"] == {"labelled": 3}
    assert summary["pw_calls_this_run"] == 0


def test_a_dft_edit_reruns_the_labels_with_pw(labelled_run: Path, tmp_path: Path) -> None:
    labelled_run = copy_run(labelled_run, tmp_path / "run")
    config = yaml.safe_load((labelled_run / "config.yaml").read_text())
    config["dft"]["ecutwfc"] = 22.0
    config["dft"]["ecutrho"] = 88.0
    (labelled_run / "config.yaml").write_text(yaml.safe_dump(config))
    dry = snakemake(labelled_run, "-n")
    assert "Params have changed" in dry.stdout
    snakemake(labelled_run)
    assert _summary(labelled_run)["pw_calls_this_run"] == 3


def test_snakemake_reports_a_bad_config_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("composition: Si\nstructures: missing.extxyz\n")
    result = snakemake(tmp_path, "-n", check=False)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mlip-pipe: structures: file 'missing.extxyz' does not exist")


def test_lint_is_clean() -> None:
    result = subprocess.run(
        [PYTHON, "-m", "snakemake", "--lint", "-s", str(SNAKEFILE), "-d", str(REPO)], capture_output=True, text=True, timeout=300
    )
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr, (
        result.stdout + result.stderr
    )


OVERLAPPING_PW = """#!{python}
# The real pw.x, but a structure whose first two atoms are closer than 0.7 A gets them on top of each other first:
# the input check refuses such a structure before any DFT (< 0.5 A), so only this wrapper can still show how a
# pw.x error stop on one structure is recorded while the others go on.
import os, sys
import numpy as np
path = sys.argv[sys.argv.index("-in") + 1]
lines = open(path).read().splitlines()
start = next(i for i, line in enumerate(lines) if line.startswith("ATOMIC_POSITIONS")) + 1
first, second = (np.array(lines[start + k].split()[1:4], dtype=float) for k in (0, 1))
if 1e-6 < np.linalg.norm(first - second) < 0.7 and os.environ.get("OMPI_COMM_WORLD_RANK", "0") == "0":
    lines[start + 1] = lines[start + 1].split()[0] + " " + " ".join(f"{{x:.10f}}" for x in first)
    open(path, "w").write("\\n".join(lines) + "\\n")
os.execv({pw!r}, [{pw!r}, *sys.argv[1:]])
"""


def test_a_failed_structure_is_recorded_and_the_others_go_on(tmp_path: Path) -> None:
    good, broken = small_si_structures(2)
    broken.positions[1] = broken.positions[0] + [0.6, 0.0, 0.0]  # the wrapper puts them on top of each other
    ase.io.write(tmp_path / "si.extxyz", [good, broken])
    wrapper = tmp_path / "pw_overlapping.py"
    wrapper.write_text(OVERLAPPING_PW.format(python=PYTHON, pw=shutil.which("pw.x")))
    wrapper.chmod(0o755)
    write_config(tmp_path, label={"mpi": {"ntasks": 2}, "command": str(wrapper)})
    snakemake(tmp_path)
    summary = _summary(tmp_path)
    assert summary["labels"] == {"labelled": 1, "failed": 1}
    (reason,) = summary["failed"].values()
    assert "check_atoms" in reason
    db = ase.db.connect(str(tmp_path / "results/database.db"))
    failed = next(db.select(state="failed"))
    assert "overlap" in failed.reason and failed.get("energy") is None
