"""The stopping rule of the active-learning loop, with the evidence written to ``status.json``.

An iteration is converged when its on-the-fly MD found fewer than a set fraction of uncertain
checks over its whole simulated length AND the held-out force error stopped improving (less than
``min_improvement`` relative to the previous committee); it also stops at the DFT budget.
"""

from __future__ import annotations

from typing import Any


def decide_status(
    md_summaries: list[dict[str, Any]],
    uncertain_fraction_limit: float,
    test_force_rmse: list[float],
    labels_so_far: int,
    dft_budget: int,
    min_improvement: float = 0.05,
) -> dict[str, Any]:
    """``{"status": "converged"|"continue", "reason": ..., "evidence": {...}}`` for one iteration."""
    checks = sum(int(s["checks"]) for s in md_summaries)
    uncertain = sum(int(s["uncertain_checks"]) for s in md_summaries)
    steps = sum(int(s["steps_done"]) for s in md_summaries)
    fraction = uncertain / checks if checks else 1.0
    improvement = None
    if len(test_force_rmse) >= 2 and test_force_rmse[-2] > 0:
        improvement = (test_force_rmse[-2] - test_force_rmse[-1]) / test_force_rmse[-2]
    evidence = {
        "md_steps": steps,
        "checks": checks,
        "uncertain_checks": uncertain,
        "uncertain_fraction": fraction,
        "uncertain_fraction_limit": uncertain_fraction_limit,
        "test_force_rmse_history": test_force_rmse,
        "relative_improvement": improvement,
        "labels_so_far": labels_so_far,
        "dft_budget": dft_budget,
    }
    if labels_so_far >= dft_budget:
        return {"status": "converged", "reason": f"DFT budget reached ({labels_so_far} of {dft_budget} labels)", "evidence": evidence}
    error_flat = improvement is not None and improvement < min_improvement
    if fraction < uncertain_fraction_limit and error_flat:
        return {
            "status": "converged",
            "reason": f"{fraction:.1%} uncertain checks over {steps} MD steps (< {uncertain_fraction_limit:.1%}) and the held-out "
            f"force error improved by only {improvement:.1%} (< {min_improvement:.0%})",
            "evidence": evidence,
        }
    why = "" if improvement is not None else "; one committee so far, so no evidence yet that the error stopped improving"
    return {"status": "continue", "reason": f"{fraction:.1%} uncertain checks over {steps} MD steps{why}", "evidence": evidence}
