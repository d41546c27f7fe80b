"""Bad configurations through the CLI: each gives one line naming the key and the fix, and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlip_autopipec.cli import main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    code, _, err = run_cli(["check", "--config", str(config), "--output", str(tmp_path / "dump.yaml")], capsys)
    return code, err


BAD_CONFIGS = [
    ("unknown top-level key", "composition: Si\ntemperture: [300]\n", "temperture: unknown key"),
    ("unknown dft key", "composition: Si\ndft:\n  ecutwfx: 30\n", "dft.ecutwfx: unknown key"),
    ("unknown label key", "composition: Si\nlabel:\n  mpi:\n    tasks: 2\n", "label.mpi.tasks: unknown key"),
    ("unknown element", "composition: Xx2\n", "'Xx' in 'Xx2' is not a chemical element"),
    ("empty composition", "composition: ''\n", "composition: is empty"),
    ("malformed composition", "composition: H2O)\n", "unbalanced brackets"),
    ("negative amount", "composition: Si-1\n", "composition: 'Si-1' has characters"),
    ("huge formula unit", "composition: " + "Si" * 200 + "\n", "atoms per formula unit"),
    ("missing composition", "seed: 3\n", "composition: is required"),
    ("negative temperature", "composition: Si\ntemperatures: [300, -5]\n", "temperatures: must be positive"),
    ("temperature not a number", "composition: Si\ntemperatures: [hot]\n", "temperatures.0:"),
    (
        "missing structures file",
        "composition: Si\nstructures: nowhere.extxyz\n",
        "structures: file 'nowhere.extxyz' does not exist",
    ),
    ("yaml syntax error", "composition: Si\n  seed: [1\n", "YAML syntax error at line"),
    ("empty file", "", "is empty; write at least 'composition: Si'"),
    ("not a mapping", "- Si\n- FePt\n", "must be a mapping"),
    ("zero dft budget", "composition: Si\ndft_budget: 0\n", "dft_budget: Input should be greater than 0"),
    ("negative seed", "composition: Si\nseed: -1\n", "seed: Input should be greater than or equal to 0"),
    ("bad launcher", "composition: Si\nlabel:\n  mpi:\n    launcher: qsub\n", "label.mpi.launcher:"),
    (
        "negative k spacing",
        "composition: Si\ndft:\n  kpoint_spacing: -0.2\n",
        "dft.kpoint_spacing: Input should be greater than 0",
    ),
    ("unknown family", "composition: Si\ndft:\n  pseudo_family: sssp-magic\n", "dft.pseudo_family: unknown family 'sssp-magic'"),
    (
        "pseudo_dir missing",
        "composition: Si\ndft:\n  pseudo_dir: /no/such/folder\n",
        "dft.pseudo_dir: '/no/such/folder' is not a folder",
    ),
    (
        "functional without offline set",
        "composition: Si\ndft:\n  functional: HSE\n",
        "dft.functional: 'HSE' has no offline pseudopotential set",
    ),
    ("bad smearing", "composition: Si\ndft:\n  smearing: blurry\n", "dft.smearing:"),
    ("element absent from family", "composition: PtO\ndft:\n  pseudo_family: pslibrary-debian-pbe\n", "no pseudopotential for O"),
]


@pytest.mark.parametrize(("case", "text", "expected"), BAD_CONFIGS, ids=[case for case, _, _ in BAD_CONFIGS])
def test_bad_config_gives_one_line_and_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, text: str, expected: str
) -> None:
    code, err = _check(tmp_path, text, capsys)
    assert code == 2, case
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"{case}: expected one line, got {err!r}"
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "dump.yaml").exists()


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["check", "--config", str(tmp_path / "absent.yaml")], capsys)
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1


def test_good_config_writes_the_expanded_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _check(tmp_path, "composition: FePt\ntemperatures: [600]\n", capsys)
    assert code == 0, err
    dumped = yaml.safe_load((tmp_path / "dump.yaml").read_text())
    assert dumped["elements"] == ["Fe", "Pt"]
    assert dumped["temperatures"] == [600.0]
    assert dumped["dft"]["smearing"] == "mv"
    assert set(dumped["dft"]["pseudo_md5"]) == {"Fe", "Pt"}


def test_init_writes_a_config_that_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config" / "config.yaml"
    code, _, err = run_cli(["init", "NaCl", "--config", str(config)], capsys)
    assert code == 0, err
    code, _, err = run_cli(["check", "--config", str(config), "--output", str(tmp_path / "dump.yaml")], capsys)
    assert code == 0, err
    code, _, err = run_cli(["init", "NaCl", "--config", str(config)], capsys)
    assert code == 2 and "--force" in err
    code, _, err = run_cli(["init", "Qq", "--config", str(tmp_path / "other.yaml")], capsys)
    assert code == 2 and "'Qq'" in err


def test_status_without_database_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["status", "--database", str(tmp_path / "none.db")], capsys)
    assert code == 2 and "mlip-pipe run" in err


def test_run_refuses_a_bad_config_before_snakemake_starts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"composition": "Si", "bogus": 1}))
    code, _, err = run_cli(["run", "--config", str(config), "--dry-run"], capsys)
    assert code == 2 and "bogus: unknown key" in err
