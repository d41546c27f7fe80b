"""The loop's stopping rule on synthetic MD summaries and error histories: each branch and its stated reason."""

from __future__ import annotations

from mlip_autopipec.simulation.convergence import decide_status


def runs(checks: int, uncertain: int, steps: int = 100) -> list[dict]:
    return [{"checks": checks, "uncertain_checks": uncertain, "steps_done": steps}]


def test_budget_stops_the_loop_whatever_the_md_found() -> None:
    status = decide_status(runs(10, 10), 0.02, [0.5], labels_so_far=40, dft_budget=40)
    assert status["status"] == "converged" and "budget" in status["reason"]


def test_one_committee_cannot_show_a_flat_error() -> None:
    status = decide_status(runs(100, 0), 0.02, [0.1], labels_so_far=10, dft_budget=40)
    assert status["status"] == "continue" and "no evidence yet" in status["reason"]
    assert status["evidence"]["relative_improvement"] is None


def test_quiet_md_and_flat_error_converge() -> None:
    status = decide_status(runs(100, 1), 0.02, [0.20, 0.195], labels_so_far=10, dft_budget=40)
    assert status["status"] == "converged" and "improved by only 2.5%" in status["reason"]
    assert status["evidence"]["uncertain_fraction"] == 0.01 and "warning" not in status


def test_improving_error_or_busy_md_continue() -> None:
    assert decide_status(runs(100, 1), 0.02, [0.30, 0.20], 10, 40)["status"] == "continue"
    assert decide_status(runs(100, 5), 0.02, [0.20, 0.20], 10, 40)["status"] == "continue"
    assert decide_status(runs(0, 0), 0.02, [0.20, 0.20], 10, 40)["status"] == "continue"  # no checks: no evidence


def test_target_accuracy_lets_the_first_committee_stop_and_warns_when_missed() -> None:
    reached = decide_status(runs(100, 0), 0.02, [0.08], 10, 40, target_force_rmse=0.1)
    assert reached["status"] == "converged" and "meets the target" in reached["reason"]
    missed = decide_status(runs(100, 0), 0.02, [0.5, 0.49], 10, 40, target_force_rmse=0.1)
    assert missed["status"] == "converged" and "above the target" in missed["warning"]
    busy = decide_status(runs(100, 50), 0.02, [0.08], 10, 40, target_force_rmse=0.1)
    assert busy["status"] == "continue"


def test_missing_errors_are_not_mistaken_for_a_single_committee() -> None:
    status = decide_status(runs(100, 0), 0.02, [0.2, None], 10, 40)
    assert status["status"] == "continue" and "no held-out error" in status["reason"]


def test_error_history_reads_the_fixed_yardstick_first() -> None:
    from mlip_autopipec.simulation.convergence import held_out_force_rmse

    both = {"committee": {"test": {"force_rmse": 0.3}, "test_initial": {"force_rmse": 0.2}}}
    assert held_out_force_rmse(both) == 0.2
    assert held_out_force_rmse({"committee": {"test": {"force_rmse": 0.3}}}) == 0.3
    assert held_out_force_rmse({"committee": {"test": {"force_rmse": float("nan")}}}) is None
    assert held_out_force_rmse({"committee": {"test": {"n_structures": 0}}}) is None


def test_a_worse_error_is_said_so() -> None:
    status = decide_status(runs(100, 0), 0.02, [0.20, 0.25], 10, 40)
    assert status["status"] == "converged" and "did not improve (25.0% worse)" in status["reason"]
