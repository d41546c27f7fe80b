"""The stopping rule of the active-learning loop, with the evidence written to ``status.json``.

An iteration is converged when its on-the-fly MD found fewer than a set fraction of uncertain
checks over its whole simulated length AND the held-out force error stopped improving (less than
``min_improvement`` relative to the previous committee, both measured on the same structures: the
first iteration's test set, held out ever since) or already meets ``target_force_rmse``; it
also stops at the DFT budget. A loop that stops learning while its error is still above the target
is reported as such (``warning``): more iterations of the same sampling would not fix it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from mlip_autopipec.data.records import (
    CommitteeErrors,
    CommitteeMetrics,
    LoopDecision,
    OtfRun,
    StopEvidence,
    ValidationReport,
)


def held_out_force_rmse(errors: CommitteeErrors) -> float | None:
    """A committee's force RMSE on the run's fixed yardstick (the first iteration's test set, held out in
    every iteration since), else on its own test set; None when there is none."""
    initial = errors.test_initial
    value = initial.force_rmse if initial is not None and initial.force_rmse is not None else errors.test.force_rmse
    return float(value) if value is not None and math.isfinite(float(value)) else None


def held_out_history(metrics_files: Iterable[str | Path]) -> list[float | None]:
    """:func:`held_out_force_rmse` of each committee's ``metrics.json``, oldest first. The one place the loop
    reads the training stage's metrics file."""
    return [held_out_force_rmse(CommitteeMetrics.read(path).committee) for path in metrics_files]


def _relative_improvement(history: list[float | None]) -> float | None:
    if len(history) >= 2 and history[-2] is not None and history[-1] is not None and history[-2] > 0:
        return (history[-2] - history[-1]) / history[-2]
    return None


def decide_status(
    md_summaries: Sequence[OtfRun],
    uncertain_fraction_limit: float,
    test_force_rmse: list[float | None],
    labels_so_far: int,
    dft_budget: int,
    min_improvement: float = 0.05,
    target_force_rmse: float | None = None,
    validation: ValidationReport | None = None,
) -> LoopDecision:
    """Converged or continue for one iteration, the reason in words, the evidence (and a warning when the
    loop stops learning above the target error).

    With ``validation`` (the committee's validation table against DFT, computed every iteration) the table is
    the evidence: the loop stops when every judged row is within its tolerance, goes on while any is not, and
    stops short of it only at the budget or when the committee's MD finds too little to learn (a warning
    names the rows still outside)."""
    checks = sum(int(s.checks) for s in md_summaries)
    uncertain = sum(int(s.uncertain_checks) for s in md_summaries)
    steps = sum(int(s.steps_done) for s in md_summaries)
    fraction = uncertain / checks if checks else 1.0
    improvement = _relative_improvement(test_force_rmse)
    latest = test_force_rmse[-1] if test_force_rmse else None
    evidence = StopEvidence(
        md_steps=steps,
        checks=checks,
        uncertain_checks=uncertain,
        uncertain_fraction=fraction,
        uncertain_fraction_limit=uncertain_fraction_limit,
        test_force_rmse_history=list(test_force_rmse),
        relative_improvement=improvement,
        target_force_rmse=target_force_rmse,
        labels_so_far=labels_so_far,
        dft_budget=dft_budget,
        validation_rows=len(validation.judged) if validation is not None else None,
        validation_outside=validation_outside(validation) if validation is not None else [],
    )
    above_target = target_force_rmse is not None and latest is not None and latest > target_force_rmse
    warning = f"held-out force RMSE {latest:.3g} eV/A is above the target {target_force_rmse:.3g} eV/A" if above_target else None
    if validation is not None:
        warning = _validation_warning(evidence.validation_outside, len(validation.judged))
    sampled = f"{fraction:.1%} uncertain checks over {steps} MD steps"
    if labels_so_far >= dft_budget:
        return LoopDecision(
            status="converged",
            reason=f"DFT budget reached ({labels_so_far} of {dft_budget} labels)",
            evidence=evidence,
            warning=warning,
        )
    if validation is not None and validation.judged and not evidence.validation_outside:
        return LoopDecision(
            status="converged",
            reason=f"every one of the {len(validation.judged)} rows of the validation table against DFT is within its "
            f"tolerance ({sampled})",
            evidence=evidence,
        )
    quiet = fraction < uncertain_fraction_limit
    if quiet and improvement is not None and improvement < min_improvement:
        return LoopDecision(
            status="converged",
            reason=f"{sampled} (< {uncertain_fraction_limit:.1%}) and the held-out force error "
            + (
                f"improved by only {improvement:.1%} (< {min_improvement:.0%})"
                if improvement >= 0
                else f"did not improve ({-improvement:.1%} worse)"
            ),
            evidence=evidence,
            warning=warning,
        )
    if validation is None and quiet and target_force_rmse is not None and latest is not None and latest <= target_force_rmse:
        return LoopDecision(
            status="converged",
            reason=f"{sampled} (< {uncertain_fraction_limit:.1%}) and the held-out force RMSE {latest:.3g} eV/A meets the target "
            f"{target_force_rmse:.3g} eV/A",
            evidence=evidence,
        )
    if improvement is not None:
        why = ""
    elif len(test_force_rmse) < 2:
        why = "; one committee so far, so no evidence yet that the error stopped improving"
    else:
        why = "; no held-out error to compare the last two committees on"
    if validation is not None:
        why += f"; validation: {len(evidence.validation_outside)} of {len(validation.judged)} rows outside tolerance"
    return LoopDecision(status="continue", reason=f"{sampled}{why}", evidence=evidence, warning=warning)


def validation_outside(report: ValidationReport) -> list[str]:
    """Rows that keep the loop going: judged rows not within tolerance (warn, fail) and checks that could not run."""
    return [f"{row.group}: {row.quantity} ({row.mark})" for row in report.rows if row.mark in ("warn", "fail", "incomplete")]


def _validation_warning(outside: list[str], judged: int) -> str | None:
    if not outside:
        return None
    shown = "; ".join(outside[:4]) + (f"; and {len(outside) - 4} more" if len(outside) > 4 else "")
    return f"validation targets unmet: {len(outside)} of {judged} rows outside tolerance ({shown})"
