"""Step 5 of DIRECT: how well a selection covers the feature space of all frames.

Two complementary numbers, both measured in DIRECT's weighted PCA space:

* ``coverage`` is the DIRECT paper's feature-coverage score (FCS): for every kept principal
  component, split the range of *all* frames along it into ``n_bins`` equal bins and take the
  fraction of bins occupied by any frame that are also occupied by a selected frame; then average
  over components (unweighted). It is in [0, 1], counts regions rather than frames (so a rare
  region matters as much as a crowded one) and does not depend on a distance cut-off.
  The paper uses 100 bins with thousands of selected frames. With fewer selected frames than
  bins no selection can fill the bins and the score mostly counts how many distinct bins were
  hit, which any scattered selection does; so by default ``n_bins = min(100, max(5, n // 2))``
  for n selected frames (``default_coverage_bins``): a well-spread selection can then fill every
  occupied bin, and from 200 selected frames on it is the paper's 100.
* ``mean_nearest_distance`` / ``max_nearest_distance``: Euclidean distance from each frame to its
  nearest selected frame (selected frames count with distance 0). The mean says how far a typical
  structure is from the training set, the max how far the worst one is. When frames x selected
  pairs exceed ``max_pairs`` the distances are measured on a seeded uniform subsample of frames
  (the max is then a lower bound); ``exact`` says which.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import pairwise_distances_argmin_min


@dataclass(frozen=True)
class Coverage:
    """Coverage of one selection in one reduced space (see the module docstring)."""

    coverage: float
    per_component: np.ndarray
    mean_nearest_distance: float
    max_nearest_distance: float
    exact: bool


def default_coverage_bins(n_selected: int) -> int:
    """Histogram bins per component for the coverage score of ``n_selected`` frames (see module docstring)."""
    return int(min(100, max(5, n_selected // 2)))


def feature_coverage_scores(coordinates: np.ndarray, indices: np.ndarray, n_bins: int = 100) -> np.ndarray:
    """Per-component fraction of occupied histogram bins that hold a selected frame."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    scores = np.ones(coordinates.shape[1])
    if len(indices) == 0:
        return np.zeros(coordinates.shape[1])
    for j in range(coordinates.shape[1]):
        column = coordinates[:, j].astype(np.float64)
        low, high = float(column.min()), float(column.max())
        if high <= low:
            continue
        width = (high - low) / n_bins
        bins = np.clip(((column - low) / width).astype(np.int64), 0, n_bins - 1)
        occupied = np.bincount(bins, minlength=n_bins) > 0
        chosen = np.zeros(n_bins, dtype=bool)
        chosen[bins[indices]] = True
        scores[j] = np.count_nonzero(chosen & occupied) / np.count_nonzero(occupied)
    return scores


def nearest_selected_distances(
    coordinates: np.ndarray, indices: np.ndarray, max_pairs: float = 5e9, seed: int = 0
) -> tuple[np.ndarray, bool]:
    """Distance from every frame (or a seeded subsample) to its nearest selected frame, and whether exact."""
    n_frames = len(coordinates)
    if len(indices) == 0:
        raise ValueError("cannot measure distances to an empty selection")
    queries = coordinates
    exact = n_frames * len(indices) <= max_pairs
    if not exact:
        size = max(1, int(max_pairs // len(indices)))
        picks = np.sort(np.random.default_rng(seed).choice(n_frames, size=min(size, n_frames), replace=False))
        queries = coordinates[picks]
    selected = coordinates[indices].astype(np.float64)
    parts = [
        pairwise_distances_argmin_min(queries[s : s + 100_000].astype(np.float64), selected)[1]
        for s in range(0, len(queries), 100_000)
    ]
    return np.concatenate(parts), exact


def measure_coverage(
    coordinates: np.ndarray,
    indices: np.ndarray,
    n_bins: int | None = None,
    max_pairs: float = 5e9,
    seed: int = 0,
) -> Coverage:
    """Coverage score and nearest-selected distances of ``indices`` within ``coordinates``.

    ``n_bins`` defaults to ``default_coverage_bins(len(indices))``; pass the same value when
    comparing selections of different sizes.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if n_bins is None:
        n_bins = default_coverage_bins(len(indices))
    if coordinates.shape[1] == 0 or len(coordinates) == 0:
        return Coverage(1.0, np.ones(0), 0.0, 0.0, True)
    per_component = feature_coverage_scores(coordinates, indices, n_bins)
    distances, exact = nearest_selected_distances(coordinates, indices, max_pairs, seed)
    return Coverage(
        coverage=float(per_component.mean()),
        per_component=per_component,
        mean_nearest_distance=float(distances.mean()),
        max_nearest_distance=float(distances.max()),
        exact=exact,
    )
