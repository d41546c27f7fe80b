"""The checks of a validation, each as (rows, figures): the property modules called on both sides.

Why a module of its own: the property modules know nothing of committees, configs or output folders, and
``validate`` knows nothing of properties; these few functions connect them (which calculator, which cell, which
figure file) in the order of the table. Each side works at its own equilibrium: elastic constants, phonons and
defects are computed at the volume that side's equation of state finds, a molecule's vibrations at the geometry
that side relaxes to, an alloy's antisite in the ordered cell at that side's volume.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ase import Atoms

from mlip_autopipec.data.records import ValidationRow
from mlip_autopipec.structures.composition import parse_composition
from mlip_autopipec.validation.alloys import AlloyCell, AlloyResult, alloy_cells, alloy_energies, alloy_rows
from mlip_autopipec.validation.bond_stretch import plot_stretch, stretch_curve, stretch_rows, stretched_bond
from mlip_autopipec.validation.calibration import calibration_plot, calibration_rows, spread_calibration
from mlip_autopipec.validation.defects import defect_rows, point_defects
from mlip_autopipec.validation.elastic import elastic_constants, elastic_rows
from mlip_autopipec.validation.eos import EosResult, eos_rows, equation_of_state, plot_eos
from mlip_autopipec.validation.fresh_set import draw_validation_set, labelled_errors, set_parity_plot, set_rows
from mlip_autopipec.validation.molecule_dimer import dimer_curve, dimer_rows, plot_dimer
from mlip_autopipec.validation.molecule_stability import (
    bond_stretch_histogram,
    molecule_stability_rows,
    run_molecule_stability,
)
from mlip_autopipec.validation.molecules import MoleculeGeometry, geometry_rows, relaxed_molecule, validation_molecule
from mlip_autopipec.validation.phonons import phonon_bands, phonon_rows, plot_phonons
from mlip_autopipec.validation.stability import rdf_plot, run_stability, stability_rows
from mlip_autopipec.validation.table import metric
from mlip_autopipec.validation.vibrations import frequency_rows, harmonic_frequencies, plot_frequencies

if TYPE_CHECKING:
    from ase.calculators.calculator import Calculator

    from mlip_autopipec.validation.validate import _Validation

Figures = dict[str, str]


def _equations_of_state(v: _Validation, crystal: Atoms) -> tuple[EosResult, EosResult]:
    """Both sides' E-V curves, computed once per validation and shared by the checks that need V0."""
    if v.eos_error is not None:
        raise v.eos_error  # a failed DFT curve is reported by every check that needs it, but computed only once
    if v.eos is None:
        try:
            v.eos = (equation_of_state(crystal, v.potential, v.cfg), equation_of_state(crystal, v.crystal_dft, v.cfg))
        except Exception as error:
            v.eos_error = error
            raise
    return v.eos


def equation_of_state_check(v: _Validation, crystal: Atoms) -> tuple[list[ValidationRow], Figures]:
    potential, dft = _equations_of_state(v, crystal)
    return eos_rows(potential, dft, v.cfg), {"equation_of_state": v.relative(plot_eos(potential, dft, v.figure("eos")))}


def elastic_check(v: _Validation, crystal: Atoms) -> tuple[list[ValidationRow], Figures]:
    eos_potential, eos_dft = _equations_of_state(v, crystal)
    potential = elastic_constants(crystal, v.potential, v.cfg, eos=eos_potential)
    dft = elastic_constants(crystal, v.crystal_dft, v.cfg, eos=eos_dft)
    return elastic_rows(potential, dft, v.cfg), {}


def phonon_check(v: _Validation, crystal: Atoms) -> tuple[list[ValidationRow], Figures]:
    eos_potential, eos_dft = _equations_of_state(v, crystal)
    supercell = tuple(v.cfg.phonon_supercell)
    dft = phonon_bands(eos_dft.at_equilibrium(crystal), v.crystal_dft, supercell=supercell)
    potential = phonon_bands(eos_potential.at_equilibrium(crystal), v.potential, supercell=supercell, path=dft.path)
    figure = plot_phonons(potential, dft, v.figure("phonons"))
    return phonon_rows(potential, dft, v.cfg), {"phonons": v.relative(figure)}


def defect_check(v: _Validation, crystal: Atoms) -> tuple[list[ValidationRow], Figures]:
    """Point defects; an ionic crystal's (``v.crystal.oxidation_states``) with its Schottky defect."""
    eos_potential, eos_dft = _equations_of_state(v, crystal)
    charges = v.crystal.oxidation_states if v.crystal.subset == "ionic" else None
    potential = point_defects(crystal, v.potential, v.cfg, eos=eos_potential, charges=charges)
    dft = point_defects(crystal, v.crystal_dft, v.cfg, eos=eos_dft, charges=charges)
    return defect_rows(potential, dft, v.cfg), {}


def _molecules(v: _Validation) -> tuple[MoleculeGeometry, MoleculeGeometry]:
    """Both sides' relaxed molecule (potential, DFT), computed once and shared by the molecule checks."""
    name = v.crystal.molecule
    if name is None:
        raise ValueError("no molecule to validate")
    molecule = validation_molecule(name, v.cfg.molecule_vacuum)
    return v.shared("molecule", lambda: (relaxed_molecule(molecule, v.potential), relaxed_molecule(molecule, v.dft)))


def molecule_geometry_check(v: _Validation) -> tuple[list[ValidationRow], Figures]:
    potential, dft = _molecules(v)
    return geometry_rows(potential, dft, v.cfg), {}


def vibration_check(v: _Validation) -> tuple[list[ValidationRow], Figures]:
    """Harmonic frequencies, each side at its own relaxed geometry."""
    potential, dft = _molecules(v)
    theirs = harmonic_frequencies(dft.atoms, v.dft)
    mine = harmonic_frequencies(potential.atoms, v.potential)
    figure = plot_frequencies(mine, theirs, v.figure("vibrations"))
    return frequency_rows(mine, theirs, v.cfg), {"vibrations": v.relative(figure)}


def bond_stretch_check(v: _Validation) -> tuple[list[ValidationRow], Figures]:
    """One bond of DFT's relaxed molecule stretched, the same structures on both sides."""
    _, dft = _molecules(v)
    bond = stretched_bond(dft.atoms)
    theirs = stretch_curve(dft.atoms, v.dft, v.cfg, bond)
    mine = stretch_curve(dft.atoms, v.potential, v.cfg, bond)
    figure = plot_stretch(mine, theirs, v.figure("bond_stretch"))
    return stretch_rows(mine, theirs, v.cfg), {"bond_stretch": v.relative(figure)}


def molecule_dimer_check(v: _Validation) -> tuple[list[ValidationRow], Figures]:
    """Two of DFT's relaxed molecules brought together, the same structures on both sides."""
    _, dft = _molecules(v)
    theirs = dimer_curve(dft.atoms, v.dft, v.cfg)
    mine = dimer_curve(dft.atoms, v.potential, v.cfg)
    figure = plot_dimer(mine, theirs, v.figure("molecule_dimer"))
    return dimer_rows(mine, theirs, v.cfg), {"molecule_dimer": v.relative(figure)}


def _alloy_cells(v: _Validation) -> tuple[list[AlloyCell], list[AlloyCell]]:
    """The pure elements and the alloy's cells, built once (icet's SQS search) for every check that needs them."""
    return v.shared("alloy cells", lambda: alloy_cells(parse_composition(v.setup.composition), v.cfg, v.setup.seed))


def _alloys(v: _Validation) -> tuple[AlloyResult, AlloyResult]:
    """Both sides' alloy energetics (potential, DFT), computed once and shared by the alloy checks."""

    def compute() -> tuple[AlloyResult, AlloyResult]:
        references, cells = _alloy_cells(v)
        potential = alloy_energies(references, cells, lambda _: v.potential, v.cfg)
        return potential, alloy_energies(references, cells, v.cell_dft, v.cfg)

    return v.shared("alloy", compute)


def alloy_energy_check(v: _Validation) -> tuple[list[ValidationRow], Figures]:
    potential, dft = _alloys(v)
    return alloy_rows(potential, dft, v.cfg), {}


def alloy_antisite_check(v: _Validation) -> tuple[list[ValidationRow], Figures]:
    """The antisite of the ordered compound, each side at its own volume of it."""
    potential, dft = _alloys(v)
    mine, theirs = potential.cell("ordered"), dft.cell("ordered")
    if mine is None or theirs is None:
        why = "no classic ordered compound (L1_0, L1_2, B2) for this composition and parent lattice"
        return [metric("point defects", "antisite: not applicable", "-", 0.0, None, note=why)], {}
    ours = point_defects(mine.cell.atoms, v.potential, v.cfg, eos=mine.eos)  # each side at its own c/a and volume
    reference = point_defects(theirs.cell.atoms, v.cell_dft(theirs.cell.atoms), v.cfg, eos=theirs.eos)
    return defect_rows(ours, reference, v.cfg), {}


def _bulk(v: _Validation) -> Atoms | None:
    """The cell the fresh set and the stability runs grow from: the crystal, or for an alloy its SQS cell at the
    composition (the ordered compound where no SQS fits). Why: a random alloy has no primitive crystal, but its SQS
    stands for the disordered solid the potential is made for, and it is built without any DFT (icet, Vegard volume).
    A molecule: its reference geometry in vacuum (its fresh set, and its stability MD in vacuum)."""
    if v.crystal.atoms is not None:
        return v.crystal.atoms
    if v.crystal.subset == "molecule" and v.crystal.molecule is not None:
        return validation_molecule(v.crystal.molecule, v.cfg.molecule_vacuum)
    if v.crystal.subset != "alloy":
        return None

    def compute() -> Atoms:
        _, cells = _alloy_cells(v)
        chosen = next((cell for cell in cells if cell.kind == "sqs"), cells[0])
        atoms = chosen.atoms.copy()
        atoms.info["origin"] = f"validation_alloy_{chosen.kind}"
        return atoms

    return v.shared("alloy bulk cell", compute)


def fresh_set_check(v: _Validation) -> tuple[list[ValidationRow], Figures]:
    """The fresh validation set's errors, and on the same structures the calibration of the committee's spread
    (for a molecule: rattled copies and MD snapshots of the molecule in vacuum)."""
    crystal = _bulk(v)
    if crystal is None:
        return [metric("validation set", "not applicable", "-", 0.0, None, note=v.crystal.why)], {}
    setup = v.setup
    charges = v.crystal.oxidation_states if v.crystal.subset == "ionic" else None  # non-polar slabs (fresh_set)
    structures = draw_validation_set(
        crystal,
        setup.temperatures,
        v.cfg,
        setup.seed,
        v.potential,
        exclude_ids=v.seen_ids,
        timestep_fs=setup.timestep_fs,
        charges=charges,
        thermal_calculator=v.thermal_calculator() if crystal.pbc.any() else None,  # a molecule keeps its rattles
    )
    errors = labelled_errors(structures, v.potential, v.dft)
    calibration = spread_calibration(errors.labelled, v.potential, v.threshold, v.cfg.force_rmse_tolerance)
    figures = {
        "validation_set_parity": v.relative(set_parity_plot(errors, v.figure("validation_set_parity"))),
        "uncertainty_calibration": v.relative(calibration_plot(calibration, v.figure("uncertainty_calibration"))),
    }
    return set_rows(errors, v.cfg) + calibration_rows(calibration), figures


def stability_check(v: _Validation) -> tuple[list[ValidationRow], Figures]:
    """Production MD (one member, no committee) at every target temperature."""
    crystal = _bulk(v)
    if crystal is None:
        return [metric("stability", "not applicable", "-", 0.0, None, note=v.crystal.why)], {}
    member = v.production_member()
    if not crystal.pbc.any():  # a molecule: in vacuum, from the member's own relaxed geometry (no DFT needed)
        start = relaxed_molecule(crystal, cast("Calculator", member)).atoms
        molecular = run_molecule_stability(start, member, v.setup.temperatures, v.cfg, v.setup.timestep_fs, v.setup.seed)
        figure = bond_stretch_histogram(molecular, v.figure("stability_bonds"))
        return molecule_stability_rows(molecular, v.cfg.drift_tolerance), {"stability_bonds": v.relative(figure)}
    if v.eos is not None:  # at the potential's own equilibrium volume: a prototype a few % off would run under pressure
        crystal = v.eos[0].at_equilibrium(crystal)
    elif v.crystal.atoms is None:  # an alloy's SQS: at the member's own volume of it (a few evaluations, no DFT)
        crystal = equation_of_state(crystal, cast("Calculator", member), v.cfg).at_equilibrium(crystal)
    result = run_stability(crystal, member, v.setup.temperatures, v.cfg, v.setup.timestep_fs, v.setup.seed)
    rows = stability_rows(result, v.cfg.drift_tolerance)
    return rows, {"stability_rdf": v.relative(rdf_plot(result, v.figure("stability_rdf")))}
