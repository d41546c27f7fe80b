"""A molecule's relaxed geometry with any ASE calculator: bond lengths and angles, DFT against the potential.

Why both sides start from ASE's g2 geometry and relax on their own: a geometry error is what a user of the
potential sees in every simulation of the molecule, and each side's relaxed molecule is where its vibrations
are computed. The bonds (covalent radii, ASE's ``natural_cutoffs``) are found on DFT's relaxed molecule and
measured by atom index on both sides. Bonds (and angles) that DFT finds equal are one row, showing the member with
the largest error: one row for the two O-H bonds of water, not two that always agree.
The molecule sits in a vacuum box (non-periodic, so the engine computes it at the Gamma point without stress).
"""

from __future__ import annotations

from dataclasses import dataclass

from ase import Atoms
from ase.build import molecule as g2_molecule
from ase.calculators.calculator import Calculator
from ase.neighborlist import NeighborList, natural_cutoffs

from mlip_autopipec.config.models import ValidationConfig
from mlip_autopipec.data.records import ValidationRow
from mlip_autopipec.validation.eos import Relaxation, relax_positions
from mlip_autopipec.validation.table import compare

GROUP = "molecule geometry"
MOLECULE_FMAX = 0.005  # eV/A: a 30 eV/A^2 bond ends within 0.0002 A of its minimum, a 1 eV/rad^2 bend within 0.3 degree
MOLECULE_RELAX_STEPS = 60  # step cap (each step is a DFT run of the molecule on the reference side)
BOND_FACTOR = 1.2  # a bond: closer than 1.2 x the sum of the covalent radii
SAME_LENGTH = 0.003  # A: DFT bonds of one element pair this close are symmetry-equivalent (one row)
SAME_ANGLE = 0.3  # degrees: the same for angles


def validation_molecule(name: str, vacuum: float) -> Atoms:
    """ASE's g2 molecule ``name`` centred in a box with ``vacuum`` A on each side, non-periodic."""
    atoms = g2_molecule(name)
    atoms.center(vacuum=vacuum)
    atoms.pbc = False
    atoms.info["origin"] = "validation_molecule"
    return atoms


@dataclass(frozen=True, eq=False)
class MoleculeGeometry:
    """One calculator's relaxed molecule."""

    atoms: Atoms  # relaxed, no calculator attached
    energy: float  # eV, at the relaxed geometry
    relaxation: Relaxation


def relaxed_molecule(molecule: Atoms, calculator: Calculator) -> MoleculeGeometry:
    """``molecule`` relaxed (BFGS, fmax ``MOLECULE_FMAX``) with ``calculator``; ``molecule`` itself is left as it was."""
    work = molecule.copy()
    work.calc = calculator
    relaxation = relax_positions(work, MOLECULE_FMAX, MOLECULE_RELAX_STEPS)
    energy = float(work.get_potential_energy())
    relaxed = work.copy()
    relaxed.calc = None
    return MoleculeGeometry(relaxed, energy, relaxation)


def bonds(atoms: Atoms) -> list[tuple[int, int]]:
    """Bonded pairs (i < j): closer than ``BOND_FACTOR`` x the sum of their covalent radii."""
    neighbours = NeighborList(natural_cutoffs(atoms, mult=BOND_FACTOR), self_interaction=False, bothways=False)
    neighbours.update(atoms)
    pairs = {(min(i, int(j)), max(i, int(j))) for i in range(len(atoms)) for j in neighbours.get_neighbors(i)[0]}
    return sorted(pairs)


def angles(atoms: Atoms, bonded: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(i, centre, k) for every pair of bonds that share an atom, i < k."""
    partners: dict[int, list[int]] = {}
    for i, j in bonded:
        partners.setdefault(i, []).append(j)
        partners.setdefault(j, []).append(i)
    found = []
    for centre, ends in sorted(partners.items()):
        ends = sorted(ends)
        found += [(a, centre, b) for n, a in enumerate(ends) for b in ends[n + 1 :]]
    return found


def _classes(values: list[float], keys: list[str], gap: float) -> list[list[int]]:
    """Indices grouped by key and, within a key, by value (sorted; a new class after a jump above ``gap``)."""
    groups: list[list[int]] = []
    for key in dict.fromkeys(keys):
        members = sorted((n for n, k in enumerate(keys) if k == key), key=lambda n: values[n])
        groups.append([members[0]])
        for previous, n in zip(members, members[1:], strict=False):
            if values[n] - values[previous] > gap:
                groups.append([])
            groups[-1].append(n)
    return groups


def _note(potential: MoleculeGeometry, dft: MoleculeGeometry) -> str:
    def steps(g: MoleculeGeometry, side: str) -> str:
        stopped = "" if g.relaxation.converged else f", step cap reached at max force {g.relaxation.max_force:.3f} eV/A"
        return f"{g.relaxation.steps} steps {side}{stopped}"

    return (
        f"each side relaxed from the g2 geometry (BFGS fmax {MOLECULE_FMAX} eV/A: {steps(potential, 'potential')}, "
        f"{steps(dft, 'DFT')}), non-periodic box, Gamma point"
    )


def _class_rows(
    what: str,
    members_are: str,
    unit: str,
    keys: list[str],
    ref: list[float],
    ours: list[float],
    gap: float,
    tolerance: float,
    note: str,
) -> list[ValidationRow]:
    """One row per class of equal DFT values: the member with the largest error; named by the DFT value too when one
    element pair (or triple) has several classes (the C-H bonds of ethanol)."""
    rows: list[ValidationRow] = []
    classes = _classes(ref, keys, gap)
    for members in classes:
        n = max(members, key=lambda m: abs(ours[m] - ref[m]))
        several = sum(keys[c[0]] == keys[n] for c in classes) > 1
        details = [f"{len(members)} {members_are}"] if len(members) > 1 else []
        details += [f"DFT {ref[n]:.3f} {unit}"] if several else []
        name = f"{keys[n]} {what}" + (f" ({', '.join(details)})" if details else "")
        worst = f"the largest error of {len(members)} {members_are} DFT finds equal; " if len(members) > 1 else ""
        rows.append(compare(GROUP, name, unit, ref[n], ours[n], tolerance, "absolute", len(members), worst + note))
    return rows


def geometry_rows(potential: MoleculeGeometry, dft: MoleculeGeometry, cfg: ValidationConfig) -> list[ValidationRow]:
    """One row per class of equal bonds (A) and of equal angles (degrees), judged by absolute error."""
    symbols = dft.atoms.get_chemical_symbols()
    note = _note(potential, dft)
    bonded = bonds(dft.atoms)
    keys = ["-".join(sorted((symbols[i], symbols[j]))) for i, j in bonded]
    ref = [float(dft.atoms.get_distance(i, j)) for i, j in bonded]
    ours = [float(potential.atoms.get_distance(i, j)) for i, j in bonded]
    rows = _class_rows("bond length", "bonds", "A", keys, ref, ours, SAME_LENGTH, cfg.bond_length_tolerance, note)
    triples = angles(dft.atoms, bonded)
    keys = [
        "-".join((symbols[a], symbols[c], symbols[b]) if symbols[a] <= symbols[b] else (symbols[b], symbols[c], symbols[a]))
        for a, c, b in triples
    ]
    ref = [float(dft.atoms.get_angle(*t)) for t in triples]
    ours = [float(potential.atoms.get_angle(*t)) for t in triples]
    return rows + _class_rows("angle", "angles", "deg", keys, ref, ours, SAME_ANGLE, cfg.bond_angle_tolerance, note)
