"""DIRECT selection of structures: descriptors of each frame, then PCA, BIRCH and stratified picks.

Isolated atoms are always kept: they carry the reference energies that delta learning needs and
their descriptor (no neighbours) says nothing to a clustering.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms

from mlip_autopipec.descriptors import DescriptorSpec, structure_descriptors
from mlip_autopipec.sampling.direct import direct_select

# A lighter basis than the descriptor default: selection needs to tell structures apart, not fit forces.
SELECTION_SPEC = {"r_cut": 5.0, "n_max": 6, "l_max": 4}


@dataclass(frozen=True)
class StructureSelection:
    indices: list[int]
    forced: list[int]
    coverage: float
    n_clusters: int
    n_components: int


def select_structures(frames: list[Atoms], n_select: int, elements: list[str], seed: int) -> StructureSelection:
    """Indices of at most ``n_select`` frames (isolated atoms always among them)."""
    forced = [i for i, atoms in enumerate(frames) if atoms.info.get("origin") == "isolated_atom"]
    candidates = [i for i in range(len(frames)) if i not in set(forced)]
    budget = max(0, n_select - len(forced))
    if budget == 0:
        return StructureSelection(sorted(forced), forced, 0.0, 0, 0)
    if budget >= len(candidates):
        return StructureSelection(sorted(forced + candidates), forced, 1.0, len(candidates), 0)
    spec = DescriptorSpec(species=tuple(sorted(elements)), include_variance=True, **SELECTION_SPEC)
    features = structure_descriptors([frames[i] for i in candidates], spec)
    result = direct_select(np.asarray(features), n_select=budget, seed=seed)
    chosen = [candidates[int(i)] for i in result.indices]
    return StructureSelection(sorted(forced + chosen), forced, float(result.coverage), int(result.n_clusters), int(result.n_components))
