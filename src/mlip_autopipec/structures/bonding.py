"""Infer the bonding type of a composition, with the reason, so generators and DFT settings can follow it.

Classes: ``metallic`` (all metals), ``covalent`` (no metals; or p-block metals with group 15/16
partners, the III-V and II-VI semiconductors), ``ionic`` (large electronegativity difference and a
charge-balanced set of oxidation states), ``molecular`` (noble gases, and non-metals that form a known
closed-shell molecule), ``mixed`` (metals with non-metals in between: carbides, MAX phases).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from math import gcd

from pymatgen.core import Composition, Element

BONDING_TYPES = ("metallic", "covalent", "ionic", "molecular", "mixed")
IONIC_EN_DIFFERENCE = 1.6  # Pauling; NaCl 2.2, MgO 2.1, ZnO 1.8; TiC 1.0, GaN 1.2
METALLIC_EN_DIFFERENCE = 0.5
_NONMETAL_MOLECULE_ELEMENTS = {"H", "C", "N", "O", "F", "P", "S", "Cl", "Se", "Br", "I"}
_SEMICONDUCTOR_METALS = {"Al", "Ga", "In", "Tl", "Sn", "Pb", "Bi", "Zn", "Cd", "Hg"}
_SEMICONDUCTOR_PARTNERS = {"N", "P", "As", "Sb", "O", "S", "Se", "Te"}


@dataclass(frozen=True)
class BondingAnalysis:
    bonding_type: str
    why: str
    molecule: str | None = None  # name in ASE's g2 set when molecular
    oxidation_states: dict[str, float] | None = None
    max_en_difference: float = 0.0


def _ratio_key(amounts: dict[str, float]) -> tuple[tuple[str, int], ...] | None:
    """Integer element ratios, reduced; None for non-integer amounts such as Fe0.5Pt0.5 scaled badly."""
    scaled = {el: round(a * 1000) for el, a in amounts.items()}
    divisor = 0
    for value in scaled.values():
        divisor = gcd(divisor, value)
    if divisor == 0:
        return None
    return tuple(sorted((el, v // divisor) for el, v in scaled.items()))


@lru_cache(maxsize=1)
def _molecules_by_ratio() -> dict[tuple[tuple[str, int], ...], list[tuple[str, int, bool]]]:
    """Reduced formula -> [(g2 name, atom count, closed shell)] for ASE's g2 molecules."""
    from ase.collections import g2

    found: dict[tuple[tuple[str, int], ...], list[tuple[str, int, bool]]] = {}
    for name in g2.names:
        atoms = g2[name]
        if len(atoms) < 2:
            continue  # single atoms of the set are not molecules
        counts: dict[str, float] = {}
        for symbol in atoms.get_chemical_symbols():
            counts[symbol] = counts.get(symbol, 0) + 1
        key = _ratio_key(counts)
        closed = atoms.get_atomic_numbers().sum() % 2 == 0 and abs(atoms.get_initial_magnetic_moments()).sum() == 0
        if key is not None:
            found.setdefault(key, []).append((name, len(atoms), bool(closed)))
    return found


def find_molecule(amounts: dict[str, float]) -> str | None:
    """The g2 molecule with this stoichiometry: same atom count first (O2, not O3), then closed shell, then smallest."""
    key = _ratio_key(amounts)
    candidates = _molecules_by_ratio().get(key, []) if key else []
    if not candidates:
        return None
    size = round(sum(amounts.values()))
    return min(candidates, key=lambda c: (c[1] != size, not c[2], c[1]))[0]


def _formula(amounts: dict[str, float]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns about noble gases lacking an electronegativity
        return Composition(amounts).reduced_formula


def analyse_bonding(amounts: dict[str, float]) -> BondingAnalysis:
    """Classify a composition ({element: amount}) and say why."""
    elements = sorted(amounts)
    info = {el: Element(el) for el in elements}
    metals = [el for el in elements if info[el].is_metal]
    others = [el for el in elements if el not in metals]
    formula = _formula(amounts)
    if all(info[el].is_noble_gas for el in elements):
        return BondingAnalysis("molecular", f"{formula}: noble gas, closed-shell atoms held together only by dispersion")
    if not metals and set(elements) <= _NONMETAL_MOLECULE_ELEMENTS:
        molecule = find_molecule(amounts)
        if molecule is not None:
            return BondingAnalysis(
                "molecular", f"{formula}: non-metals forming the molecule {molecule} (ASE g2 set)", molecule=molecule
            )
    en = {el: info[el].X for el in elements}
    pairs = [(a, b) for a, b in product(metals, others)] if metals and others else []
    max_difference = max((abs(en[a] - en[b]) for a, b in pairs), default=0.0)
    if not others:
        kind = "an alloy of metals" if len(elements) > 1 else "a metal"
        return BondingAnalysis("metallic", f"{formula}: {kind}; delocalised electrons, metallic bonding")
    if not metals:
        return BondingAnalysis(
            "covalent", f"{formula}: non-metals and metalloids only (e.g. Si, C, SiC, BN); directional covalent bonds"
        )
    guesses = Composition(amounts).oxi_state_guesses(max_sites=-1)
    oxidation = {el: float(v) for el, v in guesses[0].items()} if guesses else None
    if max_difference >= IONIC_EN_DIFFERENCE and oxidation is not None:
        return BondingAnalysis(
            "ionic",
            f"{formula}: electronegativity difference {max_difference:.2f} >= {IONIC_EN_DIFFERENCE} and charge-balanced "
            f"oxidation states {oxidation}",
            oxidation_states=oxidation,
            max_en_difference=max_difference,
        )
    if set(metals) <= _SEMICONDUCTOR_METALS and set(others) <= _SEMICONDUCTOR_PARTNERS:
        return BondingAnalysis(
            "covalent",
            f"{formula}: p-block/group-12 metal with group 15/16 partner (III-V/II-VI semiconductor), "
            f"electronegativity difference {max_difference:.2f}",
            oxidation_states=oxidation,
            max_en_difference=max_difference,
        )
    if max_difference <= METALLIC_EN_DIFFERENCE:
        return BondingAnalysis(
            "metallic",
            f"{formula}: metals with metalloids of similar electronegativity (difference {max_difference:.2f}); intermetallic",
            max_en_difference=max_difference,
        )
    return BondingAnalysis(
        "mixed",
        f"{formula}: metals with non-metals at an electronegativity difference of {max_difference:.2f} "
        f"(between {METALLIC_EN_DIFFERENCE} and {IONIC_EN_DIFFERENCE} or no charge balance): mixed metallic-covalent-ionic bonding",
        oxidation_states=oxidation,
        max_en_difference=max_difference,
    )
