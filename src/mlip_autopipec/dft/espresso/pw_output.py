"""Read a pw.x output: did it converge, and if not, which failure was it; and the energy, forces and stress.

Every failure mode is told apart from the text, the exit code and whether we killed the run:
an SCF that did not converge although pw.x printed JOB DONE, an error stop (``Error in routine``,
whose routine the outcome carries for the recovery ladder), a crash without a message, an output cut
short by a killed process (a signal) or lost by the file system (exit code 0), a run without forces,
an exceeded wall time, and a converged run with a ghost state.

The values are read by our own parser from the printed energy, forces, stress and magnetisation, never
from the band energies: ASE 3.29's ``espresso-out`` reader parses every band and asserted
(``((2, 0), 1)``) on the isolated Fe atom, whose ghost band pw.x prints as asterisks.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from ase.units import create_units

from mlip_autopipec.dft.engine import (
    CONVERGED,
    CRASHED,
    MISSING_FORCES,
    MISSING_STRESS,
    OUTPUT_LOST,
    SCF_NOT_CONVERGED,
    TRUNCATED,
    WALLTIME_EXCEEDED,
    RunOutcome,
)

_ERROR_BLOCK = re.compile(r"%{20,}\s*\n\s*Error in routine\s+(\S+)\s*\((-?\d+)\):\s*\n\s*(.*?)\s*\n", re.S)
_SCF_DONE = re.compile(r"convergence has been achieved in\s+(\d+)\s+iterations")
_SCF_FAILED = re.compile(r"convergence NOT achieved after\s+(\d+)\s+iterations")
_ITERATION = re.compile(r"^\s*iteration #\s*(\d+)", re.M)
GHOST_STATE = "ghost_state"
"""The ``failing_routine`` of a run with a ghost state: not a pw.x routine, so the ladder (which retries only
numerical routines) stops at once; a ghost belongs to the pseudopotential and no mixing or diagonaliser removes it."""
GHOST_REASON = (
    "ghost state: pw.x printed a band energy as '*****' (below -1000 eV), a spurious deep state of a "
    "pseudopotential that takes electrons from the valence, so the energy and forces are unphysical; "
    "use another pseudopotential for the element (dft.pseudo_dir, e.g. an SSSP folder) or another dft.functional"
)
_UNITS = create_units("2006")  # the CODATA set pw.x converts with (ASE's reader uses it too)


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
    if "JOB DONE." not in text and returncode == 0:
        # pw.x prints JOB DONE on every normal end and exits non-zero on an error stop, so an exit code of 0 with the
        # output cut short means the file system lost its tail (pw.x 6.7 on a full disk does exactly this: exit 0,
        # output cut at a buffer boundary): the machine's fault, which no ladder rung and no cached failure may hide.
        return RunOutcome(
            OUTPUT_LOST,
            f"pw.x ended normally (exit code 0) but its output ends before JOB DONE (after {last_iteration or 0} SCF "
            "iterations): the file system lost the rest of it (a full disk or quota, a network file system)",
            last_iteration,
        )
    if "JOB DONE." not in text:
        return RunOutcome(
            TRUNCATED,
            f"output ends before JOB DONE (after {last_iteration or 0} SCF iterations): the process was killed or the disk filled",
            last_iteration,
        )
    done = _SCF_DONE.search(text)
    if not done:
        return RunOutcome(SCF_NOT_CONVERGED, "JOB DONE printed but no converged SCF found", last_iteration)
    if ghost_state(text):
        return RunOutcome(CRASHED, GHOST_REASON, int(done.group(1)), failing_routine=GHOST_STATE)
    if "Forces acting on atoms" not in text:
        return RunOutcome(MISSING_FORCES, "SCF converged but pw.x printed no forces (tprnfor off?)", int(done.group(1)))
    if periodic and "total   stress" not in text:
        return RunOutcome(MISSING_STRESS, "SCF converged but pw.x printed no stress (tstress off?)", int(done.group(1)))
    return RunOutcome(CONVERGED, "", int(done.group(1)))


_TOTAL_ENERGY = re.compile(r"^!\s+total energy\s+=\s+(\S+)\s+Ry", re.M)
_NATOMS = re.compile(r"number of atoms/cell\s*=\s*(\d+)")
_FORCE_LINE = re.compile(r"^\s*atom\s+\d+\s+type\s+\d+\s+force\s+=\s+(\S+)\s+(\S+)\s+(\S+)\s*$", re.M)
_STRESS_HEADER = "total   stress"
_TOTAL_MAGNETISATION = re.compile(r"^\s*total magnetization\s+=\s+(\S+)\s+Bohr mag/cell", re.M)
_ABSOLUTE_MAGNETISATION = re.compile(r"^\s*absolute magnetization\s+=\s+(\S+)\s+Bohr mag/cell", re.M)
# A band energy below -999.9999 eV overflows pw.x's F9.4 field and prints as asterisks. No state a
# valence-only pseudopotential describes lies that deep (the deepest semicore levels are ~ -100 eV):
# it is a ghost state, which swallows electrons (the Fe atom then looks like Cr) and deepens with the cutoff.
_GHOST_BAND = re.compile(r"^\s*(?:-?\d+\.\d{4}\s+)*\*{5,}", re.M)


class PwOutputError(ValueError):
    """A converged pw.x output lacks a value we read (energy, forces): a message, not a traceback from a reader."""


def ghost_state(text: str) -> bool:
    """True when pw.x printed a band energy as asterisks (below -999.9999 eV) after its last SCF."""
    bands = text.rfind("End of self-consistent calculation")
    return bands >= 0 and _GHOST_BAND.search(text, bands) is not None


def _number(field: str, what: str) -> float:
    """A Fortran number; asterisks (a value too wide for its field) or junk raise PwOutputError naming ``what``."""
    try:
        return float(field.replace("D", "E").replace("d", "e"))
    except ValueError:
        raise PwOutputError(f"pw.x printed {what} as '{field}', which is not a number") from None


def _last_block(text: str) -> str:
    """The text from the last printed total energy on: the results of the last SCF in the file."""
    matches = list(_TOTAL_ENERGY.finditer(text))
    if not matches:
        raise PwOutputError("pw.x printed no total energy ('!    total energy'): the SCF did not finish")
    return text[matches[-1].start() :]


def _forces(block: str, natoms: int) -> np.ndarray:
    """The first ``natoms`` force lines after 'Forces acting on atoms' (Ry/Bohr), in eV/Angstrom."""
    start = block.find("Forces acting on atoms")
    if start < 0:
        raise PwOutputError("pw.x printed no forces ('Forces acting on atoms'); is tprnfor on?")
    rows = [m.groups() for m in _FORCE_LINE.finditer(block, start)][:natoms]
    if len(rows) < natoms:
        raise PwOutputError(f"pw.x printed forces for {len(rows)} of {natoms} atoms")
    forces = np.array([[_number(v, "a force") for v in row] for row in rows])
    return forces * _UNITS["Ry"] / _UNITS["Bohr"]


def _stress(block: str) -> np.ndarray | None:
    """Voigt stress (eV/Angstrom^3, ASE's sign: positive is tensile) from the Ry/bohr**3 columns, or None."""
    start = block.find(_STRESS_HEADER)
    if start < 0:
        return None
    lines = block[start:].splitlines()[1:4]
    matrix = np.array([[_number(v, "a stress component") for v in line.split()[:3]] for line in lines])
    if matrix.shape != (3, 3):
        raise PwOutputError("pw.x's stress block is cut short")
    voigt = matrix[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    return -voigt * _UNITS["Ry"] / _UNITS["Bohr"] ** 3  # pw.x prints pressure-positive; ASE's stress is the opposite


def _last_float(pattern: re.Pattern[str], text: str, what: str) -> float | None:
    matches = pattern.findall(text)
    return _number(matches[-1], what) if matches else None


def parse_pw_results(text: str) -> dict[str, np.ndarray | float]:
    """Energy (eV), forces (eV/Angstrom), stress (Voigt, eV/Angstrom^3) and total magnetisation (mu_B per cell).

    Read from the printed values alone: band energies are never parsed, so a spin-polarised run, a
    Gamma-only run or a band printed as asterisks cannot break the reading (ASE's ``espresso-out``
    reader asserts on those). Units are CODATA 2006, as pw.x and ASE's reader use.
    """
    natoms_match = _NATOMS.search(text)
    if natoms_match is None:
        raise PwOutputError("pw.x printed no 'number of atoms/cell': this is not a pw.x output")
    block = _last_block(text)
    energy_match = _TOTAL_ENERGY.match(block)
    assert energy_match is not None  # _last_block starts at a match
    parsed: dict[str, np.ndarray | float] = {
        "energy": _number(energy_match.group(1), "the total energy") * _UNITS["Ry"],
        "forces": _forces(block, int(natoms_match.group(1))),
    }
    stress = _stress(block)
    if stress is not None:
        parsed["stress"] = stress
    for key, pattern in (("magnetization", _TOTAL_MAGNETISATION), ("absolute_magnetization", _ABSOLUTE_MAGNETISATION)):
        value = _last_float(pattern, block, key.replace("_", " "))
        if value is not None:
            parsed[key] = value
    return parsed


def read_pw_results(output: str | Path) -> dict[str, np.ndarray | float]:
    """``parse_pw_results`` of the output file (see there for the keys and units)."""
    return parse_pw_results(Path(output).read_text(errors="replace"))
