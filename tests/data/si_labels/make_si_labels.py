"""Make the recorded Si training set for the ACE tests: real pw.x labels of small Si cells.

Why a recorded file: training tests need tens of DFT labels, and relabelling them on every test
run would cost minutes. This script is the provenance of ``si_labels.extxyz``: it runs the real
pw.x through ``label_structure`` with the cheap-but-real settings of ``tests/conftest.py``
(ecutwfc 20 Ry, ecutrho 80 Ry, k-point spacing 0.5 1/A, 2 MPI ranks) and writes energies,
forces, stress and the origin of each structure. Rerun it with

    .venv/bin/python tests/data/si_labels/make_si_labels.py

(about 2-4 minutes on 2 cores; 214 s when it was recorded). Structures are deterministic (seeded), so a rerun reproduces the
same structure ids.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.io import write

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/, for conftest.FAST_SI_DFT

from conftest import FAST_SI_DFT  # noqa: E402
from mlip_autopipec.config.expander import expand_config  # noqa: E402
from mlip_autopipec.dft.labeller import label_structure  # noqa: E402

OUTPUT = HERE / "si_labels.extxyz"
A0 = 5.43  # Si lattice parameter (Angstrom), close to the PBE value at these settings


def _tagged(atoms: Atoms, origin: str) -> Atoms:
    atoms.info["origin"] = origin
    return atoms


def _strained(atoms: Atoms, strain: np.ndarray) -> Atoms:
    strained = atoms.copy()
    strained.set_cell(atoms.cell.array @ (np.eye(3) + strain), scale_atoms=True)
    return strained


def si_structures() -> list[Atoms]:
    """33 Si cells, 2 and 8 atoms: rattled (several amplitudes), strained, compressed; each with an origin."""
    rng = np.random.default_rng(2024)
    frames: list[Atoms] = []
    primitive = bulk("Si", "diamond", A0)
    cubic = bulk("Si", "diamond", A0, cubic=True)

    # Thermal-like rattling of the primitive cell: 4 amplitudes x 3 seeds.
    for amplitude in (0.03, 0.06, 0.10, 0.15):
        for seed in range(3):
            atoms = primitive.copy()
            atoms.rattle(amplitude, seed=100 * seed + int(1000 * amplitude))
            frames.append(_tagged(atoms, "rattle_2at"))
    # Volumetric and shear strain of the primitive cell, lightly rattled.
    for index, volumetric in enumerate((-0.04, -0.02, 0.02, 0.04)):
        shear = rng.uniform(-0.03, 0.03, size=(3, 3))
        strain = np.eye(3) * volumetric + 0.5 * (shear + shear.T) * (index % 2)
        atoms = _strained(primitive, strain)
        atoms.rattle(0.04, seed=300 + index)
        frames.append(_tagged(atoms, "strain_2at"))
    # Compressed cells: the short-range side of the surface.
    for index, scale in enumerate((0.90, 0.93, 0.96)):
        atoms = bulk("Si", "diamond", A0 * scale)
        atoms.rattle(0.05, seed=400 + index)
        frames.append(_tagged(atoms, "compressed_2at"))
    # Conventional 8-atom cell, rattled at several amplitudes.
    for amplitude in (0.04, 0.08, 0.12, 0.16):
        for seed in range(2):
            atoms = cubic.copy()
            atoms.rattle(amplitude, seed=500 + 10 * seed + int(100 * amplitude))
            frames.append(_tagged(atoms, "rattle_8at"))
    # 8-atom cells, strained and rattled.
    for index, volumetric in enumerate((-0.03, -0.015, 0.015, 0.03)):
        shear = rng.uniform(-0.02, 0.02, size=(3, 3))
        atoms = _strained(cubic, np.eye(3) * volumetric + 0.5 * (shear + shear.T))
        atoms.rattle(0.06, seed=600 + index)
        frames.append(_tagged(atoms, "strain_8at"))
    # 8-atom compressed.
    for index, scale in enumerate((0.94, 0.97)):
        atoms = bulk("Si", "diamond", A0 * scale, cubic=True)
        atoms.rattle(0.08, seed=700 + index)
        frames.append(_tagged(atoms, "compressed_8at"))
    return frames


def main() -> None:
    frames = si_structures()
    start = time.monotonic()
    labelled: list[Atoms] = []
    with tempfile.TemporaryDirectory(prefix="si_labels_") as tmp:
        full = expand_config(
            {"composition": "Si", "dft": dict(FAST_SI_DFT), "label": {"mpi": {"ntasks": 2}, "cache_dir": f"{tmp}/cache"}}
        )
        for index, atoms in enumerate(frames):
            record = label_structure(atoms, full.dft, full.label, Path(tmp) / f"work_{index:03d}")
            if record.state != "labelled":
                print(f"{index:3d} {atoms.info['origin']:15s} FAILED: {record.reason}", flush=True)
                continue
            result = record.to_atoms()
            result.info["label_wall_time_s"] = record.wall_time_s
            result.info["kpoints"] = " ".join(map(str, record.kpoints or []))
            labelled.append(result)
            fmax = float(np.abs(record.forces).max())
            print(
                f"{index:3d} {record.origin:15s} {len(atoms)} atoms  E={record.energy:.4f} eV  max|F|={fmax:.3f} eV/A  "
                f"{record.wall_time_s:.1f} s",
                flush=True,
            )
    for atoms in labelled:
        atoms.info["pseudo_family"] = full.dft.pseudo_family
        atoms.info["ecutwfc"] = full.dft.ecutwfc
        atoms.info["kpoint_spacing"] = full.dft.kpoint_spacing
    write(OUTPUT, labelled, format="extxyz")
    print(f"wrote {len(labelled)} labelled structures to {OUTPUT} in {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
