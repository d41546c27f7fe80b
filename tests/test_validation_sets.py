"""The fresh validation set, the committee's calibration on it, and the stability of production MD.

Real calculators throughout: ASE's EMT and Lennard-Jones for Cu on both sides where the answer is known
(same calculator: zero error; a known energy shift: that error exactly), a committee of Lennard-Jones members
whose spread grows with the error, and the real pw.x through ``LabelledDft`` for the DFT path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from ase.geometry import find_mic

from conftest import FAST_SI_DFT
from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.config.models import ValidationConfig
from mlip_autopipec.data.ids import structure_id
from mlip_autopipec.potentials.committee import CommitteeCalculator
from mlip_autopipec.potentials.lennard_jones import LennardJonesBaseline
from mlip_autopipec.structures.filters import min_distance_ratio
from mlip_autopipec.structures.perturb import rattle_amplitude, slab_dipole_per_area, supercell_for
from mlip_autopipec.validation.calibration import calibration_plot, calibration_rows, spread_calibration
from mlip_autopipec.validation.dft_reference import DftLabelFailed, LabelledDft
from mlip_autopipec.validation.fresh_set import (
    draw_validation_set,
    labelled_errors,
    set_parity_plot,
    set_rows,
)
from mlip_autopipec.validation.stability import (
    COLLAPSE_RATIO,
    nearest_neighbour_distance,
    rdf_plot,
    run_stability,
    stability_rows,
)

CU = bulk("Cu", "fcc", a=3.6)  # primitive, one atom
TEMPERATURES = (300.0, 900.0)
SET_CFG = ValidationConfig(set_per_temperature=2, set_md_snapshots=2, set_cell_atoms=8)


class Shifted(Calculator):
    """Another calculator's energy plus ``shift`` eV per atom, forces scaled by ``1 + force_scale``: known errors."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, inner: Calculator, shift: float, force_scale: float = 0.0) -> None:
        super().__init__()
        self.inner, self.shift, self.force_scale = inner, shift, force_scale

    def calculate(self, atoms: Atoms | None = None, properties: Sequence[str] = ("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, list(properties), list(system_changes))
        assert self.atoms is not None
        work = self.atoms.copy()
        work.calc = self.inner
        energy = work.get_potential_energy() + self.shift * len(work)
        self.results = {"energy": energy, "free_energy": energy, "forces": (1 + self.force_scale) * work.get_forces()}
        if work.pbc.all():
            self.results["stress"] = work.get_stress()


class FailsFor(EMT):
    """EMT that refuses one structure the way ``LabelledDft`` refuses an unconverged label."""

    def __init__(self, bad_id: str) -> None:
        super().__init__()
        self.bad_id = bad_id

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        if atoms is not None and structure_id(atoms) == self.bad_id:
            raise DftLabelFailed(f"DFT label of {self.bad_id} failed: scf not converged")
        super().calculate(atoms, properties, system_changes)


@pytest.fixture(scope="module")
def cu_set() -> list[Atoms]:
    return draw_validation_set(CU, TEMPERATURES, SET_CFG, seed=11, md_calculator=EMT())


# ------------------------------------------------------------------------------------------- the set itself


def test_set_has_every_kind_and_no_close_contacts(cu_set: list[Atoms]) -> None:
    origins = [atoms.info["origin"] for atoms in cu_set]
    for t in ("300K", "900K"):
        assert origins.count(f"validation_rattled_{t}") == 1 and origins.count(f"validation_strained_{t}") == 1
    assert origins.count("validation_md_1080K") == 2  # 1.2 x the highest temperature
    assert origins.count("validation_surface") == 1
    for atoms in cu_set:
        assert min_distance_ratio(atoms) >= 0.7
        assert atoms.calc is None and atoms.info["structure_id"] == structure_id(atoms)
    bulk_like = [a for a in cu_set if a.info["origin"] != "validation_surface"]
    assert {len(a) for a in bulk_like} == {8}
    surface = cu_set[origins.index("validation_surface")]
    assert list(surface.pbc) == [True, True, False]
    strained = cu_set[origins.index("validation_strained_300K")]
    assert not np.allclose(strained.cell.array, bulk_like[0].cell.array)  # a strained cell, not just rattled


def test_rattle_amplitude_grows_with_temperature() -> None:
    cfg = ValidationConfig(set_per_temperature=16, set_md_snapshots=0, set_cell_atoms=8)
    ideal = supercell_for(CU, 8)
    rms: dict[float, list[float]] = {300.0: [], 900.0: []}
    for atoms in draw_validation_set(CU, (300.0, 900.0), cfg, seed=11, md_calculator=None):
        if atoms.info["origin"].startswith("validation_rattled_"):
            shift = find_mic(atoms.positions - ideal.positions, ideal.cell, pbc=True)[0]
            rms[atoms.info["temperature"]].append(float(np.sqrt(np.mean(shift**2))))
    assert len(rms[300.0]) == len(rms[900.0]) == 8
    for t, values in rms.items():  # the thermal amplitude of structures.perturb, sqrt(kT / 5 eV/A^2)
        assert np.mean(values) == pytest.approx(rattle_amplitude(t), rel=0.15)


def test_set_is_reproducible_and_seeded(cu_set: list[Atoms]) -> None:
    again = draw_validation_set(CU, TEMPERATURES, SET_CFG, seed=11, md_calculator=EMT())
    assert [structure_id(a) for a in again] == [structure_id(a) for a in cu_set]
    other = draw_validation_set(CU, TEMPERATURES, SET_CFG, seed=12, md_calculator=EMT())
    assert len(other) == len(cu_set)
    assert not {structure_id(a) for a in other} & {structure_id(a) for a in cu_set}


def test_training_ids_are_dropped_and_nothing_else_changes(cu_set: list[Atoms]) -> None:
    seen = {structure_id(cu_set[0]), structure_id(cu_set[4])}  # a rattled crystal and an MD snapshot
    kept = draw_validation_set(CU, TEMPERATURES, SET_CFG, seed=11, md_calculator=EMT(), exclude_ids=seen)
    assert [structure_id(a) for a in kept] == [structure_id(a) for i, a in enumerate(cu_set) if i not in (0, 4)]


# ---------------------------------------------------------------------------------------- errors and rows


def test_same_calculator_gives_zero_errors_and_passes(cu_set: list[Atoms], tmp_path: Path) -> None:
    errors = labelled_errors(cu_set, EMT(), EMT())
    assert errors.overall.n_structures == len(cu_set) and errors.n_failed == 0
    assert errors.overall.n_atoms == sum(len(a) for a in cu_set)
    assert errors.overall.force_rmse == pytest.approx(0.0, abs=1e-12)
    assert errors.overall.energy_rmse_per_atom == pytest.approx(0.0, abs=1e-12)
    rows = {row.quantity: row for row in set_rows(errors, SET_CFG)}
    assert rows["force RMSE"].mark == "pass" and rows["energy RMSE"].mark == "pass"
    assert rows["force RMSE"].n_samples == errors.overall.n_atoms
    assert rows["energy RMSE"].n_samples == len(cu_set)
    assert rows["stress RMSE"].mark == "info" and rows["stress RMSE"].n_samples == len(cu_set) - 1  # the slab has none
    assert rows["force RMSE (validation_md_1080K)"].n_samples == 16 and rows["force RMSE (validation_md_1080K)"].mark == "info"
    assert "DFT labels failed" not in rows
    assert set_parity_plot(errors, tmp_path / "parity.png").stat().st_size > 10_000


@pytest.mark.parametrize(("shift", "mark"), [(0.003, "pass"), (0.008, "warn"), (0.02, "fail")])
def test_known_energy_shift_is_the_energy_error(cu_set: list[Atoms], shift: float, mark: str) -> None:
    errors = labelled_errors(cu_set, Shifted(EMT(), shift), EMT())
    assert errors.overall.energy_rmse_per_atom == pytest.approx(shift, rel=1e-9)
    assert errors.overall.energy_mae_per_atom == pytest.approx(shift, rel=1e-9)
    assert errors.overall.force_rmse == pytest.approx(0.0, abs=1e-12)
    signed = [p - r for pred in errors.predictions.values() for p, r in zip(pred.energy_pred, pred.energy_ref, strict=True)]
    assert np.allclose(signed, shift)  # the potential above the reference, as built
    rows = {row.quantity: row for row in set_rows(errors, SET_CFG)}
    assert rows["energy RMSE"].mark == mark and rows["force RMSE"].mark == "pass"


def test_other_calculator_errors_match_a_hand_computation(cu_set: list[Atoms]) -> None:
    reference = LennardJonesBaseline(sigma={"Cu": 2.55 / 2 ** (1 / 6)}, epsilon=0.4)
    errors = labelled_errors(cu_set, EMT(), reference)
    diffs = []
    for atoms in cu_set:
        a, b = atoms.copy(), atoms.copy()
        a.calc, b.calc = EMT(), reference
        diffs.append((a.get_forces() - b.get_forces()).ravel())
    expected = float(np.sqrt(np.mean(np.concatenate(diffs) ** 2)))
    assert errors.overall.force_rmse == pytest.approx(expected, rel=1e-9) and expected > 0.05
    md = errors.by_origin["validation_md_1080K"]
    assert md.n_structures == 2 and md.n_atoms == 16
    assert errors.overall.stress_rmse_gpa is not None and errors.overall.stress_rmse_gpa > 0


def test_failed_labels_are_left_out_and_counted(cu_set: list[Atoms]) -> None:
    bad = structure_id(cu_set[1])
    errors = labelled_errors(cu_set, EMT(), FailsFor(bad))
    assert errors.failed_ids == (bad,) and errors.overall.n_structures == len(cu_set) - 1
    rows = {row.quantity: row for row in set_rows(errors, SET_CFG)}
    assert rows["DFT labels failed"].potential == 1 and rows["DFT labels failed"].mark == "info"
    assert rows["energy RMSE"].n_samples == len(cu_set) - 1
    with pytest.raises(DftLabelFailed):
        labelled_errors(cu_set[1:2], EMT(), FailsFor(bad))


# ------------------------------------------------------------------------------------------- calibration

SIGMA_CU = 2.55 / 2 ** (1 / 6)


def lj_committee(spread: float = 0.02) -> CommitteeCalculator:
    """Members differ in sigma; the reference lies beyond them, so the error grows with the spread."""
    return CommitteeCalculator(
        [LennardJonesBaseline(sigma={"Cu": SIGMA_CU * (1 + f)}, epsilon=0.05) for f in (-spread, 0.0, spread)]
    )


@pytest.fixture(scope="module")
def lj_labelled() -> tuple[Atoms, ...]:
    structures = draw_validation_set(
        CU, (100.0, 600.0, 1200.0), ValidationConfig(set_per_temperature=4), seed=5, md_calculator=None
    )
    reference = LennardJonesBaseline(sigma={"Cu": SIGMA_CU * 1.03}, epsilon=0.05)
    return labelled_errors(structures, lj_committee(), reference).labelled


def test_spread_ranks_the_errors_and_the_threshold_is_scored(lj_labelled: tuple[Atoms, ...], tmp_path: Path) -> None:
    probe = spread_calibration(lj_labelled, lj_committee(), threshold=None, target=0.1)
    threshold = float(np.median(probe.structure_spread))
    target = float(np.quantile(probe.structure_error, 0.3))
    c = spread_calibration(lj_labelled, lj_committee(), threshold=threshold, target=target)
    assert c.n_atoms == sum(len(a) for a in lj_labelled) and c.n_structures == len(lj_labelled)
    assert c.spearman is not None and c.spearman > 0.9
    bad, flagged = c.structure_error > target, c.structure_spread > threshold
    assert 0 < flagged.sum() < len(flagged) and 0 < bad.sum() < len(bad)
    assert c.recall == pytest.approx((bad & flagged).sum() / bad.sum())
    assert c.precision == pytest.approx((bad & flagged).sum() / flagged.sum())
    assert c.precision == 1.0 and c.recall is not None and c.recall < 1.0  # spread ranks errors: flagged ones are bad
    rows = {row.quantity: row for row in calibration_rows(c)}
    assert all(row.mark == "info" for row in rows.values())
    assert rows["Spearman rank correlation, force spread vs force error"].n_samples == c.n_atoms
    assert rows["bad structures flagged (recall)"].n_samples == bad.sum()
    assert rows["flagged structures truly bad (precision)"].n_samples == flagged.sum()
    assert calibration_plot(c, tmp_path / "calibration.png").stat().st_size > 10_000


def test_true_error_is_the_norm_of_the_force_difference(lj_labelled: tuple[Atoms, ...]) -> None:
    committee = lj_committee()
    c = spread_calibration(lj_labelled[:1], committee, threshold=1e9, target=0.1, member=0)
    atoms = lj_labelled[0].copy()
    atoms.calc = committee.models[0]
    expected = np.linalg.norm(atoms.get_forces() - lj_labelled[0].get_forces(), axis=1)
    np.testing.assert_allclose(c.atom_error, expected, rtol=1e-10)
    assert c.flagged.sum() == 0 and c.precision is None  # nothing above a huge threshold
    rows = {row.quantity for row in calibration_rows(c)}
    assert "flagged structures truly bad (precision)" not in rows and "structures flagged by the committee" in rows


# --------------------------------------------------------------------------------------------- stability

STABILITY_CFG = ValidationConfig(stability_ps=0.2, stability_atoms=8)


def test_stable_potential_passes_with_a_crystal_rdf(tmp_path: Path) -> None:
    result = run_stability(CU, EMT(), [300.0, 600.0], STABILITY_CFG, timestep_fs=2.0, seed=3, nve_ps=0.1)
    assert result.stable and result.n_atoms == 8
    rows = stability_rows(result)
    assert [row.mark for row in rows] == ["pass"] * 5, [(r.quantity, r.potential, r.mark) for r in rows]
    assert abs(result.drift.drift) < 1.0
    for run in result.runs:
        assert 0.7 < run.min_distance_ratio < 1.0 and run.stopped is None and run.n_rdf_frames == 6  # steps 50, 60, ..., 100
        shell = run.rdf_r < 1.2 * run.nn_distance  # the first shell: the second one is at sqrt(2) x d_nn
        assert np.all(run.rdf_g[run.rdf_r < 0.7 * run.nn_distance] == 0)
        peak = run.rdf_r[shell][np.argmax(run.rdf_g[shell])]
        assert abs(peak - run.nn_distance) < 0.05 * run.nn_distance
        # fcc: 12 neighbours in the first shell
        rho = run.n_atoms / CU.repeat(2).get_volume()
        dr = run.rdf_r[1] - run.rdf_r[0]
        coordination = float(np.sum(4 * np.pi * run.rdf_r[shell] ** 2 * run.rdf_g[shell] * rho * dr))
        assert coordination == pytest.approx(12.0, abs=0.5)
    assert nearest_neighbour_distance(CU) == pytest.approx(3.6 / np.sqrt(2))
    assert rdf_plot(result, tmp_path / "rdf.png").stat().st_size > 10_000


def test_collapsing_potential_fails() -> None:
    # Minimum at 1.35 A, far inside Cu's 2.55 A neighbour shell: the crystal collapses into clusters.
    collapsing = LennardJones(sigma=1.2, epsilon=2.0, rc=5.0, smooth=True)
    result = run_stability(CU, collapsing, [300.0], STABILITY_CFG, timestep_fs=2.0, seed=3, nve_ps=0.1)
    (run,) = result.runs
    assert not result.stable and run.stopped is not None and run.min_distance_ratio < COLLAPSE_RATIO
    rows = {row.quantity: row for row in stability_rows(result)}
    assert rows["NVT 300 K: 1 - d_min/d_nn"].mark == "fail"
    assert rows["NVE energy drift"].mark == "fail"


# ----------------------------------------------------------------------------------------------- real pw.x


@pytest.mark.dft
@pytest.mark.usefixtures("pw_available")
def test_errors_against_real_dft_with_sample_sizes(tmp_path: Path) -> None:
    full = expand_config(
        {"composition": "Si", "dft": dict(FAST_SI_DFT), "label": {"mpi": {"ntasks": 2}, "cache_dir": str(tmp_path / "cache")}}
    )
    cfg = ValidationConfig(set_per_temperature=2, set_md_snapshots=0, set_cell_atoms=2)
    crystal = bulk("Si", "diamond", a=5.43)  # primitive, two atoms
    structures = [a for a in draw_validation_set(crystal, (300.0, 600.0), cfg, seed=1, md_calculator=None) if len(a) == 2][:3]
    assert len(structures) == 3
    dft = LabelledDft(full.dft, full.label, tmp_path / "dft", ntasks=2)
    errors = labelled_errors(structures, LennardJonesBaseline(), dft)
    assert dft.dft_runs == 3 and errors.n_failed == 0
    assert errors.overall.n_structures == 3 and errors.overall.n_atoms == 6
    for atoms in errors.labelled:
        assert -108.0 < atoms.get_potential_energy() / 2 < -105.0  # PBE Si with ONCV pseudopotentials, eV/atom
    assert errors.overall.force_rmse is not None and errors.overall.force_rmse > 0
    rows = {row.quantity: row for row in set_rows(errors, cfg)}
    assert rows["force RMSE"].n_samples == 6 and rows["energy RMSE"].n_samples == 3 and rows["stress RMSE"].n_samples == 3
    assert rows["energy RMSE"].mark == "fail"  # a bare LJ has no idea of the DFT reference energy

    # DFT shifted by a known amount, read from the label cache: exactly that error, and no new pw.x run.
    cached = LabelledDft(full.dft, full.label, tmp_path / "dft2", ntasks=2)
    shifted = labelled_errors(structures, Shifted(cached, 0.002, force_scale=0.1), dft)
    assert cached.dft_runs == 0 and dft.dft_runs == 3
    assert shifted.overall.energy_rmse_per_atom == pytest.approx(0.002, rel=1e-6)
    forces = np.concatenate([a.get_forces().ravel() for a in shifted.labelled])
    assert shifted.overall.force_rmse == pytest.approx(0.1 * np.sqrt(np.mean(forces**2)), rel=1e-6)
    marks = {row.quantity: row.mark for row in set_rows(shifted, cfg)}
    assert marks["energy RMSE"] == "pass"


def test_an_ionic_crystal_is_validated_on_a_non_polar_surface() -> None:
    """NaCl with its charges: the slab is the conventional (100), no dipole across it beyond the thermal rattle; the
    same crystal without charges (a user who declared it covalent) gets the primitive-cell cut, which is polar."""
    cfg = expand_config({"composition": "NaCl"}).validation
    charges = {"Na": 1.0, "Cl": -1.0}
    primitive = bulk("NaCl", "rocksalt", a=5.64)
    ionic = [a for a in draw_validation_set(primitive, [300.0], cfg, 3, None, charges=charges) if "surface" in a.info["origin"]]
    plain = [a for a in draw_validation_set(primitive, [300.0], cfg, 3, None) if "surface" in a.info["origin"]]
    assert len(ionic) == len(plain) == 1
    assert abs(slab_dipole_per_area(ionic[0], charges)) < 0.05 < 0.3 < abs(slab_dipole_per_area(plain[0], charges))
