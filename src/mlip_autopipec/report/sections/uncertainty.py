"""Section `uncertainty`: per iteration, the committee spread at every committee-MD check against its threshold."""

from __future__ import annotations

from mlip_autopipec.report.figures import uncertainty_figure
from mlip_autopipec.report.page import Section, missing, number, paragraph, table
from mlip_autopipec.report.run_files import Iteration, RunFiles


def _add_iteration(part: Section, iteration: Iteration, previous: Iteration | None) -> None:
    jobs = iteration.simulations
    spreads = [s for summary in jobs.values() for run in summary.runs for s in run.spreads]
    first = next(iter(jobs.values()))
    threshold, upper = first.threshold, first.upper
    calibration = previous.threshold if previous is not None else None
    why = f" ({calibration.reason})" if calibration is not None else ""
    title = f"iteration {iteration.number}: committee of iteration {iteration.number - 1}"
    levels = f"threshold {threshold:.4g} eV/A" + ("" if upper is None else f", upper trust level {upper:.4g} eV/A")
    part.add(paragraph(f"Iteration {iteration.number}: {levels}{why}."))
    if spreads:
        figure = uncertainty_figure(spreads, threshold, upper, title)
        part.figure(
            f"uncertainty_iter_{iteration.number}", figure, f"committee spread at every check, iteration {iteration.number}"
        )
    else:
        part.add(
            missing(
                f"Iteration {iteration.number}: the spread of each check is not in results/iter_{iteration.number}/simulate/*.json "
                "(runs written before the spreads were recorded); the largest spread per run is in the table."
            )
        )
    rows = [
        (
            name,
            len(summary.runs),
            sum(r.checks for r in summary.runs),
            sum(r.uncertain_checks for r in summary.runs),
            sum(r.collected for r in summary.runs),
            number(max((r.max_uncertainty for r in summary.runs), default=None)),
            number(summary.threshold),
        )
        for name, summary in jobs.items()
    ]
    headers = ("job", "runs", "checks", "above threshold", "collected", "max spread (eV/A)", "threshold (eV/A)")
    part.add(table(headers, rows))


def section(run: RunFiles) -> Section:
    part = Section("uncertainty", "Uncertainty: committee spread against the threshold")
    simulated = [it for it in run.iterations if it.simulations]
    if not simulated:
        return part.add(missing("No committee MD has run yet (no results/iter_N/simulate/*.json for N >= 1)."))
    part.add(
        paragraph(
            "The committee's spread (largest per-atom force standard deviation) at every check of the committee MD "
            "of each iteration (results/iter_N/simulate/*.json), with the threshold of the committee that ran it "
            "(results/iter_N-1/models/threshold.json): checks above it are handed back for DFT."
        )
    )
    by_number = {it.number: it for it in run.iterations}
    for iteration in simulated:
        _add_iteration(part, iteration, by_number.get(iteration.number - 1))
    return part
