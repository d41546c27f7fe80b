"""Bonding-type inference and prototypes across the classes, awkward compositions included."""

from __future__ import annotations

import numpy as np
import pytest

from mlip_autopipec.structures.bonding import analyse_bonding
from mlip_autopipec.structures.composition import parse_composition
from mlip_autopipec.structures.prototypes import choose_prototype, nearest_neighbour_distance

CLASSIFICATION = [
    # composition, bonding type, why it is that class
    ("Si", "covalent", "metalloid element, diamond"),
    ("C", "covalent", "non-metal element"),
    ("SiC", "covalent", "two metalloid/non-metal elements"),
    ("BN", "covalent", "III-V of non-metals"),
    ("GaAs", "covalent", "III-V semiconductor with a p-block metal"),
    ("GaN", "covalent", "III-V semiconductor"),
    ("Fe", "metallic", "transition metal"),
    ("Al", "metallic", "simple metal"),
    ("FePt", "metallic", "binary alloy"),
    ("Fe0.5Pt0.5", "metallic", "alloy written with fractions"),
    ("CrMnFeCoNi", "metallic", "high-entropy alloy"),
    ("Ni3Al", "metallic", "intermetallic"),
    ("FeSi", "metallic", "metal with a metalloid of similar electronegativity"),
    ("NaCl", "ionic", "alkali halide"),
    ("MgO", "ionic", "oxide"),
    ("LiF", "ionic", "alkali halide"),
    ("Al2O3", "ionic", "oxide of a p-block metal"),
    ("Li7La3Zr2O12", "ionic", "garnet oxide"),
    ("SrTiO3", "ionic", "perovskite oxide"),
    ("H2O", "molecular", "closed-shell molecule"),
    ("H2", "molecular", "diatomic gas"),
    ("CO2", "molecular", "linear molecule"),
    ("CH4", "molecular", "hydrocarbon"),
    ("O2", "molecular", "open-shell diatomic"),
    ("Ar", "molecular", "noble gas"),
    ("Ti3AlC2", "mixed", "MAX phase: metallic and covalent"),
    ("TiC", "mixed", "transition-metal carbide"),
]


@pytest.mark.parametrize(("composition", "expected", "note"), CLASSIFICATION, ids=[c for c, _, _ in CLASSIFICATION])
def test_classification(composition: str, expected: str, note: str) -> None:
    analysis = analyse_bonding(parse_composition(composition))
    assert analysis.bonding_type == expected, f"{composition} ({note}): {analysis.why}"
    assert analysis.why  # the reason is always explained


def test_molecules_are_named() -> None:
    assert analyse_bonding(parse_composition("H2O")).molecule == "H2O"
    assert analyse_bonding(parse_composition("O2")).molecule == "O2"  # not O3: same atom count first


@pytest.mark.parametrize(
    ("composition", "prototype", "nearest"),
    [
        ("Si", "diamond", 2.35),
        ("Cu", "fcc", 2.55),
        ("Fe", "bcc", 2.49),
        ("NaCl", "rocksalt", 2.82),
        ("MgO", "rocksalt", 2.11),
        ("CsCl", "cesiumchloride", 3.57),
        ("GaAs", "zincblende", 2.45),
        ("CaF2", "fluorite", 2.37),
        ("SrTiO3", "perovskite", 1.95),
        ("FePt", "fcc", 2.72),
        ("Ar", "fcc", 3.72),
    ],
)
def test_prototypes_have_lattice_constants_near_experiment(composition: str, prototype: str, nearest: float) -> None:
    amounts = parse_composition(composition)
    chosen = choose_prototype(amounts, analyse_bonding(amounts))
    assert chosen is not None and chosen.name == prototype
    assert nearest_neighbour_distance(chosen.atoms) == pytest.approx(nearest, rel=0.08)
    if composition == "FePt":
        return  # an alloy's parent lattice: the SQS generator decorates it with both species
    formula = chosen.atoms.get_chemical_formula(mode="reduce")
    reduced = {el: n for el, n in chosen.atoms.symbols.formula.count().items()}
    ratio = np.array([reduced[el] for el in sorted(amounts)], dtype=float)
    target = np.array([amounts[el] for el in sorted(amounts)])
    np.testing.assert_allclose(ratio / ratio.sum(), target / target.sum(), err_msg=formula)


@pytest.mark.parametrize("composition", ["H2O", "Ti3AlC2", "Li7La3Zr2O12"])
def test_no_prototype_for_molecules_and_complex_compounds(composition: str) -> None:
    amounts = parse_composition(composition)
    assert choose_prototype(amounts, analyse_bonding(amounts)) is None
