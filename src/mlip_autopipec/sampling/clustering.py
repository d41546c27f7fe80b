"""Step 3 of DIRECT: BIRCH clustering of the reduced coordinates, then global clustering to n_clusters.

Why it is done this way:

* BIRCH summarises the data into *subclusters* (balls of radius <= ``threshold``) in one
  streaming pass (``partial_fit`` over chunks), so its cost grows linearly with the number of
  structures. The subcluster centroids are then grouped into the requested number of clusters.
* The threshold sets how many subclusters (M) there are, and the right value depends on the
  data's scale and intrinsic dimension, so it is searched for automatically (log-log secant with
  bracketing) on seeded uniform subsamples: first 10,000-20,000 frames, then, for large data, one
  eighth of all frames, warm-started from the first result. At a fixed threshold M keeps growing
  with the number of frames (more of the tails gets occupied; M ~ n**0.3-0.6 in practice), so the
  window aimed for on a subsample of s frames is [1.2, 6 / (n/s)**0.6] x n_clusters, which puts
  the full fit at roughly 2-6 x n_clusters. The full data is then fitted once (``partial_fit``
  over chunks); only if it gives fewer than ``n_clusters`` subclusters is it refitted with a
  smaller threshold. The search runs on the in-memory reduced coordinates, after all of them are
  known, so it sees uniform samples rather than whatever the first chunks happen to be
  (trajectories are often ordered), and no full refits are needed in the common case.
* The global step is Ward agglomerative clustering of the subcluster centroids (as scikit-learn's
  own BIRCH does). Centroids are *not* weighted by how many frames they hold: a far-away, sparsely
  populated region gets its own cluster instead of being absorbed by a dense one, which is the
  point of DIRECT. Above ``AGGLOMERATIVE_LIMIT`` centroids (Ward needs O(M^2) memory) k-means on
  the centroids is used instead.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import AgglomerativeClustering, Birch, KMeans

logger = logging.getLogger(__name__)

AGGLOMERATIVE_LIMIT = 8000


@dataclass(frozen=True)
class Clustering:
    """Cluster assignment of every frame plus how it was obtained."""

    labels: np.ndarray
    n_clusters: int
    n_subclusters: int
    threshold: float
    global_method: str
    timings: dict[str, float] = field(default_factory=dict)


def fit_birch(coordinates: np.ndarray, threshold: float, branching_factor: int = 50, chunk_size: int = 50_000) -> Birch:
    """BIRCH CF-tree over ``coordinates`` built chunk by chunk with ``partial_fit`` (no global step)."""
    model = Birch(threshold=threshold, branching_factor=branching_factor, n_clusters=None, compute_labels=False)
    for start in range(0, len(coordinates), chunk_size):
        model.partial_fit(coordinates[start : start + chunk_size])
    return model


def _n_subclusters(model: Birch) -> int:
    return int(len(model.subcluster_centers_))


def _slope(points: list[tuple[float, int]], threshold: float) -> float:
    """Local exponent d in M ~ threshold**-d from the two evaluations nearest ``threshold``."""
    usable = sorted({(t, m) for t, m in points if m > 0}, key=lambda p: abs(math.log(p[0] / threshold)))
    for other in usable[1:]:
        (t1, m1), (t2, m2) = usable[0], other
        if t1 != t2 and m1 != m2:
            return float(np.clip(-(math.log(m1) - math.log(m2)) / (math.log(t1) - math.log(t2)), 0.5, 50.0))
    return 2.0


def calibrate_threshold(
    sample: np.ndarray,
    low: int,
    high: int,
    required: int,
    branching_factor: int = 50,
    chunk_size: int = 50_000,
    max_iter: int = 30,
    initial: float | None = None,
    exponent: float | None = None,
) -> tuple[float, Birch, float]:
    """Find a BIRCH threshold giving ``low`` to ``high`` subclusters on ``sample``.

    ``initial`` and ``exponent`` (d in M ~ threshold**-d) warm-start the search from an earlier
    one on a smaller sample: until the window is bracketed, steps are then predicted from d
    (within x1.25 to x8) instead of fixed x4 steps.

    Returns (threshold, model fitted on the sample, local exponent d of M ~ threshold**-d). If the
    window cannot be hit (e.g. many identical frames), the evaluation closest to it with at least
    ``required`` subclusters is returned, or the one with the most subclusters.
    """
    spread = float(np.sqrt(np.sum(np.var(sample, axis=0, dtype=np.float64))))
    if spread == 0.0:
        return 1.0, fit_birch(sample, 1.0, branching_factor, chunk_size), 2.0
    target = math.sqrt(low * high)
    floor = spread * 1e-7
    tried: list[tuple[float, int, Birch]] = []
    too_fine: tuple[float, int] | None = None  # largest threshold still giving > high subclusters
    too_coarse: tuple[float, int] | None = None  # smallest threshold still giving < low subclusters
    threshold = 0.5 * spread if initial is None else initial
    for _ in range(max_iter):
        model = fit_birch(sample, threshold, branching_factor, chunk_size)
        count = _n_subclusters(model)
        tried.append((threshold, count, model))
        logger.debug("BIRCH threshold %.4g gives %d subclusters on %d frames", threshold, count, len(sample))
        if low <= count <= high:
            break
        if count > high:
            too_fine = (threshold, count) if too_fine is None or threshold > too_fine[0] else too_fine
        else:
            too_coarse = (threshold, count) if too_coarse is None or threshold < too_coarse[0] else too_coarse
        if too_fine and too_coarse:
            (t1, m1), (t2, m2) = too_fine, too_coarse
            if t2 / t1 < 1.0 + 1e-6:
                break
            fraction = (math.log(m1) - math.log(target)) / (math.log(m1) - math.log(max(m2, 1)))
            fraction = min(max(fraction, 0.1), 0.9)
            threshold = math.exp(math.log(t1) + fraction * (math.log(t2) - math.log(t1)))
        else:
            step = 4.0
            if exponent is not None:
                step = min(max(abs(math.log(count / target)) / exponent, math.log(1.25)), math.log(8.0))
                step = math.exp(step)
            threshold = threshold / step if too_coarse else threshold * step
            if threshold < floor:
                break
    points = [(t, m) for t, m, _ in tried]
    in_window = [entry for entry in tried if low <= entry[1] <= high]
    enough = [entry for entry in tried if entry[1] >= required]
    if in_window:
        chosen = in_window[-1]
    elif enough:
        chosen = min(enough, key=lambda entry: abs(math.log(entry[1] / target)))
    else:
        chosen = max(tried, key=lambda entry: entry[1])
    return chosen[0], chosen[2], _slope(points, chosen[0])


GROWTH_EXPONENT = 0.6  # upper end of the observed M ~ n**g growth of BIRCH subclusters at fixed threshold


def _window(size: int, n_frames: int, n_clusters: int, last: bool) -> tuple[int, int]:
    """Subcluster counts to aim for on a sample of ``size`` frames (see the module docstring)."""
    if size >= n_frames:
        low = min(2 * n_clusters, size)
        return low, max(low, min(6 * n_clusters, size))
    low = min(math.ceil(1.2 * n_clusters), size)
    if not last:
        return low, max(low, min(6 * n_clusters, size))
    growth = (n_frames / size) ** GROWTH_EXPONENT
    return low, max(low, min(int(6 * n_clusters / growth), size))


def global_labels(centroids: np.ndarray, n_clusters: int, seed: int) -> tuple[np.ndarray, str]:
    """Group subcluster centroids into ``n_clusters`` clusters; returns (label per centroid, method)."""
    count = len(centroids)
    if count <= n_clusters:
        return np.arange(count), "identity"
    if count <= AGGLOMERATIVE_LIMIT:
        return AgglomerativeClustering(n_clusters=n_clusters, linkage="ward").fit_predict(centroids), "agglomerative"
    model = KMeans(n_clusters=n_clusters, n_init=1, random_state=seed)
    return model.fit_predict(centroids.astype(np.float64)), "kmeans"


def cluster_reduced(
    coordinates: np.ndarray,
    n_clusters: int,
    seed: int = 0,
    *,
    branching_factor: int = 50,
    chunk_size: int = 50_000,
    calibration_size: int | None = None,
) -> Clustering:
    """Cluster reduced coordinates (n x m) into at most ``n_clusters`` non-empty clusters.

    Labels are contiguous 0..C-1. C is smaller than ``n_clusters`` only when BIRCH cannot
    separate enough distinct points (e.g. duplicated frames); a warning is logged then.
    """
    timings: dict[str, float] = {}
    n_frames = len(coordinates)
    n_clusters = int(min(n_clusters, n_frames))
    if n_clusters < 1:
        raise ValueError(f"n_clusters must be at least 1, got {n_clusters}")
    if n_clusters == n_frames or n_clusters == 1:
        labels: np.ndarray = np.arange(n_frames) if n_clusters == n_frames else np.zeros(n_frames, dtype=np.int64)
        return Clustering(labels.astype(np.int32), n_clusters, n_clusters, float("nan"), "trivial", timings)

    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    first = min(n_frames, calibration_size or max(10_000, 20 * n_clusters))
    sizes = [first] if n_frames <= 8 * first else [first, -(-n_frames // 8)]
    threshold: float | None = None
    exponent = 2.0
    model: Birch | None = None
    for stage, size in enumerate(sizes):
        if size < n_frames:
            sample = coordinates[np.sort(rng.choice(n_frames, size=size, replace=False))]
        else:
            sample = coordinates
        low, high = _window(size, n_frames, n_clusters, last=stage == len(sizes) - 1)
        threshold, model, exponent = calibrate_threshold(
            sample,
            low,
            high,
            n_clusters,
            branching_factor,
            chunk_size,
            initial=threshold,
            exponent=exponent if stage else None,
        )
    timings["birch_calibration"] = time.perf_counter() - start
    assert threshold is not None and model is not None

    start = time.perf_counter()
    if sizes[-1] < n_frames:
        for attempt in range(4):
            model = fit_birch(coordinates, threshold, branching_factor, chunk_size)
            count = _n_subclusters(model)
            logger.debug("BIRCH threshold %.4g gives %d subclusters on all %d frames", threshold, count, n_frames)
            if count >= n_clusters or attempt == 3:
                break
            threshold *= (count / (2.0 * n_clusters)) ** (1.0 / exponent)
    timings["birch_fit"] = time.perf_counter() - start

    start = time.perf_counter()
    centroids = model.subcluster_centers_
    per_subcluster, method = global_labels(centroids, n_clusters, seed)
    timings["global_clustering"] = time.perf_counter() - start

    start = time.perf_counter()
    nearest = np.concatenate([model.predict(coordinates[s : s + chunk_size]) for s in range(0, n_frames, chunk_size)])
    _, labels = np.unique(np.asarray(per_subcluster)[nearest], return_inverse=True)
    labels = labels.astype(np.int32).ravel()
    timings["assign"] = time.perf_counter() - start
    found = int(labels.max()) + 1
    if found < n_clusters:
        logger.warning(
            "DIRECT: only %d distinct clusters could be formed (asked for %d); the data has too few distinct frames",
            found,
            n_clusters,
        )
    return Clustering(labels, found, len(centroids), float(threshold), method, timings)
