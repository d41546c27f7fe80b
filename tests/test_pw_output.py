"""The pw.x output classifier on outputs recorded from real runs (tests/data/pw_outputs/record.py)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.units import Bohr, Ry

from conftest import PW_OUTPUTS
from mlip_autopipec.dft.engine import (
    CONVERGED,
    CRASHED,
    MISSING_FORCES,
    SCF_NOT_CONVERGED,
    TRUNCATED,
    WALLTIME_EXCEEDED,
    RunOutcome,
)
from mlip_autopipec.dft.espresso.pw_output import classify_pw_output, read_pw_results
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


def test_output_cut_in_half_is_truncated() -> None:
    text = _text("converged")
    outcome = classify_pw_output(text[: len(text) // 2], returncode=0)
    assert outcome.status == TRUNCATED


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
