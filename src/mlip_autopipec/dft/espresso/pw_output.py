"""Read a pw.x output: did it converge, and if not, which failure was it; and the energy, forces and stress.

Every failure mode is told apart from the text, the exit code and whether we killed the run:
an SCF that did not converge although pw.x printed JOB DONE, an error stop (``Error in routine``,
whose routine the outcome carries for the recovery ladder), a crash without a message, an output cut
short, a run without forces, and an exceeded wall time.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read

from mlip_autopipec.dft.engine import (
    CONVERGED,
    CRASHED,
    MISSING_FORCES,
    MISSING_STRESS,
    SCF_NOT_CONVERGED,
    TRUNCATED,
    WALLTIME_EXCEEDED,
    RunOutcome,
)

_ERROR_BLOCK = re.compile(r"%{20,}\s*\n\s*Error in routine\s+(\S+)\s*\((-?\d+)\):\s*\n\s*(.*?)\s*\n", re.S)
_SCF_DONE = re.compile(r"convergence has been achieved in\s+(\d+)\s+iterations")
_SCF_FAILED = re.compile(r"convergence NOT achieved after\s+(\d+)\s+iterations")
_ITERATION = re.compile(r"^\s*iteration #\s*(\d+)", re.M)


def classify_pw_output(text: str, returncode: int | None = 0, timed_out: bool = False, periodic: bool = True) -> RunOutcome:
    """Classify a run from its stdout text, exit code and whether our wall-time limit killed it."""
    iterations = [int(i) for i in _ITERATION.findall(text)]
    last_iteration = iterations[-1] if iterations else None
    if timed_out:
        return RunOutcome(
            WALLTIME_EXCEEDED, f"killed at the wall-time limit after {last_iteration or 0} SCF iterations", last_iteration
        )
    if "Maximum CPU time exceeded" in text:
        return RunOutcome(WALLTIME_EXCEEDED, "pw.x stopped at max_seconds before the SCF converged", last_iteration)
    error = _ERROR_BLOCK.search(text)
    if error:
        routine, code, message = error.groups()
        return RunOutcome(
            CRASHED, f"pw.x error in routine {routine} ({code}): {message.strip()}", last_iteration, failing_routine=routine
        )
    failed = _SCF_FAILED.search(text)
    if failed:
        return RunOutcome(SCF_NOT_CONVERGED, f"SCF not converged after {failed.group(1)} iterations", int(failed.group(1)))
    if returncode is not None and (returncode < 0 or returncode >= 128) and "JOB DONE." not in text:
        signal_number = -returncode if returncode < 0 else returncode - 128
        return RunOutcome(
            TRUNCATED,
            f"pw.x was killed by signal {signal_number} after {last_iteration or 0} SCF iterations (output cut short)",
            last_iteration,
        )
    if returncode not in (0, None):
        return RunOutcome(CRASHED, f"pw.x exited with code {returncode} without an error message", last_iteration)
    if "JOB DONE." not in text:
        return RunOutcome(
            TRUNCATED,
            f"output ends before JOB DONE (after {last_iteration or 0} SCF iterations): the process was killed or the disk filled",
            last_iteration,
        )
    done = _SCF_DONE.search(text)
    if not done:
        return RunOutcome(SCF_NOT_CONVERGED, "JOB DONE printed but no converged SCF found", last_iteration)
    if "Forces acting on atoms" not in text:
        return RunOutcome(MISSING_FORCES, "SCF converged but pw.x printed no forces (tprnfor off?)", int(done.group(1)))
    if periodic and "total   stress" not in text:
        return RunOutcome(MISSING_STRESS, "SCF converged but pw.x printed no stress (tstress off?)", int(done.group(1)))
    return RunOutcome(CONVERGED, "", int(done.group(1)))


def read_pw_results(output: str | Path) -> dict[str, np.ndarray | float]:
    """Energy (eV), forces (eV/Angstrom) and stress (Voigt, eV/Angstrom^3) through ASE's reader."""
    atoms = read(output, format="espresso-out", index=-1)
    assert isinstance(atoms, Atoms)  # an integer index returns one Atoms, never a list
    results = atoms.calc.results
    parsed: dict[str, np.ndarray | float] = {"energy": float(results["energy"]), "forces": np.array(results["forces"])}
    if results.get("stress") is not None:
        parsed["stress"] = np.array(results["stress"])
    return parsed
