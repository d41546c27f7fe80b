"""Crystal perturbations: supercells, bounded random strain, thermal rattling, vacancies, antisites, surfaces."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from functools import lru_cache

import numpy as np
from ase import Atoms
from ase.build import find_optimal_cell_shape, make_supercell, surface
from ase.units import kB

logger = logging.getLogger(__name__)

# Effective harmonic spring constant for rattling: <u^2> = kT / k per direction. 5 eV/A^2 is typical of
# covalent and metallic bonds (Si, Cu); it gives 0.07 A at 300 K, close to measured thermal displacements.
SPRING_EV_PER_A2 = 5.0
MAX_RATTLE = 0.25


def rattle_amplitude(temperature: float) -> float:
    """Thermal displacement (A, per Cartesian direction) of a harmonic atom at ``temperature`` K."""
    return min(MAX_RATTLE, math.sqrt(kB * temperature / SPRING_EV_PER_A2))


def _diagonal_repeats(atoms: Atoms, target_atoms: int) -> np.ndarray:
    lengths = atoms.cell.lengths()
    scale = max(1.0, (target_atoms / len(atoms)) ** (1 / 3))
    mean = float(np.cbrt(atoms.cell.volume)) if atoms.cell.volume > 0 else float(lengths.mean())
    return np.diag([max(1, int(round(scale * mean / length))) for length in lengths])


@lru_cache(maxsize=64)
def _cubic_transformation(cell: tuple[float, ...], n_cells: int) -> tuple[tuple[int, ...], ...]:
    """ASE's most cubic supercell of ``n_cells`` copies (about 0.5 s: cached per cell and size)."""
    matrix = find_optimal_cell_shape(np.reshape(cell, (3, 3)), n_cells, "sc", verbose=False)
    return tuple(tuple(int(v) for v in row) for row in matrix)


def supercell_for(atoms: Atoms, target_atoms: int) -> Atoms:
    """A near-cubic supercell with about ``target_atoms`` atoms (never fewer than the cell itself).

    A diagonal repetition when it lands within 25% of the target; otherwise (primitive fcc, bcc or
    diamond cells, whose diagonal repeats jump from 2 to 16 atoms) ASE's ``find_optimal_cell_shape``,
    which for example turns the 2-atom diamond cell into the 8-atom cubic one.
    """
    if atoms.cell.rank < 3:
        raise ValueError("supercell_for needs a cell with three lattice vectors")
    diagonal = _diagonal_repeats(atoms, target_atoms)
    n_diagonal = len(atoms) * round(abs(np.linalg.det(diagonal)))
    n_cells = max(1, int(round(target_atoms / len(atoms))))
    if abs(n_diagonal - target_atoms) <= 0.25 * target_atoms or n_cells * len(atoms) == n_diagonal:
        return make_supercell(atoms, diagonal)
    key = tuple(float(v) for v in np.round(atoms.cell.array, 6).ravel())
    matrix = np.array(_cubic_transformation(key, n_cells))
    if abs(len(atoms) * n_cells - target_atoms) >= abs(n_diagonal - target_atoms):
        matrix = diagonal
    return make_supercell(atoms, matrix)


def random_strain(atoms: Atoms, rng: np.random.Generator, max_volumetric: float, max_shear: float) -> Atoms:
    """Apply a symmetric strain: isotropic part in [-max_volumetric, max_volumetric], shear in [-max_shear, max_shear]."""
    strained = atoms.copy()
    shear = rng.uniform(-max_shear, max_shear, size=(3, 3))
    shear = (shear + shear.T) / 2
    np.fill_diagonal(shear, 0.0)
    strain = np.eye(3) * (1 + rng.uniform(-max_volumetric, max_volumetric)) + shear
    strained.set_cell(atoms.cell.array @ strain, scale_atoms=True)
    return strained


def rattle(atoms: Atoms, rng: np.random.Generator, amplitude: float) -> Atoms:
    rattled = atoms.copy()
    rattled.positions += rng.normal(0.0, amplitude, size=rattled.positions.shape)
    return rattled


def with_vacancy(atoms: Atoms, rng: np.random.Generator) -> Atoms:
    defected = atoms.copy()
    del defected[int(rng.integers(len(defected)))]
    return defected


def with_antisite(atoms: Atoms, rng: np.random.Generator, charges: Mapping[str, float] | None = None) -> Atoms | None:
    """Swap two atoms of different species; None when no pair may be swapped.

    ``charges`` (oxidation states, for ionic crystals): only species whose charges have the same sign are swapped
    (Mg on an Al site in a spinel), never a cation with an anion, which puts like charges side by side several eV
    above the crystal, where no MD goes, and is the hardest SCF of a run. Rock salt then has no antisite.
    """
    symbols = np.array(atoms.get_chemical_symbols())
    sign = {el: (0.0 if charges is None else float(np.sign(charges.get(el, 0.0)))) for el in set(symbols)}
    swappable = [k for k in range(len(atoms)) if any(sign[el] == sign[symbols[k]] and el != symbols[k] for el in sign)]
    if not swappable:
        return None
    i = int(rng.choice(swappable)) if charges is not None else int(rng.integers(len(atoms)))
    candidates = np.flatnonzero((symbols != symbols[i]) & np.array([sign[el] == sign[symbols[i]] for el in symbols]))
    j = int(rng.choice(candidates))
    swapped = atoms.copy()
    numbers = swapped.numbers.copy()
    numbers[i], numbers[j] = numbers[j], numbers[i]
    swapped.numbers = numbers
    return swapped


def conventional_cell(atoms: Atoms) -> Atoms:
    """The conventional standard cell (spglib through pymatgen), the frame that Miller indices refer to."""
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    analyzer = SpacegroupAnalyzer(AseAtomsAdaptor.get_structure(atoms), symprec=0.1)  # as prototype_table.spacegroup_of
    if analyzer.get_space_group_number() == 1:
        return atoms.copy()  # no symmetry found: the cell as given
    converted = AseAtomsAdaptor.get_atoms(analyzer.get_conventional_standard_structure())
    return Atoms(numbers=converted.numbers, positions=converted.positions, cell=converted.cell, pbc=True)


POLAR_DIPOLE_PER_AREA = 1e-3  # e/A: formal-charge dipole along z per in-plane area above which a slab is polar


def slab_dipole_per_area(slab: Atoms, charges: Mapping[str, float]) -> float:
    """Formal-charge dipole of a slab along z per in-plane area (e/A), about its mid-plane."""
    z = slab.positions[:, 2]
    q = np.array([charges.get(symbol, 0.0) for symbol in slab.get_chemical_symbols()])
    area = float(np.linalg.norm(np.cross(slab.cell[0], slab.cell[1])))
    return float(np.sum(q * (z - 0.5 * (z.min() + z.max())))) / area


def low_index_surfaces(
    bulk_atoms: Atoms, layers: int = 4, vacuum: float = 6.0, charges: Mapping[str, float] | None = None
) -> list[tuple[str, Atoms]]:
    """(100), (110) and (111) slabs with vacuum along z (periodic in-plane only).

    ``charges`` (oxidation states of an ionic crystal): the Miller indices are those of the conventional standard
    cell (rock salt's (100) is then the non-polar cleavage face, not a primitive-cell cut; ``layers`` scaled by the
    cell's size, at least two conventional cells: 16 atoms, four atomic planes, for rock salt), and polar slabs are
    left out (Tasker type 3, e.g. rock salt's (111): alternating charged layers give a dipole across the slab, which
    the real crystal never shows, and whose pw.x SCF diverges: NaCl's (111) slab was at 11-18 Ry after 11 iterations
    while its bulk cells converge in 7-10). ASE cuts one termination per plane, so a crystal whose non-polar faces
    need another termination (rutile's (110), fluorite's (111)) has no non-polar cut here: it keeps the plain cuts.
    """
    if charges is not None:
        conventional = conventional_cell(bulk_atoms)
        ionic = _cuts(conventional, max(2, round(layers * len(bulk_atoms) / len(conventional))), vacuum)
        non_polar = [(m, slab) for m, slab in ionic if abs(slab_dipole_per_area(slab, charges)) <= POLAR_DIPOLE_PER_AREA]
        if non_polar:
            return non_polar
        logger.warning("no non-polar low-index cut of %s: its slabs are cut as for a covalent crystal", bulk_atoms.symbols)
    return _cuts(bulk_atoms, layers, vacuum)


def _cuts(bulk_atoms: Atoms, layers: int, vacuum: float) -> list[tuple[str, Atoms]]:
    """The (100), (110) and (111) slabs of ``bulk_atoms`` (those ASE can cut)."""
    slabs = []
    for miller in ((1, 0, 0), (1, 1, 0), (1, 1, 1)):
        try:
            slab = surface(bulk_atoms, miller, layers, vacuum=vacuum, periodic=False)
        except Exception:  # some prototypes have no such termination
            continue
        slab.pbc = (True, True, False)
        slabs.append(("".join(map(str, miller)), slab))
    return slabs
