"""Physical baselines (ZBL, Lennard-Jones) and delta learning: derivatives, limits, exactness."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import BaseCalculator
from ase.calculators.emt import EMT
from ase.calculators.mixing import LinearCombinationCalculator
from ase.calculators.singlepoint import SinglePointCalculator
from ase.data import atomic_numbers, covalent_radii
from ase.neighborlist import neighbor_list
from ase.stress import voigt_6_to_full_3x3_stress

from mlip_autopipec.potentials import (
    DeltaCalculator,
    LennardJonesBaseline,
    ReferenceEnergyCalculator,
    ZBLCalculator,
    add_reference_energies,
    delta_targets,
    make_baseline,
    make_delta_calculator,
    recommended_baseline,
    reference_energies,
    subtract_reference_energies,
)

H = 1e-5  # finite-difference step, Angstrom (and strain)


def r_cov(symbol: str) -> float:
    return float(covalent_radii[atomic_numbers[symbol]])


# ---------------------------------------------------------------------------------------------
# structures


def compressed_si(scale: float, rattle: float = 0.04, seed: int = 0) -> Atoms:
    atoms = bulk("Si", "diamond", 5.43, cubic=True)  # 8 atoms
    atoms.set_cell(atoms.cell * scale, scale_atoms=True)
    atoms.rattle(rattle, seed=seed)
    return atoms


def compressed_sic(scale: float, rattle: float = 0.04, seed: int = 1) -> Atoms:
    atoms = bulk("SiC", "zincblende", 4.36, cubic=True)  # 8 atoms, two species
    atoms.set_cell(atoms.cell * scale, scale_atoms=True)
    atoms.rattle(rattle, seed=seed)
    return atoms


def dimer(symbols: str, distance: float) -> Atoms:
    return Atoms(symbols, positions=[[0.0, 0.0, 0.0], [0.1 * distance, 0.2 * distance, 0.97 * distance]])


def dimer_at(symbols: str, distance: float) -> Atoms:
    return Atoms(symbols, positions=[[0.0, 0.0, 0.0], [0.0, 0.0, distance]])


# ---------------------------------------------------------------------------------------------
# finite differences


def energy_of(atoms: Atoms, calc: BaseCalculator) -> float:
    probe = atoms.copy()
    probe.calc = calc
    return float(probe.get_potential_energy())


def fd_forces(atoms: Atoms, calc: BaseCalculator) -> np.ndarray:
    forces = np.zeros((len(atoms), 3))
    for i in range(len(atoms)):
        for k in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, k] += H
            minus.positions[i, k] -= H
            forces[i, k] = -(energy_of(plus, calc) - energy_of(minus, calc)) / (2 * H)
    return forces


def fd_stress(atoms: Atoms, calc: BaseCalculator) -> np.ndarray:
    stress = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            energies = []
            for sign in (1.0, -1.0):
                strain = np.eye(3)
                strain[a, b] += sign * H
                probe = atoms.copy()
                probe.set_cell(atoms.cell @ strain, scale_atoms=True)
                energies.append(energy_of(probe, calc))
            stress[a, b] = (energies[0] - energies[1]) / (2 * H) / atoms.get_volume()
    return stress


def assert_derivatives(atoms: Atoms, calc: BaseCalculator) -> None:
    atoms = atoms.copy()
    atoms.calc = calc
    forces = atoms.get_forces()
    expected = fd_forces(atoms, calc)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(forces, expected, rtol=0, atol=1e-6 * scale)
    assert np.abs(forces.sum(axis=0)).max() < 1e-9 * scale  # Newton's third law
    energies = atoms.get_potential_energies()
    assert energies.sum() == pytest.approx(atoms.get_potential_energy(), rel=1e-12, abs=1e-12)
    if atoms.pbc.all():
        stress = voigt_6_to_full_3x3_stress(atoms.get_stress())
        expected_stress = fd_stress(atoms, calc)
        scale = max(1e-3, float(np.abs(expected_stress).max()))
        np.testing.assert_allclose(stress, expected_stress, rtol=0, atol=1e-6 * scale)


def switched_pairs(atoms: Atoms, lower: np.ndarray | float, upper: np.ndarray | float) -> int:
    """Number of pairs whose distance falls inside the switching window (the test must exercise it)."""
    distances = neighbor_list("d", atoms, float(np.max(upper)))
    return int(np.count_nonzero((distances > lower) & (distances < upper)))


# ---------------------------------------------------------------------------------------------
# ZBL


def zbl_reference(z1: int, z2: int, r: float) -> float:
    """The textbook ZBL formula, written out independently of the module."""
    k = 14.399645  # e^2 / (4 pi eps0), eV Angstrom
    a = 0.46850 / (z1**0.23 + z2**0.23)
    x = r / a
    phi = (
        0.18175 * math.exp(-3.19980 * x)
        + 0.50986 * math.exp(-0.94229 * x)
        + 0.28022 * math.exp(-0.40290 * x)
        + 0.02817 * math.exp(-0.20162 * x)
    )
    return k * z1 * z2 / r * phi


ZBL_CASES = {
    "Si8-default-window": (compressed_si(0.66), {}),
    "Si8-fixed-window": (compressed_si(0.8), {"r_inner": 1.0, "r_outer": 2.0}),
    "SiC8-default-window": (compressed_sic(0.62), {}),
    "SiC8-fixed-window": (compressed_sic(0.75), {"r_inner": 1.0, "r_outer": 2.2}),
    "Si-dimer": (dimer("Si2", 1.4), {}),
    "SiC-dimer-fixed": (dimer("SiC", 1.5), {"r_inner": 1.0, "r_outer": 2.0}),
}


@pytest.mark.parametrize("case", list(ZBL_CASES))
def test_zbl_forces_and_stress_are_energy_derivatives(case: str) -> None:
    atoms, params = ZBL_CASES[case]
    calc = ZBLCalculator(**params)
    species = np.unique(atoms.numbers)
    inner, outer = calc.cutoffs(species[:, None], species[None, :])
    assert switched_pairs(atoms, inner.min(), outer.max()) >= 2
    assert energy_of(atoms, calc) > 0
    assert_derivatives(atoms, calc)


def test_zbl_matches_formula_inside_inner_cutoff() -> None:
    calc = ZBLCalculator()
    for symbols, r in (("Si2", 0.5), ("SiC", 0.4), ("H2", 0.1), ("CuO", 0.8)):
        z1, z2 = (atomic_numbers[s] for s in Atoms(symbols).get_chemical_symbols())
        assert r < 0.5 * (r_cov(Atoms(symbols)[0].symbol) + r_cov(Atoms(symbols)[1].symbol))
        assert energy_of(dimer_at(symbols, r), calc) == pytest.approx(zbl_reference(z1, z2, r), rel=1e-6)


@pytest.mark.parametrize("params", [{}, {"r_inner": 1.0, "r_outer": 2.0}])
def test_zbl_is_repulsive_and_ends_exactly_at_outer_cutoff(params: dict) -> None:
    calc = ZBLCalculator(**params)
    z = atomic_numbers["Si"]
    inner, outer = (float(v) for v in calc.cutoffs(z, z))
    distances = np.linspace(0.2, outer - 1e-4, 400)
    energies = np.array([energy_of(dimer_at("Si2", r), calc) for r in distances])
    assert (energies > 0).all()
    assert (np.diff(energies) < 0).all()
    for r in distances[::40]:
        atoms = dimer_at("Si2", r)
        atoms.calc = calc
        assert atoms.get_forces()[1, 2] > 0  # pushes the second atom away

    for r in (outer, outer + 1e-9, outer + 0.3, 10.0):
        atoms = dimer_at("Si2", r)
        atoms.calc = calc
        assert atoms.get_potential_energy() == 0.0
        assert (atoms.get_forces() == 0.0).all()

    # Continuity at both ends of the switch (C2 switch: energy ~ d^3, force ~ d^2 at the outer end).
    delta = 1e-6
    below, above = dimer_at("Si2", inner - delta), dimer_at("Si2", inner + delta)
    below.calc, above.calc = calc, ZBLCalculator(**params)
    assert below.get_potential_energy() == pytest.approx(above.get_potential_energy(), rel=1e-5)
    np.testing.assert_allclose(below.get_forces(), above.get_forces(), rtol=1e-5)
    assert energy_of(dimer_at("Si2", inner), calc) == pytest.approx(zbl_reference(z, z, inner), rel=1e-6)
    near = dimer_at("Si2", outer - delta)
    near.calc = calc
    assert 0 < near.get_potential_energy() < 1e-12
    assert np.abs(near.get_forces()).max() < 1e-8


def test_zbl_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="both"):
        ZBLCalculator(r_inner=1.0)
    with pytest.raises(ValueError, match="r_inner < r_outer"):
        ZBLCalculator(r_inner=2.0, r_outer=1.0)


# ---------------------------------------------------------------------------------------------
# Lennard-Jones


def cu_primitive(scale: float) -> Atoms:
    atoms = bulk("Cu", "fcc", 3.61 * scale)  # one atom: every neighbour is a periodic image
    return atoms


LJ_CASES = {
    "Si8-compressed": (compressed_si(0.75), {}),
    "Si8-switch-region": (compressed_si(1.0, rattle=0.08), {}),
    "SiC8": (compressed_sic(0.95), {}),
    "SiC8-custom-epsilon": (compressed_sic(1.0), {"epsilon": {"Si": 0.3, "C": 0.05}, "sigma": {"C": 1.5}}),
    "Cu1-images": (cu_primitive(1.0), {}),
    "Si-dimer": (dimer("Si2", 2.3), {}),
    "SiC-dimer-switch-region": (dimer("SiC", 3.8), {}),
}


@pytest.mark.parametrize("case", list(LJ_CASES))
def test_lj_forces_and_stress_are_energy_derivatives(case: str) -> None:
    atoms, params = LJ_CASES[case]
    calc = LennardJonesBaseline(**params)
    if case.endswith("switch-region"):
        sigma, _ = calc.mixed_parameters(atoms.numbers[0], atoms.numbers[1])
        assert switched_pairs(atoms, 2.0 * sigma, 2.5 * sigma) >= 2
    assert_derivatives(atoms, calc)


@pytest.mark.parametrize("symbols", ["Si2", "Cu2", "H2", "SiC"])
def test_lj_minimum_sits_at_covalent_bond_length(symbols: str) -> None:
    calc = LennardJonesBaseline()
    first, second = Atoms(symbols).get_chemical_symbols()
    bond = r_cov(first) + r_cov(second)
    distances = np.linspace(0.8 * bond, 1.3 * bond, 5001)
    energies = np.array([energy_of(dimer_at(symbols, r), calc) for r in distances])
    assert distances[np.argmin(energies)] == pytest.approx(bond, abs=2e-4 * bond)
    assert energies.min() == pytest.approx(-0.1, rel=1e-9)  # default uniform well depth
    at_minimum = dimer_at(symbols, bond)
    at_minimum.calc = calc
    assert np.abs(at_minimum.get_forces()).max() < 1e-10


def test_lj_energy_and_force_are_continuous_at_cutoff() -> None:
    calc = LennardJonesBaseline()
    sigma, _ = calc.mixed_parameters(29, 29)
    cutoff = 2.5 * float(sigma)
    for r, max_energy, max_force in ((cutoff - 1e-6, 1e-15, 1e-12), (cutoff, 0.0, 0.0), (cutoff + 1e-6, 0.0, 0.0)):
        atoms = dimer_at("Cu2", r)
        atoms.calc = calc
        assert abs(atoms.get_potential_energy()) <= max_energy
        assert np.abs(atoms.get_forces()).max() <= max_force
    # Unswitched below 2 sigma: plain LJ.
    r = 1.9 * float(sigma)
    expected = 4 * 0.1 * ((sigma / r) ** 12 - (sigma / r) ** 6)
    assert energy_of(dimer_at("Cu2", r), calc) == pytest.approx(float(expected), rel=1e-12)


# ---------------------------------------------------------------------------------------------
# factory


def test_make_baseline_by_name() -> None:
    assert isinstance(make_baseline("zbl", ["Si"]), ZBLCalculator)
    assert isinstance(make_baseline("LJ", ["Si", "C"], epsilon={"Si": 0.2}), LennardJonesBaseline)
    assert make_baseline("none", ["Si"]) is None
    zbl = make_baseline("zbl", ["Si"], r_inner=0.9, r_outer=1.8)
    assert zbl.r_outer == 1.8
    assert recommended_baseline(["Si", "O"]) == "zbl"
    with pytest.raises(ValueError, match="unknown baseline"):
        make_baseline("morse", ["Si"])
    with pytest.raises(ValueError, match="not among"):
        make_baseline("lj", ["Si"], sigma={"Ge": 2.0})
    with pytest.raises(ValueError, match="unknown element"):
        make_baseline("zbl", ["Xx"])


# ---------------------------------------------------------------------------------------------
# delta learning


def emt_labelled(seed: int, symbols: str | None = None, scale: float = 1.0) -> Atoms:
    atoms = bulk("Cu", "fcc", 3.61 * scale, cubic=True).repeat((2, 1, 1))  # 8 atoms
    if symbols is not None:
        atoms.set_chemical_symbols(symbols)
    atoms.rattle(0.15, seed=seed)
    atoms.calc = EMT()
    labels = {
        "energy": atoms.get_potential_energy(),
        "forces": atoms.get_forces(),
        "stress": atoms.get_stress(),
    }
    atoms.calc = SinglePointCalculator(atoms, **labels)
    return atoms


def perfect_model(baseline: BaseCalculator) -> BaseCalculator:
    """Stand-in for a trained model that learned EMT minus the baseline exactly."""
    return LinearCombinationCalculator([EMT(), baseline], [1.0, -1.0])


DELTA_BASELINES = {
    "lj": lambda: LennardJonesBaseline(),
    "zbl": lambda: ZBLCalculator(r_inner=1.5, r_outer=2.6),
}


@pytest.mark.parametrize("name", list(DELTA_BASELINES))
def test_delta_learning_reproduces_dft_exactly(name: str) -> None:
    dft = [
        emt_labelled(0),
        emt_labelled(1, scale=0.9),
        emt_labelled(2, symbols="CuAlCuAlAlCuCuCu", scale=0.95),
    ]
    baseline = DELTA_BASELINES[name]()
    targets = delta_targets(dft, baseline)
    model = perfect_model(DELTA_BASELINES[name]())
    calc = make_delta_calculator(baseline, model)
    assert isinstance(calc, DeltaCalculator)

    for atoms, target in zip(dft, targets, strict=True):
        assert target is not atoms
        np.testing.assert_array_equal(target.positions, atoms.positions)
        base = atoms.copy()
        base.calc = DELTA_BASELINES[name]()
        assert abs(base.get_potential_energy()) > 1e-3  # the baseline really contributes
        # targets = DFT - baseline ...
        assert target.get_potential_energy() == pytest.approx(
            atoms.get_potential_energy() - base.get_potential_energy(), abs=1e-10
        )
        np.testing.assert_allclose(target.get_forces(), atoms.get_forces() - base.get_forces(), atol=1e-10)
        np.testing.assert_allclose(target.get_stress(), atoms.get_stress() - base.get_stress(), atol=1e-10)
        # ... which is exactly what the perfect model predicts ...
        learned = atoms.copy()
        learned.calc = perfect_model(DELTA_BASELINES[name]())
        assert learned.get_potential_energy() == pytest.approx(target.get_potential_energy(), abs=1e-8)
        # ... and baseline + model gives DFT back.
        run = atoms.copy()
        run.calc = calc
        assert run.get_potential_energy() == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
        np.testing.assert_allclose(run.get_forces(), atoms.get_forces(), atol=1e-8)
        np.testing.assert_allclose(run.get_stress(), atoms.get_stress(), atol=1e-8)
    # the DFT labels themselves are untouched
    reference = emt_labelled(0)
    assert dft[0].get_potential_energy() == reference.get_potential_energy()


def test_without_baseline_the_calculator_is_the_model() -> None:
    dft = [emt_labelled(3), emt_labelled(4, scale=0.97)]
    targets = delta_targets(dft, None)
    model = EMT()
    assert make_delta_calculator(None, model) is model
    for atoms, target in zip(dft, targets, strict=True):
        assert target.get_potential_energy() == atoms.get_potential_energy()
        np.testing.assert_array_equal(target.get_forces(), atoms.get_forces())
        np.testing.assert_array_equal(target.get_stress(), atoms.get_stress())


def test_delta_targets_need_labels_and_keep_missing_ones_missing() -> None:
    with pytest.raises(ValueError, match="no DFT energy"):
        delta_targets([bulk("Cu")], LennardJonesBaseline())
    molecule = dimer_at("Cu2", 2 * r_cov("Cu"))
    molecule.calc = SinglePointCalculator(molecule, energy=-1.0, forces=np.zeros((2, 3)))
    (target,) = delta_targets([molecule], LennardJonesBaseline())
    assert "stress" not in target.calc.results
    assert target.get_potential_energy() == pytest.approx(-1.0 + 0.1, abs=1e-9)  # LJ minimum -0.1 eV at 2 r_cov
    (target,) = delta_targets([molecule], ZBLCalculator())  # a bond length is beyond ZBL's outer cutoff
    assert target.get_potential_energy() == -1.0


# ---------------------------------------------------------------------------------------------
# reference energies


def synthetic_structures(rng: np.random.Generator, count: int, elements: list[str]) -> list[Atoms]:
    structures = []
    for _ in range(count):
        n = int(rng.integers(1, 12))
        symbols = list(rng.choice(elements, size=n))
        structures.append(Atoms(symbols, positions=rng.random((n, 3)) * 5.0))
    return structures


def test_reference_energy_fit_recovers_offsets() -> None:
    rng = np.random.default_rng(7)
    truth = {"Cu": -3.71, "Al": -2.05, "O": -4.93}
    structures = synthetic_structures(rng, 25, list(truth))
    energies = [sum(truth[s] for s in atoms.get_chemical_symbols()) for atoms in structures]
    fitted = reference_energies(structures, energies)
    assert list(fitted) == sorted(truth)
    for symbol, value in truth.items():
        assert fitted[symbol] == pytest.approx(value, abs=1e-10)

    # energies attached to the structures, with a small per-atom "interaction" noise and one known element
    for atoms, energy in zip(structures, energies, strict=True):
        noisy = energy + 1e-4 * len(atoms) * rng.standard_normal()
        atoms.calc = SinglePointCalculator(atoms, energy=noisy, forces=np.zeros((len(atoms), 3)))
    fitted = reference_energies(structures, elements=["Al", "Cu", "O"], isolated={"O": truth["O"]})
    assert fitted["O"] == truth["O"]
    assert fitted["Cu"] == pytest.approx(truth["Cu"], abs=1e-3)
    assert fitted["Al"] == pytest.approx(truth["Al"], abs=1e-3)


def test_reference_energies_warn_when_underdetermined() -> None:
    structures = [Atoms("CuO" * n, positions=np.arange(6 * n).reshape(2 * n, 3)) for n in (1, 2, 3)]
    energies = [-8.0 * n for n in (1, 2, 3)]
    with pytest.warns(UserWarning, match="minimum-norm"):
        fitted = reference_energies(structures, energies)
    assert fitted["Cu"] + fitted["O"] == pytest.approx(-8.0, abs=1e-10)
    with pytest.warns(UserWarning, match="occur in no structure"):
        fitted = reference_energies(structures, energies, elements=["Cu", "O", "Al"], isolated={"O": -5.0})
    assert fitted == pytest.approx({"Cu": -3.0, "O": -5.0, "Al": 0.0})
    with pytest.raises(ValueError, match="not among"):
        reference_energies(structures, energies, elements=["Cu"])


def test_reference_energies_are_subtracted_and_added_back() -> None:
    references = {"Cu": -3.5, "Al": -2.5}
    dft = [emt_labelled(5), emt_labelled(6, symbols="AlAlCuCuCuCuCuAl", scale=0.97)]
    for atoms in dft:  # give the labels a realistic per-element offset
        results = dict(atoms.calc.results)
        results["energy"] += sum(references[s] for s in atoms.get_chemical_symbols())
        atoms.calc = SinglePointCalculator(atoms, **results)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = reference_energies(dft)
    baseline = LennardJonesBaseline()
    targets = subtract_reference_energies(delta_targets(dft, baseline), fitted)
    restored = add_reference_energies(targets, fitted)
    model = perfect_model(LennardJonesBaseline())  # learned EMT - baseline; EMT lacks the offsets
    exact = make_delta_calculator(baseline, model, references)
    model_only = make_delta_calculator(None, EMT(), references)
    for atoms, target, back in zip(dft, targets, restored, strict=True):
        np.testing.assert_allclose(target.get_forces(), back.get_forces(), atol=0)
        run = atoms.copy()
        run.calc = exact
        assert run.get_potential_energy() == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
        np.testing.assert_allclose(run.get_forces(), atoms.get_forces(), atol=1e-8)
        np.testing.assert_allclose(run.get_stress(), atoms.get_stress(), atol=1e-8)
        run.calc = model_only
        assert run.get_potential_energy() == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
        base = atoms.copy()
        base.calc = LennardJonesBaseline()
        assert back.get_potential_energy() == pytest.approx(atoms.get_potential_energy() - base.get_potential_energy(), abs=1e-9)

    constant = dimer_at("CuAl", 2.0)
    constant.calc = ReferenceEnergyCalculator(references)
    assert constant.get_potential_energy() == -6.0
    assert (constant.get_forces() == 0).all()
    with pytest.raises(ValueError, match="no reference energy"):
        energy_of(dimer_at("CuO", 2.0), ReferenceEnergyCalculator(references))


def test_delta_targets_drop_the_stress_of_a_slab() -> None:
    from ase.build import fcc100
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    from mlip_autopipec.potentials.baselines import make_baseline
    from mlip_autopipec.potentials.delta import delta_targets

    slab = fcc100("Cu", size=(2, 2, 3), vacuum=5.0)
    slab.pbc = (True, True, False)
    slab.calc = EMT()
    labels = {"energy": slab.get_potential_energy(), "forces": slab.get_forces(), "stress": np.zeros(6)}
    slab.calc = SinglePointCalculator(slab, **labels)
    (target,) = delta_targets([slab], make_baseline("zbl", ["Cu"]))
    assert "stress" not in target.calc.results and "forces" in target.calc.results
