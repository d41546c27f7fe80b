"""Rank candidate crystals by the surrogate: every table prototype plus a small random structure search.

Each candidate is relaxed, positions and cell (FrechetCellFilter + BFGS, bounded steps), with one shared surrogate
calculator; the lowest energy per atom wins. Random packed cells relaxed the same way (AIRSS-style) catch ground
states the table lacks; a random-search result that relaxed into a table prototype is named after it (pymatgen's
StructureMatcher), else after its space group. Candidates that relaxed into an unphysical cell (two atoms closer
than half a bond, a volume that exploded or collapsed) are set aside, not ranked.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from mlip_autopipec.structures.bonding import BondingAnalysis
from mlip_autopipec.structures.filters import min_distance_ratio
from mlip_autopipec.structures.prototype_table import candidates_for, spacegroup_of
from mlip_autopipec.structures.prototypes import packing_volume
from mlip_autopipec.structures.random_packing import formula_units_for, random_packed_cell

logger = logging.getLogger(__name__)

RANDOM_SEARCH_ATOMS = 8  # about this many atoms per random cell: enough for 1-2 formula units of most compounds
MIN_DISTANCE_FACTOR = 0.5  # a relaxed candidate with a closer pair (in covalent bond lengths) is unphysical


@dataclass(frozen=True)
class RankedCandidate:
    """A relaxed candidate: ``name`` is the prototype's, or ``random search k`` for a random cell."""

    name: str
    atoms: Atoms
    energy_per_atom: float
    source: str  # "prototype" or "random_search"
    spacegroup: str
    steps: int
    converged: bool
    matches: str | None = None  # random search: the table prototype it relaxed into (StructureMatcher), if any
    duplicate_of: str | None = None  # the lower-energy candidate holding the same structure, if any

    @property
    def label(self) -> str:
        """What the structure is: the prototype's name; for a random-search cell the prototype it matches, else
        its space group."""
        if self.source == "prototype":
            return self.name
        return self.matches or f"random ({self.spacegroup})"


@dataclass(frozen=True)
class Ranking:
    """Candidates from the lowest energy per atom up; ``rejected``: names of unphysical relaxations, with why."""

    ranked: list[RankedCandidate]
    rejected: dict[str, str]
    wall_time_s: float

    @property
    def lowest(self) -> float:
        return self.ranked[0].energy_per_atom if self.ranked else math.nan

    def seeds(self, window_ev_per_atom: float) -> list[RankedCandidate]:
        """Distinct structures (not relaxed into a lower one) within the window above the lowest, lowest first."""
        return [
            c for c in self.ranked if c.duplicate_of is None and c.energy_per_atom - self.lowest <= window_ev_per_atom + 1e-12
        ]

    def why(self, candidate: RankedCandidate) -> str:
        """The seed's reason, with its surrogate energy: what generation writes into ``info['why']``."""
        gap = 1000 * (candidate.energy_per_atom - self.lowest)
        others = ", ".join(
            f"{c.label} {1000 * (c.energy_per_atom - self.lowest):+.0f}" for c in self.ranked if c is not candidate
        )
        rank = "lowest" if gap < 0.5 else f"{gap:.0f} meV/atom above the lowest"
        return (
            f"{candidate.label} ({candidate.spacegroup}): surrogate {candidate.energy_per_atom:.4f} eV/atom after relaxing "
            f"positions and cell, {rank} of {len(self.ranked)} candidates (others, meV/atom: {others or 'none'})"
        )

    def table(self) -> list[dict[str, object]]:
        """JSON-ready rows for the generation summary."""
        return [
            {
                "name": c.label,
                "source": c.source,
                "spacegroup": c.spacegroup,
                "energy_ev_per_atom": round(c.energy_per_atom, 5),
                "above_lowest_mev_per_atom": round(1000 * (c.energy_per_atom - self.lowest), 1),
                "converged": c.converged,
                **({"duplicate_of": c.duplicate_of} if c.duplicate_of else {}),
            }
            for c in self.ranked
        ]


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the relaxations on one thread (torch, OpenMP and BLAS), restoring the caller's settings afterwards.

    Cells of 2-40 atoms are far too small for intra-op threads, and the cell filter's 3x3 matrix functions
    (scipy expm/logm) then wait on BLAS threads that torch's OpenMP pool keeps busy: on two loaded cores a
    relaxation step of a random 8-atom NaCl cell took 1.2 s with the default threads and 0.2 s on one.
    """
    with ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=1))
        except ImportError:  # optional: scikit-learn brings it; without it only torch is limited
            pass
        try:
            import torch
        except ImportError:  # a surrogate without torch
            yield
            return
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def relax_with_cell(atoms: Atoms, calculator: Calculator, fmax: float, steps: int) -> tuple[Atoms, float, int, bool]:
    """(relaxed copy, energy per atom, steps taken, converged): positions and cell, FrechetCellFilter + BFGS."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    work = atoms.copy()
    work.calc = calculator
    optimizer = BFGS(FrechetCellFilter(work), logfile=None, maxstep=0.1)  # type: ignore[arg-type]
    converged = bool(optimizer.run(fmax=fmax, steps=steps))
    energy = float(work.get_potential_energy()) / len(work)
    relaxed = Atoms(numbers=work.numbers, positions=work.positions, cell=work.cell, pbc=True)
    relaxed.wrap()
    return relaxed, energy, int(optimizer.nsteps), converged


def _unphysical(start: Atoms, relaxed: Atoms, energy: float) -> str | None:
    ratio = min_distance_ratio(relaxed)
    if not math.isfinite(energy):
        return "the surrogate's energy is not finite"
    if ratio < MIN_DISTANCE_FACTOR:
        return f"two atoms at {ratio:.2f} x their bond length"
    change = relaxed.get_volume() / start.get_volume()
    if not 0.25 < change < 4.0:
        return f"the volume changed {change:.2f}-fold"
    return None


def random_search_cells(amounts: dict[str, float], count: int, rng: np.random.Generator) -> list[Atoms]:
    """``count`` random packed cells of about RANDOM_SEARCH_ATOMS atoms at the summed elemental volume (+15%)."""
    counts, _ = formula_units_for(amounts, RANDOM_SEARCH_ATOMS)
    volume = 1.15 * packing_volume({el: float(n) for el, n in counts.items()})
    cells: list[Atoms] = []
    for _ in range(10 * count):  # a dense packing sometimes fails to place its last atom: draw again
        if len(cells) == count:
            break
        atoms = random_packed_cell(counts, volume, rng, min_factor=0.7)
        if atoms is not None:
            cells.append(atoms)
    return cells


def _structure_matcher() -> Callable[[Atoms, Atoms], bool]:
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.io.ase import AseAtomsAdaptor

    # tighter than pymatgen's defaults (0.2, 0.3, 5): B2 and a relaxed L1_0 (c/a 1.17) are different seeds
    matcher = StructureMatcher(ltol=0.1, stol=0.2, angle_tol=3, scale=True, attempt_supercell=True)

    def same(a: Atoms, b: Atoms) -> bool:
        return bool(matcher.fit(AseAtomsAdaptor.get_structure(a), AseAtomsAdaptor.get_structure(b)))

    return same


def same_structure(a: Atoms, b: Atoms) -> bool:
    """True when two cells hold the same crystal up to volume and setting (pymatgen StructureMatcher)."""
    return _structure_matcher()(a, b)


def rank_candidates(
    amounts: dict[str, float],
    bonding: BondingAnalysis,
    calculator: Calculator,
    random_cells: int = 3,
    seed: int = 0,
    fmax: float = 0.05,
    steps: int = 150,
    random_steps: int = 300,
) -> Ranking:
    """Relax every table prototype of the formula and ``random_cells`` random packed cells; rank by energy/atom."""
    start = time.perf_counter()
    starts: list[tuple[str, str, Atoms, int]] = [(c.name, "prototype", c.atoms, steps) for c in candidates_for(amounts, bonding)]
    rng = np.random.default_rng(seed)
    starts += [
        (f"random search {k}", "random_search", a, random_steps)
        for k, a in enumerate(random_search_cells(amounts, random_cells, rng))
    ]
    relaxed: list[RankedCandidate] = []
    rejected: dict[str, str] = {}
    with one_thread():
        for name, source, atoms, cap in starts:
            final, energy, taken, converged = relax_with_cell(atoms, calculator, fmax, cap)
            problem = _unphysical(atoms, final, energy)
            if problem is not None:
                rejected[name] = problem
                logger.info("candidate %s set aside: %s", name, problem)
                continue
            relaxed.append(RankedCandidate(name, final, energy, source, spacegroup_of(final)[0], taken, converged))
            logger.info("candidate %s: %.4f eV/atom after %d steps%s", name, energy, taken, "" if converged else " (step cap)")
    relaxed.sort(key=lambda c: (c.energy_per_atom, c.source != "prototype"))
    same = _structure_matcher()
    prototypes = [c for c in relaxed if c.source == "prototype"]
    named: list[RankedCandidate] = []
    for candidate in relaxed:
        if candidate.source == "random_search":
            match = next((p for p in prototypes if same(candidate.atoms, p.atoms)), None)
            candidate = replace(candidate, matches=match.name if match else None)
        duplicate = next((other for other in named if same(candidate.atoms, other.atoms)), None)
        named.append(replace(candidate, duplicate_of=duplicate.label if duplicate else None))
    return Ranking(named, rejected, time.perf_counter() - start)
