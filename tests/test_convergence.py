"""The loop's stopping rule on synthetic MD summaries and error histories: each branch and its stated reason."""

from __future__ import annotations

from mlip_autopipec.active_learning.convergence import decide_status
from mlip_autopipec.data.records import OtfRun, ValidationReport, ValidationRow


def runs(checks: int, uncertain: int, steps: int = 100) -> list[OtfRun]:
    return [
        OtfRun(
            temperature_K=300.0,
            ensemble="nvt",
            checks=checks,
            uncertain_checks=uncertain,
            steps_done=steps,
            uncertain_fraction=uncertain / checks if checks else 1.0,
            collected=uncertain,
            max_uncertainty=0.0,
            stopped_reason=None,
            wall_time_s=0.0,
        )
    ]


def test_budget_stops_the_loop_whatever_the_md_found() -> None:
    status = decide_status(runs(10, 10), 0.02, [0.5], labels_so_far=40, dft_budget=40)
    assert status.status == "converged" and "budget" in status.reason


def test_one_committee_cannot_show_a_flat_error() -> None:
    status = decide_status(runs(100, 0), 0.02, [0.1], labels_so_far=10, dft_budget=40)
    assert status.status == "continue" and "no evidence yet" in status.reason
    assert status.evidence.relative_improvement is None


def test_quiet_md_and_flat_error_converge() -> None:
    status = decide_status(runs(100, 1), 0.02, [0.20, 0.195], labels_so_far=10, dft_budget=40)
    assert status.status == "converged" and "improved by only 2.5%" in status.reason
    assert status.evidence.uncertain_fraction == 0.01 and status.warning is None


def test_improving_error_or_busy_md_continue() -> None:
    assert decide_status(runs(100, 1), 0.02, [0.30, 0.20], 10, 40).status == "continue"
    assert decide_status(runs(100, 5), 0.02, [0.20, 0.20], 10, 40).status == "continue"
    assert decide_status(runs(0, 0), 0.02, [0.20, 0.20], 10, 40).status == "continue"  # no checks: no evidence


def test_target_accuracy_lets_the_first_committee_stop_and_warns_when_missed() -> None:
    reached = decide_status(runs(100, 0), 0.02, [0.08], 10, 40, target_force_rmse=0.1)
    assert reached.status == "converged" and "meets the target" in reached.reason
    missed = decide_status(runs(100, 0), 0.02, [0.5, 0.49], 10, 40, target_force_rmse=0.1)
    assert missed.status == "converged" and "above the target" in missed.warning
    busy = decide_status(runs(100, 50), 0.02, [0.08], 10, 40, target_force_rmse=0.1)
    assert busy.status == "continue"


def _table(*marks: str) -> ValidationReport:
    """A validation table with one row per mark (the stopping rule reads only groups, quantities and marks)."""
    rows = [
        ValidationRow(
            group="elastic",
            quantity=f"C{k}",
            unit="GPa",
            dft=100.0,
            potential=100.0,
            error=0.0,
            relative_error=0.0,
            compared="relative",
            tolerance=0.1,
            mark=mark,
        )
        for k, mark in enumerate(marks)
    ]
    return ValidationReport(potential="c.json", config_hash="h", created="t", rows=rows, dft_runs=0, dft_seconds=0.0)


def test_a_validation_table_within_tolerance_stops_the_loop_even_on_busy_md() -> None:
    status = decide_status(runs(100, 50), 0.02, [0.3], 10, 40, validation=_table("pass", "pass", "info"))
    assert status.status == "converged" and "every one of the 2 rows" in status.reason and status.warning is None
    assert status.evidence.validation_rows == 2 and status.evidence.validation_outside == []


def test_rows_outside_tolerance_keep_the_loop_going_where_the_held_out_error_would_stop_it() -> None:
    table = _table("pass", "warn", "fail")
    going = decide_status(runs(100, 0), 0.02, [0.08], 10, 40, target_force_rmse=0.1, validation=table)
    assert going.status == "continue" and "validation: 2 of 3 rows outside tolerance" in going.reason
    assert going.evidence.validation_outside == ["elastic: C1 (warn)", "elastic: C2 (fail)"]
    assert "validation targets unmet" in going.warning


def test_budget_or_quiet_md_stop_with_the_unmet_rows_named() -> None:
    table = _table("pass", "fail", "incomplete")
    budget = decide_status(runs(100, 50), 0.02, [0.3], 40, 40, validation=table)
    assert budget.status == "converged" and "budget" in budget.reason and "C1 (fail)" in budget.warning
    quiet = decide_status(runs(100, 1), 0.02, [0.20, 0.199], 10, 40, validation=table)
    assert quiet.status == "converged" and "C2 (incomplete)" in quiet.warning


def test_missing_errors_are_not_mistaken_for_a_single_committee() -> None:
    status = decide_status(runs(100, 0), 0.02, [0.2, None], 10, 40)
    assert status.status == "continue" and "no held-out error" in status.reason


def _errors(test: float | None = None, initial: float | None = None, n: int = 2) -> dict:
    """The ``committee`` block of a metrics.json with held-out force RMSEs (None: absent)."""
    errors: dict = {"train": {"n_structures": 10, "force_rmse": 0.1}, "test": {"n_structures": n}}
    if test is not None:
        errors["test"]["force_rmse"] = test
    if initial is not None:
        errors["test_initial"] = {"n_structures": n, "force_rmse": initial}
    return errors


def test_error_history_reads_the_fixed_yardstick_first() -> None:
    from mlip_autopipec.active_learning.convergence import held_out_force_rmse
    from mlip_autopipec.data.records import CommitteeErrors

    def rmse(errors: dict) -> float | None:
        return held_out_force_rmse(CommitteeErrors.model_validate(errors))

    assert rmse(_errors(test=0.3, initial=0.2)) == 0.2
    assert rmse(_errors(test=0.3)) == 0.3
    assert rmse(_errors(test=float("nan"))) is None
    assert rmse(_errors(n=0)) is None


def test_a_worse_error_is_said_so() -> None:
    status = decide_status(runs(100, 0), 0.02, [0.20, 0.25], 10, 40)
    assert status.status == "converged" and "did not improve (25.0% worse)" in status.reason


# --- the checkpoint's decision on real structures: candidates, near-duplicates, budget, status.json -------------


def uncertain_frames() -> list:
    """Four rattled Cu cells as the committee runs hand them back, one a copy of another."""
    import numpy as np
    from ase.build import bulk

    frames = []
    for k, uncertainty in enumerate((0.3, 0.5, 0.4)):
        atoms = bulk("Cu", "fcc", a=3.6 + 0.05 * k, cubic=True)
        atoms.rattle(0.05, seed=k)
        atoms.info.update(uncertainty=uncertainty, origin="active_learning")
        atoms.arrays["force_std"] = np.full(len(atoms), uncertainty)
        frames.append(atoms)
    copy = frames[1].copy()
    copy.info["uncertainty"] = 0.2
    return [*frames, copy]


def decide(frames, runs_, **overrides):
    from mlip_autopipec.active_learning.iteration import decide_iteration
    from mlip_autopipec.config.models import ActiveLearningConfig
    from mlip_autopipec.data.records import Threshold

    threshold = Threshold(value=0.1, percentile=95.0, n=20, reason="test")
    settings = ActiveLearningConfig(**overrides.pop("settings", {}))
    options = dict(elements=["Cu"], labels_so_far=10, dft_budget=40, per_iteration=2, held_out_history=[0.3])
    options.update(overrides)
    return decide_iteration(2, frames, runs_, threshold, 4.0, settings, **options)


def test_the_most_uncertain_distinct_structures_go_to_dft() -> None:
    frames = uncertain_frames()
    status, chosen = decide(frames, runs(100, 10))
    assert status.status == "continue" and status.iteration == 2
    assert [a.info["uncertainty"] for a in chosen] == [0.5, 0.4]  # the copy (0.2) was a near-duplicate of 0.5
    assert all(a.info["origin"] == "active_learning" for a in chosen)
    evidence = status.evidence
    assert (evidence.uncertain_frames, evidence.extracted, evidence.near_duplicates_removed, evidence.selected) == (4, 4, 1, 2)
    assert evidence.threshold.value == 0.1 and evidence.checks == 100 and evidence.labels_so_far == 10


def test_the_budget_limits_and_then_stops_the_selection() -> None:
    status, chosen = decide(uncertain_frames(), runs(100, 10), labels_so_far=39)
    assert status.status == "continue" and len(chosen) == 1 and status.evidence.selected == 1
    status, chosen = decide(uncertain_frames(), runs(100, 10), labels_so_far=40)
    assert status.status == "converged" and "budget" in status.reason and chosen == [] and status.evidence.selected == 0


def test_large_cells_are_carved_before_labelling() -> None:
    import numpy as np
    from ase.build import bulk

    big = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(4)  # 256 atoms, above extraction_max_whole_atoms (64)
    big.rattle(0.05, seed=3)
    big.info["uncertainty"] = 0.6
    big.arrays["force_std"] = np.where(np.arange(len(big)) == 17, 0.6, 0.01)  # one atom the committee disagrees on
    status, chosen = decide([big], runs(100, 10), per_iteration=5)
    assert status.evidence.extracted >= 1 and 1 <= len(chosen) <= 5
    assert all(len(a) < len(big) and a.info["uncertainty"] == 0.6 for a in chosen)


def test_status_file_keeps_its_shape(tmp_path) -> None:
    import json

    from mlip_autopipec.data.records import IterationStatus

    status, _ = decide(uncertain_frames(), runs(100, 10))
    status.write(tmp_path / "status.json")
    data = json.loads((tmp_path / "status.json").read_text())
    assert set(data) == {"iteration", "status", "reason", "evidence"}  # no "warning" key without a warning
    assert set(data["evidence"]) == {
        "md_steps",
        "checks",
        "uncertain_checks",
        "uncertain_fraction",
        "uncertain_fraction_limit",
        "test_force_rmse_history",
        "relative_improvement",
        "target_force_rmse",
        "labels_so_far",
        "dft_budget",
        "uncertain_frames",
        "extracted",
        "near_duplicates_removed",
        "selected",
        "threshold",
        "validation_rows",
        "validation_outside",
    }
    assert {k: data["evidence"]["threshold"][k] for k in ("value", "percentile", "n", "reason", "upper")} == {
        "value": 0.1,
        "percentile": 95.0,
        "n": 20,
        "reason": "test",
        "upper": None,
    }
    assert IterationStatus.read(tmp_path / "status.json") == status
    warned, chosen = decide(uncertain_frames(), runs(100, 0), held_out_history=[0.5, 0.49], settings={"target_force_rmse": 0.1})
    assert warned.status == "converged" and chosen == [] and "above the target" in warned.warning
    warned.write(tmp_path / "warned.json")
    assert json.loads((tmp_path / "warned.json").read_text())["warning"] == warned.warning


def test_held_out_history_reads_each_committee_metrics_file(tmp_path) -> None:
    import json

    from mlip_autopipec.active_learning.convergence import held_out_history

    for k, errors in enumerate((_errors(test=0.3), _errors(initial=0.2))):
        metrics = {"committee": errors, "members": [], "config_hash": "h", "units": {}}
        (tmp_path / f"{k}.json").write_text(json.dumps(metrics))
    assert held_out_history([tmp_path / "0.json", tmp_path / "1.json"]) == [0.3, 0.2]


def test_an_iteration_that_goes_on_without_labels_says_why() -> None:
    """While the error is above target the loop goes on; when its committee runs flagged nothing the status names
    the numbers (checks, lower trust level, largest spread) instead of silently labelling nothing."""
    quiet = runs(100, 0)
    status, chosen = decide([], quiet, held_out_history=[0.5], settings={"target_force_rmse": 0.1})
    assert status.status == "continue" and chosen == []
    assert "nothing labelled: none of 100 committee checks was above the lower trust level 0.1 eV/A" in status.warning
    assert "above the target" in status.warning  # the error is still above target: said too
    status, chosen = decide([], quiet, labels_so_far=40, held_out_history=[0.5])
    assert status.status == "converged" and "budget" in status.reason
    busy, chosen = decide(uncertain_frames(), runs(100, 10))
    assert chosen and busy.warning is None
