"""Shared fixtures: small real Si structures and cheap-but-real DFT settings for pw.x."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from ase import Atoms
from ase.build import bulk

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
PW_OUTPUTS = Path(__file__).parent / "data" / "pw_outputs"
PYTHON = sys.executable

# Cheap but real: 2-atom Si cells converge in a second or two on 2 cores with these.
FAST_SI_DFT = {"ecutwfc": 20.0, "ecutrho": 80.0, "kpoint_spacing": 0.5}


def small_si_structures(count: int = 3) -> list[Atoms]:
    frames = []
    for seed in range(count):
        atoms = bulk("Si", "diamond", 5.43 * (1.0 + 0.01 * seed))
        atoms.rattle(0.05, seed=seed)
        atoms.info["origin"] = "test_rattle"
        frames.append(atoms)
    return frames


@pytest.fixture(scope="session")
def pw_available() -> None:
    if shutil.which("pw.x") is None:
        pytest.fail("pw.x is not installed; run 'bash envs/install.sh' (installs the Debian quantum-espresso package)")


SI_LABELS = Path(__file__).parent / "data" / "si_labels" / "si_labels.extxyz"
"""33 real pw.x-labelled Si structures (tests/data/si_labels/make_si_labels.py made them)."""


@pytest.fixture(scope="session")
def si_frames() -> list[Atoms]:
    """The Si label fixture, shared by the ACE and MACE training tests (callers copy before changing frames)."""
    from mlip_autopipec.potentials.dataset import load_structures

    return load_structures(SI_LABELS)
