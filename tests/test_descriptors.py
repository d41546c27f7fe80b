"""Descriptors: cell list against ASE, Numba against the NumPy reference, invariances, smoothness."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule

from mlip_autopipec.descriptors import (
    DescriptorSpec,
    neighbour_list,
    per_atom_descriptors,
    structure_descriptor,
    structure_descriptors,
)
from mlip_autopipec.descriptors.kernels import radial_table, sph_harm_table
from mlip_autopipec.descriptors.reference import (
    reference_neighbour_list,
    reference_per_atom,
    reference_radial_basis,
    reference_real_sph_harm,
    reference_structure_descriptor,
)

SI = DescriptorSpec(("Si",), include_variance=True)
FEPT = DescriptorSpec(("Fe", "Pt"), include_variance=True)


def rattled_si() -> Atoms:
    atoms = bulk("Si", "diamond", 5.43, cubic=True)
    atoms.rattle(0.1, seed=3)
    return atoms


def rattled_fept() -> Atoms:
    cell = Atoms(
        "Fe2Pt2", scaled_positions=[(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)], cell=[3.85, 3.85, 3.71], pbc=True
    )
    atoms = cell * (1, 1, 2)
    atoms.numbers[[1, 6]] = atoms.numbers[[6, 1]]  # one antisite pair: less symmetric
    atoms.rattle(0.1, seed=5)
    return atoms


CASES = [(rattled_si, SI), (rattled_fept, FEPT)]


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def random_rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def pair_table(i, j, vectors, shifts) -> dict:
    return {(int(a), int(b), *map(int, s)): v for a, b, v, s in zip(i, j, vectors, shifts, strict=True)}


def assert_same_as_ase(atoms: Atoms, r_cut: float) -> int:
    offsets, indices, vectors, shifts = neighbour_list(
        np.ascontiguousarray(atoms.positions), np.ascontiguousarray(atoms.cell.array), np.asarray(atoms.pbc), r_cut
    )
    centres = np.repeat(np.arange(len(atoms)), np.diff(offsets))
    ours = pair_table(centres, indices, vectors, shifts)
    theirs = pair_table(*reference_neighbour_list(atoms, r_cut))
    assert len(ours) == len(centres), "duplicate pairs"
    assert sorted(ours) == sorted(theirs)
    for key, vec in theirs.items():
        np.testing.assert_allclose(ours[key], vec, rtol=0, atol=1e-10)
        i, j, *s = key
        expected = atoms.positions[j] + np.array(s) @ atoms.cell.array - atoms.positions[i]
        np.testing.assert_allclose(ours[key], expected, rtol=0, atol=1e-10)
    return len(ours)


# --- neighbour search ---------------------------------------------------------------------------


def test_cell_list_equals_ase_for_triclinic_cell_thinner_than_cutoff() -> None:
    cell = np.array([[2.6, 0.0, 0.0], [0.9, 2.4, 0.0], [-0.7, 0.5, 2.8]])
    rng = np.random.default_rng(0)
    # fractional coordinates outside [0, 1) too: shifts must be relative to the positions as given
    atoms = Atoms("SiSiC", scaled_positions=rng.uniform(-1.5, 2.5, size=(3, 3)), cell=cell, pbc=True)
    n_pairs = assert_same_as_ase(atoms, 5.0)
    assert n_pairs > 100  # many periodic images, several per direction


@pytest.mark.parametrize("pbc", [(True, False, True), (False, True, False)])
def test_cell_list_equals_ase_with_non_periodic_directions(pbc) -> None:
    cell = np.array([[3.1, 0.2, 0.0], [0.4, 2.9, 0.3], [0.0, -0.6, 3.3]])
    rng = np.random.default_rng(1)
    atoms = Atoms("Si4", positions=rng.uniform(-2.0, 6.0, size=(4, 3)), cell=cell, pbc=pbc)
    assert assert_same_as_ase(atoms, 4.5) > 0


def test_cell_list_equals_ase_for_molecule_without_cell() -> None:
    atoms = molecule("C6H6")
    atoms.rattle(0.05, seed=2)
    assert not atoms.pbc.any() and not atoms.cell.array.any()
    assert assert_same_as_ase(atoms, 2.6) > 0


# --- kernels against the NumPy reference ------------------------------------------------------


def test_spherical_harmonics_and_radial_basis_match_reference() -> None:
    rng = np.random.default_rng(7)
    unit = rng.normal(size=(50, 3))
    unit = np.vstack([unit / np.linalg.norm(unit, axis=1, keepdims=True), [[0, 0, 1], [0, 0, -1], [1, 0, 0]]])
    ours = sph_harm_table(unit, 8)
    np.testing.assert_allclose(ours, reference_real_sph_harm(unit, 8), rtol=1e-12, atol=1e-12)
    # orthonormal on the sphere: Gauss-Legendre in z times a uniform phi grid integrates them exactly
    z, w = np.polynomial.legendre.leggauss(20)
    phi = np.linspace(0.0, 2 * np.pi, 40, endpoint=False)
    zz, pp = np.meshgrid(z, phi, indexing="ij")
    s = np.sqrt(1 - zz**2)
    grid = np.stack([s * np.cos(pp), s * np.sin(pp), zz], axis=-1).reshape(-1, 3)
    weights = (w[:, None] * np.full(phi.shape, 2 * np.pi / len(phi))).reshape(-1)
    y = sph_harm_table(grid, 8)
    np.testing.assert_allclose(y.T @ (weights[:, None] * y), np.eye(81), atol=1e-12)
    r = rng.uniform(0.5, 5.0, size=40)
    np.testing.assert_allclose(radial_table(r, 5.0, 8), reference_radial_basis(r, 5.0, 8), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("make", "spec"), CASES)
def test_numba_equals_numpy_reference(make, spec) -> None:
    atoms = make()
    ours = per_atom_descriptors(atoms, spec)
    ref = reference_per_atom(atoms, spec.species, spec.r_cut, spec.n_max, spec.l_max)
    assert ours.shape == (len(atoms), spec.n_features)
    assert np.abs(ours - ref).max() <= 1e-10 * np.abs(ref).max()
    args = (spec.species, spec.r_cut, spec.n_max, spec.l_max, spec.include_variance)
    assert relative(structure_descriptor(atoms, spec), reference_structure_descriptor(atoms, *args)) < 1e-10


def test_batch_equals_single_and_absent_species_are_zero() -> None:
    frames = [rattled_si(), rattled_fept(), bulk("Fe", "bcc", 2.87, cubic=True)]
    spec = DescriptorSpec(("Fe", "Pt", "Si"), r_cut=4.5, n_max=5, l_max=4, include_variance=True)
    batch = structure_descriptors(frames, spec)
    assert batch.shape == (3, spec.n_structure_features)
    for row, atoms in zip(batch, frames, strict=True):
        assert relative(row, structure_descriptor(atoms, spec)) < 1e-12
    n = spec.n_features
    assert not batch[0, : 2 * n].any() and batch[0, 2 * n : 3 * n].any()  # Si only: Fe, Pt blocks empty
    assert not batch[2, n : 3 * n].any() and batch[2, :n].any()  # bcc Fe: no Pt, no Si centres
    with pytest.raises(ValueError, match="not in DescriptorSpec.species"):
        structure_descriptor(bulk("Cu"), spec)


# --- invariances ----------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "spec"), CASES)
def test_rotation_translation_permutation_supercell_invariance(make, spec) -> None:
    atoms = make()
    base = structure_descriptor(atoms, spec)
    variants = {}
    for seed in range(3):
        rot = random_rotation(seed)
        rotated = atoms.copy()
        rotated.set_cell(atoms.cell.array @ rot.T, scale_atoms=False)
        rotated.positions = atoms.positions @ rot.T
        variants[f"rotation {seed}"] = rotated
    moved = atoms.copy()
    moved.translate([1.37, -2.91, 7.3])
    variants["translation"] = moved
    wrapped = moved.copy()
    wrapped.wrap()
    variants["translation + wrap"] = wrapped
    variants["permutation"] = atoms[np.random.default_rng(4).permutation(len(atoms))]
    variants["2x1x1"] = atoms * (2, 1, 1)
    variants["2x2x2"] = atoms * (2, 2, 2)
    batch = structure_descriptors(list(variants.values()), spec)
    for (name, variant), row in zip(variants.items(), batch, strict=True):
        assert relative(structure_descriptor(variant, spec), base) < 1e-8, name
        assert relative(row, base) < 1e-8, name
    # per-atom descriptors follow the atoms under a permutation
    perm = np.random.default_rng(5).permutation(len(atoms))
    np.testing.assert_allclose(
        per_atom_descriptors(atoms[perm], spec),
        per_atom_descriptors(atoms, spec)[perm],
        rtol=1e-10,
        atol=1e-12 * np.abs(base).max(),
    )


# --- smoothness and discrimination -----------------------------------------------------------


def path_frames(step: float, length: float = 1.2) -> list[Atoms]:
    atoms = rattled_si()
    direction = np.array([0.6, 0.3, 0.74])
    direction /= np.linalg.norm(direction)
    frames = []
    for t in np.arange(0.0, length + 1e-12, step):
        frame = atoms.copy()
        frame.positions[0] += t * direction
        frames.append(frame)
    return frames


def test_descriptor_is_smooth_along_a_path_crossing_the_cutoff() -> None:
    spec = DescriptorSpec(("Si",), r_cut=5.0, n_max=8, l_max=6)
    coarse, fine = path_frames(0.02), path_frames(0.01)
    # the path is meaningful: atom 0 gains and loses neighbours at r_cut along it
    counts = {int(np.diff(neighbour_list(f.positions, f.cell.array, f.pbc, spec.r_cut)[0])[0]) for f in fine}
    assert len(counts) > 2
    d_coarse, d_fine = structure_descriptors(coarse, spec), structure_descriptors(fine, spec)
    np.testing.assert_allclose(d_fine[::2], d_coarse, rtol=1e-12, atol=1e-12)
    first = [np.abs(np.diff(d, axis=0)).max() for d in (d_coarse, d_fine)]
    second = [np.abs(np.diff(d, n=2, axis=0)).max() for d in (d_coarse, d_fine)]
    # continuous: halving the step halves the largest change (a jump would not shrink);
    # bounded second derivative: halving the step quarters the largest second difference
    assert first[1] / first[0] < 0.6
    assert second[1] / second[0] < 0.35
    assert second[0] < 0.1 * first[0]  # steps of 0.02 A: changes are nearly linear


def test_density_vanishes_smoothly_at_the_cutoff() -> None:
    spec = DescriptorSpec(("Si",), r_cut=5.0)
    values = []
    for r in (4.0, 4.99, 4.9999, 5.0, 5.5):
        dimer = Atoms("Si2", positions=[(0, 0, 0), (r, 0, 0)])
        values.append(np.abs(per_atom_descriptors(dimer, spec)[0]).max())
    assert values[0] > 1e-3
    assert values[1] < 1e-6 * values[0] and values[2] < 1e-14 * values[0]  # ~ (r_cut - r)^4
    assert values[3] == 0.0 and values[4] == 0.0


def test_different_structures_give_different_descriptors() -> None:
    spec = DescriptorSpec(("Si",))
    frames = [
        bulk("Si", "diamond", 5.43, cubic=True),
        bulk("Si", "diamond", 5.6, cubic=True),
        rattled_si(),
        bulk("Si", "fcc", 3.9, cubic=True),
        bulk("Si", "sc", 2.6),
    ]
    out = structure_descriptors(frames, spec)
    assert np.isfinite(out).all() and np.abs(out).max() > 0
    for a in range(len(frames)):
        for b in range(a + 1, len(frames)):
            assert relative(out[a], out[b]) > 1e-3, (a, b)
    fept = rattled_fept()
    ordered = structure_descriptor(fept, FEPT)
    fept.numbers[[0, 2]] = fept.numbers[[2, 0]]  # another antisite swap, same positions
    assert relative(structure_descriptor(fept, FEPT), ordered) > 1e-3


def test_spec_validates_and_counts_features() -> None:
    assert SI.n_features == 8 * 9 // 2 * 7 and SI.n_structure_features == 2 * SI.n_features
    assert FEPT.n_features == 16 * 17 // 2 * 7 and FEPT.n_structure_features == 4 * FEPT.n_features
    assert DescriptorSpec(["Si"]).species == ("Si",)
    for bad in (
        {"species": ()},
        {"species": ("Si", "Si")},
        {"species": ("Xx",)},
        {"species": ("Si",), "r_cut": 0.0},
        {"species": ("Si",), "n_max": 0},
    ):
        with pytest.raises(ValueError):
            DescriptorSpec(**bad)
