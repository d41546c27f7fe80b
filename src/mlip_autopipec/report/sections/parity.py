"""Section `parity`: energy, force and stress parity of every iteration's committee on its own train/test split."""

from __future__ import annotations

import logging

from mlip_autopipec.report.figures import parity_figure
from mlip_autopipec.report.page import Section, missing, paragraph
from mlip_autopipec.report.predictions import split_predictions
from mlip_autopipec.report.run_files import Iteration, RunFiles

logger = logging.getLogger(__name__)


def _add_iteration(part: Section, iteration: Iteration) -> None:
    """The three-panel parity plot; the training job's own parity.png (energy and forces) when the committee cannot
    be evaluated here (its backend missing, a file unreadable)."""
    manifest = iteration.models / "committee.json"
    title = f"iteration {iteration.number}: committee mean against DFT"
    try:
        predictions = split_predictions(manifest)
    except Exception as error:  # the page goes on without this committee's stress panel; the reason is shown
        logger.warning("parity of iteration %d: %s", iteration.number, error)
        fallback = iteration.models / "parity.png"
        why = f"iteration {iteration.number}: the committee could not be evaluated here ({type(error).__name__}: {error})"
        if fallback.is_file():
            part.add(missing(why + "; the training job's parity plot (energy and forces, no stress) instead"))
            part.figure(f"parity_iter_{iteration.number}", fallback.read_bytes(), f"{fallback} (training job)")
        else:
            part.add(missing(why))
        return
    counts = ", ".join(f"{len(p.energy_ref)} {name}" for name, p in predictions.items())
    part.figure(f"parity_iter_{iteration.number}", parity_figure(predictions, title), f"{title} ({counts} structures)")


def section(run: RunFiles) -> Section:
    part = Section("parity", "Parity: energy, forces and stress per iteration")
    trained = [it for it in run.iterations if it.manifest is not None]
    if not trained:
        return part.add(missing("No committee has been trained yet (no results/iter_N/models/committee.json)."))
    part.add(
        paragraph(
            "Each iteration's committee mean against the DFT labels of its training and held-out (test) structures, "
            "evaluated from the committee files in results/iter_N/models; RMSE in the legends."
        )
    )
    for iteration in trained:
        _add_iteration(part, iteration)
    return part
