"""Special quasirandom structures with icet: small cells that mimic the random alloy's correlations."""

from __future__ import annotations

import logging

import numpy as np
from ase import Atoms
from icet import ClusterSpace
from icet.tools.structure_generation import generate_sqs, generate_sqs_by_enumeration

logger = logging.getLogger(__name__)
ENUMERATION_LIMIT = {2: 8, 3: 6}  # largest cell (atoms) that exhaustive enumeration handles in about a second


def cluster_space_for(primitive: Atoms, elements: list[str]) -> ClusterSpace:
    """Pairs to the second neighbour shell and nearest-neighbour triplets: what SQS usually matches."""
    from ase.neighborlist import neighbor_list

    d = neighbor_list("d", primitive, 8.0)
    nearest = float(np.min(d))
    return ClusterSpace(primitive, cutoffs=[1.5 * nearest, 1.05 * nearest], chemical_symbols=[list(elements)] * len(primitive))


def concentrations_for(amounts: dict[str, float], size: int, shift: float = 0.0) -> dict[str, float] | None:
    """Target fractions for ``size`` atoms (shift moves the first element's fraction); None if not representable."""
    elements = sorted(amounts)
    total = sum(amounts.values())
    fractions = np.array([amounts[el] / total for el in elements])
    if shift and len(elements) >= 2:
        fractions[0] += shift
        fractions[1:] -= shift * fractions[1:] / fractions[1:].sum()
    if np.any(fractions <= 0) or np.any(fractions >= 1):
        return None
    counts = np.round(fractions * size).astype(int)
    if counts.sum() != size or np.any(counts == 0) or np.max(np.abs(counts / size - fractions)) > 0.5 / size + 1e-9:
        return None
    return {el: float(c) / size for el, c in zip(elements, counts, strict=True)}


def make_sqs(primitive: Atoms, target: dict[str, float], size: int, seed: int, n_steps: int) -> Atoms:
    """An SQS of ``size`` atoms: enumeration for small cells, simulated annealing beyond."""
    elements = sorted(target)
    space = cluster_space_for(primitive, elements)
    max_size = size // len(primitive)
    if size <= ENUMERATION_LIMIT.get(len(elements), 0):
        sqs = generate_sqs_by_enumeration(space, max_size=max_size, target_concentrations=target, include_smaller_cells=False)
    else:
        sqs = generate_sqs(
            space, max_size=max_size, target_concentrations=target, include_smaller_cells=False, n_steps=n_steps, random_seed=seed
        )
    return sqs
