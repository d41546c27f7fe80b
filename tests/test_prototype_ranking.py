"""Prototype ranking by the surrogate against experimental ground states, next to the radius-ratio rule it replaces.

GROUND_STATES names one compound per structure family (no two share a prototype) with its experimental ground
state at ambient conditions. The sweep relaxes every table prototype of each formula plus random packed cells
with CHGNet (positions and cell) and counts a hit when the lowest-energy structure is the experimental one (by
name, or for a random-search winner by pymatgen's StructureMatcher against the relaxed expected prototype).

The whole sweep (35 compounds) takes tens of minutes on two busy cores, so it runs only with MLIP_SLOW_TESTS=1;
MLIP_PROTOTYPE_SWEEP_JSON=<path> writes its table (benchmarks/prototype_ranking.json holds the measured one).
The default run ranks five of the compounds (one per stoichiometry class) and checks the table itself.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.calculators.calculator import Calculator

from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.data.atomic_io import atomic_write_extxyz
from mlip_autopipec.data.records import GenerateSummary
from mlip_autopipec.potentials.surrogate import make_surrogate
from mlip_autopipec.sampling.structures import is_strained
from mlip_autopipec.structures import generate as generation
from mlip_autopipec.structures.bonding import analyse_bonding
from mlip_autopipec.structures.composition import parse_composition
from mlip_autopipec.structures.generate import generate_structures
from mlip_autopipec.structures.prototype_ranking import Ranking, rank_candidates, same_structure
from mlip_autopipec.structures.prototype_table import TABLE, candidates_for, reduced_counts, spacegroup_of
from mlip_autopipec.structures.prototypes import choose_prototype
from mlip_autopipec.validation.crystal import RankedCrystal, ranked_crystal, validation_crystal

# compound -> experimental ground-state prototype (the table's name); one compound per family
GROUND_STATES: dict[str, str] = {
    "Si": "diamond",
    "Fe": "bcc",
    "Cu": "fcc",
    "Mg": "hcp",
    "NaCl": "rocksalt",
    "CsCl": "cesiumchloride",
    "ZnS": "zincblende",
    "GaN": "wurtzite",
    "NiAs": "nickelarsenide",
    "WC": "tungstencarbide",
    "FePt": "L1_0",
    "CaF2": "fluorite",
    "TiO2": "rutile",
    "CdI2": "cadmiumiodide",
    "FeS2": "pyrite",
    "SiO2": "alpha-quartz",
    "MgCu2": "C15 Laves",
    "MoSi2": "C11b",
    "Al2O3": "corundum",
    "La2O3": "A-La2O3",
    "Y2O3": "bixbyite",
    "Cu3Au": "L1_2",
    "Fe3Al": "D0_3",
    "Ni3Sn": "D0_19",
    "TiAl3": "D0_22",
    "Cr3Si": "A15",
    "ReO3": "ReO3",
    "Li3N": "Li3N",
    "TiNiSn": "half-Heusler",
    "Cu2MnAl": "L2_1 Heusler",
    "CuGaS2": "chalcopyrite",
    "SrTiO3": "perovskite",
    "FeTiO3": "ilmenite",
    "MgAl2O4": "spinel",
    "Mg2SiO4": "olivine",
}
FAST = ("NaCl", "Si", "GaN", "Ni3Sn", "SrTiO3")  # AB, element, AB (hexagonal), AB3 intermetallic, ABC3 oxide
RADIUS_RULE_NAMES = {"antifluorite": "fluorite"}  # the old rule's names that the table spells differently
RANDOM_CELLS = 2  # as generation's default (generate.search_random_cells)
# Measured (benchmarks/prototype_ranking.json): 26 of 35 (74%) lowest by CHGNet, against 10 of 35 (29%) for the
# radius-ratio rule; the misses are CHGNet's (Cu hcp by 5 meV/atom, CsCl rock salt, TiO2 anatase, FePt B2, ...).
# 0.7 is 25 of 35: one near-tie (Li3N's random cell 0.6 meV/atom below it, FePt's B2 2 meV) may flip elsewhere.
HIT_RATE_THRESHOLD = 0.7
# Generation seeds every distinct candidate within 50 meV/atom: measured 34 of 35 keep the experimental structure.
WINDOW_MEV = 50.0
WINDOW_RATE_THRESHOLD = 0.9


@pytest.fixture(scope="module")
def chgnet() -> Calculator:
    return make_surrogate("chgnet")[0]


def _radius_rule(compound: str) -> str | None:
    amounts = parse_composition(compound)
    chosen = choose_prototype(amounts, analyse_bonding(amounts))
    return RADIUS_RULE_NAMES.get(chosen.name, chosen.name) if chosen else None


def _row(compound: str, expected: str, ranking: Ranking) -> dict[str, object]:
    """One line of the table: what won, whether it is the experimental structure, and the energy gap to it."""
    winner = ranking.ranked[0]
    reference = next((c for c in ranking.ranked if c.source == "prototype" and c.name == expected), None)
    # a prototype wins by its name; a random-search winner when it is the relaxed expected prototype
    hit = winner.label == expected or (
        winner.source == "random_search" and reference is not None and same_structure(winner.atoms, reference.atoms)
    )
    gap = None if reference is None else round(1000 * (reference.energy_per_atom - winner.energy_per_atom), 1)
    old = _radius_rule(compound)
    return {
        "compound": compound,
        "expected": expected,
        "predicted": winner.label,
        "predicted_spacegroup": winner.spacegroup,
        "hit": bool(hit),
        "expected_above_predicted_mev_per_atom": gap,
        "radius_rule": old,
        "radius_rule_hit": old == expected,
        "candidates": len(ranking.ranked),
        "rejected": ranking.rejected,
        "seconds": round(ranking.wall_time_s, 1),
    }


def sweep(compounds: list[str], calculator: Calculator, random_cells: int = RANDOM_CELLS) -> list[dict[str, object]]:
    rows = []
    for compound in compounds:
        amounts = parse_composition(compound)
        ranking = rank_candidates(amounts, analyse_bonding(amounts), calculator, random_cells=random_cells, seed=1)
        rows.append(_row(compound, GROUND_STATES[compound], ranking))
        print(_format(rows[-1]), flush=True)
    return rows


def _format(row: dict[str, object]) -> str:
    gap = row["expected_above_predicted_mev_per_atom"]
    return (
        f"{row['compound']:9s} {row['expected']:15s} {row['predicted']:22s} {'hit ' if row['hit'] else 'MISS'} "
        f"{'' if gap is None else f'{gap:+7.1f}':>8s} meV/atom   radius rule: {row['radius_rule'] or '-':15s} "
        f"{'hit' if row['radius_rule_hit'] else 'miss'}  {row['seconds']:6.1f} s"
    )


def _within_window(row: dict[str, object]) -> bool:
    gap = row["expected_above_predicted_mev_per_atom"]
    return isinstance(gap, float | int) and gap <= WINDOW_MEV


def _summary(rows: list[dict[str, object]]) -> tuple[float, float, float]:
    ranked = sum(bool(r["hit"]) for r in rows) / len(rows)
    rule = sum(bool(r["radius_rule_hit"]) for r in rows) / len(rows)
    window = sum(_within_window(r) for r in rows) / len(rows)
    print(
        f"hit rate: surrogate ranking {ranked:.0%}, radius-ratio rule {rule:.0%}; experimental structure within "
        f"{WINDOW_MEV:.0f} meV/atom of the lowest (seeded): {window:.0%} ({len(rows)} compounds)"
    )
    return ranked, rule, window


def test_the_list_names_25_families_each_with_its_prototype_in_the_table() -> None:
    assert len(GROUND_STATES) >= 25
    assert len(set(GROUND_STATES.values())) == len(GROUND_STATES)  # no two compounds from one family
    for compound, expected in GROUND_STATES.items():
        amounts = parse_composition(compound)
        names = [c.name for c in candidates_for(amounts, analyse_bonding(amounts))]
        assert expected in names, (compound, names)


def test_every_table_entry_builds_in_its_space_group_at_sensible_distances() -> None:
    examples = {**{GROUND_STATES[c]: c for c in GROUND_STATES}, "anatase": "TiO2"}
    for spec in TABLE:
        compound = examples[spec.name]
        amounts = parse_composition(compound)
        built = next(c for c in candidates_for(amounts, analyse_bonding(amounts)) if c.name == spec.name)
        assert spacegroup_of(built.atoms, 1e-3)[1] == spec.spacegroup, spec.name
        assert reduced_counts({el: float(built.atoms.get_chemical_symbols().count(el)) for el in amounts}) == reduced_counts(
            amounts
        )
        assert len(built.atoms) <= 40  # primitive cells: cheap to relax


def test_sites_follow_charge_and_size() -> None:
    """Perovskite A site: the lower-charged, larger cation; spinel: Mg tetrahedral; half-Heusler: Ni stuffing."""

    def built(compound: str, name: str):
        amounts = parse_composition(compound)
        return next(c for c in candidates_for(amounts, analyse_bonding(amounts)) if c.name == name).atoms

    for compound, a_site in (("SrTiO3", "Sr"), ("PbTiO3", "Pb"), ("LaAlO3", "La")):
        atoms = built(compound, "perovskite")
        corner = min(range(len(atoms)), key=lambda i: float(sum(atoms.get_scaled_positions()[i] ** 2)))
        assert atoms[corner].symbol == a_site, compound
    spinel = built("MgAl2O4", "spinel")
    from ase.neighborlist import neighbor_list

    i, d = neighbor_list("id", spinel, 2.5)
    coordination = {atoms.symbol: int((i == atoms.index).sum()) for atoms in spinel if atoms.symbol != "O"}
    assert coordination == {"Mg": 4, "Al": 6}
    heusler = built("TiNiSn", "half-Heusler")
    stuffing = next(a for a in heusler if abs(heusler.get_scaled_positions()[a.index] - 0.25).max() < 1e-6)
    assert stuffing.symbol == "Ni"


def test_generation_seeds_from_the_lowest_and_names_each_seed(chgnet: Calculator, tmp_path: Path) -> None:
    """NaCl: rock salt seeds the full set, NiAs (18 meV/atom above it with CHGNet) a lighter one; the frames say so,
    the why survives extxyz, and the summary lists the ranking."""
    generate = {"target_atoms": 8, "strained_per_temperature": 2, "search_random_cells": 0, "surfaces": False}
    full = expand_config({"composition": "NaCl", "seed": 1, "generate": {**generate, "prototype_window_ev_per_atom": 0.03}})
    result = generate_structures(full.composition, full.seed, full.system, full.generate, lambda: chgnet)
    ideal = [a for a in result.frames if a.info["origin"] == "ideal"]
    assert [a.info["prototype"] for a in ideal] == ["rocksalt", "nickelarsenide"]
    assert "lowest of" in ideal[0].info["why"] and "meV/atom above the lowest" in ideal[1].info["why"]
    assert ideal[0].info["prototype_energy_ev_per_atom"] < ideal[1].info["prototype_energy_ev_per_atom"]
    seeded = Counter(a.info["prototype"] for a in result.frames if "prototype" in a.info)
    assert seeded["rocksalt"] > seeded["nickelarsenide"] > 0
    assert result.counts.get("vacancy") and "random_packing" not in result.counts
    atomic_write_extxyz(tmp_path / "generated.extxyz", result.frames)
    assert ase.io.read(tmp_path / "generated.extxyz", index=0).info["why"] == result.frames[0].info.get("why")
    summary = result.summary("chgnet")
    assert summary.prototype_ranking is not None and summary.prototype_ranking[0]["name"] == "rocksalt"
    summary.write(tmp_path / "summary.json")
    assert GenerateSummary.read(tmp_path / "summary.json") == summary


def test_validation_measures_the_crystal_generation_ranked_lowest(chgnet: Calculator, tmp_path: Path) -> None:
    """The validation's crystal is generation's lowest-ranked one: where it agrees with the radius-ratio prototype the
    tabulated cell is kept (its DFT labels do not move with the surrogate); where it differs, the ranked cell wins."""
    generate = {"target_atoms": 8, "strained_per_temperature": 1, "search_random_cells": 0, "surfaces": False}
    full = expand_config({"composition": "NaCl", "seed": 1, "generate": {**generate, "prototype_window_ev_per_atom": 0.03}})
    result = generate_structures(full.composition, full.seed, full.system, full.generate, lambda: chgnet)
    atomic_write_extxyz(tmp_path / "generated.extxyz", result.frames)
    ranked = ranked_crystal(tmp_path / "generated.extxyz")
    assert ranked is not None and ranked.name == "rocksalt" and "lowest of" in ranked.why
    agreed = validation_crystal("NaCl", ranked=ranked)
    tabulated = validation_crystal("NaCl")
    assert agreed.name == "rocksalt" and agreed.subset == "ionic" and "ranking agrees" in agreed.why
    assert agreed.atoms is not None and tabulated.atoms is not None
    assert np.allclose(agreed.atoms.cell.array, tabulated.atoms.cell.array)

    nias = next(a for a in result.frames if a.info["origin"] == "ideal" and a.info["prototype"] == "nickelarsenide")
    other = validation_crystal("NaCl", ranked=RankedCrystal(nias, "nickelarsenide", str(nias.info["why"])))
    assert other.name == "nickelarsenide" and other.subset == "ionic" and other.oxidation_states == {"Na": 1.0, "Cl": -1.0}
    assert other.atoms is not None and len(other.atoms) == 4  # the primitive NiAs cell of the 8-atom seed
    assert np.allclose(other.atoms.cell.angles(), [90, 90, 120], atol=0.5)
    assert "radius-ratio rule's rocksalt lies higher" in other.why
    assert ranked_crystal(None) is None and ranked_crystal(tmp_path / "absent.extxyz") is None


def test_strained_cells_with_ions_relaxed_by_the_surrogate(chgnet: Calculator) -> None:
    """Si under shear: the surrogate moves the ions off their homogeneously strained sites (diamond's inner strain)
    until its forces vanish; the frames are strained, not rattled, and count as strained crystals for selection."""
    generate = {"target_atoms": 8, "strained_per_temperature": 1, "search_random_cells": 0, "relaxed_strained": 2}
    full = expand_config({"composition": "Si", "seed": 3, "generate": {**generate, "surfaces": False}})
    result = generate_structures(full.composition, full.seed, full.system, full.generate, lambda: chgnet)
    relaxed = [a for a in result.frames if a.info["origin"] == "strain_relaxed"]
    ideal = next(a for a in result.frames if a.info["origin"] == "ideal")
    assert len(relaxed) == 2 and all(is_strained(a) for a in relaxed)
    for atoms in relaxed:
        strain = np.linalg.solve(ideal.cell.array, atoms.cell.array) - np.eye(3)
        assert 0.0 < np.abs(strain - np.diag(np.diag(strain))).max() <= 0.03 + 1e-9  # sheared within the bound
        fractional = atoms.get_scaled_positions(wrap=False) - ideal.get_scaled_positions(wrap=False)
        fractional -= np.round(fractional)  # the same site across the periodic boundary
        shift = fractional @ atoms.cell.array
        shift -= shift.mean(axis=0)
        assert 0.005 < np.abs(shift).max() < 0.2  # the inner strain: a few hundredths of an angstrom
        atoms.calc = chgnet
        assert np.abs(atoms.get_forces()).max() < 0.03


def test_molecules_are_never_ranked_as_crystals(chgnet: Calculator, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a molecule went through crystal ranking")

    monkeypatch.setattr(generation, "rank_candidates", refuse)
    full = expand_config({"composition": "H2O", "generate": {"nms_samples_per_temperature": 2}})
    result = generate_structures(full.composition, full.seed, full.system, full.generate, lambda: chgnet)
    assert result.ranking is None and result.counts["molecule"] == 1


def test_ranking_finds_the_ground_state_of_one_compound_per_class(chgnet: Calculator) -> None:
    start = time.perf_counter()
    rows = sweep(list(FAST), chgnet, random_cells=0)  # the table only: random cells cost most of the time
    _summary(rows)
    print(f"{time.perf_counter() - start:.0f} s")
    assert all(r["hit"] for r in rows), [r for r in rows if not r["hit"]]


@pytest.mark.skipif(
    not os.environ.get("MLIP_SLOW_TESTS"), reason="the 35-compound sweep takes tens of minutes: MLIP_SLOW_TESTS=1"
)
def test_sweep_hit_rate_against_experimental_ground_states(chgnet: Calculator) -> None:
    start = time.perf_counter()
    rows = sweep(list(GROUND_STATES), chgnet)
    ranked, rule, window = _summary(rows)
    wall = time.perf_counter() - start
    print(f"{wall:.0f} s")
    out = os.environ.get("MLIP_PROTOTYPE_SWEEP_JSON")
    if out:
        record = {
            "surrogate": "chgnet",
            "random_cells": RANDOM_CELLS,
            "compounds": len(rows),
            "hit_rate": round(ranked, 3),
            "radius_rule_hit_rate": round(rule, 3),
            "within_window_rate": round(window, 3),
            "wall_time_s": round(wall, 1),
            "cores": os.cpu_count(),
            "load_average": [round(x, 1) for x in os.getloadavg()],
            "rows": rows,
        }
        Path(out).write_text(json.dumps(record, indent=1) + "\n")
    assert ranked >= HIT_RATE_THRESHOLD and window >= WINDOW_RATE_THRESHOLD
    assert ranked > rule
