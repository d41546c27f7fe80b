"""A fresh validation set: structures the loop never saw, labelled by DFT, and the potential's errors on them.

Why fresh: the loop's own test split was drawn from the same generators and selected by the same committee,
so its errors flatter the potential. This set is drawn independently (its own seed, derived from the run's
seed and the word "validation"), from the crystal grown to ``set_cell_atoms`` atoms: per target temperature
thermally displaced crystals ("rattled") and strained ones (a random symmetric strain of a few percent plus the
thermal displacements), snapshots of committee MD above the highest temperature, and one surface slab (a molecule: rattled copies of its reference geometry at each temperature and MD snapshots in
vacuum). Thermal displacements are the harmonic ones of the cell (``structures.thermal``: normal modes of the
force constants of a ``thermal_calculator``, the run's exploration surrogate), so the set holds configurations
the material visits at each temperature; without that calculator, independent rattles of one amplitude for every
material (``structures.perturb.rattle_amplitude``), which at 1100 K put Si 0.25 eV/atom above the crystal, twice
what heat does. Every structure gets its own seed from (set seed, origin, index, attempt), so dropping
one (a training id, a close contact) never changes another, and the set is the same on every rerun.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator, PropertyNotImplementedError
from ase.calculators.singlepoint import SinglePointCalculator

from mlip_autopipec.config.models import ValidationConfig
from mlip_autopipec.data.ids import structure_id
from mlip_autopipec.data.records import ErrorStats, ValidationRow
from mlip_autopipec.data.seeds import job_seed
from mlip_autopipec.exploration.explore import initial_velocities, make_dynamics
from mlip_autopipec.potentials.metrics import Predictions, error_metrics, parity_plot, predict
from mlip_autopipec.structures.filters import min_distance_ratio
from mlip_autopipec.structures.perturb import low_index_surfaces, random_strain, rattle_amplitude, supercell_for
from mlip_autopipec.structures.thermal import thermal_displacer
from mlip_autopipec.validation.dft_reference import DftLabelFailed
from mlip_autopipec.validation.table import metric

logger = logging.getLogger(__name__)

GROUP = "validation set"
MIN_DISTANCE_FACTOR = 0.7  # reject pairs closer than this x the sum of covalent radii
MAX_STRAIN = 0.03  # largest volumetric and shear strain of the strained crystals (fraction)
MD_TEMPERATURE_FACTOR = 1.2  # MD snapshots at this x the highest target temperature: a little beyond the loop
MD_INTERVAL_STEPS = 200  # steps between MD snapshots (decorrelated at ~1 fs steps)
MD_EQUILIBRATION_STEPS = 200  # steps before the first snapshot
MD_FRICTION_PER_FS = 0.01  # Langevin friction (1/fs)
MAX_ATTEMPTS = 20  # redraws of one structure rejected for a close contact


def _plain(atoms: Atoms, origin: str, temperature: float | None) -> Atoms:
    """A calculator-free copy, wrapped into its cell, with the set's metadata."""
    frame = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    if frame.pbc.any():
        frame.wrap()
    frame.info["origin"] = origin
    if temperature is not None:
        frame.info["temperature"] = float(temperature)
    return frame


def _physical(atoms: Atoms) -> bool:
    return min_distance_ratio(atoms) >= MIN_DISTANCE_FACTOR - 1e-9


def _draw(make: Callable[[np.random.Generator], Atoms], set_seed: int, origin: str, index: int) -> Atoms | None:
    """The first physical structure that ``make(rng)`` gives for this slot (None after MAX_ATTEMPTS)."""
    for attempt in range(MAX_ATTEMPTS):
        rng = np.random.default_rng(job_seed(set_seed, origin, index, attempt))
        atoms = make(rng)
        if _physical(atoms):
            return atoms
    logger.warning("validation set: no physical %s structure %d after %d attempts", origin, index, MAX_ATTEMPTS)
    return None


def _label(temperature: float) -> str:
    return f"{temperature:g}K"


def _md_snapshots(
    cell: Atoms, temperature: float, count: int, calculator: BaseCalculator, set_seed: int, timestep_fs: float
) -> list[Atoms]:
    """``count`` Langevin snapshots ``MD_INTERVAL_STEPS`` apart; a snapshot with a close contact is skipped."""
    origin = f"validation_md_{_label(temperature)}"
    velocity_rng, thermostat_rng = (
        np.random.default_rng(job_seed(set_seed, origin, part)) for part in ("velocities", "thermostat")
    )
    work = cell.copy()
    work.calc = calculator
    initial_velocities(work, temperature, velocity_rng)
    dyn = make_dynamics(work, "nvt", temperature, 0.0, timestep_fs, MD_FRICTION_PER_FS, 100.0, 1000.0, thermostat_rng)
    frames: list[Atoms] = []
    for index in range(count):
        try:
            dyn.run(MD_INTERVAL_STEPS if index else MD_EQUILIBRATION_STEPS)
        except Exception as error:  # the committee drove atoms where it cannot evaluate: keep what came before
            logger.warning(
                "validation set: MD at %s failed (%s: %s); %d snapshots", _label(temperature), type(error).__name__, error, index
            )
            break
        frame = _plain(work, origin, temperature)
        frame.info["md_step"] = MD_EQUILIBRATION_STEPS + index * MD_INTERVAL_STEPS
        if _physical(frame):
            frames.append(frame)
        else:
            logger.warning("validation set: MD snapshot %d at %s has a close contact; skipped", index, _label(temperature))
    return frames


def _surface(
    crystal: Atoms,
    cfg: ValidationConfig,
    set_seed: int,
    temperature: float,
    charges: Mapping[str, float] | None,
    thermal_calculator: BaseCalculator | None,
) -> Atoms | None:
    """The (100) slab of the crystal (else its (111), else its (110)), about ``set_cell_atoms`` atoms thick, displaced
    thermally; for an ionic crystal (``charges``) a non-polar one where a low-index cut is (``perturb.low_index_surfaces``)."""
    layers = max(3, int(round(cfg.set_cell_atoms / len(crystal))))
    slabs = dict(low_index_surfaces(crystal, layers=layers, charges=charges))
    slab = next((slabs[miller] for miller in ("100", "111", "110") if miller in slabs), None)
    if slab is None:
        return None
    displace, sampling = thermal_displacer(slab, thermal_calculator, rattle_amplitude)
    made = _draw(lambda rng: _displaced(slab, displace(rng, temperature)), set_seed, "validation_surface", 0)
    if made is None:
        return None
    frame = _plain(made, "validation_surface", temperature)
    frame.info["displacements"] = sampling
    return frame


def _displaced(atoms: Atoms, displacements: np.ndarray) -> Atoms:
    moved = atoms.copy()
    moved.positions += displacements
    return moved


def draw_validation_set(
    crystal: Atoms,
    temperatures: Sequence[float],
    cfg: ValidationConfig,
    seed: int,
    md_calculator: BaseCalculator | None,
    exclude_ids: Iterable[str] = (),
    timestep_fs: float = 1.0,
    charges: Mapping[str, float] | None = None,
    thermal_calculator: BaseCalculator | None = None,
) -> list[Atoms]:
    """The fresh validation set (plain ``Atoms``, ``info['origin']`` and ``info['temperature']`` set).

    ``seed``: the run's seed (the set's own is derived from it); ``md_calculator``: the committee that runs the
    MD snapshots (None: no snapshots); ``exclude_ids``: content ids of every structure the loop trained or
    tested on, dropped from the set; ``timestep_fs``: MD timestep; ``charges``: oxidation states of an ionic crystal
    (its surface is then a non-polar cut); ``thermal_calculator``: whose force constants shape the thermal
    displacements of crystals and slab (``structures.thermal``; None: independent rattles). Structures with a pair
    closer than 0.7 x the sum of covalent radii are redrawn (an MD snapshot is dropped).
    """
    if not temperatures:
        raise ValueError("the validation set needs at least one target temperature")
    set_seed = job_seed(seed, "validation")
    molecule = not crystal.pbc.any()  # a molecule in vacuum: rattled copies and MD snapshots, no strain, no surface
    cell = crystal if molecule else supercell_for(crystal, cfg.set_cell_atoms)
    n_rattled = cfg.set_per_temperature if molecule else (cfg.set_per_temperature + 1) // 2
    n_strained = cfg.set_per_temperature - n_rattled
    # a molecule in vacuum keeps its independent rattles (its free rotations are no harmonic modes)
    displace, sampling = thermal_displacer(cell, None if molecule else thermal_calculator, rattle_amplitude)
    drawn: list[Atoms | None] = []
    for temperature in temperatures:
        label = _label(float(temperature))

        def rattled(rng: np.random.Generator, t: float = float(temperature)) -> Atoms:
            return _displaced(cell, displace(rng, t))

        def strained(rng: np.random.Generator, t: float = float(temperature)) -> Atoms:
            deformed = random_strain(cell, rng, MAX_STRAIN, MAX_STRAIN)
            return _displaced(deformed, displace(rng, t))

        for kind, make, count in (("rattled", rattled, n_rattled), ("strained", strained, n_strained)):
            origin = f"validation_{kind}_{label}"
            for index in range(count):
                made = _draw(make, set_seed, origin, index)
                if made is not None:
                    made = _plain(made, origin, temperature)
                    made.info["displacements"] = sampling
                drawn.append(made)
    hottest = MD_TEMPERATURE_FACTOR * float(max(temperatures))
    if md_calculator is not None and cfg.set_md_snapshots > 0:
        drawn += _md_snapshots(cell, hottest, cfg.set_md_snapshots, md_calculator, set_seed, timestep_fs)
    if not molecule:
        drawn.append(_surface(crystal, cfg, set_seed, float(min(temperatures)), charges, thermal_calculator))
    excluded = set(exclude_ids)
    kept = []
    for atoms in drawn:
        if atoms is None:
            continue
        sid = structure_id(atoms)
        if sid in excluded:
            logger.warning("validation set: %s (%s) is a training structure; dropped", sid, atoms.info["origin"])
            continue
        atoms.info["structure_id"] = sid
        kept.append(atoms)
    logger.info("validation set: %d structures (seed %d)", len(kept), set_seed)
    return kept


@dataclass(frozen=True)
class SetErrors:
    """The potential's errors against DFT on the validation set, overall and per origin, with the predictions.

    Energies in eV/atom, forces in eV/A per Cartesian component, stress in eV/A^3 and GPa (``ErrorStats``).
    """

    overall: ErrorStats
    by_origin: dict[str, ErrorStats]
    predictions: dict[str, Predictions]  # per origin: DFT and potential energies (eV/atom), forces (eV/A), stress
    labelled: tuple[Atoms, ...]  # the structures with their DFT labels attached (SinglePointCalculator)
    failed_ids: tuple[str, ...] = field(default=())  # structures whose DFT label failed (left out)

    @property
    def n_failed(self) -> int:
        return len(self.failed_ids)

    @property
    def n_stress(self) -> int:
        """Structures the stress RMSE rests on (periodic, with a stress on both sides)."""
        return sum(len(p.stress_ref) for p in self.predictions.values())


def _reference_label(atoms: Atoms, reference: BaseCalculator) -> Atoms:
    """A copy of ``atoms`` carrying the reference's energy, forces and (periodic cells) stress."""
    work = atoms.copy()
    work.calc = reference
    energy = float(work.get_potential_energy())
    forces = np.array(work.get_forces(), dtype=float)
    stress = None
    if work.pbc.all() and work.cell.rank == 3:
        try:
            stress = np.array(work.get_stress(), dtype=float)
        except PropertyNotImplementedError:
            stress = None
    labelled = atoms.copy()
    labelled.calc = SinglePointCalculator(labelled, energy=energy, free_energy=energy, forces=forces, stress=stress)
    return labelled


def merged(predictions: Iterable[Predictions]) -> Predictions:
    """One ``Predictions`` of several sets (the overall errors from the per-origin ones)."""
    out = Predictions()
    for part in predictions:
        for name in ("energy_ref", "energy_pred", "forces_ref", "forces_pred", "stress_ref", "stress_pred"):
            getattr(out, name).extend(getattr(part, name))
    return out


def labelled_errors(structures: Sequence[Atoms], potential: BaseCalculator, reference: BaseCalculator) -> SetErrors:
    """Label every structure with ``reference`` (DFT: ``LabelledDft``), predict with ``potential``, and compare.

    A structure whose DFT label failed (``DftLabelFailed``) is left out and counted; any other error (a missing
    program, a broken file system) propagates. Raises when no structure could be labelled.
    """
    labelled: list[Atoms] = []
    failed: list[str] = []
    for atoms in structures:
        try:
            labelled.append(_reference_label(atoms, reference))
        except DftLabelFailed as error:
            logger.warning("validation set: %s", error)
            failed.append(str(atoms.info.get("structure_id", structure_id(atoms))))
    if not labelled:
        raise DftLabelFailed(f"no structure of the validation set could be labelled ({len(failed)} failed)")
    groups: dict[str, list[Atoms]] = {}
    for atoms in labelled:
        groups.setdefault(str(atoms.info.get("origin", "unknown")), []).append(atoms)
    by_origin = {origin: predict(potential, group) for origin, group in sorted(groups.items())}
    return SetErrors(
        overall=error_metrics(merged(by_origin.values())),
        by_origin={origin: error_metrics(p) for origin, p in by_origin.items()},
        predictions=by_origin,
        labelled=tuple(labelled),
        failed_ids=tuple(failed),
    )


def _sizes(stats: ErrorStats) -> str:
    return f"{stats.n_structures} structures, {stats.n_atoms} atoms"


def set_rows(errors: SetErrors, cfg: ValidationConfig) -> list[ValidationRow]:
    """Force RMSE and energy RMSE (judged), stress RMSE and per-origin force RMSE (info), DFT failures (info)."""
    overall = errors.overall
    assert overall.force_rmse is not None and overall.energy_rmse_per_atom is not None  # labelled_errors had structures
    fresh = f"{_sizes(overall)} the loop never saw"
    rows = [
        metric(
            GROUP,
            "force RMSE",
            "eV/A",
            overall.force_rmse,
            cfg.force_rmse_tolerance,
            n_samples=overall.n_atoms,
            note=f"per Cartesian component; {fresh}; n_samples: atoms",
        ),
        metric(
            GROUP,
            "energy RMSE",
            "eV/atom",
            overall.energy_rmse_per_atom,
            cfg.energy_rmse_tolerance,
            n_samples=overall.n_structures,
            note=f"{fresh}; n_samples: structures",
        ),
    ]
    if overall.stress_rmse_gpa is not None:
        rows.append(
            metric(
                GROUP,
                "stress RMSE",
                "GPa",
                overall.stress_rmse_gpa,
                None,
                n_samples=errors.n_stress,
                note="per Voigt component, periodic structures; n_samples: structures",
            )
        )
    for origin, stats in errors.by_origin.items():
        assert stats.force_rmse is not None
        rows.append(
            metric(
                GROUP,
                f"force RMSE ({origin})",
                "eV/A",
                stats.force_rmse,
                None,
                n_samples=stats.n_atoms,
                note=f"{_sizes(stats)}; energy RMSE {1e3 * (stats.energy_rmse_per_atom or 0.0):.1f} meV/atom",
            )
        )
    if errors.n_failed:
        rows.append(
            metric(
                GROUP,
                "DFT labels failed",
                "structures",
                float(errors.n_failed),
                None,
                n_samples=errors.n_failed + overall.n_structures,
                note="left out of the errors: " + ", ".join(errors.failed_ids),
            )
        )
    return rows


def _kind(origin: str) -> str:
    """``validation_rattled_300K`` -> ``rattled``: one colour per kind of structure in the parity plot."""
    parts = origin.removeprefix("validation_").split("_")
    return parts[0] if parts else origin


def set_parity_plot(errors: SetErrors, path: str | Path, title: str = "fresh validation set") -> Path:
    """Energy and force parity (DFT vs potential), one colour per kind (rattled, strained, md, surface)."""
    kinds: dict[str, list[Predictions]] = {}
    for origin, predictions in errors.predictions.items():
        kinds.setdefault(_kind(origin), []).append(predictions)
    by_kind: Mapping[str, Predictions] = {kind: merged(parts) for kind, parts in kinds.items()}
    return parity_plot(by_kind, path, title=title)
