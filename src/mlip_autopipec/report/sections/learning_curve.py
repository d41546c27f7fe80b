"""Section `learning-curve`: held-out error of each iteration's committee against the DFT labels spent so far, and
the fresh validation set's error of the delivered committee as a separate point."""

from __future__ import annotations

from mlip_autopipec.data.records import ValidationReport
from mlip_autopipec.report.figures import CurvePoint, learning_curve_figure
from mlip_autopipec.report.page import Section, missing, number, paragraph, table
from mlip_autopipec.report.run_files import Iteration, RunFiles


def _pw_runs(iteration: Iteration) -> int:
    """Runs of the DFT program behind the iteration's labels, cache hits excluded."""
    return sum(len(record.attempts) for record in iteration.labels if not record.cache_hit)


def curve_points(run: RunFiles) -> list[tuple[Iteration, CurvePoint]]:
    """One point per trained iteration: cumulative DFT labels (labelled and failed) and the held-out errors (dimer and
    trimer scans left out, as ``mlip-pipe status`` shows them)."""
    points, spent = [], 0
    for iteration in run.iterations:
        spent += len(iteration.labels)
        if iteration.metrics is None:
            continue
        test = iteration.metrics.committee.test_condensed or iteration.metrics.committee.test
        points.append((iteration, CurvePoint(f"iter {iteration.number}", spent, test.force_rmse, test.energy_rmse_per_atom)))
    return points


def validation_point(run: RunFiles, report: ValidationReport, trained: list[int]) -> CurvePoint | None:
    """The delivered committee's error on the fresh validation set, at the labels its iteration had spent (the last
    trained iteration of ``trained`` when no committee was delivered)."""
    rows = {row.quantity: row.potential for row in report.rows if row.group == "validation set"}
    if rows.get("force RMSE") is None and rows.get("energy RMSE") is None:
        return None
    delivered = run.delivered_iteration()
    last = delivered if delivered is not None else max(trained, default=0)
    spent = sum(len(it.labels) for it in run.iterations if it.number <= last)
    return CurvePoint(f"fresh validation set (iter {last})", spent, rows.get("force RMSE"), rows.get("energy RMSE"))


def section(run: RunFiles) -> Section:
    part = Section("learning-curve", "Learning curve: held-out error against DFT calls")
    points = curve_points(run)
    if not points:
        return part.add(missing("No committee metrics yet (no results/iter_N/models/metrics.json)."))
    trained = [iteration.number for iteration, _ in points]
    validation = validation_point(run, run.validation, trained) if run.validation is not None else None
    part.add(
        paragraph(
            "Held-out force and energy RMSE of each iteration's committee (its test split, dimer/trimer scans left "
            "out) against the DFT labels the loop had spent up to that iteration (labelled and failed, from "
            "results/iter_N/labels); the star is the delivered committee on the fresh validation set "
            "(results/validation/validation.json), structures the loop never saw."
        )
    )
    part.figure("learning_curve", learning_curve_figure([point for _, point in points], validation), "learning curve")
    if validation is None:
        part.add(missing("No fresh-validation-set error: results/validation/validation.json is absent or has no such rows."))
    rows: list[tuple[object, ...]] = []
    for iteration, point in points:
        rows.append(
            (
                iteration.number,
                len(iteration.labels),
                point.dft_labels,
                _pw_runs(iteration),
                number(point.force_rmse),
                number(None if point.energy_rmse_per_atom is None else 1e3 * point.energy_rmse_per_atom),
                "" if iteration.status is None else iteration.status.status,
            )
        )
    if validation is not None:
        energy = validation.energy_rmse_per_atom
        rows.append(
            (
                validation.label,
                "-",
                validation.dft_labels,
                "-",
                number(validation.force_rmse),
                number(None if energy is None else 1e3 * energy),
                "",
            )
        )
    headers = ("iteration", "labels", "labels so far", "pw.x runs", "F RMSE (eV/A)", "E RMSE (meV/atom)", "decision")
    return part.add(table(headers, rows, text_columns=(0, 6)))
