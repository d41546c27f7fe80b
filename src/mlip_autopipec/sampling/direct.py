"""DIRECT sampling entry points: pick a small, diverse training set from many structures.

DIRECT (DImensionality-Reduced Encoded Clusters with sTratified sampling; Qi, Ko, Chen et al.,
npj Comput. Mater. 2024) = standardise per-structure features -> PCA with the kept components
weighted by explained variance (``reduction``) -> BIRCH clustering (``clustering``) -> k frames
from every cluster (``selection``) -> coverage score (``coverage``).

``direct_select_stream`` reads features from a chunk source in two passes (PCA statistics, then
transform; three with the ``incremental`` PCA solver: scaler, IncrementalPCA, transform) and
keeps only the reduced coordinates (n x m float32: 1M frames x 20 components is 80 MB), so a
million structures never need their raw or per-atom descriptors in memory at once.
``direct_select`` is the same pipeline for an array already in memory.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from mlip_autopipec.sampling.chunks import ChunkSource, array_chunks, check_chunk, checked_chunks
from mlip_autopipec.sampling.clustering import Clustering, cluster_reduced
from mlip_autopipec.sampling.coverage import Coverage, default_coverage_bins, measure_coverage
from mlip_autopipec.sampling.reduction import (
    PcaMode,
    PcaSolver,
    PcWeighting,
    ReducedSpace,
    fit_reduced_space,
    fit_reduced_space_stream,
)
from mlip_autopipec.sampling.selection import Strategy, select_per_cluster

logger = logging.getLogger(__name__)

# Arrays larger than this (elements, e.g. 20,000 frames x 250 features) go through the streaming
# path even in direct_select: its covariance PCA is exact too, and much faster than a full SVD of
# a tall matrix, which would also need a standardised float64 copy of the whole array.
IN_MEMORY_LIMIT = 5_000_000


@dataclass(frozen=True)
class DirectSelection:
    """Result of DIRECT sampling.

    ``indices`` are sorted frame indices into the input. ``cluster_labels`` gives every frame's
    cluster (0..n_clusters-1). ``explained_variance`` holds the correlation-matrix eigenvalues of
    the kept components and ``explained_variance_ratio`` their share of the total variance.
    ``coverage`` / ``mean_nearest_distance`` / ``max_nearest_distance`` are defined in
    ``mlip_autopipec.sampling.coverage``. ``all_selected`` is True when ``n_select`` was at least
    the number of frames: every frame is then returned, each frame is its own cluster, coverage is
    1 and distances are 0. ``coordinates`` are the frames' weighted PC coordinates (float32) and
    ``space`` maps new features into them. ``n_subclusters`` / ``birch_threshold`` describe the
    BIRCH tree, ``coverage_bins`` the histogram used for ``coverage`` (reused by ``coverage_of``),
    ``distances_exact`` whether the distances used every frame, ``source_passes`` how many times a
    chunk source was read (0 for in-memory arrays), and ``timings`` holds seconds per stage
    (``standardise`` (incremental solver only), ``pca``, ``transform``, ``birch_calibration``,
    ``birch_fit``, ``global_clustering``, ``assign``, ``select``, ``coverage``, ``total``).
    """

    indices: np.ndarray
    cluster_labels: np.ndarray
    n_components: int
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    coverage: float
    mean_nearest_distance: float
    max_nearest_distance: float
    n_frames: int
    n_clusters: int
    n_subclusters: int
    birch_threshold: float
    strategy: str
    k_per_cluster: int
    seed: int
    all_selected: bool
    coverage_per_component: np.ndarray = field(repr=False)
    coverage_bins: int = 100
    distances_exact: bool = True
    source_passes: int = 0
    timings: dict[str, float] = field(default_factory=dict, repr=False)
    coordinates: np.ndarray | None = field(default=None, repr=False)
    space: ReducedSpace | None = field(default=None, repr=False)

    @property
    def n_selected(self) -> int:
        """Number of selected frames (<= n_select; smaller when clusters have fewer than k frames)."""
        return int(len(self.indices))

    def coverage_of(self, indices: np.ndarray, n_bins: int | None = None) -> Coverage:
        """Coverage of another selection (e.g. a random baseline) in this result's reduced space.

        Uses this result's ``coverage_bins`` unless ``n_bins`` is given, so the numbers compare.
        """
        if self.coordinates is None:
            raise ValueError("this result holds no reduced coordinates")
        bins = self.coverage_bins if n_bins is None else n_bins
        return measure_coverage(self.coordinates, np.asarray(indices), n_bins=bins, seed=self.seed)


def _check_arguments(n_select: int, n_clusters: int | None, k_per_cluster: int) -> int:
    """Validate the sizes and return the number of clusters to form."""
    if n_select < 1:
        raise ValueError(f"n_select must be at least 1, got {n_select}")
    if k_per_cluster < 1:
        raise ValueError(f"k_per_cluster must be at least 1, got {k_per_cluster}")
    if n_clusters is None:
        if k_per_cluster > n_select:
            raise ValueError(f"k_per_cluster ({k_per_cluster}) is larger than n_select ({n_select})")
        return n_select // k_per_cluster
    if n_clusters < 1:
        raise ValueError(f"n_clusters must be at least 1, got {n_clusters}")
    if n_clusters * k_per_cluster > n_select:
        raise ValueError(
            f"n_clusters * k_per_cluster = {n_clusters * k_per_cluster} exceeds n_select = {n_select}; "
            "lower one of them or leave n_clusters unset (it then defaults to n_select // k_per_cluster)"
        )
    return n_clusters


def _finish(
    space: ReducedSpace,
    coordinates: np.ndarray,
    n_select: int,
    n_clusters: int,
    k_per_cluster: int,
    strategy: Strategy,
    seed: int,
    coverage_bins: int | None,
    timings: dict[str, float],
    source_passes: int,
) -> DirectSelection:
    """Cluster, select and score reduced coordinates (shared by both entry points)."""
    n_frames = len(coordinates)
    kept = space.n_components
    variance = space.eigenvalues[:kept]
    ratio = space.explained_variance_ratio[:kept]
    if strategy not in ("closest", "random"):
        raise ValueError(f"strategy must be 'closest' or 'random', got {strategy!r}")
    if n_select >= n_frames:
        logger.info("DIRECT: n_select=%d >= %d frames; selecting every frame", n_select, n_frames)
        timings["total"] = sum(timings.values())
        return DirectSelection(
            indices=np.arange(n_frames, dtype=np.int64),
            cluster_labels=np.arange(n_frames, dtype=np.int32),
            coverage=1.0,
            mean_nearest_distance=0.0,
            max_nearest_distance=0.0,
            n_clusters=n_frames,
            n_subclusters=n_frames,
            birch_threshold=float("nan"),
            all_selected=True,
            coverage_per_component=np.ones(kept),
            coverage_bins=coverage_bins or default_coverage_bins(n_frames),
            timings=timings,
            n_components=kept,
            explained_variance=variance,
            explained_variance_ratio=ratio,
            n_frames=n_frames,
            strategy=strategy,
            k_per_cluster=k_per_cluster,
            seed=seed,
            coordinates=coordinates,
            space=space,
            source_passes=source_passes,
        )

    clustering: Clustering = cluster_reduced(coordinates, n_clusters, seed)
    timings.update(clustering.timings)

    start = time.perf_counter()
    indices = select_per_cluster(coordinates, clustering.labels, k_per_cluster, strategy, seed)
    timings["select"] = time.perf_counter() - start

    start = time.perf_counter()
    bins = coverage_bins or default_coverage_bins(len(indices))
    score = measure_coverage(coordinates, indices, n_bins=bins, seed=seed)
    timings["coverage"] = time.perf_counter() - start
    timings["total"] = sum(value for key, value in timings.items() if key != "total")
    return DirectSelection(
        indices=indices,
        cluster_labels=clustering.labels,
        coverage=score.coverage,
        mean_nearest_distance=score.mean_nearest_distance,
        max_nearest_distance=score.max_nearest_distance,
        n_clusters=clustering.n_clusters,
        n_subclusters=clustering.n_subclusters,
        birch_threshold=clustering.threshold,
        all_selected=False,
        coverage_per_component=score.per_component,
        coverage_bins=bins,
        distances_exact=score.exact,
        timings=timings,
        n_components=kept,
        explained_variance=variance,
        explained_variance_ratio=ratio,
        n_frames=n_frames,
        strategy=strategy,
        k_per_cluster=k_per_cluster,
        seed=seed,
        coordinates=coordinates,
        space=space,
        source_passes=source_passes,
    )


def direct_select(
    features: np.ndarray,
    n_select: int,
    n_clusters: int | None = None,
    k_per_cluster: int = 1,
    pca_mode: PcaMode = "kaiser",
    variance_target: float = 0.95,
    strategy: Strategy = "closest",
    seed: int = 0,
    *,
    pc_weighting: PcWeighting = "variance",
    coverage_bins: int | None = None,
) -> DirectSelection:
    """DIRECT selection from an in-memory (n_frames x n_features) array of per-structure features.

    Forms ``n_clusters`` clusters (default ``n_select // k_per_cluster``) and takes
    ``k_per_cluster`` frames from each, so at most ``n_select`` frames are returned; fewer when
    some clusters hold fewer than k frames (they give all their members). If ``n_select`` is at
    least the number of frames, every frame is returned (``all_selected``). The PCA is an exact
    full SVD; arrays above ``IN_MEMORY_LIMIT`` elements are fed through ``direct_select_stream``.
    """
    clusters = _check_arguments(n_select, n_clusters, k_per_cluster)
    features = check_chunk(features, None, "features")
    if len(features) == 0:
        raise ValueError("features: no structures given")
    if features.size > IN_MEMORY_LIMIT:
        return direct_select_stream(
            array_chunks(features),
            n_select,
            n_clusters,
            k_per_cluster,
            pca_mode,
            variance_target,
            strategy,
            seed,
            pc_weighting=pc_weighting,
            coverage_bins=coverage_bins,
        )
    timings: dict[str, float] = {}
    start = time.perf_counter()
    space = fit_reduced_space(features, pca_mode, variance_target, pc_weighting)
    timings["pca"] = time.perf_counter() - start
    start = time.perf_counter()
    coordinates = space.transform(features)
    timings["transform"] = time.perf_counter() - start
    return _finish(space, coordinates, n_select, clusters, k_per_cluster, strategy, seed, coverage_bins, timings, 0)


def direct_select_stream(
    chunks: ChunkSource,
    n_select: int,
    n_clusters: int | None = None,
    k_per_cluster: int = 1,
    pca_mode: PcaMode = "kaiser",
    variance_target: float = 0.95,
    strategy: Strategy = "closest",
    seed: int = 0,
    *,
    pc_weighting: PcWeighting = "variance",
    coverage_bins: int | None = None,
    pca_solver: PcaSolver = "covariance",
    min_pca_batch: int = 4096,
) -> DirectSelection:
    """DIRECT selection over features produced chunk by chunk; same result semantics as ``direct_select``.

    ``chunks`` is called once per pass and must yield the same rows in the same order each time.
    With ``pca_solver="covariance"`` (default) pass 1 accumulates the mean and covariance and the
    PCA is solved from them; with ``"incremental"`` pass 1 fits a StandardScaler and pass 2 an
    IncrementalPCA (both exact, see ``reduction``). The last pass maps every chunk to float32
    reduced coordinates kept in memory; BIRCH then runs ``partial_fit`` over those coordinates in
    chunks. Peak memory is one chunk plus the reduced coordinates. ``source_passes`` in the result
    says how many times ``chunks`` was called.
    """
    clusters = _check_arguments(n_select, n_clusters, k_per_cluster)
    timings: dict[str, float] = {}
    space = fit_reduced_space_stream(chunks, pca_mode, variance_target, pc_weighting, min_pca_batch, timings, solver=pca_solver)

    start = time.perf_counter()
    coordinates = np.empty((space.n_samples, space.n_components), dtype=np.float32)
    row = 0
    for chunk in checked_chunks(chunks, space.n_features, "last pass (transform)"):
        if row + len(chunk) > space.n_samples:
            row += len(chunk)
            break
        coordinates[row : row + len(chunk)] = space.transform(chunk)
        row += len(chunk)
    if row != space.n_samples:
        raise ValueError(
            f"last pass (transform): the chunk source yielded a different number of structures than in pass 1 "
            f"({space.n_samples}); it must yield the same data every time it is called"
        )
    timings["transform"] = time.perf_counter() - start
    passes = 2 if pca_solver == "covariance" else 3
    return _finish(space, coordinates, n_select, clusters, k_per_cluster, strategy, seed, coverage_bins, timings, passes)
