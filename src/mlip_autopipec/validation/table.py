"""The rows of the validation table: a DFT value, the potential's value, the error and a verdict.

Why one place: every property module reports through these two functions, so every row of every check is
judged the same way (pass within the tolerance, warn within twice, fail beyond) and carries its sample size.
"""

from __future__ import annotations

from typing import Literal

from mlip_autopipec.data.records import Mark, ValidationRow

WARN_FACTOR = 2.0  # beyond the tolerance but within this multiple of it: warn, not fail


def judge(value: float | None, tolerance: float | None) -> Mark:
    """pass / warn / fail of ``|value|`` against ``tolerance``; info when either is missing."""
    if value is None or tolerance is None:
        return "info"
    if abs(value) <= tolerance:
        return "pass"
    return "warn" if abs(value) <= WARN_FACTOR * tolerance else "fail"


def compare(
    group: str,
    quantity: str,
    unit: str,
    dft: float,
    potential: float,
    tolerance: float | None,
    compared: Literal["relative", "absolute"] = "relative",
    n_samples: int | None = None,
    note: str = "",
) -> ValidationRow:
    """A row with a DFT side; ``tolerance`` applies to the relative or the absolute error."""
    error = float(potential) - float(dft)
    relative = error / abs(dft) if dft else None
    judged = relative if compared == "relative" else error
    return ValidationRow(
        group=group,
        quantity=quantity,
        unit=unit,
        dft=float(dft),
        potential=float(potential),
        error=error,
        relative_error=relative,
        compared=compared,
        tolerance=tolerance,
        mark=judge(judged, tolerance),
        n_samples=n_samples,
        note=note,
    )


def metric(
    group: str,
    quantity: str,
    unit: str,
    value: float,
    tolerance: float | None,
    n_samples: int | None = None,
    note: str = "",
) -> ValidationRow:
    """A row that is itself an error or a stability number (force RMSE, energy drift): judged by its value."""
    return ValidationRow(
        group=group,
        quantity=quantity,
        unit=unit,
        dft=None,
        potential=float(value),
        error=None,
        relative_error=None,
        compared="value",
        tolerance=tolerance,
        mark=judge(value, tolerance),
        n_samples=n_samples,
        note=note,
    )
