"""Training data for the committee: load labels, hold out a test set by structure, bootstrap per member.

Why by structure: frames of one structure are strongly correlated, so a test set that shares a
structure with the training set reports an optimistic error. The split is stratified by origin
(``atoms.info['origin']``: rattled, strained, MD, ...) so every kind of structure is represented
on both sides, and it is seeded so that reruns (and every committee member) see the same split.
Bootstrap resampling of the training set per member is what gives the committee its spread
where data are scarce.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read

from mlip_autopipec.data.ids import structure_id

RECORD_SUFFIX = ".json"


def structure_key(atoms: Atoms) -> str:
    """The structure id: ``atoms.info['structure_id']`` when the label carries one, else the content hash.

    Only a string counts: extxyz readers turn an all-digit id into a number, and then the content
    hash (the way label ids are made) is the reliable answer.
    """
    key = atoms.info.get("structure_id")
    return key if isinstance(key, str) and key else structure_id(atoms)


def origin_of(atoms: Atoms) -> str:
    """Where the structure came from (the stratum of the test split); ``unknown`` when not recorded."""
    return str(atoms.info.get("origin") or "unknown")


def _record_paths(sources: str | Path | Iterable[str | Path]) -> list[Path]:
    items = [sources] if isinstance(sources, (str, Path)) else list(sources)
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            paths.extend(sorted(p for p in path.rglob(f"*{RECORD_SUFFIX}") if p.is_file()))
        elif path.is_file():
            paths.append(path)
        else:
            raise FileNotFoundError(f"label source {path} does not exist")
    return paths


def load_label_records(sources: str | Path | Iterable[str | Path]) -> list[Atoms]:
    """Atoms (with DFT energy/forces/stress attached) from label JSON files or folders of them.

    Failed labels are skipped: an unconverged SCF must never become a training target. The order
    is the sorted file order, so the result is deterministic.
    """
    from mlip_autopipec.data.records import LabelRecord  # records embeds the training settings: import here, not at the top

    frames = []
    for path in _record_paths(sources):
        record = LabelRecord.read(path)
        if record.state == "labelled":
            frames.append(record.to_atoms())
    return frames


def load_structures(source: str | Path | Iterable[str | Path]) -> list[Atoms]:
    """Labelled structures from label JSON records (files or folders) or from one ASE-readable file (extxyz)."""
    if isinstance(source, (str, Path)) and Path(source).is_file() and Path(source).suffix != RECORD_SUFFIX:
        frames = read(str(source), index=":")
        frames = frames if isinstance(frames, list) else [frames]
        missing = [i for i, atoms in enumerate(frames) if atoms.calc is None or "energy" not in atoms.calc.results]
        if missing:
            raise ValueError(f"{source}: structures {missing[:5]} carry no energy; they cannot be training data")
        return frames
    return load_label_records(source)


@dataclass(frozen=True)
class DataSplit:
    """A held-out test set by structure; ``train`` is all the committee may ever see."""

    train: list[Atoms]
    test: list[Atoms]
    seed: int
    test_fraction: float
    origins: dict[str, dict[str, int]] = field(default_factory=dict)  # origin -> {"train": n, "test": n}

    @property
    def train_ids(self) -> list[str]:
        return [structure_key(atoms) for atoms in self.train]

    @property
    def test_ids(self) -> list[str]:
        return [structure_key(atoms) for atoms in self.test]


def _test_counts(group_sizes: dict[str, int], n_test: int) -> dict[str, int]:
    """Largest-remainder allocation of ``n_test`` over origins, keeping at least one structure of each in training."""
    total = sum(group_sizes.values())
    capacity = {origin: max(size - 1, 0) for origin, size in group_sizes.items()}
    n_test = min(n_test, sum(capacity.values()))
    exact = {origin: n_test * size / total for origin, size in group_sizes.items()}
    counts = {origin: min(int(np.floor(exact[origin])), capacity[origin]) for origin in group_sizes}
    # Hand out the rest by largest remainder (ties: larger group, then name), within each capacity.
    order = sorted(group_sizes, key=lambda o: (-(exact[o] - np.floor(exact[o])), -group_sizes[o], o))
    while sum(counts.values()) < n_test:
        for origin in order:
            if sum(counts.values()) >= n_test:
                break
            if counts[origin] < capacity[origin]:
                counts[origin] += 1
    return counts


def split_train_test(
    atoms_list: Sequence[Atoms], test_fraction: float, seed: int, held_out: Collection[str] = (), trained: Collection[str] = ()
) -> DataSplit:
    """Seeded train/test split by structure id, stratified by origin.

    ``round(test_fraction * n_structures)`` distinct structures (at least one when the fraction is
    positive and there are two or more) go to the test set, spread over the origins in proportion
    to their size; every origin keeps at least one structure in training. Repeated frames of the
    same structure id always land on the same side.

    ``held_out`` / ``trained``: structure ids that stay in the test / training set whatever the draw
    (the previous iteration's split), so a structure once used to judge a committee is never
    trained on, successive committees are compared on the same structures, and only the new
    structures are split.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    by_key: dict[str, list[int]] = defaultdict(list)
    for index, atoms in enumerate(atoms_list):
        by_key[structure_key(atoms)].append(index)
    kept_out = set(held_out) & set(by_key)
    kept_in = (set(trained) & set(by_key)) - kept_out
    groups: dict[str, list[str]] = defaultdict(list)
    for key, indices in by_key.items():
        if key not in kept_out and key not in kept_in:
            groups[origin_of(atoms_list[indices[0]])].append(key)
    n_unique = len(by_key) - len(kept_out) - len(kept_in)
    n_test = int(round(test_fraction * n_unique))
    if test_fraction > 0 and n_unique >= 2:
        n_test = max(n_test, 1)
    sizes = {origin: len(keys) for origin, keys in sorted(groups.items())}
    counts = _test_counts(sizes, n_test) if n_unique else {}
    rng = np.random.default_rng(seed)
    test_keys: set[str] = set(kept_out)
    origins: dict[str, dict[str, int]] = {}
    for origin in sorted(groups):
        keys = sorted(groups[origin])
        chosen = rng.permutation(len(keys))[: counts[origin]]
        test_keys.update(keys[i] for i in chosen)
        origins[origin] = {"train": len(keys) - counts[origin], "test": counts[origin]}
    if kept_out or kept_in:
        origins["split_before"] = {"train": len(kept_in), "test": len(kept_out)}
    train = [atoms for atoms in atoms_list if structure_key(atoms) not in test_keys]
    test = [atoms for atoms in atoms_list if structure_key(atoms) in test_keys]
    return DataSplit(train=train, test=test, seed=seed, test_fraction=test_fraction, origins=origins)


def member_rng(seed: int, member: int) -> np.random.Generator:
    """The random stream of committee member ``member``: independent of the others, reproducible."""
    return np.random.default_rng([int(seed), int(member)])


def bootstrap_counts(n_structures: int, seed: int, member: int) -> np.ndarray:
    """How often each training structure is drawn (n draws with replacement) for member ``member``.

    Counts are used as structure weights (pacemaker's ``w_factor``), which is the same loss as
    duplicating rows but builds each neighbour list once.
    """
    if n_structures <= 0:
        return np.zeros(0, dtype=int)
    draws = member_rng(seed, member).integers(0, n_structures, size=n_structures)
    return np.bincount(draws, minlength=n_structures)


def bootstrap_sample(atoms_list: Sequence[Atoms], seed: int, member: int) -> list[Atoms]:
    """The bootstrap resample itself (duplicates included), for code that wants a plain list."""
    counts = bootstrap_counts(len(atoms_list), seed, member)
    return [atoms for atoms, count in zip(atoms_list, counts, strict=True) for _ in range(int(count))]
