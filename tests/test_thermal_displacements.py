"""Thermal displacements from a cell's own force constants (structures/thermal.py) and the fresh set drawn with them.

Real calculators: ASE's EMT for Cu, whose harmonic behaviour at low temperature is known to the test by equipartition,
and a Cu crystal stretched past its inflection point, whose spectrum is really unstable (the fallback's path).
"""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.geometry import find_mic
from ase.units import kB

from mlip_autopipec.config.models import ValidationConfig
from mlip_autopipec.structures.perturb import rattle_amplitude, supercell_for
from mlip_autopipec.structures.thermal import (
    MAX_DISPLACEMENT,
    cell_force_constants,
    harmonic_model,
    mean_square_displacement,
    thermal_displacer,
)
from mlip_autopipec.validation.fresh_set import draw_validation_set

CELL = supercell_for(bulk("Cu", "fcc", a=3.6), 8)  # 8 atoms, no symmetry-equivalent shortcut in the test's Hessian


def finite_difference_hessian(atoms, calculator, step: float = 0.005) -> np.ndarray:
    """Central differences of the forces, coordinate by coordinate: the reference for phonopy's force constants."""
    n = len(atoms)
    hessian = np.zeros((3 * n, 3 * n))
    for index in range(3 * n):
        columns = []
        for sign in (1.0, -1.0):
            moved = atoms.copy()
            moved.positions[index // 3, index % 3] += sign * step
            moved.calc = calculator
            columns.append(-moved.get_forces().ravel())
        hessian[:, index] = (columns[0] - columns[1]) / (2 * step)
    return (hessian + hessian.T) / 2


def test_force_constants_equal_the_finite_difference_hessian() -> None:
    """Atom order and Cartesian layout of the (3N, 3N) matrix are the cell's own (phonopy uses symmetry for it)."""
    constants = cell_force_constants(CELL, EMT())
    reference = finite_difference_hessian(CELL, EMT())
    assert constants.shape == (24, 24)
    assert np.abs(constants - reference).max() < 0.02 * np.abs(reference).max()
    assert np.abs(constants.sum(axis=1)).max() < 1e-6  # translational sum rule


def test_harmonic_draws_hold_kT_over_two_per_mode_and_keep_the_centre_of_mass() -> None:
    """300 K in EMT Cu is harmonic: the mean energy above the crystal is (3N - 3) / 2 kT within sampling error, and
    every atom's mean-square displacement matches the model's; independent rattles of the same size hold more."""
    model = harmonic_model(CELL, EMT())
    assert model.sampling == "harmonic"
    rng = np.random.default_rng(5)
    reference = CELL.copy()
    reference.calc = EMT()
    e0 = reference.get_potential_energy()
    energies, squares = [], []
    for _ in range(200):
        moved = CELL.copy()
        shift = model.displacements(rng, 300.0)
        assert np.allclose(shift.mean(axis=0), 0.0, atol=1e-10)  # equal masses: the centre of mass stays
        moved.positions += shift
        moved.calc = EMT()
        energies.append(moved.get_potential_energy() - e0)
        squares.append(np.mean(shift**2))
    expected = (3 * len(CELL) - 3) / 2 * kB * 300.0
    assert np.mean(energies) == pytest.approx(expected, rel=0.12)  # 200 draws of 21 modes: about 2 % noise
    assert np.mean(squares) == pytest.approx(mean_square_displacement(model, 300.0), rel=0.1)
    # the same per-atom amplitude drawn atom by atom stores more energy (no correlated motion of neighbours)
    sigma = float(np.sqrt(mean_square_displacement(model, 300.0)))
    independent = []
    for _ in range(100):
        moved = CELL.copy()
        moved.positions += rng.normal(0.0, sigma, size=(len(CELL), 3))
        moved.calc = EMT()
        independent.append(moved.get_potential_energy() - e0)
    assert np.mean(independent) > 1.3 * np.mean(energies)


def test_an_unstable_spectrum_falls_back_to_einstein_springs() -> None:
    """Cu stretched 40 % is past its inflection point: negative curvature, so no normal-mode sampling; each atom then
    moves on its own with its on-site spring constant (floored), within the cap."""
    stretched = supercell_for(bulk("Cu", "fcc", a=3.6 * 1.4), 8)
    model = harmonic_model(stretched, EMT())
    assert model.sampling == "einstein" and "unstable" in model.why
    shift = model.displacements(np.random.default_rng(1), 1000.0)
    assert shift.shape == (8, 3) and np.isfinite(shift).all() and np.abs(shift).max() < 6 * MAX_DISPLACEMENT


def test_without_a_calculator_the_draw_is_the_old_independent_rattle() -> None:
    displace, why = thermal_displacer(CELL, None, rattle_amplitude)
    first = displace(np.random.default_rng(3), 600.0)
    again = np.random.default_rng(3).normal(0.0, rattle_amplitude(600.0), size=(8, 3))
    assert np.array_equal(first, again) and "independent" in why


def test_fresh_set_with_harmonic_displacements() -> None:
    """The set keeps its origins and seeds; its crystals are displaced by normal modes (recorded in their info), their
    spread grows as sqrt(T), and the set without a calculator is unchanged by the option."""
    cfg = ValidationConfig(set_per_temperature=4, set_md_snapshots=0, set_cell_atoms=8)
    cu = bulk("Cu", "fcc", a=3.6)
    harmonic = draw_validation_set(cu, (300.0, 1200.0), cfg, seed=11, md_calculator=None, thermal_calculator=EMT())
    plain = draw_validation_set(cu, (300.0, 1200.0), cfg, seed=11, md_calculator=None)
    assert [a.info["origin"] for a in harmonic] == [a.info["origin"] for a in plain]
    assert all("normal modes" in a.info["displacements"] for a in harmonic)
    assert all("independent" in a.info["displacements"] for a in plain)
    again = draw_validation_set(cu, (300.0, 1200.0), cfg, seed=11, md_calculator=None, thermal_calculator=EMT())
    assert all(np.array_equal(a.positions, b.positions) for a, b in zip(harmonic, again, strict=True))
    ideal = supercell_for(cu, 8)

    def spread(temperature: str) -> float:
        cells = [a for a in harmonic if a.info["origin"] == f"validation_rattled_{temperature}"]
        shifts = [find_mic(a.positions - ideal.positions, a.cell, a.pbc)[0] for a in cells]  # the set is wrapped
        return float(np.sqrt(np.mean([np.mean(shift**2) for shift in shifts])))

    assert spread("1200K") / spread("300K") == pytest.approx(2.0, rel=0.35)
