"""The pw.x recovery ladder: what to change when an attempt fails, one bounded rung at a time.

Modelled on the error handlers of aiida-quantumespresso's PwBaseWorkChain: an unconverged SCF
first gets gentler mixing and more steps from the last charge density, then local-TF mixing and
(for smeared systems) more smearing, then the robust but slow conjugate-gradient diagonalisation.
A diagonalisation crash (Cholesky, S matrix, eigenvalues) jumps straight to that last rung.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlip_autopipec.dft.engine import (
    CRASHED,
    ENVIRONMENT_FAILURES,
    MISSING_FORCES,
    MISSING_STRESS,
    SCF_NOT_CONVERGED,
    TRUNCATED,
    WALLTIME_EXCEEDED,
    RunOutcome,
)

_DIAGONALISATION_ERRORS = (
    "cdiaghg",
    "rdiaghg",
    "pcdiaghg",
    "cegterg",
    "regterg",
    "cholesky",
    "S matrix",
    "eigenvalues not converged",
    "c_bands",
)
# Error stops from routines where gentler numerics can help; any other error stop (overlapping atoms,
# unreadable pseudopotential, bad input) would only repeat, so the ladder ends there.
_NUMERICAL_ROUTINES = ("electrons", "mix_rho", "h_psi", "efermig", "efermit", "sum_band", "vloc_psi") + _DIAGONALISATION_ERRORS


@dataclass(frozen=True)
class Rung:
    """Changes relative to the previous rung (applied cumulatively on top of the base parameters)."""

    name: str
    changes: dict[str, Any] = field(default_factory=dict)


LADDER: tuple[Rung, ...] = (
    Rung("base"),
    Rung("gentler_mixing", {"mixing_beta": ("scale", 0.5), "electron_maxstep": ("scale", 2.0)}),
    Rung(
        "local_tf_mixing_more_smearing",
        {"mixing_mode": ("set", "local-TF"), "mixing_beta": ("scale", 0.5), "degauss": ("scale", 2.0)},
    ),
    Rung("cg_diagonalisation", {"diagonalization": ("set", "cg"), "electron_maxstep": ("scale", 1.5)}),
)


def next_rung(current: int, outcome: RunOutcome) -> int | None:
    """Index of the rung for the next attempt, or None when retrying cannot help."""
    status = outcome.status
    if status in ENVIRONMENT_FAILURES:
        return None  # pw.x never started, or the disk lost its output: the machine is at fault, no DFT parameter can help
    if status in (MISSING_FORCES, MISSING_STRESS):
        return None  # a setup bug, not a numerical failure: retrying gives the same output
    # The keywords name diagonalisation routines and the words of their messages; the reason holds both.
    if status == CRASHED and any(key.lower() in outcome.reason.lower() for key in _DIAGONALISATION_ERRORS):
        return len(LADDER) - 1 if current < len(LADDER) - 1 else None
    if status == CRASHED and outcome.failing_routine is not None:
        if not any(outcome.failing_routine.startswith(name) for name in _NUMERICAL_ROUTINES):
            return None
    if status in (WALLTIME_EXCEEDED, TRUNCATED):
        return current  # same parameters, continue from the saved charge density
    if status in (SCF_NOT_CONVERGED, CRASHED):
        return current + 1 if current + 1 < len(LADDER) else None
    return None


def rung_overrides(index: int, base: dict[str, Any], smeared: bool) -> dict[str, Any]:
    """The pw.x parameters that rungs 1..index change, relative to ``base``."""
    values: dict[str, Any] = {}
    for rung in LADDER[1 : index + 1]:
        for key, (how, amount) in rung.changes.items():
            if key == "degauss" and not smeared:
                continue
            current = values.get(key, base.get(key))
            if how == "scale":
                value = current * amount
                values[key] = int(round(value)) if isinstance(current, int) else round(value, 6)
            else:
                values[key] = amount
    return values
