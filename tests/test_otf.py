"""On-the-fly MD with a committee of real (Lennard-Jones) potentials that disagree."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from mlip_autopipec.active_learning.otf import otf_md
from mlip_autopipec.potentials.committee import CommitteeCalculator
from mlip_autopipec.potentials.lennard_jones import LennardJonesBaseline


def lj_committee(spread: float = 0.02) -> CommitteeCalculator:
    """Members differ in sigma by a few percent: they agree near equilibrium, disagree under compression."""
    base = 2.55 / 2 ** (1 / 6)  # Cu-Cu minimum at the fcc nearest-neighbour distance
    return CommitteeCalculator([LennardJonesBaseline(sigma={"Cu": base * (1 + f)}, epsilon=0.4) for f in (-spread, 0.0, spread)])


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
    calm = otf_md(
        start,
        lj_committee(),
        threshold=1e6,
        temperature_K=300,
        steps=60,
        timestep_fs=2.0,
        check_every=10,
        supercell_atoms=32,
        seed=1,
    )
    assert calm.checks == 6 and calm.uncertain_checks == 0 and calm.uncertain == [] and calm.stopped_reason is None
    assert calm.max_uncertainty > 0
    eager = otf_md(
        start,
        lj_committee(),
        threshold=0.0,
        temperature_K=300,
        steps=200,
        timestep_fs=2.0,
        check_every=10,
        max_uncertain=3,
        supercell_atoms=32,
        seed=1,
    )
    assert len(eager.uncertain) == 3 and "budget" in eager.stopped_reason
    for frame in eager.uncertain:
        assert frame.info["origin"] == "active_learning" and frame.info["uncertainty"] > 0
        assert frame.arrays["force_std"].shape == (len(frame),)


def test_hotter_md_is_more_often_uncertain() -> None:
    start = bulk("Cu", "fcc", a=3.6, cubic=True)
    cold = otf_md(
        start,
        lj_committee(),
        threshold=np.inf,
        temperature_K=100,
        steps=80,
        timestep_fs=2.0,
        check_every=10,
        supercell_atoms=32,
        seed=2,
    )
    hot = otf_md(
        start,
        lj_committee(),
        threshold=np.inf,
        temperature_K=1500,
        steps=80,
        timestep_fs=2.0,
        check_every=10,
        supercell_atoms=32,
        seed=2,
    )
    threshold = 0.5 * (cold.max_uncertainty + hot.max_uncertainty)
    cold2 = otf_md(
        start,
        lj_committee(),
        threshold=threshold,
        temperature_K=100,
        steps=80,
        timestep_fs=2.0,
        check_every=10,
        max_uncertain=50,
        supercell_atoms=32,
        seed=3,
    )
    hot2 = otf_md(
        start,
        lj_committee(),
        threshold=threshold,
        temperature_K=1500,
        steps=80,
        timestep_fs=2.0,
        check_every=10,
        max_uncertain=50,
        supercell_atoms=32,
        seed=3,
    )
    assert hot.max_uncertainty > cold.max_uncertainty
    assert hot2.uncertain_fraction > cold2.uncertain_fraction


def test_kmc_engine_checks_every_saddle_and_minimum() -> None:
    from ase.build import add_adsorbate, fcc100
    from ase.constraints import FixAtoms

    from mlip_autopipec.active_learning.otf_kmc import otf_kmc

    slab = fcc100("Cu", size=(3, 3, 2), vacuum=6.0)
    add_adsorbate(slab, "Cu", 1.7, "hollow")
    slab.set_constraint(FixAtoms(indices=[a.index for a in slab if a.tag == 2]))
    result = otf_kmc(
        slab,
        lj_committee(0.03),
        threshold=0.0,
        temperature_K=500,
        steps=1,
        searches=2,
        max_uncertain=3,
        supercell_atoms=1,
        seed=0,
    )
    assert result.ensemble == "kmc" and result.checks >= 1
    assert result.uncertain_checks == result.checks  # threshold 0: every configuration is uncertain
    assert 1 <= len(result.uncertain) <= 3 and result.uncertain[0].info["ensemble"] == "kmc"


# --- one simulate_md job: engine dispatch, seeds, the job summary ------------------------------------------------


def test_the_engine_setting_picks_md_or_kmc() -> None:
    from ase.build import add_adsorbate, fcc100

    from mlip_autopipec.active_learning.committee_runs import run_otf
    from mlip_autopipec.config.models import ActiveLearningConfig, ExploreConfig

    explore = ExploreConfig(supercell_atoms=32, timestep_fs=2.0)
    md = run_otf(
        bulk("Cu", "fcc", a=3.6, cubic=True),
        lj_committee(),
        1e6,
        ActiveLearningConfig(engine="md", md_steps=40, check_every=10),
        explore,
        temperature_K=300.0,
        ensemble="nvt",
        seed=1,
    )
    assert md.ensemble == "nvt" and md.steps_done == 40 and md.checks == 4
    slab = fcc100("Cu", size=(2, 2, 2), vacuum=6.0)
    add_adsorbate(slab, "Cu", 1.7, "hollow")
    kmc = run_otf(
        slab,
        lj_committee(0.03),
        0.0,
        ActiveLearningConfig(engine="kmc", kmc_steps=1, kmc_searches=1, max_uncertain_per_run=2),
        ExploreConfig(supercell_atoms=1),
        temperature_K=500.0,
        ensemble="nvt",
        seed=0,
    )
    assert kmc.ensemble == "kmc" and kmc.checks >= 1 and 1 <= len(kmc.uncertain) <= 2


def test_a_committee_job_runs_every_start_reproducibly(tmp_path) -> None:
    import ase.io

    from mlip_autopipec.active_learning.committee_runs import run_committee_job
    from mlip_autopipec.config.models import ActiveLearningConfig, ExploreConfig
    from mlip_autopipec.data.records import OtfJobSummary

    starts = []
    for k, a in enumerate((3.6, 3.5)):
        path = tmp_path / f"start_{k}.extxyz"
        ase.io.write(path, bulk("Cu", "fcc", a=a, cubic=True))
        starts.append(str(path))
    settings = ActiveLearningConfig(md_steps=60, check_every=10, max_uncertain_per_run=2)
    explore = ExploreConfig(supercell_atoms=32, timestep_fs=2.0)

    def job():
        return run_committee_job(
            starts, lj_committee(), 0.0, settings, explore, temperature_K=300.0, ensemble="nvt", run_seed=7, iteration="1"
        )

    summary, collected = job()
    assert summary.threshold == 0.0 and len(summary.runs) == 2
    assert all(run.collected == 2 and run.uncertain_checks == 2 for run in summary.runs)  # threshold 0: the budget fills
    assert len(collected) == sum(run.collected for run in summary.runs) == 4
    again, collected_again = job()
    assert again.model_dump(exclude={"runs": {"__all__": {"wall_time_s"}}}) == summary.model_dump(
        exclude={"runs": {"__all__": {"wall_time_s"}}}
    )
    np.testing.assert_array_equal(collected_again[-1].positions, collected[-1].positions)
    assert not np.allclose(collected[0].positions, collected[2].positions)  # each start has its own seed and cell
    summary.write(tmp_path / "job.json")
    assert OtfJobSummary.read(tmp_path / "job.json") == summary


def test_an_unphysical_check_labels_the_last_trusted_frame_instead() -> None:
    """Above the upper trust level the frame is not labelled: MD goes back to the last trusted frame and that
    frame is collected (once), as DP-GEN's model-deviation levels prescribe."""
    start = bulk("Cu", "fcc", a=3.6, cubic=True)
    options = dict(temperature_K=600, steps=200, timestep_fs=2.0, check_every=10, supercell_atoms=32, seed=3)
    free = otf_md(start, lj_committee(), threshold=1e6, **options)
    spreads = free.spreads
    jumps = [k for k in range(1, len(spreads)) if spreads[k] > 1.05 * max(spreads[:k])]
    assert jumps, f"no check rises 5 % above all earlier ones: {spreads}"
    k = jumps[0]
    lower, upper = 1.01 * max(spreads[:k]), spreads[k] / 1.01
    watched = otf_md(start, lj_committee(), threshold=lower, upper=upper, max_uncertain=1, **options)
    assert watched.unphysical_checks == 1 and watched.uncertain_checks == 1 and len(watched.uncertain) == 1
    trusted = watched.uncertain[0]
    assert trusted.info["step"] == 10 * k and trusted.info["uncertainty"] == pytest.approx(spreads[k - 1])
    assert trusted.info["trust"] == "last trusted before unphysical" and trusted.info["uncertainty"] < lower
    # the same check without an upper level is labelled itself
    plain = otf_md(start, lj_committee(), threshold=lower, max_uncertain=1, **options)
    assert plain.unphysical_checks == 0 and plain.uncertain[0].info["uncertainty"] == pytest.approx(spreads[k])
