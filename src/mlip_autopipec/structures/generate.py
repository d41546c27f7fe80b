"""Module A: from the expanded config to a diverse, physical set of starting structures.

The generators follow the bonding type: SQS for alloys, normal-mode sampling for molecules,
strained/rattled/defected supercells and surfaces for crystals, random packed cells when no
prototype fits, and for every system dimer/trimer scans and isolated atoms. Every structure
carries its origin; structures closer than the minimum distance are dropped and counted.

The crystal to perturb is chosen by the surrogate when one is at hand: every table prototype of the
formula and a few random cells are relaxed (``prototype_ranking``), the lowest seeds the full set and
the other distinct ones within ``prototype_window_ev_per_atom`` a lighter one; every seeded frame carries
``info['prototype']``, its surrogate energy and the why. Without a surrogate the radius-ratio prototype stays.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.build import molecule as build_molecule
from ase.calculators.calculator import Calculator

from mlip_autopipec.config.models import GenerateConfig, SystemConfig
from mlip_autopipec.data.ids import structure_id
from mlip_autopipec.data.records import GenerateSummary
from mlip_autopipec.potentials.surrogate import make_surrogate
from mlip_autopipec.structures import clusters, perturb
from mlip_autopipec.structures.bonding import BondingAnalysis, analyse_bonding
from mlip_autopipec.structures.composition import parse_composition
from mlip_autopipec.structures.filters import keep_physical
from mlip_autopipec.structures.normal_modes import finite_difference_hessian, relax_molecule, sample_normal_modes
from mlip_autopipec.structures.prototype_ranking import Ranking, rank_candidates, relax_with_cell
from mlip_autopipec.structures.prototype_table import candidates_for
from mlip_autopipec.structures.prototypes import choose_prototype, packing_volume
from mlip_autopipec.structures.random_packing import formula_units_for, random_packed_cell
from mlip_autopipec.structures.sqs import concentrations_for, make_sqs

logger = logging.getLogger(__name__)


@dataclass
class GenerationResult:
    frames: list[Atoms]
    counts: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    wall_time_s: float = 0.0
    ranking: Ranking | None = None

    def summary(self, surrogate: str | None) -> GenerateSummary:
        """The run file ``generated_summary.json``; ``surrogate``: the one that was used, None when none was needed."""
        return GenerateSummary(
            structures=len(self.frames),
            by_origin=self.counts,
            dropped_min_distance=self.dropped,
            duplicates=self.duplicates,
            wall_time_s=round(self.wall_time_s, 2),
            surrogate=surrogate,
            prototype_ranking=self.ranking.table() if self.ranking is not None else None,
        )


class OnDemandSurrogate:
    """A ``calculator_factory`` for :func:`generate_structures` that builds the surrogate only when a structure
    needs it (a prototype to relax, a molecule's normal modes) and remembers which one it built."""

    def __init__(self, name: str, model: str | None = None, log: logging.Logger | None = None) -> None:
        self._request = (name, model)
        self._log = log or logger
        self.used: str | None = None

    def __call__(self) -> Calculator:
        calculator, self.used = make_surrogate(*self._request)
        self._log.info("surrogate for relaxations and normal modes: %s", self.used)
        return calculator


def _tag(frames: list[Atoms], origin: str) -> list[Atoms]:
    for atoms in frames:
        atoms.info["origin"] = origin
    return frames


def relax_cell(atoms: Atoms, calculator: Calculator, fmax: float = 0.02, steps: int = 200) -> Atoms:
    """Relax positions and cell of a prototype with the surrogate, so perturbations start from its minimum."""
    relaxed, _, _, _ = relax_with_cell(atoms, calculator, fmax, steps)
    logger.info("prototype relaxed by the surrogate: volume %.2f -> %.2f A^3", atoms.get_volume(), relaxed.get_volume())
    return relaxed


#: Surrogate relaxation of the ions in a strained cell: a few hundredths of an eV/A is far below DFT's force noise.
STRAIN_RELAX_FMAX = 0.02
STRAIN_RELAX_STEPS = 100


def relaxed_strained_crystals(
    cell: Atoms, cfg: GenerateConfig, rng: np.random.Generator, calculator: Calculator, prefix: str = ""
) -> list[Atoms]:
    """``cfg.relaxed_strained`` randomly strained copies of ``cell`` with the ions relaxed by the surrogate at the
    fixed cell, not rattled. Why: a relaxed-ion elastic constant is the clamped one minus the energy the ions give
    back by moving inside the strained cell (in diamond Si the shear C44 drops by a quarter); rattled strained cells
    cross that path only by chance, and a committee trained on them got the clamped C44 within 9 % of DFT and the
    relaxed one 87 % too low."""
    from ase.optimize import BFGS

    frames: list[Atoms] = []
    for _ in range(cfg.relaxed_strained):
        work = perturb.random_strain(cell, rng, cfg.max_volumetric_strain, cfg.max_shear_strain)
        work.calc = calculator
        BFGS(work, logfile=None, maxstep=0.05).run(fmax=STRAIN_RELAX_FMAX, steps=STRAIN_RELAX_STEPS)
        relaxed = Atoms(numbers=work.numbers, positions=work.positions, cell=work.cell, pbc=work.pbc)
        frames += _tag([relaxed], f"{prefix}strain_relaxed")
    return frames


def perturbed_crystals(
    base: Atoms,
    cfg: GenerateConfig,
    rng: np.random.Generator,
    prefix: str = "",
    calculator: Calculator | None = None,
    charges: Mapping[str, float] | None = None,
) -> list[Atoms]:
    """Strained + rattled supercells at each rattle temperature, vacancies, antisites, surfaces, and (with the
    surrogate) strained cells with relaxed ions. ``charges``: oxidation states of an ionic crystal, whose antisites
    only swap like-charged ions and whose polar slabs are left out (``perturb``)."""
    cell = perturb.supercell_for(base, cfg.target_atoms)
    frames = _tag([cell.copy()], f"{prefix}ideal")
    for temperature in cfg.rattle_temperatures:
        amplitude = perturb.rattle_amplitude(temperature)
        for _ in range(cfg.strained_per_temperature):
            strained = perturb.random_strain(cell, rng, cfg.max_volumetric_strain, cfg.max_shear_strain)
            frames += _tag([perturb.rattle(strained, rng, amplitude)], f"{prefix}strain_rattle")
    low = perturb.rattle_amplitude(min(cfg.rattle_temperatures))
    for _ in range(cfg.vacancies):
        frames += _tag([perturb.rattle(perturb.with_vacancy(cell, rng), rng, low)], f"{prefix}vacancy")
    for _ in range(cfg.antisites):
        swapped = perturb.with_antisite(cell, rng, charges)
        if swapped is not None:
            frames += _tag([perturb.rattle(swapped, rng, low)], f"{prefix}antisite")
    if cfg.surfaces:
        for miller, slab in perturb.low_index_surfaces(base, cfg.surface_layers, charges=charges):
            if len(slab) <= 4 * cfg.target_atoms:
                frames += _tag([perturb.rattle(slab, rng, low)], f"{prefix}surface_{miller}")
    if calculator is not None:
        frames += relaxed_strained_crystals(cell, cfg, rng, calculator, prefix)
    return frames


def alloy_structures(
    amounts: dict[str, float], primitive: Atoms, cfg: GenerateConfig, rng: np.random.Generator, seed: int
) -> list[Atoms]:
    """SQS cells over sizes and compositions around the target, each then perturbed like a crystal."""
    frames = []
    for size in cfg.sqs_sizes:
        for shift in cfg.sqs_concentration_shifts:
            target = concentrations_for(amounts, size, shift)
            if target is None:
                continue
            sqs = make_sqs(primitive, target, size, seed, cfg.sqs_annealing_steps)
            frames += _tag([sqs.copy()], "sqs")
            sub = cfg.model_copy(
                update={
                    "target_atoms": len(sqs),
                    "surfaces": False,
                    "strained_per_temperature": max(1, cfg.strained_per_temperature // 2),
                    "relaxed_strained": min(1, cfg.relaxed_strained),
                }
            )
            frames += perturbed_crystals(sqs, sub, rng, prefix="sqs_")
    if cfg.surfaces:
        for miller, slab in perturb.low_index_surfaces(
            _random_occupation(primitive, amounts, cfg.target_atoms, rng), cfg.surface_layers
        ):
            frames += _tag([slab], f"surface_{miller}")
    return frames


def _random_occupation(primitive: Atoms, amounts: dict[str, float], target_atoms: int, rng: np.random.Generator) -> Atoms:
    cell = perturb.supercell_for(primitive, min(target_atoms, 8))
    elements = sorted(amounts)
    weights = np.array([amounts[el] for el in elements], dtype=float)
    cell.set_chemical_symbols(list(rng.choice(elements, size=len(cell), p=weights / weights.sum())))
    return cell


def molecule_structures(
    bonding: BondingAnalysis, cfg: GenerateConfig, calculator: Calculator | None, rng: np.random.Generator
) -> list[Atoms]:
    """Normal-mode samples of the molecule at each temperature (needs a calculator for the Hessian)."""
    if bonding.molecule is None:
        return []
    molecule = build_molecule(bonding.molecule)
    molecule.center(vacuum=clusters.VACUUM)
    molecule.pbc = False
    if calculator is None:
        logger.warning("no calculator for normal modes: only the equilibrium molecule is generated")
        return _tag([molecule], "molecule")
    relaxed = relax_molecule(molecule, calculator)
    relaxed.center(vacuum=clusters.VACUUM)
    relaxed.pbc = False
    hessian = finite_difference_hessian(relaxed, calculator)
    frames = _tag([relaxed.copy()], "molecule")
    for temperature in cfg.rattle_temperatures:
        frames += _tag(sample_normal_modes(relaxed, hessian, temperature, cfg.nms_samples_per_temperature, rng), "normal_modes")
    return frames


def random_cells(amounts: dict[str, float], cfg: GenerateConfig, rng: np.random.Generator) -> list[Atoms]:
    counts, units = formula_units_for(amounts, cfg.target_atoms)
    # 15% above the sum of the elemental volumes: random packings are less dense than crystals
    volume = 1.15 * packing_volume({el: float(n) for el, n in counts.items()})
    frames = []
    for _ in range(cfg.random_cells):
        atoms = random_packed_cell(counts, volume, rng, min_factor=0.7)
        if atoms is not None:
            frames.append(atoms)
    return _tag(frames, "random_packing")


def seeded_crystals(
    ranking: Ranking,
    cfg: GenerateConfig,
    rng: np.random.Generator,
    prefix: str = "",
    calculator: Calculator | None = None,
    charges: Mapping[str, float] | None = None,
) -> list[Atoms]:
    """The lowest-energy candidate perturbed in full; the other distinct ones within the window lightly (ideal and
    strained/rattled cells: their defects and surfaces matter less than the ground state's). Each frame names its seed."""
    seeds = ranking.seeds(cfg.prototype_window_ev_per_atom)
    light = cfg.model_copy(
        update={
            "vacancies": 0,
            "antisites": 0,
            "surfaces": False,
            "strained_per_temperature": max(1, cfg.strained_per_temperature // 2),
            "relaxed_strained": min(1, cfg.relaxed_strained),
        }
    )
    frames: list[Atoms] = []
    for k, seed in enumerate(seeds):
        why = ranking.why(seed)
        logger.info("seed %d: %s", k, why)
        for atoms in perturbed_crystals(seed.atoms, cfg if k == 0 else light, rng, prefix, calculator, charges):
            atoms.info.update(prototype=seed.label, prototype_energy_ev_per_atom=round(seed.energy_per_atom, 5), why=why)
            frames.append(atoms)
    return frames


def _rank(
    amounts: dict[str, float], bonding: BondingAnalysis, cfg: GenerateConfig, calculator: Calculator, seed: int
) -> Ranking | None:
    ranking = rank_candidates(amounts, bonding, calculator, random_cells=cfg.search_random_cells, seed=seed)
    logger.info("ranked %d candidate crystals in %.1f s: %s", len(ranking.ranked), ranking.wall_time_s, ranking.table())
    return ranking if ranking.ranked else None


def generate_structures(
    composition: str,
    seed: int,
    system: SystemConfig,
    cfg: GenerateConfig,
    calculator_factory: Callable[[], Calculator] | None = None,
) -> GenerationResult:
    """All starting structures for a composition (reproducible for a given seed and surrogate).

    ``calculator_factory`` makes the surrogate, called only when a molecule needs normal modes or candidate
    crystals are to be relaxed and ranked; without it molecules keep their reference geometry and crystals
    the radius-ratio prototype.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    amounts = parse_composition(composition)
    elements = sorted(amounts)
    bonding = analyse_bonding(amounts)
    if system.bonding_type != bonding.bonding_type:
        bonding = BondingAnalysis(
            system.bonding_type, "set by the user", molecule=bonding.molecule, oxidation_states=bonding.oxidation_states
        )
    prototype = choose_prototype(amounts, bonding)
    charges = bonding.oxidation_states if bonding.bonding_type == "ionic" else None  # see perturbed_crystals
    frames: list[Atoms] = []
    molecular = bonding.bonding_type == "molecular"
    is_alloy = bonding.bonding_type == "metallic" and len(amounts) > 1
    rank = cfg.relax_prototype and not molecular  # molecules and rare gases never go through crystal ranking
    needs_calculator = (
        (molecular and bonding.molecule) or rank or (prototype is not None and not is_alloy and cfg.relax_prototype)
    )
    calculator = calculator_factory() if calculator_factory and needs_calculator else None
    ranking = _rank(amounts, bonding, cfg, calculator, seed) if rank and calculator is not None else None
    if molecular:
        frames += molecule_structures(bonding, cfg, calculator, rng)
    if prototype is not None and is_alloy:
        frames += alloy_structures(amounts, prototype.atoms, cfg, rng, seed)
        if ranking is not None:  # ordered compounds of the alloy (L1_0, L1_2, B2, ...): seeds beside the SQS cells
            frames += seeded_crystals(ranking, cfg, rng, prefix="ordered_", calculator=calculator)
    elif ranking is not None:
        frames += seeded_crystals(ranking, cfg, rng, calculator=calculator, charges=charges)
    elif prototype is not None:
        base = relax_cell(prototype.atoms, calculator) if calculator is not None and cfg.relax_prototype else prototype.atoms
        frames += perturbed_crystals(base, cfg, rng, calculator=calculator if cfg.relax_prototype else None, charges=charges)
    if not molecular and not is_alloy and (prototype is None if ranking is None else not candidates_for(amounts, bonding)):
        frames += random_cells(amounts, cfg, rng)
    scan_frames = clusters.dimer_scan(elements, cfg.dimer_points, cfg.min_distance_factor, cfg.scan_max_factor)
    scan_frames += clusters.trimer_scan(elements, cfg.trimer_points, max(cfg.min_distance_factor, 0.7), cfg.scan_max_factor * 0.8)
    frames += scan_frames + clusters.isolated_atoms(elements)

    by_origin_before = Counter(a.info["origin"] for a in frames)
    kept, _ = keep_physical(frames, cfg.min_distance_factor)
    unique: dict[str, Atoms] = {}
    for atoms in kept:
        unique.setdefault(structure_id(atoms), atoms)
    result = list(unique.values())
    counts = Counter(a.info["origin"] for a in result)
    kept_counts = Counter(a.info["origin"] for a in kept)
    dropped = {origin: n - kept_counts.get(origin, 0) for origin, n in by_origin_before.items() if n - kept_counts.get(origin, 0)}
    return GenerationResult(
        frames=result,
        counts=dict(sorted(counts.items())),
        dropped=dropped,
        duplicates=len(kept) - len(result),
        wall_time_s=time.perf_counter() - start,
        ranking=ranking,
    )


START_ORIGINS = ("ideal", "sqs", "molecule", "random_packing", "sqs_ideal", "strain_rattle", "sqs_strain_rattle")


def exploration_starts(frames: list[Atoms], count: int) -> list[Atoms]:
    """``count`` start structures for surrogate MD: bulk-like cells first (prototype, SQS, molecule), cycled if few."""
    ranked = [a for origin in START_ORIGINS for a in frames if a.info.get("origin") == origin]
    if not ranked:
        ranked = [a for a in frames if a.info.get("origin") not in ("dimer", "trimer", "isolated_atom")] or list(frames)
    return [ranked[k % len(ranked)].copy() for k in range(count)]
