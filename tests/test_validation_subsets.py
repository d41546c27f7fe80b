"""The validation subsets of molecules, alloys and ionic crystals, with real calculators.

Molecules: real pw.x (H2 in a small box, Gamma point, low cutoff) against a committee of two Morse members whose
mean is a Morse potential with known bond length, frequency and curve; EMT water for angles and for errors of
known size (an energy scale k multiplies every frequency by sqrt(k) and every curve energy by k). Alloys and ionic
defects: EMT on both sides (Cu/Au; a DFT alloy is too slow for a test, its DFT path is ``LabelledDft`` as in
every other check), against an independent relaxation with ASE's cell filter and hand-built defect cells.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, make_supercell
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.calculators.morse import MorsePotential
from ase.data import covalent_radii
from ase.filters import UnitCellFilter
from ase.optimize import BFGS
from ase.vibrations import Vibrations
from scipy import constants

from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.config.models import ValidationConfig
from mlip_autopipec.potentials.committee import CommitteeCalculator
from mlip_autopipec.structures.composition import parse_composition
from mlip_autopipec.validation import checks
from mlip_autopipec.validation.alloys import alloy_cells, alloy_energies, alloy_rows, is_tetragonal
from mlip_autopipec.validation.bond_stretch import stretch_curve, stretch_rows, stretched_bond
from mlip_autopipec.validation.crystal import ValidationCrystal, primitive_cell, validation_crystal
from mlip_autopipec.validation.defects import defect_rows, defect_supercell_matrix, point_defects, schottky_vacancies
from mlip_autopipec.validation.dft_reference import DftLabelFailed, LabelledDft
from mlip_autopipec.validation.eos import at_volume
from mlip_autopipec.validation.molecule_dimer import DIMER_FACTORS, dimer_at, dimer_curve, dimer_rows
from mlip_autopipec.validation.molecules import geometry_rows, relaxed_molecule, validation_molecule
from mlip_autopipec.validation.table import judge
from mlip_autopipec.validation.validate import _checks, _Validation
from mlip_autopipec.validation.vibrations import frequency_rows, harmonic_frequencies

PNG = b"\x89PNG\r\n\x1a\n"
H2_DFT = {"ecutwfc": 30.0, "ecutrho": 120.0}  # low for H (ONCV): the bond 0.01-0.02 A long, the stretch soft
H2_CFG = ValidationConfig(molecule_vacuum=2.5, stretch_points=5)  # a 5.3 x 5.3 x 6 A box: 2 s per pw.x run on 1 core
# Morse members for H2 (spectroscopic D_e = 4.75 eV, a = 1.94 1/A), near DFT's bond length: their mean is a Morse
# potential with the mean depth, so the committee's bond length is R0 and its frequency sqrt(2 D a^2 / mu).
R0, RHO0, DEPTHS = 0.76, 1.94 * 0.76, (4.5, 5.0)


class Scaled(Calculator):
    """``energy`` * another calculator's energy plus ``shift[element]`` per atom: exact, known errors."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, inner: Calculator, energy: float = 1.0, shift: dict[str, float] | None = None) -> None:
        super().__init__()
        self.inner, self.scale, self.shift = inner, energy, shift or {}

    def calculate(
        self, atoms: Atoms | None = None, properties: Sequence[str] = ("energy",), system_changes: Sequence[str] = all_changes
    ) -> None:
        super().calculate(atoms, list(properties), list(system_changes))
        assert self.atoms is not None
        work = self.atoms.copy()
        work.calc = self.inner
        energy = self.scale * work.get_potential_energy() + sum(self.shift.get(s, 0.0) for s in work.get_chemical_symbols())
        self.results = {"energy": energy, "free_energy": energy, "forces": self.scale * work.get_forces()}
        if work.pbc.all():
            self.results["stress"] = self.scale * work.get_stress()


class StandIn:
    """What the checks read of a validation (``validate._Validation``), with any calculators as the two sides;
    its shared results, figures and folder come from ``_Validation`` itself."""

    shared = _Validation.shared
    figure = _Validation.figure
    relative = _Validation.relative

    def __init__(
        self,
        crystal: ValidationCrystal,
        potential: Calculator,
        dft: Calculator,
        cfg: ValidationConfig,
        outdir: Path,
        **setup: Any,
    ) -> None:
        self.crystal, self.potential, self.dft, self.cfg, self.outdir = crystal, potential, dft, cfg, outdir
        self.setup = SimpleNamespace(seed=1, skip=[], **setup)
        self._shared: dict[str, Any] = {}

    def cell_dft(self, cell: Atoms) -> Calculator:
        return self.dft

    def thermal_calculator(self) -> Calculator:
        """The DFT side's calculator shapes the fresh set's thermal displacements (the run's surrogate in a real one)."""
        return self.dft

    def production_member(self) -> Calculator:
        """The first member of a ``CommitteeCalculator`` of plain calculators, else the potential itself."""
        members = getattr(self.potential, "members", None)
        return members[0] if members else self.potential


def by_quantity(rows: list) -> dict:
    return {row.quantity: row for row in rows}


def assert_marks_follow_tolerances(rows: list) -> None:
    for row in rows:
        judged = row.potential if row.compared == "value" else row.error if row.compared == "absolute" else row.relative_error
        assert row.mark == judge(judged, row.tolerance), row.quantity


# ------------------------------------------------------------------------------------------- which subset runs


def test_each_composition_gets_its_subset_of_checks(tmp_path: Path) -> None:
    expected = {
        "Si": ("crystal", ["equation of state", "elastic", "phonons", "defects"]),
        "NaCl": ("ionic", ["equation of state", "elastic", "phonons", "defects"]),
        "FePt": ("alloy", ["alloy energetics", "alloy antisite"]),
        "H2O": ("molecule", ["molecule geometry", "vibrations", "bond stretch", "molecule dimer"]),
    }
    for composition, (subset, groups) in expected.items():
        full = expand_config({"composition": composition})
        crystal = validation_crystal(composition, full.system.bonding_type, full.system.molecule)
        assert crystal.subset == subset
        v = StandIn(crystal, EMT(), EMT(), full.validation, tmp_path)
        assert [group for group, _ in _checks(v)] == [*groups, "validation set", "stability"]
    assert validation_crystal("NaCl").oxidation_states == {"Na": 1.0, "Cl": -1.0}
    assert validation_crystal("H2O").molecule == "H2O" and validation_crystal("CH4").subset == "molecule"
    assert validation_crystal("CO", molecule="CO").molecule == "CO"
    assert validation_crystal("SiC").subset == "crystal"  # covalent: the crystal checks with ordinary antisites
    assert validation_crystal("Ar").subset == "crystal"  # a rare-gas solid has a crystal: the crystal checks


def test_a_failed_shared_step_is_computed_once_and_reported_by_every_check(tmp_path: Path) -> None:
    class Refuses(EMT):
        calls = 0

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
            Refuses.calls += 1
            raise DftLabelFailed("DFT label of s0 failed: scf not converged")

    v = StandIn(validation_crystal("H2O"), EMT(), Refuses(), ValidationConfig(), tmp_path)
    for check in (checks.molecule_geometry_check, checks.vibration_check, checks.bond_stretch_check):
        with pytest.raises(DftLabelFailed):
            check(v)
    assert Refuses.calls == 1


# --------------------------------------------------------------------------------------------------- molecules


def morse_h2_frequency(depth: float) -> float:
    """cm^-1 of the Morse oscillator, in SI from scipy's constants: nu = sqrt(2 D a^2 / mu) / (2 pi c)."""
    k = 2 * depth * constants.e * (RHO0 / R0 * 1e10) ** 2  # N/m
    mu = 1.008 / 2 * constants.atomic_mass
    return float(np.sqrt(k / mu) / (2 * np.pi * constants.c * 100))


def morse_energy(r: np.ndarray, depth: float) -> np.ndarray:
    x = np.exp(RHO0 * (1 - r / R0))
    return depth * x * (x - 2)


@pytest.mark.dft
@pytest.mark.usefixtures("pw_available")
def test_h2_molecule_checks_against_pw(tmp_path: Path) -> None:
    full = expand_config(
        {"composition": "H2", "dft": H2_DFT, "label": {"mpi": {"ntasks": 1}, "cache_dir": str(tmp_path / "cache")}}
    )
    dft = LabelledDft(full.dft, full.label, tmp_path / "dft", ntasks=1)
    committee = CommitteeCalculator([MorsePotential(epsilon=d, r0=R0, rho0=RHO0) for d in DEPTHS])
    v = StandIn(validation_crystal("H2"), committee, dft, H2_CFG, tmp_path / "validation")
    rows: list = []
    figures: dict[str, str] = {}
    for group, check in _checks(v)[:3]:
        check_rows, check_figures = check()
        assert check_rows and {row.group for row in check_rows} == {group}
        rows += check_rows
        figures.update(check_figures)
    table = by_quantity(rows)
    assert_marks_follow_tolerances(rows)

    # geometry: DFT's PBE bond (0.75 A converged; 25 Ry stretches it a little), the committee's is R0
    bond = table["H-H bond length"]
    assert abs(bond.dft - 0.75) < 0.03
    assert bond.potential == pytest.approx(R0, abs=2e-4) and bond.tolerance == H2_CFG.bond_length_tolerance
    potential_geometry, dft_geometry = v._shared["molecule"]
    assert dft_geometry.relaxation.converged and dft_geometry.relaxation.steps >= 1
    assert not any("angle" in q for q in table)  # two atoms: no angle

    # vibrations: one mode; the committee's is the Morse frequency of the mean depth
    (mode,) = [row for row in rows if row.quantity.startswith("mode ")]
    assert 3800.0 < mode.dft < 4700.0  # PBE H2: about 4300 cm^-1 (experiment 4401)
    assert mode.potential == pytest.approx(morse_h2_frequency(np.mean(DEPTHS)), rel=2e-3)
    assert table["frequency RMSE"].potential == pytest.approx(abs(mode.potential - mode.dft), rel=1e-9)
    assert table["largest frequency error"].potential == pytest.approx(mode.potential - mode.dft, rel=1e-9)

    # stretch: the same five-plus-one structures on both sides, energies relative to DFT's bond length
    distances = np.linspace(*H2_CFG.stretch_range, H2_CFG.stretch_points)
    mine = stretch_curve(dft_geometry.atoms, committee, H2_CFG)
    theirs = stretch_curve(dft_geometry.atoms, dft, H2_CFG)
    assert len(mine.distances) == H2_CFG.stretch_points + 1  # 1.0 added
    assert np.allclose(mine.distances[[0, -1]], distances[[0, -1]] * bond.dft)
    analytic = morse_energy(mine.distances, np.mean(DEPTHS)) - morse_energy(np.array([bond.dft]), np.mean(DEPTHS))
    assert np.allclose(mine.energies, analytic, atol=1e-9)
    assert theirs.energies[0] > 0.2 and theirs.energies[-1] > 0.2 and np.argmin(theirs.energies) in (2, 3)
    rmse = table["H-H stretch energy RMSE"]
    assert rmse.potential == pytest.approx(np.sqrt(np.mean((mine.energies - theirs.energies) ** 2)), rel=1e-9)
    assert rmse.n_samples == H2_CFG.stretch_points + 1

    assert set(figures) == {"vibrations", "bond_stretch"}
    for name in figures.values():
        assert (v.outdir / name).read_bytes()[:8] == PNG
    runs = dft.dft_runs
    assert runs == 1 + dft_geometry.relaxation.steps + 12 + H2_CFG.stretch_points  # the relaxed molecule is cached
    print(f"H2: bond {bond.dft:.4f} / {bond.potential:.4f} A, mode {mode.dft:.0f} / {mode.potential:.0f} cm^-1, "
          f"stretch RMSE {rmse.potential:.4f} eV, {runs} pw.x runs, {dft.dft_seconds:.0f} s")  # fmt: skip

    # a rerun costs no DFT: every label comes from the cache
    again = LabelledDft(full.dft, full.label, tmp_path / "dft_again", ntasks=1)
    repeat = StandIn(validation_crystal("H2"), committee, again, H2_CFG, tmp_path / "again")
    assert by_quantity(checks.vibration_check(repeat)[0])["mode 1 frequency"].dft == mode.dft
    assert again.dft_runs == 0


@pytest.fixture(scope="module")
def water() -> tuple:
    """EMT water relaxed on both sides (EMT has H and O; its water is bent, with a soft bend)."""
    molecule = validation_molecule("H2O", 4.0)
    return molecule, relaxed_molecule(molecule, EMT())


def test_water_geometry_and_frequencies_against_ase(water: tuple, tmp_path: Path) -> None:
    molecule, reference = water
    committee = CommitteeCalculator([EMT(), EMT()])
    mine = relaxed_molecule(molecule, committee)
    rows = by_quantity(geometry_rows(mine, reference, ValidationConfig()))
    assert set(rows) == {"H-O bond length (2 bonds)", "H-O-H angle"}
    assert rows["H-O bond length (2 bonds)"].n_samples == 2 and rows["H-O bond length (2 bonds)"].mark == "pass"
    assert rows["H-O-H angle"].dft == pytest.approx(reference.atoms.get_angle(1, 0, 2))
    assert rows["H-O-H angle"].unit == "deg" and 90.0 < rows["H-O-H angle"].dft < 110.0

    ours = harmonic_frequencies(reference.atoms, committee)
    assert len(ours.frequencies) == 3 and ours.evaluations == 18
    work = reference.atoms.copy()
    work.calc = EMT()
    vibrations = Vibrations(work, delta=0.01, name=str(tmp_path / "vib"))
    vibrations.run()
    ase_frequencies = np.sort(vibrations.get_frequencies().real)[-3:]  # ASE keeps the 6 rigid modes near zero
    assert np.allclose(ours.frequencies, ase_frequencies, atol=0.5)

    # energies scaled by k: the same geometry, every frequency times sqrt(k), every curve energy times k
    k = 1.1
    stiffer = Scaled(EMT(), energy=k)
    scaled = harmonic_frequencies(reference.atoms, stiffer)
    assert np.allclose(scaled.frequencies, np.sqrt(k) * ours.frequencies, rtol=1e-6)
    frequency = by_quantity(frequency_rows(scaled, ours, ValidationConfig()))
    errors = (np.sqrt(k) - 1) * ours.frequencies
    assert frequency["frequency RMSE"].potential == pytest.approx(np.sqrt(np.mean(errors**2)), rel=1e-5)
    assert frequency["frequency RMSE"].mark == "fail"  # about 90 cm^-1 against 50
    assert frequency["largest frequency error"].potential == pytest.approx(errors[-1], rel=1e-5)
    assert frequency["largest frequency error"].mark == "warn"  # about 150 against 100
    assert frequency["mode 3 frequency"].mark == "info"

    cfg = ValidationConfig()
    bond = stretched_bond(reference.atoms)
    assert bond.label == "O-H" and reference.atoms[bond.moved].symbol == "H"
    curve = stretch_curve(reference.atoms, EMT(), cfg, bond)
    steep = stretch_curve(reference.atoms, stiffer, cfg, bond)
    assert np.allclose(steep.energies, k * curve.energies, atol=1e-9)
    stretch = by_quantity(stretch_rows(steep, curve, cfg))
    assert stretch["O-H stretch energy RMSE"].potential == pytest.approx((k - 1) * np.sqrt(np.mean(curve.energies**2)))
    assert_marks_follow_tolerances([*rows.values(), *frequency.values(), *stretch.values()])


def test_a_stretched_potential_shows_in_the_bond_rows(water: tuple) -> None:
    """Lengths scaled by s: every bond s times DFT's, the angle the same (up to the relaxation's tolerance)."""
    molecule, reference = water
    s = 1.012

    class Stretched(Calculator):
        implemented_properties = ["energy", "free_energy", "forces"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
            super().calculate(atoms, properties, system_changes)
            shrunk = self.atoms.copy()
            shrunk.positions /= s
            shrunk.calc = EMT()
            e = shrunk.get_potential_energy()
            self.results = {"energy": e, "free_energy": e, "forces": shrunk.get_forces() / s}

    start = molecule.copy()
    start.positions = reference.atoms.positions * s  # from the scaled minimum: the same relaxation path
    mine = relaxed_molecule(start, Stretched())
    rows = by_quantity(geometry_rows(mine, reference, ValidationConfig()))
    bond = rows["H-O bond length (2 bonds)"]
    assert bond.error == pytest.approx((s - 1) * bond.dft, abs=5e-4) and bond.mark == "warn"  # 0.013 A
    assert abs(rows["H-O-H angle"].error) < 0.2 and rows["H-O-H angle"].mark == "pass"


# ------------------------------------------------------------------------------------------------------ alloys


def cell_filter_relaxed_energy(atoms: Atoms, hydrostatic: bool = True) -> float:
    """eV/atom after relaxing volume (hydrostatic; or the whole cell) and positions together with ASE's cell filter:
    independent of the EOS fit."""
    return cell_filter_relaxed(atoms, hydrostatic).get_potential_energy() / len(atoms)


def cell_filter_relaxed(atoms: Atoms, hydrostatic: bool = True) -> Atoms:
    work = atoms.copy()
    work.calc = EMT()
    BFGS(UnitCellFilter(work, hydrostatic_strain=hydrostatic), logfile=None).run(fmax=1e-4, steps=300)
    return work


@pytest.fixture(scope="module")
def cuau() -> tuple:
    cfg = ValidationConfig()
    references, cells = alloy_cells(parse_composition("CuAu"), cfg, seed=1)
    return cfg, references, cells, alloy_energies(references, cells, lambda _: EMT(), cfg)


def test_alloy_cells_and_mixing_energies_against_a_cell_filter_relaxation(cuau: tuple) -> None:
    cfg, references, cells, dft = cuau
    assert [c.name for c in references] == ["Au (fcc)", "Cu (fcc)"]
    assert [(c.kind, c.atoms.get_chemical_formula()) for c in cells] == [("sqs", "Au4Cu4"), ("ordered", "AuCu")]
    assert cells[1].name == "L1_0 ordered"
    pure = {c.atoms[0].symbol: cell_filter_relaxed_energy(c.atoms) for c in references}
    for cell in dft.cells:
        direct = cell_filter_relaxed_energy(cell.cell.atoms) - (pure["Cu"] + pure["Au"]) / 2
        assert dft.mixing_energy(cell) == pytest.approx(direct, abs=1e-3), cell.cell.name

    committee = alloy_energies(references, cells, lambda _: CommitteeCalculator([EMT(), EMT()]), cfg)
    rows = by_quantity(alloy_rows(committee, dft, cfg))
    sqs, ordered = rows["mixing energy, 8-atom SQS Au4Cu4"], rows["formation energy, L1_0 ordered AuCu"]
    assert sqs.error == pytest.approx(0.0, abs=1e-9) and sqs.mark == "pass" and sqs.unit == "eV/atom"
    assert ordered.n_samples == 2 and ordered.tolerance == cfg.mixing_energy_tolerance
    ordering = rows["ordering energy, L1_0 ordered - 8-atom SQS"]
    assert ordering.dft == pytest.approx(ordered.dft - sqs.dft) and ordering.mark == "info"
    assert rows["equilibrium volume, Cu (fcc) Cu"].dft == pytest.approx(dft.references["Cu"].eos.v0)


def test_a_tetragonal_ordered_cell_gets_its_own_c_over_a(cuau: tuple) -> None:
    """L1_0 CuAu is not cubic: each side relaxes c/a before the EOS. Against ASE's full cell filter on the cell as
    built: the same c/a (EMT: 0.906 of the fcc value) and the same formation energy; the ratio is a row."""
    cfg, references, cells, dft = cuau
    ordered = dft.cell("ordered")
    assert ordered is not None and ordered.axial is not None and is_tetragonal(cells[1].atoms)
    full = cell_filter_relaxed(cells[1].atoms, hydrostatic=False)
    a, _, c = full.cell.lengths()
    assert ordered.axial.relaxed == pytest.approx(c / a, rel=2e-3)
    assert ordered.axial.relaxed / ordered.axial.built == pytest.approx(0.906, abs=0.005)
    pure = {cell.atoms[0].symbol: cell_filter_relaxed_energy(cell.atoms) for cell in references}
    direct = full.get_potential_energy() / len(full) - (pure["Cu"] + pure["Au"]) / 2
    assert dft.mixing_energy(ordered) == pytest.approx(direct, abs=1e-3)
    assert dft.mixing_energy(ordered) < cell_filter_relaxed_energy(cells[1].atoms) - (pure["Cu"] + pure["Au"]) / 2 - 1e-3
    sqs = dft.cell("sqs")
    assert sqs is not None and sqs.axial is None  # an SQS keeps its shape: its EOS alone
    committee = alloy_energies(references, cells, lambda _: CommitteeCalculator([EMT(), EMT()]), cfg)
    row = by_quantity(alloy_rows(committee, dft, cfg))["c/a, L1_0 ordered AuCu"]
    assert row.dft == pytest.approx(ordered.axial.relaxed) and row.error == pytest.approx(0.0, abs=1e-9)
    assert row.tolerance == cfg.lattice_tolerance and row.mark == "pass"


def test_alloy_errors_of_known_size(cuau: tuple) -> None:
    cfg, references, cells, dft = cuau
    # per-element energy shifts (reference energies) cancel in a mixing energy
    shifted = alloy_energies(references, cells, lambda _: Scaled(EMT(), shift={"Cu": -3.0, "Au": 1.7}), cfg)
    rows = alloy_rows(shifted, dft, cfg)
    for row in rows[:2]:
        assert row.error == pytest.approx(0.0, abs=1e-9) and row.mark == "pass"
    # an energy scale k multiplies every mixing energy by k
    k = 4.0
    scaled = alloy_energies(references, cells, lambda _: Scaled(EMT(), energy=k), cfg)
    rows = alloy_rows(scaled, dft, cfg)
    for row in rows[:2]:
        assert row.error == pytest.approx((k - 1) * row.dft, abs=2e-4)  # SQS positions relaxed to 0.02 eV/A
    assert_marks_follow_tolerances(rows)
    assert {row.mark for row in rows[:2]} >= {"fail"}  # the SQS: 3 x 17 meV/atom


def test_alloy_checks_give_the_antisite_of_the_ordered_cell(cuau: tuple, tmp_path: Path) -> None:
    cfg, *_ = cuau
    v = StandIn(validation_crystal("CuAu"), CommitteeCalculator([EMT(), EMT()]), EMT(), cfg, tmp_path, composition="CuAu")
    energetics, _ = checks.alloy_energy_check(v)
    antisite, _ = checks.alloy_antisite_check(v)
    assert all(row.error == pytest.approx(0.0, abs=1e-9) for row in energetics)
    rows = by_quantity(antisite)
    assert set(rows) == {"antisite Au<->Cu energy", "antisite Au<->Cu energy, unrelaxed"}
    # the unrelaxed antisite by hand: the 8-atom cell of L1_0 at EMT's volume, the nearest Au-Cu pair swapped
    ordered = v._shared["alloy"][1].cell("ordered")
    perfect = make_supercell(at_volume(ordered.cell.atoms, ordered.eos.v0), defect_supercell_matrix(ordered.cell.atoms, 8))
    perfect.calc = EMT()
    bulk_energy = perfect.get_potential_energy()
    swapped = perfect.copy()
    symbols = swapped.get_chemical_symbols()
    partner = min(
        (j for j in range(len(swapped)) if symbols[j] != symbols[0]), key=lambda j: swapped.get_distance(0, j, mic=True)
    )
    symbols[0], symbols[partner] = symbols[partner], symbols[0]
    swapped.set_chemical_symbols(symbols)
    swapped.calc = EMT()
    unrelaxed = rows["antisite Au<->Cu energy, unrelaxed"]
    assert unrelaxed.dft == pytest.approx(swapped.get_potential_energy() - bulk_energy, abs=1e-9)
    assert 0.0 < rows["antisite Au<->Cu energy"].dft <= unrelaxed.dft and unrelaxed.error == pytest.approx(0.0, abs=1e-9)


def emt_set_validation(
    composition: str, cfg: ValidationConfig, outdir: Path, temperatures: list[float], timestep_fs: float
) -> StandIn:
    """A validation of ``composition`` whose fresh set is drawn: an EMT committee against EMT as DFT."""
    v = StandIn(
        validation_crystal(composition),
        CommitteeCalculator([EMT(), EMT()]),
        EMT(),
        cfg,
        outdir,
        composition=composition,
        temperatures=temperatures,
        timestep_fs=timestep_fs,
    )
    v.seen_ids, v.threshold = set(), None
    return v


def test_an_alloy_gets_its_fresh_set_and_stability_cell_from_its_sqs(tmp_path: Path) -> None:
    """No primitive crystal, but the fresh set (rattled and strained SQS cells, MD snapshots, a surface) is drawn and
    labelled, and the stability runs start from the same SQS: the 'not applicable' rows are gone for alloys."""
    cfg = ValidationConfig(set_per_temperature=2, set_md_snapshots=1, set_cell_atoms=16)
    v = emt_set_validation("CuAu", cfg, tmp_path, [300.0, 600.0], 2.0)
    bulk_cell = checks._bulk(v)
    assert bulk_cell is not None and bulk_cell.info["origin"] == "validation_alloy_sqs"
    assert Counter(bulk_cell.get_chemical_symbols()) == {"Cu": cfg.alloy_sqs_atoms // 2, "Au": cfg.alloy_sqs_atoms // 2}
    rows, figures = checks.fresh_set_check(v)
    counted = [row for row in rows if row.quantity.startswith("force RMSE")]
    assert counted and all("not applicable" not in row.quantity for row in rows)
    assert all(row.potential == pytest.approx(0.0, abs=1e-9) for row in counted)  # EMT against EMT
    kinds = {row.quantity for row in counted}
    assert {
        "force RMSE (validation_md_720K)",
        "force RMSE (validation_strained_600K)",
        "force RMSE (validation_surface)",
    } <= kinds
    assert set(figures) == {"validation_set_parity", "uncertainty_calibration"}
    water = checks._bulk(StandIn(validation_crystal("H2O"), EMT(), EMT(), cfg, tmp_path))
    assert water is not None and not water.pbc.any()  # a molecule: its geometry in vacuum
    nothing = ValidationCrystal(None, "none", "no crystal", subset="none")
    assert checks._bulk(StandIn(nothing, EMT(), EMT(), cfg, tmp_path)) is None


def test_molecule_dimer_binding_curve_of_known_error(tmp_path: Path) -> None:
    """Two waters brought together: each structure has its closest contact at the stated multiple of the covalent
    radii; EMT against EMT gives zero error, an energy scale k gives binding energies k times DFT's (monomer energies
    cancel), so the RMSE is |k - 1| x DFT's RMS binding energy."""
    water = validation_molecule("H2O", 6.0)
    cfg = ValidationConfig()
    for factor in DIMER_FACTORS:
        dimer = dimer_at(water, factor, cfg.molecule_vacuum)
        pairs = [(i, j) for i in range(3) for j in range(3, 6)]
        ratios = [
            dimer.get_distance(i, j) / (covalent_radii[dimer.numbers[i]] + covalent_radii[dimer.numbers[j]]) for i, j in pairs
        ]
        assert min(ratios) == pytest.approx(factor, abs=1e-5) and not dimer.pbc.any()
    reference = dimer_curve(water, EMT(), cfg)
    assert np.all(np.diff(reference.distances) > 0) and abs(reference.energies[-1]) < abs(reference.energies).max()
    same = by_quantity(dimer_rows(dimer_curve(water, CommitteeCalculator([EMT(), EMT()]), cfg), reference, cfg))
    assert same["H2O dimer binding energy RMSE"].potential == pytest.approx(0.0, abs=1e-9)
    k = 1.5
    scaled = dimer_rows(dimer_curve(water, Scaled(EMT(), energy=k, shift={"H": -13.0, "O": 2.0}), cfg), reference, cfg)
    rms = float(np.sqrt(np.mean(reference.energies**2)))
    assert scaled[0].potential == pytest.approx((k - 1) * rms, rel=1e-6) and scaled[0].tolerance == cfg.stretch_rmse_tolerance
    v = StandIn(validation_crystal("H2O"), EMT(), EMT(), cfg, tmp_path)
    rows, figures = checks.molecule_dimer_check(v)
    assert len(rows) == 2 and (tmp_path / figures["molecule_dimer"]).read_bytes()[:8] == PNG


def test_a_molecule_gets_a_fresh_set_and_stability_runs_in_vacuum(tmp_path: Path) -> None:
    """H2O: rattled copies of the molecule at each temperature and MD snapshots in vacuum, labelled and scored (EMT on
    both sides: zero error); nothing periodic (no strain, no surface); the stability runs are the molecule's own in
    vacuum, and pass with a bound molecule."""
    cfg = ValidationConfig(set_per_temperature=3, set_md_snapshots=2, stability_ps=0.5)
    v = emt_set_validation("H2O", cfg, tmp_path, [100.0, 300.0], 0.5)
    rows, figures = checks.fresh_set_check(v)
    counted = {row.quantity: row for row in rows if row.quantity.startswith("force RMSE")}
    assert {"force RMSE (validation_rattled_100K)", "force RMSE (validation_rattled_300K)"} <= set(counted)
    assert not any("strained" in quantity or "surface" in quantity for quantity in counted)
    assert counted["force RMSE (validation_rattled_300K)"].n_samples and all(
        row.potential == pytest.approx(0.0, abs=1e-9) for row in counted.values()
    )
    assert set(figures) == {"validation_set_parity", "uncertainty_calibration"}
    stability, stability_figures = checks.stability_check(v)
    rows = by_quantity(stability)
    assert set(rows) == {
        "NVE energy drift",
        "NVT 100 K: largest bond stretch d/d0 - 1",
        "NVT 100 K: 1 - d_min/d_bond",
        "NVT 300 K: largest bond stretch d/d0 - 1",
        "NVT 300 K: 1 - d_min/d_bond",
    }
    stretch = rows["NVT 300 K: largest bond stretch d/d0 - 1"]
    assert stretch.mark == "pass" and 0.0 < stretch.potential < 0.25 and stretch.n_samples == 100  # 0.5 ps, every 10 steps
    assert rows["NVT 100 K: largest bond stretch d/d0 - 1"].potential < stretch.potential  # colder, smaller excursions
    assert_marks_follow_tolerances(stability)
    assert (tmp_path / stability_figures["stability_bonds"]).read_bytes()[:8] == PNG


def test_a_molecule_that_falls_apart_fails_its_stability_rows() -> None:
    """A purely repulsive potential (Lennard-Jones with sigma beyond the O-H bond) pushes the atoms apart: the run
    stops at the broken bond and the row fails; its relaxed start is DFT-free (EMT's geometry)."""
    from ase.calculators.lj import LennardJones

    from mlip_autopipec.validation.molecule_stability import molecule_stability_rows, run_molecule_stability

    water = relaxed_molecule(validation_molecule("H2O", 4.0), EMT()).atoms
    result = run_molecule_stability(
        water, LennardJones(sigma=2.5, epsilon=0.5, rc=6.0), [300.0], ValidationConfig(stability_ps=0.5), 0.5, seed=3
    )
    (run,) = result.runs
    assert run.stopped is not None and "broken" in run.stopped and run.duration_ps < 0.5
    rows = by_quantity(molecule_stability_rows(result))
    assert rows["NVT 300 K: largest bond stretch d/d0 - 1"].mark == "fail"


# ----------------------------------------------------------------------------------------------- ionic crystals


def test_schottky_defect_of_a_two_ion_crystal_and_no_cation_anion_antisite() -> None:
    """B2 CuAu read as an 'ionic' Cu+ Au- crystal (EMT has no Na or Cl): one Cu and one Au vacancy, no antisite."""
    cfg = ValidationConfig()
    b2 = primitive_cell(bulk("CuAu", "cesiumchloride", a=3.2))
    charges = {"Cu": 1.0, "Au": -1.0}
    result = point_defects(b2, EMT(), cfg, charges=charges)
    (schottky,) = result.defects
    assert schottky.kind == "schottky" and sorted(schottky.label.split()[-1].split("+")) == ["Au", "Cu"]
    # by hand: the same vacancies in the perfect cell at EMT's volume, unrelaxed
    eos_volume = result.volume
    perfect = make_supercell(at_volume(b2, eos_volume), defect_supercell_matrix(b2, cfg.defect_cell_atoms))
    removed = schottky_vacancies(perfect, charges)
    assert sorted(perfect[i].symbol for i in removed) == ["Au", "Cu"]
    anions = [i for i in range(len(perfect)) if perfect[i].symbol == perfect[removed[1]].symbol]
    assert perfect.get_distance(*removed, mic=True) == pytest.approx(max(perfect.get_distances(removed[0], anions, mic=True)))
    perfect.calc = EMT()
    e_perfect = perfect.get_potential_energy()
    cell = perfect.copy()
    del cell[sorted(removed)]
    cell.calc = EMT()
    n = len(perfect)
    assert schottky.unrelaxed == pytest.approx(cell.get_potential_energy() - (n - 2) / n * e_perfect, abs=1e-9)
    rows = by_quantity(defect_rows(result, result, cfg))
    name = f"{schottky.label} formation energy"
    assert rows[name].mark == "pass" and "one formula unit of vacancies" in rows[name].note
    # the ordinary compound (no charges) gets its antisite instead
    assert [d.kind for d in point_defects(b2, EMT(), cfg).defects] == ["antisite"]


def test_a_perovskite_swaps_its_two_cations_and_removes_a_whole_formula_unit() -> None:
    """ABX3 of EMT metals (A = Ag, B = Au, X = Cu as the 'anion'): Schottky removes Ag + Au + 3 Cu, the antisite is Ag<->Au."""
    a = 4.75  # near EMT's minimum for this cell
    perovskite = Atoms(
        "AgAuCu3",
        scaled_positions=[(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)],
        cell=[a, a, a],
        pbc=True,
    )
    cfg = ValidationConfig(defect_cell_atoms=40)
    result = point_defects(perovskite, EMT(), cfg, charges={"Ag": 1.0, "Au": 5.0, "Cu": -2.0})
    labels = [d.label for d in result.defects]
    assert result.n_atoms == 40 and len(labels) == 2
    assert labels[0].startswith("Schottky defect Au+Ag+Cu+Cu+Cu")  # cations first, by charge
    assert labels[1] in ("antisite Ag<->Au", "antisite Au<->Ag")
    # one formula unit in the cell: no Schottky defect (nothing would be left to return the ions to)
    single = point_defects(perovskite, EMT(), ValidationConfig(defect_cell_atoms=5), charges={"Ag": 1.0, "Au": 5.0, "Cu": -2.0})
    assert [d.kind for d in single.defects] == ["antisite"]
