"""A reasonable starting crystal for a composition: known prototypes with lattice parameters from radii.

Elements take their ASE reference state (fcc/bcc/hcp/diamond with the experimental lattice constant).
Alloys take the dominant elements' lattice with a Vegard's-law volume. Binary and ternary compounds
take the prototype that radius-ratio rules suggest (rock salt, CsCl, zincblende, fluorite, rutile,
perovskite), with lattice constants from Shannon ionic radii (ionic) or covalent radii (covalent).
Anything else gets no prototype: the generators then pack atoms randomly at a sensible density.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.data import atomic_numbers, covalent_radii, reference_states
from ase.spacegroup import crystal
from pymatgen.core import Element, Species

from mlip_autopipec.structures.bonding import BondingAnalysis

_SIMPLE_LATTICES = ("fcc", "bcc", "hcp", "diamond")
# Atoms per conventional volume a^3 (hcp uses the volume of its two-atom cell).
_ATOMS_PER_A3 = {"fcc": 4, "bcc": 2, "diamond": 8}


@dataclass(frozen=True)
class Prototype:
    name: str
    atoms: Atoms  # the primitive or conventional cell of the prototype
    why: str


def _reference(element: str) -> dict | None:
    state = reference_states[atomic_numbers[element]]
    return state if state and state.get("symmetry") in _SIMPLE_LATTICES else None


def volume_per_atom(element: str) -> float:
    """Experimental volume per atom from ASE's reference state, else from the metallic or covalent radius."""
    state = _reference(element)
    if state is not None:
        a = state["a"]
        if state["symmetry"] == "hcp":
            return math.sqrt(3) / 2 * a * a * a * state.get("c/a", 1.633) / 2
        return a**3 / _ATOMS_PER_A3[state["symmetry"]]
    radius = Element(element).metallic_radius if Element(element).is_metal else None
    radius = float(radius) if radius else float(covalent_radii[atomic_numbers[element]])
    return 4 * math.sqrt(2) * radius**3  # close packing of spheres of that radius


def element_prototype(element: str) -> Prototype | None:
    state = _reference(element)
    if state is None:
        if Element(element).is_metal:
            a = (4 * volume_per_atom(element)) ** (1 / 3)
            return Prototype(
                "fcc",
                bulk(element, "fcc", a=a),
                f"{element}: no simple reference lattice in ASE; fcc at the metallic-radius volume",
            )
        return None
    symmetry = state["symmetry"]
    kwargs = {"a": state["a"]}
    if symmetry == "hcp":
        kwargs["c"] = state["a"] * state.get("c/a", 1.633)
    return Prototype(
        symmetry, bulk(element, symmetry, **kwargs), f"{element}: experimental {symmetry} reference state (a = {state['a']} A)"
    )


def alloy_prototype(amounts: dict[str, float]) -> Prototype:
    """Parent lattice of an alloy: the lattice held by most of the composition (fcc wins ties), Vegard volume."""
    weight: dict[str, float] = {}
    for element, amount in amounts.items():
        state = _reference(element)
        lattice = state["symmetry"] if state and state["symmetry"] in ("fcc", "bcc", "hcp") else "fcc"
        weight[lattice] = weight.get(lattice, 0.0) + amount
    lattice = max(weight, key=lambda k: (weight[k], k == "fcc"))
    total = sum(amounts.values())
    volume = sum(volume_per_atom(el) * a for el, a in amounts.items()) / total
    host = max(amounts, key=lambda el: amounts[el])
    if lattice == "hcp":
        a = (2 * volume / (math.sqrt(3) / 2 * 1.633)) ** (1 / 3)
        atoms = bulk(host, "hcp", a=a, c=1.633 * a)
    else:
        a = (volume * _ATOMS_PER_A3[lattice]) ** (1 / 3)
        atoms = bulk(host, lattice, a=a)
    return Prototype(
        lattice,
        atoms,
        f"parent {lattice} lattice (held by {weight[lattice] / total:.0%} of the atoms), Vegard volume {volume:.2f} A^3/atom",
    )


def _ionic_radius(element: str, charge: float) -> float:
    try:
        radius = Species(element, int(round(charge))).ionic_radius
    except (ValueError, KeyError):
        radius = None
    return float(radius) if radius else float(covalent_radii[atomic_numbers[element]])


def compound_prototype(amounts: dict[str, float], bonding: BondingAnalysis) -> Prototype | None:
    """Rock salt, CsCl, zincblende, fluorite/antifluorite, rutile or cubic perovskite, when the stoichiometry fits."""
    total = sum(amounts.values())
    ratio = {el: a / min(amounts.values()) for el, a in amounts.items()}
    elements = sorted(amounts)
    if any(abs(r - round(r)) > 1e-6 for r in ratio.values()) or total <= 0:
        return None
    ratio_int = {el: int(round(r)) for el, r in ratio.items()}
    oxidation = bonding.oxidation_states or {}
    cations = [el for el in elements if oxidation.get(el, 0) > 0] or [el for el in elements if Element(el).is_metal]
    if not cations and len(elements) == 2:  # covalent binary such as SiC, BN: the less electronegative one
        cations = [min(elements, key=lambda el: Element(el).X)]
    anions = [el for el in elements if el not in cations]
    if len(elements) == 2 and len(cations) == 1 and len(anions) == 1:
        cation, anion = cations[0], anions[0]
        if bonding.bonding_type == "ionic":
            rc = _ionic_radius(cation, oxidation.get(cation, 1))
            ra = _ionic_radius(anion, oxidation.get(anion, -1))
        else:
            rc = float(covalent_radii[atomic_numbers[cation]])
            ra = float(covalent_radii[atomic_numbers[anion]])
        rr = min(rc, ra) / max(rc, ra)
        bond = rc + ra
        if ratio_int[cation] == ratio_int[anion]:
            if bonding.bonding_type == "covalent" or rr < 0.414:
                a = 4 * bond / math.sqrt(3)
                return Prototype(
                    "zincblende",
                    bulk(f"{cation}{anion}", "zincblende", a=a),
                    f"AB, radius ratio {rr:.2f} (< 0.414) or covalent: zincblende, a = 4(r+ + r-)/sqrt(3) = {a:.2f} A",
                )
            if rr < 0.732:
                a = 2 * bond
                return Prototype(
                    "rocksalt",
                    bulk(f"{cation}{anion}", "rocksalt", a=a),
                    f"AB, radius ratio {rr:.2f} (0.414-0.732): rock salt, a = 2(r+ + r-) = {a:.2f} A",
                )
            a = 2 * bond / math.sqrt(3)
            return Prototype(
                "cesiumchloride",
                bulk(f"{cation}{anion}", "cesiumchloride", a=a),
                f"AB, radius ratio {rr:.2f} (> 0.732): CsCl, a = 2(r+ + r-)/sqrt(3) = {a:.2f} A",
            )
        if ratio_int[anion] == 2 * ratio_int[cation]:
            if rr >= 0.732:
                a = 4 * bond / math.sqrt(3)
                return Prototype(
                    "fluorite",
                    bulk(f"{cation}{anion}2", "fluorite", a=a),
                    f"AB2, radius ratio {rr:.2f} (> 0.732): fluorite, a = {a:.2f} A",
                )
            a = bond / 0.3 / math.sqrt(2)  # cation-anion distance sqrt(2) x 0.3 a in ideal rutile (u = 0.3, c/a = 0.64)
            atoms = crystal(
                [cation, anion], basis=[(0, 0, 0), (0.3, 0.3, 0)], spacegroup=136, cellpar=[a, a, 0.64 * a, 90, 90, 90]
            )
            return Prototype("rutile", atoms, f"AB2, radius ratio {rr:.2f} (< 0.732): rutile, a = {a:.2f} A")
        if ratio_int[cation] == 2 * ratio_int[anion] and bonding.bonding_type == "ionic":
            a = 4 * bond / math.sqrt(3)
            atoms = crystal([anion, cation], basis=[(0, 0, 0), (0.25, 0.25, 0.25)], spacegroup=225, cellpar=[a, a, a, 90, 90, 90])
            return Prototype("antifluorite", atoms, f"A2B ionic: antifluorite, a = {a:.2f} A")
    if len(elements) == 3 and bonding.bonding_type == "ionic" and len(anions) == 1 and len(cations) == 2:
        anion = anions[0]
        if ratio_int[anion] == 3 and all(ratio_int[c] == 1 for c in cations):
            big, small = sorted(cations, key=lambda c: -_ionic_radius(c, oxidation.get(c, 2)))
            rb = _ionic_radius(small, oxidation.get(small, 4))
            ro = _ionic_radius(anion, oxidation.get(anion, -2))
            a = 2 * (rb + ro)
            atoms = crystal(
                [big, small, anion],
                basis=[(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0)],
                spacegroup=221,
                cellpar=[a, a, a, 90, 90, 90],
            )
            return Prototype("perovskite", atoms, f"ABX3 ionic: cubic perovskite, a = 2(r_B + r_X) = {a:.2f} A")
    return None


def choose_prototype(amounts: dict[str, float], bonding: BondingAnalysis) -> Prototype | None:
    """The starting crystal, or None when no prototype fits (molecules, complex compounds)."""
    if bonding.bonding_type == "molecular":
        if len(amounts) == 1 and Element(next(iter(amounts))).is_noble_gas:
            return element_prototype(next(iter(amounts)))  # rare-gas solids: fcc
        return None
    if len(amounts) == 1:
        return element_prototype(next(iter(amounts)))
    if bonding.bonding_type == "metallic" and all(Element(el).is_metal for el in amounts):
        return alloy_prototype(amounts)
    return compound_prototype(amounts, bonding)


def packing_volume(amounts: dict[str, float]) -> float:
    """Volume per formula unit for random packing: the sum of the atoms' reference volumes."""
    return float(sum(volume_per_atom(el) * a for el, a in amounts.items()))


def nearest_neighbour_distance(atoms: Atoms) -> float:
    from ase.neighborlist import neighbor_list

    d = neighbor_list("d", atoms, 6.0)
    return float(np.min(d)) if len(d) else float("inf")
