"""Content-hash structure ids: the same structure always gets the same id, so it is never labelled twice.

An id is ``s`` followed by 16 hex digits of the hash. Why the letter: a bare hex string can read as a
number ("9987654027759991", "12345e6789012345"), which ASE's database refuses as a string and YAML or
pandas silently turn into one; with the prefix an id is a name everywhere.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
from ase import Atoms

POSITION_DECIMALS = 5  # 1e-5 Angstrom: far below any physical difference, above float noise
ID_PREFIX = "s"
ID_LENGTH = 16  # hex digits of the hash after the prefix
ID_PATTERN = ID_PREFIX + "[0-9a-f]{16}"
LEGACY_ID_PATTERN = "[0-9a-f]{16}"  # ids written before the prefix (label caches of earlier versions)


def _rounded(values: np.ndarray, decimals: int) -> list[float]:
    # Adding 0.0 turns -0.0 into 0.0 so that both hash the same.
    return (np.round(np.asarray(values, dtype=float), decimals) + 0.0).ravel().tolist()


def structure_id(atoms: Atoms) -> str:
    """Hash of atomic numbers, positions (rounded), cell (rounded) and periodicity."""
    payload = {
        "numbers": atoms.get_atomic_numbers().tolist(),
        "positions": _rounded(atoms.get_positions(), POSITION_DECIMALS),
        "cell": _rounded(atoms.get_cell().array, POSITION_DECIMALS),
        "pbc": [bool(p) for p in atoms.get_pbc()],
    }
    return ID_PREFIX + hashlib.sha256(json.dumps(payload, separators=(",", ":")).encode()).hexdigest()[:ID_LENGTH]


def id_digest(sid: str) -> str:
    """The hash part of an id (also of a legacy id without the prefix).

    Seeds derive from it, so that the spelling of ids never changes a trajectory; legacy label-cache
    entries are found by it.
    """
    return sid.removeprefix(ID_PREFIX) if len(sid) == len(ID_PREFIX) + ID_LENGTH else sid


def parameters_hash(parameters: dict[str, Any]) -> str:
    """Stable hash of a parameter mapping (sorted keys), e.g. the DFT physics parameters."""
    text = json.dumps(parameters, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:ID_LENGTH]
