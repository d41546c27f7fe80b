"""The validation table's verdicts, the crystal each composition is validated on, and the command's bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlip_autopipec.cli import main
from mlip_autopipec.config import expand_config
from mlip_autopipec.data.records import ValidationReport
from mlip_autopipec.validation.crystal import validation_crystal
from mlip_autopipec.validation.table import compare, judge, metric
from mlip_autopipec.validation.validate import ValidationSetup


def test_marks_pass_within_the_tolerance_warn_within_twice_and_fail_beyond() -> None:
    assert [judge(x, 0.1) for x in (0.0, -0.1, 0.15, -0.2, 0.21)] == ["pass", "pass", "warn", "warn", "fail"]
    assert judge(None, 0.1) == judge(0.3, None) == "info"
    lattice = compare("equation of state", "a", "A", dft=5.40, potential=5.43, tolerance=0.005)
    assert lattice.error == pytest.approx(0.03) and lattice.relative_error == pytest.approx(0.03 / 5.40)
    assert lattice.mark == "warn"  # 0.56 %: beyond 0.5 %, within twice of it
    assert compare("equation of state", "a", "A", dft=5.40, potential=5.46, tolerance=0.005).mark == "fail"  # 1.1 %
    vacancy = compare("defects", "vacancy", "eV", dft=3.0, potential=2.95, tolerance=0.1, compared="absolute")
    assert vacancy.mark == "pass" and vacancy.error == pytest.approx(-0.05)
    drift = metric("stability", "drift", "meV/atom/ps", -1.5, 1.0, n_samples=100)
    assert drift.mark == "warn" and drift.dft is None and drift.n_samples == 100
    failing = metric("validation set", "force RMSE", "eV/A", 0.25, 0.1)
    report = ValidationReport(
        potential="x", config_hash="h", created="now", rows=[lattice, vacancy, drift, failing], dft_runs=0, dft_seconds=0.0
    )
    assert [row.quantity for row in report.failed] == ["force RMSE"] and not report.passed
    good = report.model_copy(update={"rows": [lattice, vacancy, drift]})
    assert good.passed and len(good.judged) == 3  # warnings do not fail
    info_only = report.model_copy(update={"rows": [metric("stability", "not applicable", "-", 0.0, None)]})
    assert not info_only.passed and not info_only.judged  # nothing judged is not a pass
    unfinished = vacancy.model_copy(update={"mark": "incomplete", "potential": None})
    assert not good.model_copy(update={"rows": [lattice, unfinished]}).passed


def test_each_composition_gets_its_prototype_crystal_or_the_reason_it_has_none() -> None:
    si = validation_crystal("Si").atoms
    assert si is not None and len(si) == 2 and si.cell.get_bravais_lattice().name == "FCC"
    nacl = validation_crystal("NaCl").atoms
    assert nacl is not None and sorted(nacl.get_chemical_symbols()) == ["Cl", "Na"]
    for composition, word in (("FePt", "alloy"), ("H2O", "no prototype")):
        none = validation_crystal(composition)
        assert none.atoms is None and word in none.why


def test_setup_takes_what_the_rule_passes() -> None:
    full = expand_config({"composition": "Si", "validation": {"defect_cell_atoms": 16}})
    setup = ValidationSetup.from_config(full)
    assert setup.validation.defect_cell_atoms == 16 and setup.dft == full.dft
    assert ValidationSetup.model_validate(setup.model_dump(mode="json")) == setup


def test_validate_without_a_committee_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.yaml").write_text("composition: Si\n")
    with pytest.raises(SystemExit) as exit_:
        main(["validate", "--potential", str(tmp_path / "nowhere"), "--config", str(tmp_path / "config.yaml")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no committee" in err and "--potential" in err


def _config(tmp_path: Path, **dft: float) -> Path:
    import yaml

    from conftest import FAST_SI_DFT

    config = {
        "composition": "Si",
        "dft": {**FAST_SI_DFT, **dft},
        "label": {"mpi": {"ntasks": 2}},
        "validation": {"checks": ["equation of state"], "eos_points": 5},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.dft
def test_validate_command_on_a_committee_the_tests_train(
    ace_committee: Path, pw_available: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`mlip-pipe validate --potential` on the session's pacemaker committee (trained on tests/data/si_labels): the
    checks named in the config, DFT at the labels' own parameters, and the table printed with a verdict."""
    import os

    output = tmp_path / "validation"
    config = _config(tmp_path)
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the label cache lives beside the config, as in a run folder
    code: int | str | None = 0
    try:
        main(["validate", "--potential", str(ace_committee), "--config", str(config), "--output", str(output)])
    except SystemExit as exit_:  # a failed row exits 1; a table without failures returns
        code = exit_.code
    finally:
        os.chdir(cwd)
    report = ValidationReport.read(output / "validation.json")
    assert code == (0 if report.passed else 1)
    assert {row.group for row in report.rows} == {"equation of state"}  # only the named check
    lattice = next(row for row in report.rows if row.quantity.startswith("lattice constant"))
    assert lattice.dft is not None and 5.3 < lattice.dft < 5.6 and lattice.potential is not None
    assert report.dft_runs >= 5 and (output / "eos.png").stat().st_size > 1000
    assert "Validation of" in capsys.readouterr().out


def test_validate_refuses_dft_other_than_the_committee_was_trained_on(
    ace_committee: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["validate", "--potential", str(ace_committee), "--config", str(_config(tmp_path, ecutwfc=30.0))])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not those the committee was trained on" in err and "run's own config" in err
