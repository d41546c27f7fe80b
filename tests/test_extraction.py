"""Carving uncertain environments out of a 216-atom Cu cell: forces of the centre region are reproduced,
no close contacts across the new boundary, small cells come back whole, metadata present."""

from __future__ import annotations

import re

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from ase.data import covalent_radii
from ase.neighborlist import neighbor_list

from mlip_autopipec.active_learning.extraction import (
    CORE_KEY,
    DISTANCE_KEY,
    SOURCE_INDEX_KEY,
    boundary_min_distance_ratio,
    carve_environment,
    extract_uncertain,
    sphere_members,
)
from mlip_autopipec.data.ids import ID_PATTERN
from mlip_autopipec.structures.filters import min_distance_ratio

LJ_CUTOFF = 4.0  # strictly short-ranged: ASE's LennardJones (smooth=False) has no force beyond rc


def lj() -> LennardJones:
    return LennardJones(sigma=2.338, epsilon=0.409, rc=LJ_CUTOFF)


@pytest.fixture(scope="module")
def cu216() -> Atoms:
    atoms = bulk("Cu", "fcc", 3.61, cubic=True) * (3, 3, 6)
    atoms.rattle(0.05, seed=3)
    assert len(atoms) == 216
    return atoms


def reference_forces(atoms: Atoms, calc) -> np.ndarray:
    work = atoms.copy()
    work.calc = calc
    return work.get_forces()


def crossing_ratio(atoms: Atoms) -> float:
    """Independent check: smallest d / (r_cov sum) over pairs with a non-zero image shift."""
    radii = covalent_radii[atoms.numbers]
    i, j, d, shifts = neighbor_list("ijdS", atoms, 6.0)
    crossing = np.any(shifts != 0, axis=1)
    return float(np.min(d[crossing] / (radii[i[crossing]] + radii[j[crossing]]))) if crossing.any() else np.inf


def test_sphere_members_match_brute_force(cu216: Atoms) -> None:
    indices, vectors, distances = sphere_members(cu216, 17, 5.0)
    assert indices[0] == 17 and distances[0] == 0.0
    brute = cu216.get_distances(17, range(len(cu216)), mic=True)
    assert sorted(indices.tolist()) == sorted(np.flatnonzero(brute <= 5.0).tolist())  # 5 A < half the cell
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), distances)


def test_pair_potential_forces_reproduced_in_core(cu216: Atoms) -> None:
    centre = 40
    env = carve_environment(cu216, centre, r_cut=LJ_CUTOFF, buffer=LJ_CUTOFF)
    meta = env.info["extraction"]
    assert meta["mode"] == "periodic" and meta["centre"] == 0 and meta["source_centre_index"] == centre
    assert meta["radius"] == pytest.approx(2 * LJ_CUTOFF) and meta["source_n_atoms"] == 216
    assert re.fullmatch(ID_PATTERN, meta["source_structure_id"])
    assert env.pbc.all() and env.cell.lengths().min() >= 2 * meta["radius"]
    assert len(env) < len(cu216)
    core = env.arrays[CORE_KEY]
    # core = atoms whose whole r_cut neighbourhood is inside the sphere (depth >= one cutoff)
    np.testing.assert_array_equal(core, env.arrays[DISTANCE_KEY] <= LJ_CUTOFF + 1e-9)
    assert core[0] and core.sum() >= 13 and not core.all()  # centre + at least the first shell
    full = reference_forces(cu216, lj())[env.arrays[SOURCE_INDEX_KEY]]
    carved = reference_forces(env, lj())
    assert np.abs(carved[core] - full[core]).max() < 1e-6
    assert np.abs(carved[~core] - full[~core]).max() > 1e-3  # the rim really is cut
    assert env.get_chemical_symbols()[0] == "Cu"
    np.testing.assert_allclose(env.positions[0], 0.5 * env.cell.lengths())


def test_many_body_forces_reproduced_two_cutoffs_deep(cu216: Atoms) -> None:
    """EMT is many-body: forces on an atom are exact when the sphere reaches two cutoffs beyond it."""
    probe = cu216.copy()
    probe.calc = EMT()
    probe.get_potential_energy()
    rc = float(probe.calc.rc_list)  # EMT neighbours are strictly cut at rc_list
    env = carve_environment(cu216, 100, r_cut=rc, buffer=rc + 0.4)  # a sphere larger than the cell
    assert len(env) > len(cu216)
    full = reference_forces(cu216, EMT())[env.arrays[SOURCE_INDEX_KEY]]
    carved = reference_forces(env, EMT())
    deep = env.arrays[DISTANCE_KEY] <= env.info["extraction"]["radius"] - 2 * rc
    assert deep[0] and deep.sum() >= 1
    assert np.abs(carved[deep] - full[deep]).max() < 1e-6
    assert crossing_ratio(env) >= 1.0


def test_no_close_contacts_across_new_boundary(cu216: Atoms) -> None:
    env = carve_environment(cu216, 5, r_cut=4.0, buffer=2.0)
    assert crossing_ratio(env) >= 1.0  # default gap: a full bond length
    assert boundary_min_distance_ratio(env) == pytest.approx(crossing_ratio(env))
    assert min_distance_ratio(env) >= 0.5
    # a tiny gap would put atoms on top of each other: the box is enlarged until the limit holds
    tight = carve_environment(cu216, 5, r_cut=4.0, buffer=2.0, gap=0.0, min_distance_factor=0.8)
    assert crossing_ratio(tight) >= 0.8 - 1e-9
    assert tight.cell.lengths()[0] > 12.0 and "notes" in tight.info["extraction"]
    dropped = carve_environment(cu216, 5, r_cut=4.0, buffer=2.0, gap=0.0, min_distance_factor=0.8, on_contact="drop")
    assert crossing_ratio(dropped) >= 0.8 - 1e-9
    assert dropped.cell.lengths()[0] == pytest.approx(12.0)
    assert len(dropped) < len(env) and dropped.arrays[CORE_KEY].sum() == env.arrays[CORE_KEY].sum()


def test_cluster_variant(cu216: Atoms) -> None:
    env = carve_environment(cu216, 7, r_cut=4.0, buffer=2.0, periodic=False)
    assert not env.pbc.any() and env.info["extraction"]["mode"] == "cluster"
    assert min_distance_ratio(env) >= 0.5
    # all atoms at least gap/2 from every face
    gap = env.info["extraction"]["gap"]
    assert env.positions.min() >= gap / 2 - 1e-9 and env.positions.max() <= env.cell.lengths()[0] - gap / 2 + 1e-9


def test_extract_uncertain_picks_most_uncertain_atoms(cu216: Atoms) -> None:
    distances = cu216.get_distances(12, range(len(cu216)), mic=True)
    near = int(np.argsort(distances)[1])  # nearest neighbour of 12: its environment overlaps 12's
    far = int(np.argmax(distances))
    force_std = np.full(len(cu216), 0.01)
    force_std[[12, near, far]] = [0.5, 0.45, 0.4]
    envs = extract_uncertain(cu216, 4.0, 2.0, force_std=force_std, n_centres=3, threshold=0.1)
    centres = [e.info["extraction"]["source_centre_index"] for e in envs]
    assert centres == [12, far]
    for env in envs:
        assert env.arrays[CORE_KEY][0] and len(env) < len(cu216)


def test_small_cells_come_back_whole() -> None:
    atoms = bulk("Cu", "fcc", 3.61, cubic=True) * (2, 2, 2)
    atoms.rattle(0.02, seed=1)
    atoms.info["structure_id"] = "0123456789abcdef"
    force_std = np.linspace(0, 1, len(atoms))
    (whole,) = extract_uncertain(atoms, 4.0, 2.0, force_std=force_std, max_whole_atoms=64)
    assert len(whole) == len(atoms) and whole.arrays[CORE_KEY].all()
    np.testing.assert_allclose(whole.positions, atoms.positions)
    np.testing.assert_allclose(whole.cell.array, atoms.cell.array)
    meta = whole.info["extraction"]
    assert meta["mode"] == "whole" and meta["source_structure_id"] == "0123456789abcdef"
    assert meta["centre"] == len(atoms) - 1


@pytest.mark.parametrize("kind", ["triclinic", "tiny", "slab"])
@pytest.mark.parametrize("radius", [4.0, 9.0])
def test_sphere_members_agree_with_ase_neighbour_list(kind: str, radius: float) -> None:
    """Periodic images included: spheres larger than the cell, skewed cells and slabs (pbc F along z)."""
    from ase.build import fcc111

    atoms = {
        "triclinic": bulk("Cu", "fcc", 3.61) * (6, 6, 6),
        "tiny": bulk("Cu", "fcc", 3.61) * (2, 2, 2),
        "slab": fcc111("Cu", (3, 3, 4), vacuum=5.0),
    }[kind]
    atoms.rattle(0.05, seed=1)
    indices, _, distances = sphere_members(atoms, 3, radius)
    i, j, d = neighbor_list("ijd", atoms, radius)
    mine = sorted(zip(indices[1:].tolist(), np.round(distances[1:], 8).tolist(), strict=False))
    theirs = sorted(zip(j[i == 3].tolist(), np.round(d[i == 3], 8).tolist(), strict=False))
    assert mine == theirs
