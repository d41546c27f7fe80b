"""Step 1-2 of DIRECT: standardise features, PCA, keep the significant components, weight them.

Why these choices:

* Features are standardised first, so PCA works on the correlation matrix and the Kaiser
  rule ("keep eigenvalues > 1") means "keep components explaining more than one original
  feature's worth of variance".
* ``eigenvalues`` are the eigenvalues of the (population) correlation matrix, i.e. PCA's
  explained variance rescaled by (n-1)/n, so the Kaiser rule does not drift with sample size.
* Kept PC coordinates are multiplied by their **explained-variance ratio** (the eigenvalue
  divided by the sum of all eigenvalues), as in the DIRECT reference implementation
  (maml ``PrincipalComponentAnalysis(weighting_PCs=True)``). The weight is proportional to
  the eigenvalue, so PC *i* ends up with a spread proportional to eigenvalue**1.5 and the
  dominant directions dominate the Euclidean distances used by BIRCH. ``"sqrt"`` (weight =
  sqrt(ratio)) and ``"none"`` are available for comparison.
* Streaming has two exact solvers, both linear in the number of frames. ``"covariance"``
  (default) reads the source **once**: it accumulates, per chunk, the sum and the F x F scatter
  matrix of the features shifted by the first chunk's mean (one GEMM per chunk, float64; the
  shift keeps the variance free of cancellation), then standardises the covariance into the
  correlation matrix and diagonalises it. ``"incremental"`` is the textbook streaming route in
  two passes: ``StandardScaler.partial_fit``, then ``IncrementalPCA.partial_fit`` with all
  components kept (nothing truncated, so exact up to round-off). The incremental one does a tall
  SVD per batch, which on 2 cores was ~10x slower here (8.4 s against 0.7 s for a 50,000 x 252 chunk)
  and needs one more pass over the source, which matters when descriptors are recomputed on
  every pass; hence the default. Small in-memory data uses a full-SVD ``PCA``. All three give
  the same eigenvalues and coordinates to round-off (tested).
* Constant features get scale 1 (as in ``StandardScaler``), so they contribute nothing.
* Component signs follow scikit-learn's convention (largest-magnitude loading positive), so all
  solvers give the same coordinates.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.preprocessing import StandardScaler

from mlip_autopipec.sampling.chunks import ChunkSource, checked_chunks, rebatch

PcaMode = Literal["kaiser", "variance"]
PcWeighting = Literal["variance", "sqrt", "none"]
PcaSolver = Literal["covariance", "incremental"]


@dataclass(frozen=True)
class ReducedSpace:
    """A fitted standardise + PCA + weighting map from raw features to DIRECT's reduced space."""

    mean: np.ndarray
    scale: np.ndarray
    pca_mean: np.ndarray
    components: np.ndarray = field(repr=False)
    eigenvalues: np.ndarray
    explained_variance_ratio: np.ndarray
    weights: np.ndarray
    n_samples: int

    @property
    def n_components(self) -> int:
        """Number of kept principal components."""
        return int(self.components.shape[0])

    @property
    def n_features(self) -> int:
        """Number of raw features the map expects."""
        return int(self.mean.shape[0])

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Map raw features (n x n_features) to weighted PC coordinates (n x n_components), float32."""
        standardised = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        projected = (standardised - self.pca_mean) @ self.components.T
        return (projected * self.weights).astype(np.float32)


def choose_n_components(eigenvalues: np.ndarray, ratio: np.ndarray, mode: PcaMode, variance_target: float) -> int:
    """How many leading components to keep: Kaiser (eigenvalue > 1) or a cumulative variance target.

    At least one component is always kept, so isotropic noise still yields a usable space.
    """
    if len(eigenvalues) == 0:
        return 0
    if mode == "kaiser":
        count = int(np.sum(eigenvalues > 1.0))
    elif mode == "variance":
        if not 0.0 < variance_target <= 1.0:
            raise ValueError(f"variance_target must be in (0, 1], got {variance_target}")
        cumulative = np.cumsum(ratio)
        count = int(np.searchsorted(cumulative, variance_target * cumulative[-1] - 1e-12) + 1)
    else:
        raise ValueError(f"pca_mode must be 'kaiser' or 'variance', got {mode!r}")
    return max(1, min(count, len(eigenvalues)))


def component_weights(ratio: np.ndarray, weighting: PcWeighting) -> np.ndarray:
    """Per-component multipliers for the kept PC coordinates (see the module docstring)."""
    if weighting == "variance":
        return ratio.astype(np.float64)
    if weighting == "sqrt":
        return np.sqrt(ratio).astype(np.float64)
    if weighting == "none":
        return np.ones_like(ratio, dtype=np.float64)
    raise ValueError(f"pc_weighting must be 'variance', 'sqrt' or 'none', got {weighting!r}")


def _space_from_pca(
    mean: np.ndarray,
    scale: np.ndarray,
    pca_mean: np.ndarray,
    components: np.ndarray,
    explained_variance: np.ndarray,
    n_samples: int,
    pca_mode: PcaMode,
    variance_target: float,
    weighting: PcWeighting,
) -> ReducedSpace:
    """Assemble a ReducedSpace from a fitted decomposition (shared by in-memory and streaming fits)."""
    eigenvalues = np.asarray(explained_variance, dtype=np.float64) * (n_samples - 1) / n_samples
    total = float(np.sum(eigenvalues))
    ratio = eigenvalues / total if total > 0 else np.zeros_like(eigenvalues)
    kept = choose_n_components(eigenvalues, ratio, pca_mode, variance_target)
    return ReducedSpace(
        mean=np.asarray(mean, dtype=np.float64),
        scale=np.asarray(scale, dtype=np.float64),
        pca_mean=np.asarray(pca_mean, dtype=np.float64),
        components=np.asarray(components[:kept], dtype=np.float64),
        eigenvalues=eigenvalues,
        explained_variance_ratio=ratio,
        weights=component_weights(ratio[:kept], weighting),
        n_samples=n_samples,
    )


def _flip_signs(components: np.ndarray) -> np.ndarray:
    """Make each component's largest-magnitude loading positive (scikit-learn's svd_flip convention)."""
    if components.size == 0:
        return components
    biggest = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(len(components)), biggest])
    signs[signs == 0] = 1.0
    return components * signs[:, None]


def _is_constant(variance: np.ndarray, mean: np.ndarray, n_samples: int) -> np.ndarray:
    """Features whose variance is within round-off of zero (scikit-learn's StandardScaler bound)."""
    eps = np.finfo(np.float64).eps
    return variance <= n_samples * eps * variance + (n_samples * mean * eps) ** 2


def _covariance_statistics(chunks: Iterable[np.ndarray]) -> tuple[int, np.ndarray, np.ndarray]:
    """One pass: (rows, mean, unbiased covariance) from sums of features shifted by the first chunk's mean."""
    shift: np.ndarray | None = None
    scatter = total = None
    seen = 0
    for chunk in chunks:
        if shift is None:
            shift = chunk.mean(axis=0)
            scatter = np.zeros((chunk.shape[1], chunk.shape[1]))
            total = np.zeros(chunk.shape[1])
        centred = chunk - shift
        scatter += centred.T @ centred
        total += centred.sum(axis=0)
        seen += len(chunk)
    if shift is None or scatter is None or total is None:
        return 0, np.zeros(0), np.zeros((0, 0))
    offset = total / seen
    covariance = (scatter - seen * np.outer(offset, offset)) / max(seen - 1, 1)
    return seen, shift + offset, (covariance + covariance.T) / 2.0


def _correlation_pca(n_samples: int, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardise a covariance matrix and diagonalise it.

    Returns (scale as StandardScaler would set it, components as rows by decreasing variance,
    explained variance of the standardised data with the n-1 denominator, as scikit-learn's PCA).
    """
    variance = np.clip(np.diag(covariance), 0.0, None) * (n_samples - 1) / n_samples
    scale = np.sqrt(variance)
    scale[_is_constant(variance, mean, n_samples)] = 1.0
    correlation = covariance / np.outer(scale, scale)
    eigenvalues, eigenvectors = np.linalg.eigh(correlation)
    order = np.argsort(eigenvalues)[::-1][: min(len(mean), n_samples)]
    explained = np.clip(eigenvalues[order], 0.0, None)
    return scale, _flip_signs(eigenvectors[:, order].T), explained


def _single_frame_space(mean: np.ndarray, weighting: PcWeighting) -> ReducedSpace:
    """A zero-component space for one structure: there is no variance to decompose."""
    n_features = len(mean)
    return ReducedSpace(
        mean=np.asarray(mean, dtype=np.float64),
        scale=np.ones(n_features),
        pca_mean=np.zeros(n_features),
        components=np.zeros((0, n_features)),
        eigenvalues=np.zeros(0),
        explained_variance_ratio=np.zeros(0),
        weights=component_weights(np.zeros(0), weighting),
        n_samples=1,
    )


def fit_reduced_space(
    features: np.ndarray,
    pca_mode: PcaMode = "kaiser",
    variance_target: float = 0.95,
    weighting: PcWeighting = "variance",
) -> ReducedSpace:
    """Fit the reduced space on an in-memory array with an exact (full-SVD) PCA."""
    features = np.asarray(features, dtype=np.float64)
    if len(features) == 0:
        raise ValueError("features: no structures given")
    if len(features) == 1:
        return _single_frame_space(features[0], weighting)
    scaler = StandardScaler().fit(features)
    standardised = scaler.transform(features)
    with np.errstate(invalid="ignore", divide="ignore"):  # all-identical frames: ratios are recomputed below
        pca = PCA(svd_solver="full").fit(standardised)
    return _space_from_pca(
        scaler.mean_,
        scaler.scale_,
        pca.mean_,
        pca.components_,
        pca.explained_variance_,
        len(features),
        pca_mode,
        variance_target,
        weighting,
    )


def fit_reduced_space_stream(
    source: ChunkSource,
    pca_mode: PcaMode = "kaiser",
    variance_target: float = 0.95,
    weighting: PcWeighting = "variance",
    min_batch_rows: int = 4096,
    timings: dict[str, float] | None = None,
    solver: PcaSolver = "covariance",
) -> ReducedSpace:
    """Fit the reduced space from a chunk source: one pass (``"covariance"``) or two (``"incremental"``).

    Memory is one (re-batched) chunk plus F x F matrices, independent of the number of
    structures. ``solver`` is explained in the module docstring.
    """
    if solver == "covariance":
        start = time.perf_counter()
        n_rows, mean, covariance = _covariance_statistics(checked_chunks(source, None, "pass 1 (PCA statistics)"))
        if n_rows == 0:
            raise ValueError("pass 1 (PCA statistics): the chunk source yielded no structures")
        if n_rows == 1:
            return _single_frame_space(mean, weighting)
        scale, components, explained_variance = _correlation_pca(n_rows, mean, covariance)
        pca_mean = np.zeros_like(mean)
        if timings is not None:
            timings["pca"] = time.perf_counter() - start
    elif solver == "incremental":
        start = time.perf_counter()
        scaler = StandardScaler()
        n_rows = 0
        n_features: int | None = None
        for chunk in checked_chunks(source, None, "pass 1 (standardise)"):
            scaler.partial_fit(chunk)
            n_rows += len(chunk)
            n_features = chunk.shape[1]
        if n_rows == 0 or n_features is None:
            raise ValueError("pass 1 (standardise): the chunk source yielded no structures")
        mean, scale = scaler.mean_.copy(), scaler.scale_.copy()
        if timings is not None:
            timings["standardise"] = time.perf_counter() - start
        if n_rows == 1:
            return _single_frame_space(mean, weighting)

        start = time.perf_counter()
        n_components = min(n_features, n_rows)
        ipca = IncrementalPCA(n_components=n_components)
        seen = 0
        for batch in rebatch(checked_chunks(source, n_features, "pass 2 (PCA)"), max(n_components, min_batch_rows)):
            ipca.partial_fit((batch - mean) / scale)
            seen += len(batch)
        if seen != n_rows:
            raise ValueError(
                f"pass 2 (PCA): the chunk source yielded {seen} structures but {n_rows} in pass 1; "
                "it must yield the same data every time it is called"
            )
        pca_mean, components, explained_variance = ipca.mean_, ipca.components_, ipca.explained_variance_
        if timings is not None:
            timings["pca"] = time.perf_counter() - start
    else:
        raise ValueError(f"pca_solver must be 'covariance' or 'incremental', got {solver!r}")
    return _space_from_pca(
        mean,
        scale,
        pca_mean,
        components,
        explained_variance,
        n_rows,
        pca_mode,
        variance_target,
        weighting,
    )
