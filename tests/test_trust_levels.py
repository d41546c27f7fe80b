"""Trust levels calibrated on accuracy: a committee that is confidently wrong gets a strict lower level, one that
is honest about its errors a lenient one, and the levels catch the structures whose true error exceeds the target.

The committees are real Lennard-Jones potentials; "DFT" is a Lennard-Jones reference with known parameters, so the
true error of every structure is exact.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

from mlip_autopipec.active_learning.trust_levels import accuracy_threshold, levels_from_scale
from mlip_autopipec.active_learning.uncertainty import committee_threshold
from mlip_autopipec.potentials.committee import CommitteeCalculator
from mlip_autopipec.potentials.lennard_jones import LennardJonesBaseline
from mlip_autopipec.validation.calibration import spread_calibration

SIGMA = 2.55 / 2 ** (1 / 6)  # Cu-Cu minimum at the fcc nearest-neighbour distance
TARGET = 0.05  # eV/A per component


def reference() -> LennardJonesBaseline:
    return LennardJonesBaseline(sigma={"Cu": SIGMA}, epsilon=0.4)


def committee(bias: float, spread: float) -> CommitteeCalculator:
    """Members with sigma off the reference by ``bias`` (all alike) and spread by +-``spread`` (relative)."""
    return CommitteeCalculator(
        [LennardJonesBaseline(sigma={"Cu": SIGMA * (1 + bias + f)}, epsilon=0.4) for f in (-spread, 0.0, spread)]
    )


def labelled_cells(seeds: range, amplitude: float = 0.08) -> list[Atoms]:
    """Rattled and strained 32-atom Cu cells with the reference's energy and forces attached (the "DFT" labels)."""
    cells = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        atoms = bulk("Cu", "fcc", a=3.6 * (1 + rng.uniform(-0.03, 0.03)), cubic=True).repeat(2)
        atoms.rattle(amplitude * rng.uniform(0.3, 1.5), seed=seed)
        atoms.calc = reference()
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        atoms.info["origin"] = "rattled"
        cells.append(atoms)
    return cells


def test_levels_follow_the_error_per_spread_not_the_spread() -> None:
    held_out, fresh = labelled_cells(range(6)), labelled_cells(range(100, 140))
    confident = committee(bias=0.02, spread=0.002)  # wrong by 2 % in sigma, members nearly agree
    honest = committee(bias=0.0, spread=0.02)  # right on average, members disagree
    percentile = committee_threshold(confident, labelled_cells(range(200, 220)), 95.0)
    strict = accuracy_threshold(confident, held_out, TARGET, 3.0, lambda: percentile)
    lenient = accuracy_threshold(honest, held_out, TARGET, 3.0, lambda: percentile)
    assert "calibrated on accuracy" in strict.reason and strict.n == 6 * 32 and strict.calibration_structures == 6
    assert strict.error_scale is not None and lenient.error_scale is not None
    assert strict.error_scale > 5 * lenient.error_scale  # confident and wrong: each unit of spread means more error
    assert strict.value < lenient.value and strict.upper == pytest.approx(3 * strict.value)
    assert strict.value == pytest.approx(math.sqrt(3) * TARGET / strict.error_scale)
    assert strict.spread_error_spearman is not None and strict.target_force_rmse == TARGET
    # on structures none of the calibrations saw: the accuracy levels flag the truly bad ones, the spread percentile
    # of the confident committee (calibrated on its own agreement) lets them through
    by_accuracy = spread_calibration(fresh, confident, strict.value, TARGET)
    by_percentile = spread_calibration(fresh, confident, percentile.value, TARGET)
    assert by_accuracy.bad.sum() >= 10, f"only {by_accuracy.bad.sum()} of {len(fresh)} fresh cells are above the target"
    assert by_accuracy.recall is not None and by_accuracy.recall >= 0.8
    assert by_percentile.recall is not None and by_percentile.recall < by_accuracy.recall


def test_too_few_held_out_structures_fall_back_to_the_percentile_and_say_so() -> None:
    confident = committee(bias=0.02, spread=0.002)
    fallback = committee_threshold(confident, labelled_cells(range(200, 220)), 95.0)
    one = accuracy_threshold(confident, labelled_cells(range(1)), TARGET, 3.0, lambda: fallback)
    assert one.value == fallback.value and one.upper == pytest.approx(3 * fallback.value)
    assert "not calibrated on accuracy: only 1 held-out structures" in one.reason and one.error_scale is None
    dimers = [Atoms("Cu2", positions=[[0, 0, 0], [0, 0, d]]) for d in (2.2, 2.4, 2.6)]
    for dimer in dimers:
        dimer.calc = SinglePointCalculator(dimer, energy=0.0, forces=np.zeros((2, 3)))
    scans = accuracy_threshold(confident, dimers, TARGET, 3.0, lambda: fallback)  # dimer scans say nothing about MD frames
    assert "only 0 held-out structures besides scans" in scans.reason


def test_lower_level_is_where_the_expected_error_reaches_the_target() -> None:
    lower, upper = levels_from_scale(2.0, 0.1, 3.0)
    assert lower == pytest.approx(math.sqrt(3) * 0.1 / 2.0) and upper == pytest.approx(3 * lower)
