"""Cut uncertain local environments out of large periodic cells so that DFT only pays for what matters.

Why: an uncertain structure from a 1000-atom MD run is usually uncertain around one or a few atoms.
Labelling the whole cell wastes DFT time; labelling the environment of those atoms is enough for a local
model with cutoff ``r_cut``.

Small cells (``<= max_whole_atoms``) are returned whole. From a large cell, :func:`carve_environment`
takes every atom (periodic images included, so spheres larger than the cell work too) within
``radius = r_cut + buffer`` of the centre atom and places it

- ``periodic=True`` (default): in a cubic periodic box of length ``L >= 2 * radius + gap``, centred.
  Every periodic image of the carved sphere then lies at least ``radius + gap`` from the centre, so the
  region within ``radius`` of the centre holds exactly the original environment (and nothing within
  ``gap`` beyond it), and two atoms of neighbouring images are never closer than ``gap``;
- ``periodic=False``: as a cluster (``pbc`` False) in the same box, i.e. padded with vacuum.

``gap`` defaults to the longest covalent bond among the species present, so atoms across the new
boundary are at least a bond length apart. That is checked (:func:`boundary_min_distance_ratio`) against
``min_distance_factor`` x the sum of covalent radii; should a too-small ``gap`` violate it, the box is
enlarged (``on_contact='enlarge'``) or the outer rim atoms in contact are dropped (``'drop'``).

Buffer marking for training: ``arrays['extraction_core']`` is True for atoms whose whole ``r_cut``
neighbourhood lies inside the carved sphere (distance <= ``core_radius``, default ``radius - r_cut`` =
``buffer``); their local descriptors are those of the source structure. Forces of a many-body model (ACE,
EAM) on an atom depend on atoms up to ``2 * r_cut`` away, so they are exact only within
``radius - 2 * r_cut`` (pass ``core_radius`` for that stricter mask); ``arrays['extraction_distance']``
(distance from the centre, A) lets training choose its own weighting. ``info['extraction']`` records the
mode, the centre (always atom 0 of a carved environment), its index in the source, radius, r_cut, buffer,
core_radius, gap, box length and the source structure id.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.neighborlist import neighbor_list

from mlip_autopipec.data.ids import structure_id

OnContact = Literal["enlarge", "drop"]
CORE_KEY = "extraction_core"
DISTANCE_KEY = "extraction_distance"
SOURCE_INDEX_KEY = "extraction_source_index"
INFO_KEY = "extraction"
MAX_WHOLE_ATOMS = 128
"""Cells up to this size go to DFT whole: carving would save little and loses the real boundary conditions."""


def default_gap(numbers: Sequence[int] | np.ndarray) -> float:
    """The longest covalent bond (sum of covalent radii) among the elements present, in A."""
    radii = covalent_radii[np.unique(np.asarray(numbers, dtype=int))]
    return float(2.0 * radii.max())


def sphere_members(atoms: Atoms, centre: int, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All atoms (periodic images included) within ``radius`` of atom ``centre``.

    Returns (source indices, vectors from the centre, distances), sorted by distance (the centre first).
    Works for any cell, triclinic and partly periodic included, and for spheres larger than the cell.
    """
    n = len(atoms)
    if not 0 <= centre < n:
        raise IndexError(f"centre {centre} out of range for {n} atoms")
    positions = atoms.get_positions()
    delta = positions - positions[centre]
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if pbc.any():
        cell = atoms.cell.complete().array  # fills missing (non-periodic) vectors so it can be inverted
        frac = np.linalg.solve(cell.T, delta.T).T
        frac[:, pbc] -= np.round(frac[:, pbc])
        reciprocal = np.linalg.inv(cell).T  # rows b_k with a_i . b_k = delta_ik
        reach = [int(math.ceil(radius * np.linalg.norm(reciprocal[k]))) + 1 if pbc[k] else 0 for k in range(3)]
        ranges = [range(-m, m + 1) for m in reach]
        base = frac @ cell
        index_parts, vector_parts = [], []
        for shift in itertools.product(*ranges):
            vectors = base + np.asarray(shift, dtype=float) @ cell
            inside = np.einsum("ij,ij->i", vectors, vectors) <= radius * radius
            if inside.any():
                index_parts.append(np.flatnonzero(inside))
                vector_parts.append(vectors[inside])
        indices = np.concatenate(index_parts)
        vectors = np.concatenate(vector_parts)
    else:
        inside = np.einsum("ij,ij->i", delta, delta) <= radius * radius
        indices, vectors = np.flatnonzero(inside), delta[inside]
    distances = np.linalg.norm(vectors, axis=1)
    order = np.lexsort((indices, distances))
    return indices[order], vectors[order], distances[order]


def boundary_min_distance_ratio(atoms: Atoms) -> float:
    """Smallest d_ij / (r_cov,i + r_cov,j) over pairs that cross the cell boundary (a non-zero image
    shift); inf when no such pair is closer than twice the largest covalent radius sum."""
    if not np.any(atoms.pbc) or len(atoms) == 0:
        return math.inf
    radii = covalent_radii[atoms.numbers]
    i, j, d, shifts = neighbor_list("ijdS", atoms, float(2.0 * radii.max()) * 2.0)
    crossing = np.any(shifts != 0, axis=1)
    if not crossing.any():
        return math.inf
    return float(np.min(d[crossing] / (radii[i[crossing]] + radii[j[crossing]])))


def _source_id(atoms: Atoms) -> str:
    return str(atoms.info.get("structure_id") or structure_id(atoms))


def _boxed(numbers: np.ndarray, vectors: np.ndarray, length: float, periodic: bool) -> Atoms:
    """Atoms at ``vectors`` from the centre, placed with the centre in the middle of a cube of ``length``."""
    return Atoms(numbers=numbers, positions=vectors + 0.5 * length, cell=np.eye(3) * length, pbc=periodic)


def _close_boundary_pairs(box: Atoms, factor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, deficit in A) for pairs across the boundary closer than ``factor`` x covalent radius sum."""
    radii = covalent_radii[box.numbers]
    i, j, d, shifts = neighbor_list("ijdS", box, float(2.0 * radii.max()) * max(factor, 1e-3))
    limit = factor * (radii[i] + radii[j])
    bad = np.any(shifts != 0, axis=1) & (d < limit)
    return i[bad], j[bad], (limit - d)[bad]


def carve_environment(
    atoms: Atoms,
    centre: int,
    r_cut: float,
    buffer: float,
    *,
    periodic: bool = True,
    gap: float | None = None,
    core_radius: float | None = None,
    min_distance_factor: float = 0.5,
    on_contact: OnContact = "enlarge",
    source_id: str | None = None,
) -> Atoms:
    """The environment of radius ``r_cut + buffer`` around atom ``centre``, in a new cubic box (see the
    module docstring for the geometry, the masks and the metadata). The centre becomes atom 0."""
    if r_cut <= 0 or buffer < 0:
        raise ValueError(f"need r_cut > 0 and buffer >= 0, got r_cut={r_cut}, buffer={buffer}")
    if on_contact not in ("enlarge", "drop"):
        raise ValueError(f"on_contact must be 'enlarge' or 'drop', got {on_contact!r}")
    radius = float(r_cut + buffer)
    core = float(radius - r_cut if core_radius is None else core_radius)
    indices, vectors, distances = sphere_members(atoms, int(centre), radius)
    numbers = atoms.numbers[indices]
    gap = default_gap(numbers) if gap is None else float(gap)
    if gap < 0:
        raise ValueError(f"gap must be >= 0, got {gap}")
    length = 2.0 * radius + gap
    notes: list[str] = []
    keep = np.ones(len(indices), dtype=bool)
    box = _boxed(numbers, vectors, length, periodic)
    if periodic:
        for _ in range(50):
            i, j, deficit = _close_boundary_pairs(box, min_distance_factor)
            if len(i) == 0:
                break
            if on_contact == "enlarge":
                grow = float(deficit.max()) + 1e-6
                length += grow
                notes.append(f"box enlarged by {grow:.3f} A: atoms across the boundary were too close")
            else:
                alive = np.flatnonzero(keep)
                outer = np.where(distances[alive[i]] >= distances[alive[j]], alive[i], alive[j])
                outer = np.unique(outer[outer != 0])  # never drop the centre
                if outer.size == 0:  # only the centre is in contact with itself: enlarge instead
                    length += float(deficit.max()) + 1e-6
                    continue
                keep[outer] = False
                notes.append(f"dropped {outer.size} rim atoms in contact across the boundary")
            box = _boxed(numbers[keep], vectors[keep], length, periodic)
        else:
            raise RuntimeError("carve_environment: could not remove close contacts across the boundary")
    box.arrays[CORE_KEY] = distances[keep] <= core + 1e-9
    box.arrays[DISTANCE_KEY] = distances[keep].copy()
    box.arrays[SOURCE_INDEX_KEY] = indices[keep].astype(int)
    meta: dict[str, Any] = {
        "mode": "periodic" if periodic else "cluster",
        "centre": 0,
        "source_centre_index": int(centre),
        "radius": radius,
        "r_cut": float(r_cut),
        "buffer": float(buffer),
        "core_radius": core,
        "gap": gap,
        "box_length": float(length),
        "n_core": int(box.arrays[CORE_KEY].sum()),
        "source_structure_id": source_id or _source_id(atoms),
        "source_n_atoms": len(atoms),
    }
    if notes:
        meta["notes"] = notes
    box.info[INFO_KEY] = meta
    if "origin" in atoms.info:
        box.info["origin"] = atoms.info["origin"]
    return box


def whole_cell(atoms: Atoms, *, centre: int | None = None, source_id: str | None = None) -> Atoms:
    """A clean copy of a cell that goes to DFT whole, with the same masks and metadata as a carved one."""
    copy = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    copy.arrays[CORE_KEY] = np.ones(len(atoms), dtype=bool)
    copy.info[INFO_KEY] = {
        "mode": "whole",
        "centre": None if centre is None else int(centre),
        "source_centre_index": None if centre is None else int(centre),
        "source_structure_id": source_id or _source_id(atoms),
        "source_n_atoms": len(atoms),
    }
    if "origin" in atoms.info:
        copy.info["origin"] = atoms.info["origin"]
    return copy


def per_atom_uncertainty(atoms: Atoms) -> np.ndarray:
    """``force_std`` per atom from the committee calculator's results, else from ``atoms.arrays``."""
    calc = atoms.calc
    if calc is not None and "force_std" in getattr(calc, "results", {}):
        values = calc.results["force_std"]
    elif "force_std" in atoms.arrays:
        values = atoms.arrays["force_std"]
    else:
        raise ValueError("no per-atom uncertainty: pass force_std or attach the committee's results")
    values = np.asarray(values, dtype=float).reshape(-1)
    if len(values) != len(atoms):
        raise ValueError(f"force_std has {len(values)} values for {len(atoms)} atoms")
    return values


def choose_centres(
    atoms: Atoms,
    force_std: np.ndarray,
    n_centres: int,
    min_separation: float,
    threshold: float | None = None,
) -> list[int]:
    """Most uncertain atoms first, skipping any within ``min_separation`` (minimum image) of one already
    chosen, so two environments do not cover the same region; only atoms above ``threshold`` if given."""
    values = np.where(np.isfinite(force_std), force_std, np.inf)  # a NaN spread is the most uncertain
    order = np.argsort(-values, kind="stable")
    chosen: list[int] = []
    for k in order:
        if len(chosen) >= n_centres:
            break
        if threshold is not None and not values[k] > threshold:
            break
        if chosen:
            d = atoms.get_distances(int(k), chosen, mic=bool(np.any(atoms.pbc)))
            if np.min(d) < min_separation:
                continue
        chosen.append(int(k))
    return chosen


def extract_uncertain(
    atoms: Atoms,
    r_cut: float,
    buffer: float,
    *,
    force_std: np.ndarray | None = None,
    max_whole_atoms: int = MAX_WHOLE_ATOMS,
    n_centres: int = 1,
    threshold: float | None = None,
    periodic: bool = True,
    gap: float | None = None,
    core_radius: float | None = None,
    min_distance_factor: float = 0.5,
    on_contact: OnContact = "enlarge",
) -> list[Atoms]:
    """Structures to label for one uncertain structure: the whole cell when it is small (or when carving
    would not give fewer atoms), else one carved environment per chosen centre (:func:`choose_centres`,
    separated by at least ``r_cut + buffer``). Per-atom uncertainty comes from ``force_std`` or from the
    committee's results on ``atoms`` (``force_std``); it is only needed for cells that are carved.
    An empty list means no atom exceeded ``threshold``."""
    source = _source_id(atoms)
    if len(atoms) <= max_whole_atoms:
        centre = None
        try:
            centre = int(np.argmax(per_atom_uncertainty(atoms) if force_std is None else force_std))
        except ValueError:
            pass
        return [whole_cell(atoms, centre=centre, source_id=source)]
    values = per_atom_uncertainty(atoms) if force_std is None else np.asarray(force_std, dtype=float).reshape(-1)
    centres = choose_centres(atoms, values, n_centres, r_cut + buffer, threshold)
    carved = [
        carve_environment(
            atoms,
            c,
            r_cut,
            buffer,
            periodic=periodic,
            gap=gap,
            core_radius=core_radius,
            min_distance_factor=min_distance_factor,
            on_contact=on_contact,
            source_id=source,
        )
        for c in centres
    ]
    if any(len(env) >= len(atoms) for env in carved):
        return [whole_cell(atoms, centre=centres[0] if centres else None, source_id=source)]
    return carved
