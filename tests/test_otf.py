"""On-the-fly MD with a committee of real (Lennard-Jones) potentials that disagree."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from mlip_autopipec.potentials.ensemble import EnsembleCalculator
from mlip_autopipec.potentials.lennard_jones import LennardJonesBaseline
from mlip_autopipec.simulation.otf import otf_md


def lj_committee(spread: float = 0.02) -> EnsembleCalculator:
    """Members differ in sigma by a few percent: they agree near equilibrium, disagree under compression."""
    base = 2.55 / 2 ** (1 / 6)  # Cu-Cu minimum at the fcc nearest-neighbour distance
    return EnsembleCalculator([LennardJonesBaseline(sigma={"Cu": base * (1 + f)}, epsilon=0.4) for f in (-spread, 0.0, spread)])


def test_committee_reports_mean_and_spread() -> None:
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    atoms.rattle(0.05, seed=0)
    atoms.calc = lj_committee()
    forces = atoms.get_forces()
    results = atoms.calc.results
    assert forces.shape == (32, 3)
    members = results["member_forces"]
    np.testing.assert_allclose(forces, members.mean(axis=0))
    assert results["max_force_std"] == pytest.approx(np.linalg.norm(members.std(axis=0), axis=1).max())
    assert results["max_force_std"] > 0


def test_a_high_threshold_collects_nothing_and_a_low_one_fills_the_budget() -> None:
    start = bulk("Cu", "fcc", a=3.6, cubic=True)
    calm = otf_md(start, lj_committee(), threshold=1e6, temperature_K=300, steps=60, timestep_fs=2.0, check_every=10, supercell_atoms=32, seed=1)
    assert calm.checks == 6 and calm.uncertain_checks == 0 and calm.uncertain == [] and calm.stopped_reason is None
    assert calm.max_uncertainty > 0
    eager = otf_md(start, lj_committee(), threshold=0.0, temperature_K=300, steps=200, timestep_fs=2.0, check_every=10, max_uncertain=3, supercell_atoms=32, seed=1)
    assert len(eager.uncertain) == 3 and "budget" in eager.stopped_reason
    for frame in eager.uncertain:
        assert frame.info["origin"] == "active_learning" and frame.info["uncertainty"] > 0
        assert frame.arrays["force_std"].shape == (len(frame),)


def test_hotter_md_is_more_often_uncertain() -> None:
    start = bulk("Cu", "fcc", a=3.6, cubic=True)
    cold = otf_md(start, lj_committee(), threshold=np.inf, temperature_K=100, steps=80, timestep_fs=2.0, check_every=10, supercell_atoms=32, seed=2)
    hot = otf_md(start, lj_committee(), threshold=np.inf, temperature_K=1500, steps=80, timestep_fs=2.0, check_every=10, supercell_atoms=32, seed=2)
    threshold = 0.5 * (cold.max_uncertainty + hot.max_uncertainty)
    cold2 = otf_md(start, lj_committee(), threshold=threshold, temperature_K=100, steps=80, timestep_fs=2.0, check_every=10, max_uncertain=50, supercell_atoms=32, seed=3)
    hot2 = otf_md(start, lj_committee(), threshold=threshold, temperature_K=1500, steps=80, timestep_fs=2.0, check_every=10, max_uncertain=50, supercell_atoms=32, seed=3)
    assert hot.max_uncertainty > cold.max_uncertainty
    assert hot2.uncertain_fraction > cold2.uncertain_fraction


def test_kmc_engine_checks_every_saddle_and_minimum() -> None:
    from ase.build import add_adsorbate, fcc100
    from ase.constraints import FixAtoms

    from mlip_autopipec.simulation.otf_kmc import otf_kmc

    slab = fcc100("Cu", size=(3, 3, 2), vacuum=6.0)
    add_adsorbate(slab, "Cu", 1.7, "hollow")
    slab.set_constraint(FixAtoms(indices=[a.index for a in slab if a.tag == 2]))
    result = otf_kmc(slab, lj_committee(0.03), threshold=0.0, temperature_K=500, steps=1, searches=2, max_uncertain=3, supercell_atoms=1, seed=0)
    assert result.ensemble == "kmc" and result.checks >= 1
    assert result.uncertain_checks == result.checks  # threshold 0: every configuration is uncertain
    assert 1 <= len(result.uncertain) <= 3 and result.uncertain[0].info["ensemble"] == "kmc"
