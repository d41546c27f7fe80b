"""Step 4 of DIRECT: stratified selection of k frames from every cluster.

Drawing the same number of frames from each cluster, however big, is what makes DIRECT cover
rare regions of configuration space: a cluster of 5 frames counts as much as one of 5,000.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Strategy = Literal["closest", "random"]


def cluster_centroids(coordinates: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """Mean reduced coordinates of every cluster (float64), one bincount per dimension."""
    counts = np.bincount(labels, minlength=n_clusters).astype(np.float64)
    sums = (
        np.stack(
            [np.bincount(labels, weights=coordinates[:, j], minlength=n_clusters) for j in range(coordinates.shape[1])],
            axis=1,
        )
        if coordinates.shape[1]
        else np.zeros((n_clusters, 0))
    )
    return sums / np.maximum(counts, 1.0)[:, None]


def select_per_cluster(
    coordinates: np.ndarray,
    labels: np.ndarray,
    k: int,
    strategy: Strategy = "closest",
    seed: int = 0,
    chunk_size: int = 200_000,
) -> np.ndarray:
    """Sorted indices of up to ``k`` frames per cluster; a cluster with fewer than k frames gives all of them.

    ``closest``: the k frames nearest the cluster centroid (ties broken by frame index), the
    most representative members. ``random``: k members drawn uniformly without replacement from a
    generator seeded with ``seed``, so the same seed gives the same selection.
    """
    if k < 1:
        raise ValueError(f"k_per_cluster must be at least 1, got {k}")
    n_frames = len(labels)
    if n_frames == 0:
        return np.zeros(0, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    n_clusters = int(labels.max()) + 1
    if strategy == "closest":
        centroids = cluster_centroids(coordinates, labels, n_clusters)
        key = np.empty(n_frames, dtype=np.float64)
        for start in range(0, n_frames, chunk_size):
            stop = start + chunk_size
            offset = coordinates[start:stop].astype(np.float64) - centroids[labels[start:stop]]
            key[start:stop] = np.einsum("ij,ij->i", offset, offset)
    elif strategy == "random":
        key = np.random.default_rng(seed).random(n_frames)
    else:
        raise ValueError(f"strategy must be 'closest' or 'random', got {strategy!r}")
    order = np.lexsort((np.arange(n_frames), key, labels))
    sorted_labels = labels[order]
    group_start = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    group_size = np.diff(np.r_[group_start, n_frames])
    rank = np.arange(n_frames) - np.repeat(group_start, group_size)
    return np.sort(order[rank < k])
