"""Every known prototype crystal of a stoichiometry, built with its species on the right sites and a sensible volume.

Radius-ratio rules pick one lattice and are wrong for several common compounds; the table instead builds every
prototype whose site multiplicities fit the reduced formula, so that the surrogate can rank them
(``prototype_ranking``). Each entry is a space group with Wyckoff positions (ASE's ``crystal`` expands them,
primitive cell only, to keep surrogate relaxations cheap). Roles with equal multiplicity are filled in a fixed
order: most electropositive element first (lowest oxidation state, then largest ion, for ionic compounds), so the
A site of a perovskite takes Sr and the B site Ti, and a half-Heusler's stuffing site takes the middle element.
The cell is then scaled until the closest pair sits at its contact distance (ionic radii for ionic compounds,
reference-state radii for metals, covalent radii otherwise): the relaxation starts near the right volume.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import reduce

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.data import atomic_numbers, covalent_radii
from ase.neighborlist import neighbor_list
from ase.spacegroup import crystal
from pymatgen.core import Element, Species

from mlip_autopipec.structures.bonding import BondingAnalysis
from mlip_autopipec.structures.prototypes import volume_per_atom

Position = tuple[float, float, float]


@dataclass(frozen=True)
class PrototypeSpec:
    """One prototype: ``counts[r]`` atoms of role r per formula unit; ``sites``: (role, Wyckoff position) pairs."""

    name: str
    example: str  # the compound the prototype is named after, for the why
    counts: tuple[int, ...]
    spacegroup: int
    sites: tuple[tuple[int, Position], ...]
    cellpar: tuple[float, float, float, float, float, float]
    setting: int = 1


def _cubic(a: float = 1.0) -> tuple[float, float, float, float, float, float]:
    return (a, a, a, 90.0, 90.0, 90.0)


def _hexagonal(c_over_a: float) -> tuple[float, float, float, float, float, float]:
    return (1.0, 1.0, c_over_a, 90.0, 90.0, 120.0)


def _tetragonal(c_over_a: float) -> tuple[float, float, float, float, float, float]:
    return (1.0, 1.0, c_over_a, 90.0, 90.0, 90.0)


# Internal coordinates are the experimental ones of the named example (ICSD/Materials Project values, rounded).
TABLE: tuple[PrototypeSpec, ...] = (
    # AB
    PrototypeSpec("rocksalt", "NaCl", (1, 1), 225, ((0, (0, 0, 0)), (1, (0.5, 0.5, 0.5))), _cubic()),
    PrototypeSpec("cesiumchloride", "CsCl, B2 NiAl", (1, 1), 221, ((0, (0, 0, 0)), (1, (0.5, 0.5, 0.5))), _cubic()),
    PrototypeSpec("zincblende", "ZnS", (1, 1), 216, ((0, (0, 0, 0)), (1, (0.25, 0.25, 0.25))), _cubic()),
    PrototypeSpec("wurtzite", "ZnO", (1, 1), 186, ((0, (1 / 3, 2 / 3, 0)), (1, (1 / 3, 2 / 3, 0.38))), _hexagonal(1.60)),
    PrototypeSpec("nickelarsenide", "NiAs", (1, 1), 194, ((0, (0, 0, 0)), (1, (1 / 3, 2 / 3, 0.25))), _hexagonal(1.39)),
    PrototypeSpec("tungstencarbide", "WC", (1, 1), 187, ((0, (0, 0, 0)), (1, (1 / 3, 2 / 3, 0.5))), _hexagonal(0.98)),
    PrototypeSpec("L1_0", "CuAu, FePt", (1, 1), 123, ((0, (0, 0, 0)), (1, (0.5, 0.5, 0.5))), _tetragonal(math.sqrt(2))),
    # AB2 (and A2B with the roles the other way round: antifluorite Li2O, anti-CdI2 Ag2F)
    PrototypeSpec("fluorite", "CaF2", (1, 2), 225, ((0, (0, 0, 0)), (1, (0.25, 0.25, 0.25))), _cubic()),
    PrototypeSpec("rutile", "TiO2", (1, 2), 136, ((0, (0, 0, 0)), (1, (0.305, 0.305, 0))), _tetragonal(0.644)),
    PrototypeSpec("anatase", "TiO2", (1, 2), 141, ((0, (0, 0, 0)), (1, (0, 0, 0.208))), _tetragonal(2.51)),
    PrototypeSpec("cadmiumiodide", "CdI2", (1, 2), 164, ((0, (0, 0, 0)), (1, (1 / 3, 2 / 3, 0.25))), _hexagonal(1.61)),
    PrototypeSpec("pyrite", "FeS2", (1, 2), 205, ((0, (0, 0, 0)), (1, (0.385, 0.385, 0.385))), _cubic()),
    PrototypeSpec(
        "alpha-quartz",
        "SiO2",
        (1, 2),
        154,
        ((0, (0.470, 0, 2 / 3)), (1, (0.414, 0.268, 0.786))),
        _hexagonal(1.10),
    ),
    PrototypeSpec("C15 Laves", "MgCu2", (1, 2), 227, ((0, (0, 0, 0)), (1, (0.625, 0.625, 0.625))), _cubic()),
    PrototypeSpec("C11b", "MoSi2", (1, 2), 139, ((0, (0, 0, 0)), (1, (0, 0, 1 / 3))), _tetragonal(2.45)),
    # A2B3 (and A3B2: anti-bixbyite Mg3N2)
    PrototypeSpec("corundum", "Al2O3", (2, 3), 167, ((0, (0, 0, 0.352)), (1, (0.306, 0, 0.25))), _hexagonal(2.73)),
    PrototypeSpec(
        "A-La2O3",
        "La2O3",
        (2, 3),
        164,
        ((0, (1 / 3, 2 / 3, 0.247)), (1, (0, 0, 0)), (1, (1 / 3, 2 / 3, 0.645))),
        _hexagonal(1.56),
    ),
    PrototypeSpec(
        "bixbyite",
        "Mn2O3, Y2O3",
        (2, 3),
        206,
        ((0, (0.25, 0.25, 0.25)), (0, (-0.033, 0, 0.25)), (1, (0.390, 0.152, 0.380))),
        _cubic(),
    ),
    # AB3 (and A3B)
    PrototypeSpec("L1_2", "Cu3Au", (1, 3), 221, ((0, (0, 0, 0)), (1, (0, 0.5, 0.5))), _cubic()),
    PrototypeSpec("D0_3", "Fe3Al, BiF3", (1, 3), 225, ((0, (0, 0, 0)), (1, (0.5, 0.5, 0.5)), (1, (0.25, 0.25, 0.25))), _cubic()),
    PrototypeSpec("D0_19", "Ni3Sn", (1, 3), 194, ((0, (1 / 3, 2 / 3, 0.25)), (1, (5 / 6, 2 / 3, 0.25))), _hexagonal(0.80)),
    PrototypeSpec("D0_22", "TiAl3", (1, 3), 139, ((0, (0, 0, 0)), (1, (0, 0, 0.5)), (1, (0, 0.5, 0.25))), _tetragonal(2.0)),
    PrototypeSpec("A15", "Cr3Si", (1, 3), 223, ((0, (0, 0, 0)), (1, (0.25, 0, 0.5))), _cubic()),
    PrototypeSpec("ReO3", "ReO3, anti: Cu3N", (1, 3), 221, ((0, (0, 0, 0)), (1, (0.5, 0, 0))), _cubic()),
    PrototypeSpec("Li3N", "Li3N", (1, 3), 191, ((0, (0, 0, 0)), (1, (0, 0, 0.5)), (1, (1 / 3, 2 / 3, 0))), _hexagonal(1.06)),
    # ABC
    PrototypeSpec(
        "half-Heusler",
        "MgAgAs, TiNiSn",
        (1, 1, 1),
        216,
        ((0, (0, 0, 0)), (1, (0.25, 0.25, 0.25)), (2, (0.5, 0.5, 0.5))),
        _cubic(),
    ),
    # ABC2: full Heusler (the doubled element on the simple cubic sublattice), chalcopyrite (the anion doubled)
    PrototypeSpec(
        "L2_1 Heusler",
        "Cu2MnAl",
        (1, 1, 2),
        225,
        ((0, (0, 0, 0)), (1, (0.5, 0.5, 0.5)), (2, (0.25, 0.25, 0.25))),
        _cubic(),
    ),
    PrototypeSpec(
        "chalcopyrite",
        "CuFeS2",
        (1, 1, 2),
        122,
        ((0, (0, 0, 0)), (1, (0, 0, 0.5)), (2, (0.25, 0.25, 0.125))),
        _tetragonal(1.97),
    ),
    # ABC3
    PrototypeSpec(
        "perovskite",
        "SrTiO3",
        (1, 1, 3),
        221,
        ((0, (0, 0, 0)), (1, (0.5, 0.5, 0.5)), (2, (0.5, 0.5, 0))),
        _cubic(),
    ),
    PrototypeSpec(
        "ilmenite",
        "FeTiO3",
        (1, 1, 3),
        148,
        ((0, (0, 0, 0.355)), (1, (0, 0, 0.146)), (2, (0.317, 0.020, 0.245))),
        _hexagonal(2.77),
    ),
    # AB2C4
    PrototypeSpec(
        "spinel",
        "MgAl2O4",
        (1, 2, 4),
        227,
        ((0, (0.125, 0.125, 0.125)), (1, (0.5, 0.5, 0.5)), (2, (0.262, 0.262, 0.262))),
        _cubic(),
        setting=2,
    ),
    PrototypeSpec(
        "olivine",
        "Mg2SiO4",
        (2, 1, 4),
        62,
        (
            (0, (0, 0, 0)),
            (0, (0.2774, 0.25, 0.9915)),
            (1, (0.0940, 0.25, 0.4265)),
            (2, (0.0913, 0.25, 0.7661)),
            (2, (0.4474, 0.25, 0.2170)),
            (2, (0.1628, 0.0331, 0.2777)),
        ),
        (1.0, 0.587, 0.466, 90.0, 90.0, 90.0),
    ),
)

ELEMENT_LATTICES = ("fcc", "bcc", "hcp", "diamond")


@dataclass(frozen=True)
class Candidate:
    """A built prototype: its name, the cell (primitive, scaled to contact distances) and how its sites were filled."""

    name: str
    atoms: Atoms
    why: str


def reduced_counts(amounts: dict[str, float]) -> dict[str, int] | None:
    """Integer counts of the reduced formula ({'Al': 2, 'O': 3}); None for amounts that are not near-integer ratios."""
    scaled = {el: a / min(amounts.values()) for el, a in amounts.items()}
    for factor in range(1, 13):
        counts = {el: round(v * factor) for el, v in scaled.items()}
        if all(abs(v * factor - counts[el]) < 1e-6 for el, v in scaled.items()):
            divisor = reduce(math.gcd, counts.values())
            return {el: n // divisor for el, n in counts.items()}
    return None


def _ionic_radius(element: str, charge: float) -> float:
    try:
        radius = Species(element, int(round(charge))).ionic_radius if round(charge) else None
    except (ValueError, KeyError):
        radius = None
    return float(radius) if radius else float(covalent_radii[atomic_numbers[element]])


def _site_order_key(element: str, bonding: BondingAnalysis) -> tuple[float, ...]:
    """Sort key for filling roles of equal multiplicity: cations before anions, lower charge and bigger ions first,
    else the more electropositive element first."""
    oxidation = bonding.oxidation_states or {}
    electronegativity = float(Element(element).X) if not math.isnan(Element(element).X) else 4.0
    if element in oxidation:
        charge = oxidation[element]
        return (0.0 if charge > 0 else 1.0, abs(charge), -_ionic_radius(element, charge), electronegativity)
    return (0.0, 0.0, 0.0, electronegativity)


def contact_distance(a: str, b: str, bonding: BondingAnalysis) -> float:
    """The shortest distance two atoms of these elements should start at: ionic radii between ions of opposite
    sign, reference-state radii between metals of a metallic system, covalent radii otherwise."""
    oxidation = bonding.oxidation_states or {}
    covalent = float(covalent_radii[atomic_numbers[a]] + covalent_radii[atomic_numbers[b]])
    if bonding.bonding_type == "ionic" and a in oxidation and b in oxidation:
        if oxidation[a] * oxidation[b] < 0:
            return _ionic_radius(a, oxidation[a]) + _ionic_radius(b, oxidation[b])
        if oxidation[a] < 0:  # anion-anion: the anions touch
            return _ionic_radius(a, oxidation[a]) + _ionic_radius(b, oxidation[b])
        return 0.8 * covalent  # cation-cation: kept apart by the anions, never the binding contact
    if bonding.bonding_type == "metallic" and Element(a).is_metal and Element(b).is_metal:
        return _metallic_radius(a) + _metallic_radius(b)
    return covalent


def _metallic_radius(element: str) -> float:
    """Half the nearest-neighbour distance of a close packing at the element's reference volume per atom."""
    return (4 * volume_per_atom(element)) ** (1 / 3) / (2 * math.sqrt(2))


def scale_to_contacts(atoms: Atoms, bonding: BondingAnalysis) -> Atoms:
    """Scale the cell isotropically so that the closest pair, relative to its contact distance, just touches."""
    atoms = atoms.copy()
    atoms.set_cell(atoms.cell * (10.0 * len(atoms) / atoms.get_volume()) ** (1 / 3), scale_atoms=True)
    symbols = atoms.get_chemical_symbols()
    i, j, d = neighbor_list("ijd", atoms, 6.0)
    if len(d) == 0:
        return atoms
    ratio = min(
        dist / contact_distance(symbols[a], symbols[b], bonding) for a, b, dist in zip(i, j, d, strict=True) if dist > 1e-6
    )
    atoms.set_cell(atoms.cell / ratio, scale_atoms=True)
    return atoms


def _assignments(spec: PrototypeSpec, counts: dict[str, int], bonding: BondingAnalysis) -> list[str] | None:
    """Element of each role, or None when the multiplicities do not fit the formula."""
    if sorted(spec.counts) != sorted(counts.values()):
        return None
    roles: list[str | None] = [None] * len(spec.counts)
    for multiplicity in sorted(set(spec.counts)):
        elements = sorted((el for el, n in counts.items() if n == multiplicity), key=lambda el: _site_order_key(el, bonding))
        slots = [r for r, n in enumerate(spec.counts) if n == multiplicity]
        for slot, element in zip(slots, elements, strict=True):
            roles[slot] = element
    return [el for el in roles if el is not None]


def build(spec: PrototypeSpec, counts: dict[str, int], bonding: BondingAnalysis) -> Candidate | None:
    """The prototype for this formula, primitive cell, scaled to contact distances; None when it does not fit."""
    roles = _assignments(spec, counts, bonding)
    if roles is None:
        return None
    atoms = crystal(
        [roles[role] for role, _ in spec.sites],
        basis=[position for _, position in spec.sites],
        spacegroup=spec.spacegroup,
        setting=spec.setting,
        cellpar=list(spec.cellpar),
        primitive_cell=True,
    )
    built = {el: atoms.get_chemical_symbols().count(el) for el in counts}
    units = built[roles[0]] // spec.counts[0]
    if any(built[el] != n * units for el, n in counts.items()):
        raise AssertionError(f"prototype table: {spec.name} built {built}, not a multiple of {counts}")
    placement = ", ".join(f"{el} on the {site} site" for site, el in zip(_role_names(spec), roles, strict=True))
    return Candidate(
        spec.name,
        scale_to_contacts(atoms, bonding),
        f"{spec.name} ({spec.example} type, space group {spec.spacegroup}): {placement}",
    )


def _role_names(spec: PrototypeSpec) -> list[str]:
    """Each role named by the example's element of that multiplicity ('Fe3Al', roles (1, 3) -> ['Al', 'Fe'])."""
    parts = [(el, int(n or 1)) for el, n in re.findall(r"([A-Z][a-z]?)(\d*)", spec.example.split(",")[0])]
    names = []
    for count in spec.counts:
        match = next(((el, n) for el, n in parts if n == count), None)
        if match is None:
            return [f"role {r}" for r in range(len(spec.counts))]
        parts.remove(match)
        names.append(match[0])
    return names


def element_candidates(element: str) -> Iterator[Candidate]:
    """fcc, bcc, hcp (ideal c/a) and diamond at the element's reference volume per atom."""
    volume = volume_per_atom(element)
    for lattice in ELEMENT_LATTICES:
        if lattice == "hcp":
            a = (2 * volume / (math.sqrt(3) / 2 * math.sqrt(8 / 3))) ** (1 / 3)
            atoms = bulk(element, "hcp", a=a, c=a * math.sqrt(8 / 3))
        else:
            per_cell = {"fcc": 4, "bcc": 2, "diamond": 8}[lattice]
            atoms = bulk(element, lattice, a=(per_cell * volume) ** (1 / 3))
        yield Candidate(lattice, atoms, f"{element} {lattice} at the reference volume {volume:.2f} A^3/atom")


def candidates_for(amounts: dict[str, float], bonding: BondingAnalysis) -> list[Candidate]:
    """Every table prototype whose site multiplicities fit the reduced formula (elements: fcc/bcc/hcp/diamond)."""
    if len(amounts) == 1:
        return list(element_candidates(next(iter(amounts))))
    counts = reduced_counts(amounts)
    if counts is None:
        return []
    found = []
    for spec in TABLE:
        candidate = build(spec, counts, bonding)
        if candidate is not None:
            found.append(candidate)
    return found


def spacegroup_of(atoms: Atoms, symprec: float = 0.1) -> tuple[str, int]:
    """International symbol and number (spglib through pymatgen), for naming structures found by random search."""
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        analyzer = SpacegroupAnalyzer(AseAtomsAdaptor.get_structure(atoms), symprec=symprec)
        return str(analyzer.get_space_group_symbol()), int(analyzer.get_space_group_number())
    except Exception:  # spglib gives up on badly distorted cells
        return "P1", 1


def nearest_distance(atoms: Atoms) -> float:
    d = neighbor_list("d", atoms, 6.0)
    return float(np.min(d)) if len(d) else float("inf")
