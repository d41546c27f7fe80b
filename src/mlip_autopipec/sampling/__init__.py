"""Selecting diverse training structures from large pools of candidates (DIRECT sampling)."""

from mlip_autopipec.sampling.chunks import ChunkSource, array_chunks
from mlip_autopipec.sampling.coverage import Coverage, measure_coverage
from mlip_autopipec.sampling.direct import DirectSelection, direct_select, direct_select_stream
from mlip_autopipec.sampling.reduction import ReducedSpace, fit_reduced_space, fit_reduced_space_stream

__all__ = [
    "ChunkSource",
    "Coverage",
    "DirectSelection",
    "ReducedSpace",
    "array_chunks",
    "direct_select",
    "direct_select_stream",
    "fit_reduced_space",
    "fit_reduced_space_stream",
    "measure_coverage",
]
