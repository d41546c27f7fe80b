"""Structure generators: counts, valid Atoms, stoichiometry, seeds, SQS correlations, normal modes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, surface
from ase.spacegroup import crystal
from icet.tools.structure_generation import _get_sqs_cluster_vector

from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.config.models import FullConfig
from mlip_autopipec.data.ids import structure_id
from mlip_autopipec.dft.kpoints import kpoint_mesh
from mlip_autopipec.potentials.surrogate import make_surrogate
from mlip_autopipec.structures import clusters, perturb
from mlip_autopipec.structures.bonding import analyse_bonding
from mlip_autopipec.structures.composition import parse_composition
from mlip_autopipec.structures.filters import keep_physical, min_distance_ratio
from mlip_autopipec.structures.generate import generate_structures
from mlip_autopipec.structures.normal_modes import finite_difference_hessian, normal_modes, relax_molecule, sample_normal_modes
from mlip_autopipec.structures.prototypes import choose_prototype
from mlip_autopipec.structures.sqs import cluster_space_for, concentrations_for, make_sqs

SMALL = {
    "target_atoms": 8,
    "strained_per_temperature": 2,
    "nms_samples_per_temperature": 5,
    "sqs_sizes": [8],
    "relax_prototype": False,
}


def _generate(composition: str, seed: int = 1, calculator_factory=None, **generate: object):
    full: FullConfig = expand_config({"composition": composition, "seed": seed, "generate": {**SMALL, **generate}})
    return full, generate_structures(full.composition, full.seed, full.system, full.generate, calculator_factory)


def _ids(frames: list[Atoms]) -> list[str]:
    return [structure_id(a) for a in frames]


@pytest.mark.parametrize("composition", ["Si", "NaCl", "FePt", "Ti3AlC2"])
def test_generated_sets_are_valid_reproducible_and_seeded(composition: str) -> None:
    full, first = _generate(composition, seed=1)
    _, again = _generate(composition, seed=1)
    _, other = _generate(composition, seed=2)
    assert _ids(first.frames) == _ids(again.frames)
    assert _ids(first.frames) != _ids(other.frames)
    assert sum(first.counts.values()) == len(first.frames) >= 10
    assert first.counts.get("isolated_atom") == len(full.elements)
    assert first.counts.get("dimer", 0) > 0 and first.counts.get("trimer", 0) > 0
    for atoms in first.frames:
        assert set(atoms.get_chemical_symbols()) <= set(full.elements)
        assert atoms.info["origin"]
        assert min_distance_ratio(atoms) >= full.generate.min_distance_factor - 1e-9
        assert atoms.cell.volume > 0


def test_bulk_cells_keep_the_stoichiometry() -> None:
    _, result = _generate("NaCl")
    for atoms in result.frames:
        if atoms.info["origin"] in ("ideal", "strain_rattle"):
            counts = Counter(atoms.get_chemical_symbols())
            assert counts["Na"] == counts["Cl"]
        if atoms.info["origin"] == "vacancy":
            counts = Counter(atoms.get_chemical_symbols())
            assert abs(counts["Na"] - counts["Cl"]) == 1


def test_random_packing_keeps_stoichiometry_and_distances() -> None:
    _, result = _generate("Ti3AlC2")
    packed = [a for a in result.frames if a.info["origin"] == "random_packing"]
    assert packed
    for atoms in packed:
        counts = Counter(atoms.get_chemical_symbols())
        assert counts["Ti"] == 3 * counts["Al"] and counts["C"] == 2 * counts["Al"]
        assert min_distance_ratio(atoms) >= 0.7 - 1e-9


def test_alloys_get_sqs_cells_with_random_alloy_correlations() -> None:
    _, result = _generate("FePt", sqs_sizes=[8, 16], sqs_concentration_shifts=[0.0])
    assert result.counts["sqs"] == 2
    amounts = parse_composition("FePt")
    primitive = choose_prototype(amounts, analyse_bonding(amounts)).atoms
    space = cluster_space_for(primitive, ["Fe", "Pt"])
    target = _get_sqs_cluster_vector(space, {"Fe": 0.5, "Pt": 0.5})
    pair_columns = [i for i, orbit in enumerate(space.as_list) if orbit["order"] == 2]  # first and second shells
    for atoms in (a for a in result.frames if a.info["origin"] == "sqs"):
        vector = space.get_cluster_vector(atoms)
        assert Counter(atoms.get_chemical_symbols()) == Counter({"Fe": len(atoms) // 2, "Pt": len(atoms) // 2})
        np.testing.assert_allclose(vector[pair_columns[:2]], target[pair_columns[:2]], atol=0.07)


def test_sqs_concentrations_around_the_target() -> None:
    assert concentrations_for({"Fe": 1, "Pt": 1}, 8, 0.125) == {"Fe": 0.625, "Pt": 0.375}
    assert concentrations_for({"Fe": 1, "Pt": 1}, 8, 0.0) == {"Fe": 0.5, "Pt": 0.5}
    assert concentrations_for({"Cr": 1, "Mn": 1, "Fe": 1, "Co": 1, "Ni": 1}, 8, 0.0) is None  # 8 atoms cannot hold 5 x 20%
    sqs = make_sqs(bulk("Cu", "fcc", a=3.6), {"Au": 0.25, "Cu": 0.75}, 8, seed=0, n_steps=500)
    assert Counter(sqs.get_chemical_symbols()) == Counter({"Cu": 6, "Au": 2})


def test_rattle_amplitude_grows_with_temperature_and_is_bounded() -> None:
    assert perturb.rattle_amplitude(300) == pytest.approx(0.072, abs=0.005)
    assert perturb.rattle_amplitude(1200) == pytest.approx(2 * perturb.rattle_amplitude(300))
    assert perturb.rattle_amplitude(1e6) == perturb.MAX_RATTLE


def test_strain_is_bounded() -> None:
    rng = np.random.default_rng(0)
    cell = bulk("Cu", "fcc", a=3.6, cubic=True)
    for _ in range(20):
        strained = perturb.random_strain(cell, rng, 0.05, 0.03)
        ratio = strained.get_volume() / cell.get_volume()
        assert 0.95**3 - 0.01 < ratio < 1.05**3 + 0.01


def test_too_close_structures_are_dropped_and_counted() -> None:
    good = bulk("Si", "diamond", 5.43)
    bad = good.copy()
    bad.positions[1] = bad.positions[0] + 0.3
    kept, dropped = keep_physical([good, bad], 0.5)
    assert kept == [good] and dropped == 1


def test_dimer_scan_and_isolated_atoms() -> None:
    dimers = clusters.dimer_scan(["Na", "Cl"], 5, 0.5, 2.0)
    assert len(dimers) == 3 * 5  # NaNa, NaCl, ClCl
    distances = sorted({round(a.get_distance(0, 1), 6) for a in dimers if sorted(a.get_chemical_symbols()) == ["Cl", "Na"]})
    assert distances[0] == pytest.approx(0.5 * clusters.bond_length("Na", "Cl"))
    assert distances[-1] == pytest.approx(2.0 * clusters.bond_length("Na", "Cl"))
    atoms = clusters.isolated_atoms(["Na", "Cl"])
    assert [len(a) for a in atoms] == [1, 1] and all(kpoint_mesh(a, 0.3) is None for a in atoms)


@pytest.fixture(scope="module")
def chgnet():
    calculator, name = make_surrogate("chgnet")
    assert name == "chgnet"
    return calculator


def test_molecules_get_normal_mode_samples_without_kpoints(chgnet) -> None:
    full, result = _generate("H2O", calculator_factory=lambda: chgnet)
    assert full.system.bonding_type == "molecular"
    samples = [a for a in result.frames if a.info["origin"] == "normal_modes"]
    assert len(samples) == full.generate.nms_samples_per_temperature * len(full.generate.rattle_temperatures)
    for atoms in samples:
        assert atoms.get_chemical_formula() == "H2O"
        assert kpoint_mesh(atoms, full.dft.kpoint_spacing) is None  # molecule in a box: Gamma only
        assert 0.85 < atoms.get_distance(0, 1) < 1.15


def test_normal_mode_displacements_follow_the_temperature(chgnet) -> None:
    from ase.build import molecule

    water = molecule("H2O")
    water.center(vacuum=5.0)
    water = relax_molecule(water, chgnet)
    hessian = finite_difference_hessian(water, chgnet)
    energies, _ = normal_modes(water, hessian)
    wavenumbers = energies / 1.2398e-4
    assert len(wavenumbers) == 3
    assert 1300 < wavenumbers[0] < 1800 and 3400 < wavenumbers[-1] < 4000  # bend, stretches of water
    rng = np.random.default_rng(0)
    spread = {}
    for temperature in (300.0, 1200.0):
        samples = sample_normal_modes(water, hessian, temperature, 400, rng)
        spread[temperature] = np.std([a.get_distance(0, 1) for a in samples])
    assert spread[1200.0] == pytest.approx(2 * spread[300.0], rel=0.2)  # classical: sqrt(T)


def test_the_surrogate_is_built_only_when_needed_and_named_in_the_summary(tmp_path) -> None:
    from mlip_autopipec.data.records import GenerateSummary
    from mlip_autopipec.structures.generate import OnDemandSurrogate

    unused = OnDemandSurrogate("chgnet")
    _, plain = _generate("Si", calculator_factory=unused)  # relax_prototype False: no calculator needed
    summary = plain.summary(unused.used)
    assert unused.used is None and summary.surrogate is None
    assert summary.structures == len(plain.frames) == sum(summary.by_origin.values())
    assert summary.duplicates == plain.duplicates and summary.dropped_min_distance == plain.dropped
    used = OnDemandSurrogate("chgnet")
    _, relaxed = _generate("Si", calculator_factory=used, relax_prototype=True)
    assert used.used == "chgnet" and relaxed.summary(used.used).surrogate == "chgnet"
    summary.write(tmp_path / "generated_summary.json")
    assert GenerateSummary.read(tmp_path / "generated_summary.json") == summary


def test_ionic_antisites_swap_only_like_charges_and_rock_salt_has_none() -> None:
    """A cation on an anion site is eV above the crystal and the hardest SCF of a run (NaCl's took 41 and over 100
    pw.x iterations against 7-10 for the other 8-atom cells); like-charged swaps (Mg on Al in a spinel) stay."""
    rng = np.random.default_rng(0)
    rock_salt = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    assert perturb.with_antisite(rock_salt, rng, {"Na": 1.0, "Cl": -1.0}) is None
    swapped = perturb.with_antisite(rock_salt, rng)  # no charges (an alloy): any two species
    assert swapped is not None and sorted(swapped.numbers) == sorted(rock_salt.numbers)
    assert (swapped.numbers != rock_salt.numbers).sum() == 2
    spinel_like = Atoms("MgAl2O4", positions=np.arange(21.0).reshape(7, 3), cell=np.eye(3) * 10, pbc=True)
    for _ in range(20):
        moved = perturb.with_antisite(spinel_like, rng, {"Mg": 2.0, "Al": 3.0, "O": -2.0})
        assert moved is not None
        changed = np.flatnonzero(moved.numbers != spinel_like.numbers)
        assert len(changed) == 2 and set(spinel_like[changed].get_chemical_symbols()) == {"Mg", "Al"}
    _, nacl = _generate("NaCl")
    _, gaas = _generate("GaAs")  # covalent: As on a Ga site is a real defect (EL2) and is kept
    assert analyse_bonding(parse_composition("NaCl")).bonding_type == "ionic"
    assert "antisite" not in nacl.counts and nacl.counts["vacancy"] >= 1
    assert gaas.counts.get("antisite", 0) >= 1


def test_ionic_crystals_get_only_non_polar_slabs() -> None:
    """Rock salt cut along (111) stacks alternating Na and Cl layers: a dipole across the slab (Tasker type 3) that the
    real crystal never shows and whose SCF diverged in pw.x. Miller indices are the conventional cell's, so (100)
    is the cleavage face (a primitive-cell "(100)" is polar too); both non-polar cuts stay, about as many atoms."""
    charges = {"Na": 1.0, "Cl": -1.0}
    primitive = bulk("NaCl", "rocksalt", a=5.64)
    kept = dict(perturb.low_index_surfaces(primitive, 4, charges=charges))
    assert set(kept) == {"100", "110"} and all(len(slab) == 16 for slab in kept.values())
    assert all(perturb.slab_dipole_per_area(slab, charges) == pytest.approx(0.0, abs=1e-9) for slab in kept.values())
    conventional = perturb.conventional_cell(primitive)
    assert len(conventional) == 8 and np.allclose(conventional.cell.lengths(), 5.64)
    polar = surface(conventional, (1, 1, 1), 2, vacuum=6.0, periodic=False)
    assert abs(perturb.slab_dipole_per_area(polar, charges)) > perturb.POLAR_DIPOLE_PER_AREA
    primitive_cuts = dict(perturb.low_index_surfaces(primitive, 4))  # no charges (covalent, metallic): as before
    assert len(primitive_cuts) == 3 and abs(perturb.slab_dipole_per_area(primitive_cuts["100"], charges)) > 0.1
    # rutile: every cut ASE makes is polar (its non-polar (110) needs another termination): the plain cuts stay
    rutile = crystal(["Ti", "O"], basis=[(0, 0, 0), (0.305, 0.305, 0)], spacegroup=136, cellpar=[4.59, 4.59, 2.96, 90, 90, 90])
    plain = perturb.low_index_surfaces(rutile, 4)
    fallback = perturb.low_index_surfaces(rutile, 4, charges={"Ti": 4.0, "O": -2.0})
    assert len(fallback) == len(plain) == 3
    assert all(a.get_chemical_formula() == b.get_chemical_formula() for (_, a), (_, b) in zip(plain, fallback, strict=True))
    _, nacl = _generate("NaCl")
    _, si = _generate("Si")  # covalent: every slab as before
    assert sum(n for origin, n in nacl.counts.items() if origin.startswith("surface")) == 2
    assert sum(n for origin, n in si.counts.items() if origin.startswith("surface")) == 3
