"""The checkpoint ``simulate`` of one iteration: uncertain frames -> carved environments -> near-duplicates
removed -> the most uncertain within the budget -> the loop's decision (``status.json``).

Why here and not in the Snakemake script: this is the loop's behaviour (what goes to DFT next, when to stop),
so tests call :func:`decide_iteration` on real structures and run files without a workflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import ase.io
from ase import Atoms

from mlip_autopipec.active_learning.convergence import decide_status
from mlip_autopipec.active_learning.extraction import extract_uncertain
from mlip_autopipec.active_learning.uncertainty import remove_near_duplicates
from mlip_autopipec.config.models import ActiveLearningConfig
from mlip_autopipec.data.records import (
    IterationEvidence,
    IterationStatus,
    OtfJobSummary,
    OtfRun,
    Threshold,
    ValidationReport,
)
from mlip_autopipec.descriptors import DescriptorSpec
from mlip_autopipec.potentials.committee_plan import load_committee, model_cutoff

ORIGIN = "active_learning"
DUPLICATE_N_MAX, DUPLICATE_L_MAX = 6, 4
"""Descriptor basis that tells near-duplicate uncertain structures apart (with the run's species)."""


def committee_cutoff(manifest_path: str | Path) -> float:
    """How far (A) a committee's forces see, from its ``committee.json``: the radius a carved environment keeps
    intact. The one place this stage reads the training stage's manifest."""
    return model_cutoff(load_committee(manifest_path).manifest)


def read_uncertain_frames(paths: Iterable[str | Path]) -> list[Atoms]:
    """Every frame of the ``simulate_md`` jobs' extxyz files, in file order (an empty file: a job found nothing)."""
    frames: list[Atoms] = []
    for path in paths:
        if Path(path).stat().st_size:
            frames += ase.io.read(path, index=":")
    return frames


def read_runs(paths: Iterable[str | Path]) -> list[OtfRun]:
    """The run records of every ``simulate_md`` job summary, in file order."""
    return [run for path in paths for run in OtfJobSummary.read(path).runs]


def extract_candidates(uncertain: Sequence[Atoms], cutoff: float, settings: ActiveLearningConfig) -> list[Atoms]:
    """Each uncertain frame, or the environments carved around its most uncertain atoms when the cell is
    large; every piece keeps its frame's uncertainty and is marked as coming from active learning."""
    candidates = []
    for atoms in uncertain:
        for piece in extract_uncertain(
            atoms,
            cutoff,
            settings.extraction_buffer,
            force_std=atoms.arrays.get("force_std"),
            max_whole_atoms=settings.extraction_max_whole_atoms,
        ):
            piece.info.setdefault("uncertainty", atoms.info.get("uncertainty"))
            piece.info["origin"] = ORIGIN
            candidates.append(piece)
    return candidates


def most_uncertain_unique(
    candidates: Sequence[Atoms], elements: Sequence[str], duplicate_distance: float, limit: int
) -> tuple[list[Atoms], int]:
    """Up to ``limit`` candidates, most uncertain first, after near-duplicates are removed; and how many
    near-duplicates were removed."""
    spec = DescriptorSpec(species=tuple(elements), n_max=DUPLICATE_N_MAX, l_max=DUPLICATE_L_MAX)
    unique, duplicates = remove_near_duplicates(candidates, spec, duplicate_distance)
    unique.sort(key=lambda a: -float(a.info.get("uncertainty") or 0.0))
    return unique[:limit], duplicates


def decide_iteration(
    iteration: int,
    uncertain: Sequence[Atoms],
    runs: Sequence[OtfRun],
    threshold: Threshold,
    cutoff: float,
    settings: ActiveLearningConfig,
    *,
    elements: Sequence[str],
    labels_so_far: int,
    dft_budget: int,
    per_iteration: int,
    held_out_history: list[float | None],
    validation: ValidationReport | None = None,
) -> tuple[IterationStatus, list[Atoms]]:
    """The iteration's ``status.json`` and the structures to label next (none when converged).

    ``uncertain``: the frames the committee runs flagged; ``runs``: their run records; ``held_out_history``:
    the held-out force RMSE of every committee so far (eV/A), oldest first; ``validation``: the committee's
    validation table, when it is validated every iteration (the stopping rule's evidence). At most ``per_iteration``
    structures are chosen, and never more than the DFT budget has left.
    """
    candidates = extract_candidates(uncertain, cutoff, settings)
    remaining = max(0, int(dft_budget) - int(labels_so_far))
    chosen, duplicates = most_uncertain_unique(
        candidates, elements, settings.duplicate_distance, min(int(per_iteration), remaining)
    )
    decision = decide_status(
        runs,
        settings.converged_uncertain_fraction,
        held_out_history,
        int(labels_so_far),
        int(dft_budget),
        settings.min_error_improvement,
        settings.target_force_rmse,
        validation,
    )
    warning = decision.warning
    if decision.status == "converged":
        chosen = []
    elif not chosen:
        warning = "; ".join(w for w in (warning, nothing_to_label(runs, threshold, len(uncertain), duplicates, remaining)) if w)
    evidence = IterationEvidence(
        **dict(decision.evidence),
        uncertain_frames=len(uncertain),
        extracted=len(candidates),
        near_duplicates_removed=duplicates,
        selected=len(chosen),
        threshold=threshold,
    )
    status = IterationStatus(
        iteration=int(iteration), status=decision.status, reason=decision.reason, evidence=evidence, warning=warning
    )
    return status, chosen


def nothing_to_label(runs: Sequence[OtfRun], threshold: Threshold, uncertain: int, duplicates: int, remaining: int) -> str:
    """Why an iteration that goes on labels nothing, in words with its numbers (for ``status.json``)."""
    if remaining <= 0:
        return "nothing labelled: the DFT budget is used up"
    checks = sum(run.checks for run in runs)
    if not uncertain:
        largest = max((run.max_uncertainty for run in runs), default=0.0)
        return (
            f"nothing labelled: none of {checks} committee checks was above the lower trust level {threshold.value:.4g} eV/A "
            f"(largest spread {largest:.4g} eV/A); {threshold.reason}"
        )
    return f"nothing labelled: all {uncertain} uncertain frames were near-duplicates ({duplicates} removed)"
