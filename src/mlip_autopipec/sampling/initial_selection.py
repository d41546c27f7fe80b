"""Iteration 0's pick (checkpoint ``select``): generated and explored frames -> DIRECT -> one file per structure.

Why a function of its own: which frames compete, the quota of dimer/trimer scans and what the summary counts
are the stage's behaviour; tests call :func:`select_initial_structures` and the Snakemake script only reads
the candidate files and writes the outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ase import Atoms

from mlip_autopipec.config.models import SelectConfig
from mlip_autopipec.data.records import SelectionSummary
from mlip_autopipec.data.structure_files import fan_out
from mlip_autopipec.sampling.structures import select_structures

ORIGIN = "generated"
"""Origin written for picks that carry none (explored frames carry their own, 'explore')."""


def select_initial_structures(
    generated: Sequence[Atoms],
    explored: Sequence[Atoms],
    folder: str | Path,
    select: SelectConfig,
    elements: Sequence[str],
    seed: int,
) -> SelectionSummary:
    """DIRECT over generated + explored frames (in that order); each pick written to ``folder/<id>.extxyz``.

    ``select.initial_structures`` frames are picked, isolated atoms always among them, with at most
    ``select.cluster_fraction`` of them dimer/trimer scans and ``select.strain_fraction`` strained crystals
    spread over volume. Picks with the same content id collapse to one file.
    """
    frames = [*generated, *explored]
    n_generated = len(generated)
    selection = select_structures(
        frames,
        int(select.initial_structures),
        list(elements),
        int(seed),
        float(select.cluster_fraction),
        float(select.strain_fraction),
    )
    written = fan_out([frames[i] for i in selection.indices], Path(folder), origin=ORIGIN)
    return SelectionSummary(
        candidates=len(frames),
        generated=n_generated,
        explored=len(frames) - n_generated,
        selected_from_exploration=sum(1 for i in selection.indices if i >= n_generated),
        selected=len(written),
        forced_isolated_atoms=len(selection.forced),
        few_atom_clusters=selection.n_few_atom_clusters,
        strained_crystals=selection.n_strained,
        coverage=selection.coverage,
        clusters=selection.n_clusters,
        pca_components=selection.n_components,
    )
