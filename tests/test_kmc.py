"""Adaptive kMC on a Cu(100) adatom (EMT, 3-layer 3x3 slab, bottom layer fixed): dimer searches find hops
with plausible barriers, duplicates are merged, the clock follows the residence-time formula, and the
uncertainty hook collects (or pauses on) the configurations it flags."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import Atoms
from ase.build import add_adsorbate, fcc100
from ase.calculators.emt import EMT
from ase.constraints import FixAtoms

from mlip_autopipec.active_learning.kmc import (
    KMCSettings,
    harmonic_rate,
    relax,
    run_akmc,
    search_events,
    select_event,
    vineyard_prefactor,
)

TEMPERATURE = 500.0


def adatom_slab() -> Atoms:
    atoms = fcc100("Cu", size=(3, 3, 3), vacuum=6.0)
    add_adsorbate(atoms, "Cu", 1.7, "hollow")
    atoms.set_constraint(FixAtoms(mask=[atom.tag == 3 for atom in atoms]))
    return atoms


ADATOM = 27


def settings(**changes) -> KMCSettings:
    base = dict(temperature_K=TEMPERATURE, n_searches=4, active_atoms=(ADATOM,), seed=7, fmax_saddle=0.05)
    base.update(changes)
    return KMCSettings(**base)


@pytest.fixture(scope="module")
def minimum() -> Atoms:
    atoms = adatom_slab()
    atoms.calc = EMT()
    assert relax(atoms, 0.05, 500)
    return atoms


@pytest.fixture(scope="module")
def run():
    """Three kMC steps; the hook flags configurations more than 0.3 eV above the start minimum."""
    start = adatom_slab()
    start.calc = EMT()
    relax(start, 0.05, 500)
    e0 = start.get_potential_energy()

    def high_energy(atoms: Atoms) -> bool:
        return atoms.get_potential_energy() > e0 + 0.3

    return run_akmc(adatom_slab(), EMT(), 3, settings(), uncertainty=high_energy), e0


def test_events_have_plausible_barriers(run) -> None:
    result, _ = run
    assert result.steps == 3 and not result.paused and result.reason is None
    assert result.barriers and all(b > 0 for b in result.barriers)
    hops = [b for b in result.barriers if 0.1 <= b <= 1.5]
    assert hops, result.barriers
    # EMT's Cu(100) adatom hop barrier is about 0.42 eV; the kMC at 500 K executes low barriers
    assert any(abs(b - 0.42) < 0.05 for b in result.barriers)
    for event in result.events:
        assert 0.1 <= event.barrier <= 1.5
        assert event.rate == pytest.approx(harmonic_rate(event.barrier, TEMPERATURE, 1e13))
        assert event.max_displacement > 1.0
    # the adatom has moved; the fixed layer has not
    fixed = [atom.index for atom in adatom_slab() if atom.tag == 3]
    np.testing.assert_allclose(result.final.positions[fixed], adatom_slab().positions[fixed])


def test_residence_time_formula(run) -> None:
    result, _ = run
    # the selection stream is seeded apart from the search stream: replay it
    select_rng = [np.random.default_rng(s) for s in np.random.SeedSequence(7).spawn(2)][1]
    clock = 0.0
    for record, table_rates in zip(result.records, _tables_in_order(result), strict=False):
        u1 = select_rng.random()
        u2 = 1.0 - select_rng.random()
        assert record.u_select == u1 and record.u_time == u2
        assert record.total_rate == pytest.approx(sum(table_rates))
        assert record.dt == pytest.approx(-math.log(u2) / sum(table_rates), rel=1e-12)
        assert record.chosen == int(np.searchsorted(np.cumsum(table_rates), u1 * sum(table_rates), side="right"))
        clock += record.dt
        assert record.time == pytest.approx(clock)
    assert result.time_s == pytest.approx(clock) and result.time_s > 0


def _tables_in_order(result) -> list[list[float]]:
    """The rates of the table each step chose from (states revisited reuse their table)."""
    rates = []
    for record in result.records:
        match = [
            t
            for t in result.tables
            if len(t) == record.n_events and math.isclose(sum(e.rate for e in t), record.total_rate, rel_tol=1e-12)
        ]
        assert match
        rates.append([e.rate for e in match[0]])
    return rates


def test_select_event_statistics() -> None:
    rates = np.array([1.0, 3.0, 6.0])
    rng = np.random.default_rng(0)
    draws = [select_event(rates, rng) for _ in range(20000)]
    chosen = np.bincount([d[0] for d in draws], minlength=3) / len(draws)
    np.testing.assert_allclose(chosen, rates / rates.sum(), atol=0.015)
    dts = np.array([d[1] for d in draws])
    assert dts.mean() == pytest.approx(1.0 / rates.sum(), rel=0.03)  # exponential with mean 1 / sum k
    assert np.all(dts > 0)
    with pytest.raises(ValueError):
        select_event([], rng)


def test_hook_collects_saddles_and_high_minima(run) -> None:
    result, e0 = run
    assert result.uncertain
    kinds = {frame.info["kmc_kind"] for frame in result.uncertain}
    assert "saddle" in kinds
    for frame in result.uncertain:
        assert frame.get_potential_energy() > e0 + 0.3
        assert frame.info["origin"] == "kmc" and frame.get_forces().shape == (28, 3)
    n_saddles = sum(len(t) for t in result.tables)  # every unique event's saddle lies above e0 + 0.3
    assert sum(f.info["kmc_kind"] == "saddle" for f in result.uncertain) == n_saddles


def test_duplicate_saddles_are_merged(minimum: Atoms) -> None:
    table, stats, _ = search_events(minimum, EMT(), settings(n_searches=3, seed=11))
    assert table and stats.unique == len(table)
    # the same seeded searches again: every saddle is found a second time and merged
    table2, stats2, _ = search_events(minimum, EMT(), settings(n_searches=3, seed=11), table=list(table))
    assert len(table2) == len(table)
    assert stats2.duplicates == stats.unique and stats2.unique == 0
    assert all(event.times_found == 2 for event in table2)


def test_pause_on_uncertain(minimum: Atoms) -> None:
    result = run_akmc(
        adatom_slab(),
        EMT(),
        5,
        settings(pause_on_uncertain=True),
        uncertainty=lambda atoms: atoms.get_potential_energy() > minimum.get_potential_energy() + 0.3,
    )
    assert result.paused and "saddle" in result.reason
    assert result.steps == 0 and len(result.uncertain) == 1
    assert result.uncertain[0].info["kmc_kind"] == "saddle"


def test_vineyard_prefactor_is_plausible(run, minimum: Atoms) -> None:
    result, _ = run
    event = next(e for e in result.tables[0] if abs(e.barrier - 0.42) < 0.05)
    saddle = minimum.copy()
    saddle.set_positions(event.saddle_positions, apply_constraint=False)
    saddle.calc = EMT()
    start = minimum.copy()
    start.calc = EMT()
    d = start.get_distances(ADATOM, range(len(start)), mic=True)
    free = np.flatnonzero((d < 3.5) & np.array([atom.tag != 3 for atom in start]))
    nu, why = vineyard_prefactor(start, saddle, free)
    assert nu is not None, why
    assert 1e11 < nu < 1e14  # of the order of the Cu phonon frequencies (THz)
