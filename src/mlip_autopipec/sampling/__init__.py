"""Stage `select` (iteration 0): DIRECT sampling of diverse training structures from large candidate pools.

The numerical steps work on feature arrays, in memory or streamed in chunks (``chunks``): scaling and PCA
(``reduction``), BIRCH/k-means clustering (``clustering``), stratified picks per cluster (``selection``),
coverage of the reduced space (``coverage``), all four together (``direct``). ``structures`` applies DIRECT to
ASE structures (descriptors, a quota for dimer/trimer scans, isolated atoms kept); ``initial_selection`` is the
checkpoint ``select``: generated and explored frames in, one file per pick and ``selection.json`` out.
"""

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
