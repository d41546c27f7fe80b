"""The training engine with the real pacemaker on real pw.x labels (tests/data/si_labels, see make_si_labels.py).

One committee of 3 small ACE members is trained once per session (about a minute on 2 cores) and
checked for held-out accuracy, uncertainty, manifest, metrics, plots and delta learning.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from ase import Atoms
from ase.build import bulk
from pyace import BBasisConfiguration

from conftest import ACE_COMMITTEE_SIZE as COMMITTEE_SIZE
from conftest import ase_sum
from mlip_autopipec.data.records import CommitteeMetrics
from mlip_autopipec.potentials.ace import (
    AceSettings,
    choose_ace_settings,
    pacemaker_dataframe,
    pacemaker_input,
)
from mlip_autopipec.potentials.backend import choose_committee_settings, get_backend
from mlip_autopipec.potentials.baselines import make_baseline
from mlip_autopipec.potentials.committee import CommitteeCalculator, member_calculator
from mlip_autopipec.potentials.committee_plan import load_committee, load_split
from mlip_autopipec.potentials.dataset import (
    bootstrap_counts,
    bootstrap_sample,
    load_label_records,
    split_train_test,
    structure_key,
)
from mlip_autopipec.potentials.delta import reference_energy
from mlip_autopipec.potentials.metrics import report_committee


@pytest.fixture(scope="module")
def committee(ace_committee: Path) -> Path:
    """The session's real pacemaker committee (conftest.ace_committee: 3 members, zbl baseline, 50 BFGS steps)."""
    return ace_committee


@pytest.fixture(scope="module")
def report(committee: Path) -> dict[str, Path]:
    return report_committee(committee)


# --- data handling (no training) ---------------------------------------------------------------


def test_fixture_is_real_pw_labels(si_frames: list[Atoms]) -> None:
    assert len(si_frames) >= 30
    assert {len(a) for a in si_frames} == {2, 8}
    origins = {a.info["origin"] for a in si_frames}
    assert {"rattle_2at", "strain_2at", "compressed_2at", "rattle_8at", "strain_8at", "compressed_8at"} <= origins
    for atoms in si_frames:
        assert atoms.info["pseudo_family"] == "oncvpsp-pbe" and atoms.info["ecutwfc"] == 20.0
        results = atoms.calc.results
        assert results["forces"].shape == (len(atoms), 3) and results["stress"].shape in ((6,), (3, 3))
        assert -108.0 < results["energy"] / len(atoms) < -105.0  # PBE Si with ONCV pseudopotentials, eV/atom


def test_split_is_by_structure_stratified_and_seeded(si_frames: list[Atoms]) -> None:
    duplicated = si_frames + [si_frames[0].copy()]  # a repeated frame must stay on one side
    duplicated[-1].calc = si_frames[0].calc
    split = split_train_test(duplicated, 0.2, seed=7)
    assert set(split.train_ids).isdisjoint(split.test_ids)
    assert len(split.train) + len(split.test) == len(duplicated)
    assert len(set(split.test_ids)) == round(0.2 * len(si_frames))
    for origin, counts in split.origins.items():
        assert counts["train"] >= 1, origin  # every origin is trained on
    assert sum(c["test"] > 0 for c in split.origins.values()) >= 4  # spread over origins, not one block
    again = split_train_test(duplicated, 0.2, seed=7)
    assert again.test_ids == split.test_ids
    assert split_train_test(duplicated, 0.2, seed=8).test_ids != split.test_ids


def test_previous_test_structures_stay_held_out(si_frames: list[Atoms]) -> None:
    """Iteration i+1 keeps iteration i's test set and splits only the new structures, so no structure that
    judged a committee is ever trained on and successive committees are scored on the same structures."""
    first, new = si_frames[:20], si_frames[20:]
    before = split_train_test(first, 0.2, seed=7)
    after = split_train_test(first + new, 0.2, seed=7, held_out=before.test_ids, trained=before.train_ids)
    assert set(before.test_ids) <= set(after.test_ids) and set(before.train_ids) <= set(after.train_ids)
    assert len(set(after.test_ids)) == len(before.test_ids) + round(0.2 * len(new))  # only the new ones are split
    assert after.origins["split_before"] == {"train": len(set(before.train_ids)), "test": len(set(before.test_ids))}
    # without the hold-out, a redraw puts old test structures into training
    redrawn = split_train_test(first + new, 0.2, seed=7)
    assert not set(before.test_ids) <= set(redrawn.test_ids)


def test_bootstrap_is_seeded_per_member() -> None:
    counts = [bootstrap_counts(26, seed=42, member=k) for k in range(3)]
    assert all(c.sum() == 26 for c in counts)
    assert not np.array_equal(counts[0], counts[1])
    np.testing.assert_array_equal(counts[0], bootstrap_counts(26, seed=42, member=0))
    assert 0 < (counts[0] == 0).sum() < 26  # about a third left out
    sample = bootstrap_sample(list(range(26)), seed=42, member=0)  # type: ignore[arg-type]
    assert len(sample) == 26 and sorted(set(sample)) == [i for i in range(26) if counts[0][i] > 0]


def test_label_records_load_and_failures_are_skipped(si_frames: list[Atoms], tmp_path: Path) -> None:
    from mlip_autopipec.data.records import LabelRecord

    atoms = si_frames[0]
    common = dict(
        dft_hash="x",
        dft_parameters={},
        pseudo_family="oncvpsp-pbe",
        pseudo_md5={},
        origin="rattle_2at",
        **LabelRecord.structure_fields(atoms),
    )
    LabelRecord(
        structure_id="a" * 16,
        state="labelled",
        energy=atoms.get_potential_energy(),
        forces=atoms.get_forces().tolist(),
        stress=[0.0] * 6,
        **common,
    ).write(tmp_path / "a.json")
    LabelRecord(structure_id="b" * 16, state="failed", reason="scf_not_converged", **common).write(tmp_path / "b.json")
    frames = load_label_records(tmp_path)
    assert len(frames) == 1 and frames[0].info["origin"] == "rattle_2at" and structure_key(frames[0]) == "a" * 16
    assert frames[0].get_potential_energy() == pytest.approx(atoms.get_potential_energy())


def test_settings_heuristic_small_data_small_basis() -> None:
    small, why = choose_ace_settings(33, ["Si"])
    large, _ = choose_ace_settings(5000, ["Si"])
    (small_committee, committee_why), (large_committee, _) = choose_committee_settings(33), choose_committee_settings(5000)
    why = {**why, **committee_why}
    binary, _ = choose_ace_settings(400, ["Fe", "Pt"])  # 200 per element
    assert small.number_of_functions_per_element < binary.number_of_functions_per_element < large.number_of_functions_per_element
    assert small.ndensity == 1 and small.trainable == "func" and large.ndensity == 2 and large.trainable == "all"
    assert len(small.nradmax_by_orders) < len(large.nradmax_by_orders)
    assert small.cutoff == 5.0 and large.cutoff > small.cutoff
    assert small.kappa < large.kappa and small_committee.test_fraction > large_committee.test_fraction
    assert {"number_of_functions_per_element", "cutoff", "kappa", "test_fraction"} <= set(why)


def test_pacemaker_dataset_holds_dft_minus_baseline_minus_references(si_frames: list[Atoms]) -> None:
    """With a baseline that acts at bond lengths, the fitted targets must be DFT - baseline - references."""
    wide_zbl = make_baseline("zbl", ["Si"], r_inner=1.5, r_outer=3.0)
    references = {"Si": -107.0}
    frames = si_frames[:6]
    frame = pacemaker_dataframe(frames, wide_zbl, references, weights=[1, 0, 2, 1, 1, 3])
    assert len(frame) == 5 and list(frame["w_factor"]) == [1, 2, 1, 1, 3]  # weight 0 dropped
    assert {"ase_atoms", "energy", "forces", "energy_corrected"} <= set(frame.columns)
    for (_, row), atoms in zip(frame.iterrows(), [f for k, f in enumerate(frames) if k != 1], strict=True):
        probe = atoms.copy()
        probe.calc = wide_zbl
        base_energy, base_forces = probe.get_potential_energy(), probe.get_forces()
        assert abs(base_energy) > 1e-3  # the check means something
        assert row["energy"] == pytest.approx(atoms.get_potential_energy() - base_energy, abs=1e-9)
        assert row["energy_corrected"] == pytest.approx(row["energy"] - reference_energy(atoms, references), abs=1e-9)
        np.testing.assert_allclose(row["forces"], atoms.get_forces() - base_forces, atol=1e-9)
        assert row["ase_atoms"].calc is None and row["name"] == structure_key(atoms)


def test_input_yaml_uses_pyace_backend_without_repulsion() -> None:
    content = pacemaker_input(AceSettings(), ["Si"], "train.pckl.gzip", seed=3)
    assert content["backend"]["evaluator"] == "pyace"
    assert "repulsion" not in content["fit"]  # the ZBL baseline already provides it
    assert "reference_energy" not in content["data"]  # energy_corrected is given
    assert content["potential"]["bonds"]["ALL"]["rcut"] == 5.0 and content["seed"] == 3
    assert "min_relative_train_loss_per_iter" not in content["fit"]  # no early stopping unless asked
    stopping = pacemaker_input(AceSettings(min_relative_loss_per_iter=1e-3, early_stopping_patience=20), ["Si"], "d", 3)
    assert stopping["fit"]["min_relative_train_loss_per_iter"] == 1e-3 and stopping["fit"]["early_stopping_patience"] == 20


# --- the trained committee ----------------------------------------------------------------------


def _force_rmse(calc, frames: list[Atoms]) -> float:
    errors = []
    for atoms in frames:
        work = atoms.copy()
        work.calc = calc
        errors.append((work.get_forces() - atoms.get_forces()).ravel())
    return float(np.sqrt(np.mean(np.concatenate(errors) ** 2)))


def test_committee_predicts_held_out_forces(committee: Path) -> None:
    loaded = load_committee(committee)
    train, test = load_split(loaded)
    assert len(test) >= 5 and len(train) >= 20
    calc = CommitteeCalculator(loaded)
    rmse = _force_rmse(calc, test)
    assert rmse < 0.3, f"held-out force RMSE {rmse:.3f} eV/A"
    typical = float(np.sqrt(np.mean(np.concatenate([a.get_forces().ravel() for a in test]) ** 2)))
    assert rmse < 0.2 * typical  # learned, not a lucky small-force test set


def test_uncertainty_grows_with_distortion(committee: Path) -> None:
    calc = CommitteeCalculator(committee)
    near = bulk("Si", "diamond", 5.43, cubic=True)
    near.rattle(0.02, seed=1)
    far = bulk("Si", "diamond", 5.43, cubic=True)
    far.rattle(0.35, seed=1)
    signals = {}
    for name, atoms in (("near", near), ("far", far)):
        atoms.calc = calc
        atoms.get_forces()
        signals[name] = dict(calc.results)
    assert signals["far"]["max_force_std"] > 3 * signals["near"]["max_force_std"]
    assert signals["far"]["energy_std_per_atom"] > signals["near"]["energy_std_per_atom"]
    assert signals["near"]["force_std"].shape == (8,)
    assert signals["near"]["mean_force_std"] <= signals["near"]["max_force_std"]
    # The second signal: pacemaker's extrapolation grade from the members' active sets.
    assert signals["far"]["max_gamma"] > signals["near"]["max_gamma"]
    assert signals["far"]["gamma"].shape == (8,)


def test_manifest_and_member_files(committee: Path, si_frames: list[Atoms]) -> None:
    manifest = json.loads(committee.read_text())
    root = committee.parent
    assert len(manifest["members"]) == COMMITTEE_SIZE
    assert manifest["backend"] == "ace" and "mace" not in manifest
    assert manifest["baseline"] == {"name": "zbl", "parameters": {}}
    assert set(manifest["reference_energies"]) == {"Si"} and -108 < manifest["reference_energies"]["Si"] < -105
    assert len(manifest["config_hash"]) == 16
    assert set(manifest["training_ids"]).isdisjoint(manifest["test_ids"])
    assert len(manifest["training_ids"]) + len(manifest["test_ids"]) == len(si_frames)
    seeds = {m["seed"] for m in manifest["members"]}
    assert len(seeds) == COMMITTEE_SIZE
    for member in manifest["members"]:
        for key in ("potential_yaml", "potential_yace", "active_set", "pacemaker_log"):
            assert (root / member[key]).is_file() and (root / member[key]).stat().st_size > 0, key
        assert set(member["bootstrap"]) <= set(manifest["training_ids"])  # members never see test structures
        assert sum(member["bootstrap"].values()) == len(manifest["training_ids"])
        data = pd.read_pickle(
            root / member["potential_yaml"].replace("output_potential.yaml", "train.pckl.gzip"), compression="gzip"
        )
        assert set(data["name"]).isdisjoint(manifest["test_ids"])
        config = yaml.safe_load((root / member["potential_yaml"]).with_name("input.yaml").read_text())
        assert config["backend"]["evaluator"] == "pyace" and config["seed"] == member["seed"]
    # small data: every member fits all of it (no resample) and the members are draws from the ridge posterior,
    # centred so that their mean is the all-data solution
    assert manifest["settings"]["bootstrap"] is False
    assert all(set(m["bootstrap"].values()) == {1} for m in manifest["members"])
    coefficients = np.array([BBasisConfiguration(str(root / m["potential_yaml"])).get_func_coeffs() for m in manifest["members"]])
    assert np.abs(coefficients[0] - coefficients[1]).max() > 1e-6  # the members differ
    fits = [json.loads((root / m["potential_yaml"]).with_name("linear_fit.json").read_text()) for m in manifest["members"]]
    assert all("posterior draw" in fit["member"] for fit in fits)


def test_metrics_json_and_plots(report: dict[str, Path]) -> None:
    metrics = CommitteeMetrics.read(report["metrics"])
    for part in ("train", "test"):
        block = getattr(metrics.committee, part)
        for key in ("energy_rmse_per_atom", "energy_mae_per_atom", "force_rmse", "force_mae", "stress_rmse"):
            assert np.isfinite(getattr(block, key)) and getattr(block, key) >= 0, (part, key)
    assert len(metrics.members) == COMMITTEE_SIZE
    for member in metrics.members:
        assert member.train.force_rmse > 0 and member.test.force_rmse > 0
    assert metrics.committee.test.force_rmse < 0.3
    for key in ("parity", "learning_curve"):
        path = report[key]
        assert path.is_file() and path.stat().st_size > 10_000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_delta_learning_baseline_plus_model(committee: Path) -> None:
    loaded = load_committee(committee)
    manifest = loaded.manifest
    full = CommitteeCalculator(loaded, extrapolation_grade=False)
    model_only = CommitteeCalculator(loaded, extrapolation_grade=False, include_baseline=False)
    zbl = make_baseline("zbl", ["Si"])

    def energy_forces(calc, atoms: Atoms) -> tuple[float, np.ndarray]:
        work = atoms.copy()
        work.calc = calc
        return work.get_potential_energy(), work.get_forces()

    # Short range: two atoms 1.2 A apart (ZBL fully on) -> switching the baseline off changes the prediction by it.
    dimer = Atoms("Si2", positions=[[0, 0, 0], [1.2, 0, 0]], cell=[12, 12, 12], pbc=True)
    (e_full, f_full), (e_model, f_model), (e_base, f_base) = (energy_forces(c, dimer) for c in (full, model_only, zbl))
    assert e_base > 10.0
    assert e_full - e_model == pytest.approx(e_base, rel=1e-9)
    np.testing.assert_allclose(f_full - f_model, f_base, atol=1e-9)
    assert f_full[0, 0] < -5.0  # repelled
    # At bonding distances ZBL is switched off: the baseline changes nothing there.
    crystal = bulk("Si", "diamond", 5.43, cubic=True)
    crystal.rattle(0.05, seed=2)
    assert energy_forces(full, crystal)[0] == pytest.approx(energy_forces(model_only, crystal)[0], abs=1e-9)
    # The production path equals ASE's SumCalculator composition.
    fast, slow = member_calculator(loaded, 0), ase_sum(loaded, 0)
    for atoms in (dimer, crystal):
        (e1, f1), (e2, f2) = energy_forces(fast, atoms), energy_forces(slow, atoms)
        assert e1 == pytest.approx(e2, abs=1e-9)
        np.testing.assert_allclose(f1, f2, atol=1e-9)
        np.testing.assert_allclose(fast.get_stress(atoms), slow.get_stress(atoms), atol=1e-10)
    # Training targets were DFT - baseline - references (here ZBL is zero at the training geometries).
    root = loaded.root
    data = pd.read_pickle(
        root / manifest.members[0].potential_yaml.replace("output_potential.yaml", "train.pckl.gzip"), compression="gzip"
    )
    train, _ = load_split(loaded)
    by_id = {structure_key(a): a for a in train}
    for _, row in data.iterrows():
        atoms = by_id[row["name"]]
        e_base = energy_forces(zbl, atoms)[0]
        assert row["energy_dft"] == pytest.approx(atoms.get_potential_energy(), abs=1e-9)
        assert row["energy_corrected"] == pytest.approx(
            atoms.get_potential_energy() - e_base - reference_energy(atoms, manifest.reference_energies), abs=1e-9
        )


def test_committee_evaluates_slabs_and_refuses_thin_vacuum(committee: Path) -> None:
    from ase.build import diamond100

    from mlip_autopipec.potentials.ace import ace_view
    from mlip_autopipec.potentials.committee import CommitteeCalculator

    slab = diamond100("Si", size=(2, 2, 4), vacuum=6.0)
    slab.pbc = (True, True, False)  # as the generator writes surfaces; pyace alone accepts only full or no periodicity
    slab.calc = CommitteeCalculator(committee, extrapolation_grade=False)
    forces = slab.get_forces()
    assert forces.shape == (len(slab), 3) and np.all(np.isfinite(forces))
    assert slab.calc.results["max_force_std"] >= 0
    thin = diamond100("Si", size=(2, 2, 4), vacuum=1.0)
    thin.pbc = (True, True, False)
    with pytest.raises(ValueError, match="vacuum"):
        ace_view(thin)


def test_model_cutoff_is_the_reach_of_a_force() -> None:
    """Carving keeps this radius intact: ACE's cutoff, MACE's r_max times its message-passing layers."""
    from mlip_autopipec.potentials.mace_backend import MaceHyperparameters, MaceSettings

    assert get_backend("ace").cutoff(AceSettings(cutoff=5.0)) == 5.0
    mace = MaceSettings(max_epochs=1, hyperparameters=MaceHyperparameters(r_max=4.5))
    assert get_backend("mace").cutoff(mace) == 4.5 * MaceHyperparameters().num_interactions


def test_held_out_errors_leave_dimer_scans_out(committee: Path, tmp_path: Path) -> None:
    """A dimer at short range in the test set (forces of tens of eV/A) must not stand for the potential's accuracy:
    ``test_condensed`` and the run's yardstick ``test_initial`` leave scans out; ``test`` keeps everything."""
    import shutil

    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import read, write

    copy = tmp_path / "committee"
    shutil.copytree(committee.parent, copy)
    manifest = json.loads((copy / "committee.json").read_text())
    test = read(copy / manifest["split"]["test_file"], ":")
    dimer = Atoms("Si2", positions=[[0, 0, 0], [0, 0, 1.6]], cell=[12, 12, 12], pbc=False)
    dimer.info.update(origin="dimer", structure_id="d1mer00000000000")
    dimer.calc = SinglePointCalculator(dimer, energy=-200.0, forces=[[0, 0, 40.0], [0, 0, -40.0]])
    write(copy / manifest["split"]["test_file"], [*test, dimer])
    manifest["initial_test_ids"] = [*manifest["test_ids"], "d1mer00000000000"]
    (copy / "committee.json").write_text(json.dumps(manifest))
    metrics = CommitteeMetrics.read(report_committee(copy / "committee.json")["metrics"]).committee
    assert metrics.test.n_structures == len(test) + 1
    assert metrics.test_condensed.n_structures == metrics.test_initial.n_structures == len(test)
    assert metrics.test_condensed.force_rmse < metrics.test.force_rmse
