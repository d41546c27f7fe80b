"""How a run ended, read from its own files: the loop's last decision, its warnings and the validation verdict."""

from __future__ import annotations

from pathlib import Path

from mlip_autopipec.active_learning.outcome import run_outcome
from mlip_autopipec.data.records import IterationEvidence, IterationStatus, Threshold, ValidationReport, ValidationRow


def write_status(results: Path, iteration: int, status: str, reason: str, warning: str | None = None) -> None:
    evidence = IterationEvidence(
        md_steps=100,
        checks=10,
        uncertain_checks=0,
        uncertain_fraction=0.0,
        uncertain_fraction_limit=0.02,
        test_force_rmse_history=[0.3, 0.2],
        relative_improvement=0.33,
        target_force_rmse=0.1,
        labels_so_far=40,
        dft_budget=40,
        uncertain_frames=0,
        extracted=0,
        near_duplicates_removed=0,
        selected=0,
        threshold=Threshold(value=0.2, percentile=95.0, n=10, reason="test"),
    )
    folder = results / f"iter_{iteration}"
    folder.mkdir(parents=True)
    IterationStatus(iteration=iteration, status=status, reason=reason, evidence=evidence, warning=warning).write(
        folder / "status.json"
    )


def write_validation(results: Path, mark: str) -> None:
    row = ValidationRow(
        group="equation of state",
        quantity="lattice constant a",
        unit="A",
        dft=5.47,
        potential=5.57,
        error=0.1,
        relative_error=0.018,
        compared="relative",
        tolerance=0.005,
        mark=mark,
    )
    (results / "validation").mkdir()
    ValidationReport(potential="c.json", config_hash="h", created="now", rows=[row], dft_runs=0, dft_seconds=0.0).write(
        results / "validation" / "validation.json"
    )


def test_budget_stop_above_target_says_targets_unmet(tmp_path: Path) -> None:
    write_status(tmp_path, 1, "continue", "learning")
    write_status(
        tmp_path,
        2,
        "converged",
        "DFT budget reached (40 of 40 labels)",
        warning="held-out force RMSE 0.2 eV/A is above the target 0.1 eV/A",
    )
    write_validation(tmp_path, "fail")
    outcome = run_outcome(tmp_path)
    assert outcome.last_iteration == 2 and outcome.stopped_on_budget and outcome.targets_met is False
    text = "\n".join(outcome.lines())
    assert "budget" in text and "above the target" in text and "FAILED 1 rows" in text and "targets unmet" in text


def test_max_iterations_while_learning_is_not_a_convergence(tmp_path: Path) -> None:
    write_status(tmp_path, 1, "continue", "learning")
    outcome = run_outcome(tmp_path)
    assert "max_iterations reached" in outcome.stop_reason and outcome.targets_met is False


def test_a_converged_validated_run_meets_its_targets(tmp_path: Path) -> None:
    write_status(tmp_path, 1, "converged", "quiet and accurate")
    assert run_outcome(tmp_path).targets_met is None  # nothing judged the potential yet
    write_validation(tmp_path, "pass")
    outcome = run_outcome(tmp_path)
    assert outcome.targets_met is True and not any("targets unmet" in line for line in outcome.lines())
