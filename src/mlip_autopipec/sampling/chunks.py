"""Feature chunk sources: how DIRECT reads per-structure features without holding them all.

A *chunk source* is a zero-argument callable returning a fresh iterable of 2-D arrays
(rows = structures, columns = features). DIRECT calls it once per pass, so a source can
regenerate or re-read its data each time instead of keeping a million frames in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

ChunkSource = Callable[[], Iterable[np.ndarray]]


def array_chunks(features: np.ndarray, chunk_size: int = 50_000) -> ChunkSource:
    """Wrap an in-memory array as a chunk source (views, no copies) for the streaming code path."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")

    def chunks() -> Iterator[np.ndarray]:
        for start in range(0, len(features), chunk_size):
            yield features[start : start + chunk_size]

    return chunks


def check_chunk(chunk: object, n_features: int | None, where: str) -> np.ndarray:
    """Return ``chunk`` as a float64 2-D array, or raise ValueError saying what is wrong with it.

    Every pass checks its chunks because a bad row (NaN, wrong width) would otherwise surface
    much later as an unreadable scikit-learn error or a silently wrong selection.
    """
    array = np.asarray(chunk, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{where}: feature chunks must be 2-D (structures x features), got shape {array.shape}")
    if n_features is not None and array.shape[1] != n_features:
        raise ValueError(f"{where}: a chunk has {array.shape[1]} features, earlier chunks had {n_features}")
    if not np.isfinite(array).all():
        raise ValueError(f"{where}: features contain NaN or infinity; fix or drop those structures first")
    return array


def checked_chunks(source: ChunkSource, n_features: int | None, where: str) -> Iterator[np.ndarray]:
    """Iterate one pass over ``source``, validating every chunk and skipping empty ones."""
    width = n_features
    for chunk in source():
        array = check_chunk(chunk, width, where)
        width = array.shape[1]
        if len(array):
            yield array


def rebatch(chunks: Iterable[np.ndarray], min_rows: int) -> Iterator[np.ndarray]:
    """Merge small chunks so every batch has at least ``min_rows`` rows.

    IncrementalPCA needs at least as many rows as components in every ``partial_fit`` call;
    a short final remainder is merged into the previous batch instead of being yielded alone.
    If all chunks together have fewer than ``min_rows`` rows, they come back as one batch.
    """
    pending: list[np.ndarray] = []
    pending_rows = 0
    ready: np.ndarray | None = None
    for chunk in chunks:
        pending.append(chunk)
        pending_rows += len(chunk)
        if pending_rows >= min_rows:
            if ready is not None:
                yield ready
            ready = np.concatenate(pending) if len(pending) > 1 else pending[0]
            pending, pending_rows = [], 0
    if pending:
        tail = np.concatenate(pending)
        ready = tail if ready is None else np.concatenate([ready, tail])
    if ready is not None:
        yield ready
