"""The MACE backend with the real ``mace_run_train`` on real pw.x labels (tests/data/si_labels).

One tiny two-member MACE committee (a few epochs each) is trained once per module through the
workflow's committee pipeline (``plan_committee`` with backend mace, ``train_member``,
``collect_committee``, two members at a time). The checks are on the plumbing (files, manifest,
shapes, delta composition, MD, committee keys, report), not on accuracy, which a few epochs cannot give.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.io import read
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

from conftest import ase_sum
from mlip_autopipec.config.models import TrainConfig
from mlip_autopipec.data.records import CommitteeMetrics
from mlip_autopipec.potentials import ace
from mlip_autopipec.potentials.backend import get_backend
from mlip_autopipec.potentials.baselines import make_baseline
from mlip_autopipec.potentials.committee import CommitteeCalculator, member_calculator
from mlip_autopipec.potentials.committee_plan import (
    TrainedCommittee,
    collect_committee,
    load_committee,
    load_split,
    plan_committee,
    train_member,
)
from mlip_autopipec.potentials.delta import (
    delta_targets,
    make_delta_calculator,
    reference_energies,
    reference_energy,
)
from mlip_autopipec.potentials.mace_backend import (
    ENERGY_KEY,
    FORCES_KEY,
    RESULT_NAME,
    STRESS_KEY,
    TARGET_STEPS,
    choose_mace_epochs,
    write_mace_dataset,
)
from mlip_autopipec.potentials.metrics import (
    report_committee,
    training_curves,
)

EPOCHS = 5


@pytest.fixture(scope="module")
def setup(si_frames: list[Atoms]) -> dict:
    baseline = make_baseline("zbl", ["Si"])
    references = reference_energies(delta_targets(si_frames, baseline), elements=["Si"])
    return {"baseline": baseline, "references": references}


@pytest.fixture(scope="module")
def committee(mace_manifest: Path) -> tuple[TrainedCommittee, list[Path]]:
    """The pipeline's committee and its members' model files."""
    loaded = load_committee(mace_manifest)
    return loaded, [loaded.root / member.model for member in loaded.manifest.members]


def bare_model(loaded: TrainedCommittee, member: int):
    return get_backend("mace").load(loaded.root, loaded.manifest.members[member], extrapolation_grade=False)


def test_dataset_holds_delta_targets(si_frames: list[Atoms], setup: dict, tmp_path: Path) -> None:
    """The file MACE reads: DFT - ZBL - references under REF_* keys; bootstrap counts duplicate frames."""
    baseline, references = setup["baseline"], setup["references"]
    weights = np.zeros(len(si_frames), dtype=int)
    weights[0], weights[3] = 2, 1
    path = write_mace_dataset(si_frames, tmp_path / "train.extxyz", baseline, references, weights)
    frames = read(str(path), index=":")
    assert len(frames) == 3
    for atoms, source in zip(frames, [si_frames[0], si_frames[0], si_frames[3]], strict=True):
        probe = source.copy()
        expected = source.get_potential_energy() - baseline.get_potential_energy(probe) - reference_energy(source, references)
        assert atoms.info[ENERGY_KEY] == pytest.approx(expected, abs=1e-8)
        np.testing.assert_allclose(atoms.arrays[FORCES_KEY], source.get_forces() - baseline.get_forces(probe), atol=1e-8)
        assert np.asarray(atoms.info[STRESS_KEY]).shape == (6,)
        assert atoms.calc is None or ENERGY_KEY not in getattr(atoms.calc, "results", {})


def test_member_files(committee: tuple[TrainedCommittee, list[Path]]) -> None:
    _, paths = committee
    assert len(paths) == 2 and paths[0] != paths[1]
    for path in paths:
        assert path.is_file() and path.suffix == ".model" and path.stat().st_size > 0
        facts = json.loads((path.parent / RESULT_NAME).read_text())
        assert facts["max_epochs"] == EPOCHS and Path(facts["model"]) == path
        assert (path.parent / "mace_train.log").read_text().strip()
    seeds = {json.loads((p.parent / RESULT_NAME).read_text())["seed"] for p in paths}
    assert len(seeds) == 2


def test_member_predicts_fixture(committee, si_frames: list[Atoms]) -> None:
    loaded, _ = committee
    calc = member_calculator(loaded, 0)
    for source in (si_frames[0], si_frames[-1]):
        atoms = source.copy()
        atoms.calc = calc
        energy = atoms.get_potential_energy()
        forces = atoms.get_forces()
        assert np.isfinite(energy) and forces.shape == (len(atoms), 3) and np.isfinite(forces).all()
        # references carry the total energy: a few epochs land within ~1 eV/atom of DFT, not 100 eV
        assert abs(energy - source.get_potential_energy()) / len(atoms) < 5.0


def test_delta_composition_on_short_dimer(committee, setup: dict) -> None:
    """(baseline + MACE + refs) - (MACE + refs) is the ZBL energy where ZBL is large (1.0 A dimer)."""
    loaded, _ = committee
    baseline, references = setup["baseline"], loaded.manifest.reference_energies
    dimer = Atoms("Si2", positions=[[0, 0, 0], [0, 0, 1.0]], cell=[12, 12, 12], pbc=False)
    full, bare = dimer.copy(), dimer.copy()
    full.calc = make_delta_calculator(baseline, bare_model(loaded, 0), references)
    bare.calc = make_delta_calculator(None, bare_model(loaded, 0), references)
    zbl = dimer.copy()
    zbl.calc = make_baseline("zbl", ["Si"])
    zbl_energy = zbl.get_potential_energy()
    assert zbl_energy > 10.0  # strongly repulsive at 1 A
    assert full.get_potential_energy() - bare.get_potential_energy() == pytest.approx(zbl_energy, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(full.get_forces() - bare.get_forces(), zbl.get_forces(), atol=1e-9)
    # and the references are the per-element constant
    model_only = dimer.copy()
    model_only.calc = make_delta_calculator(None, bare_model(loaded, 0), None)
    assert bare.get_potential_energy() - model_only.get_potential_energy() == pytest.approx(2 * references["Si"], abs=1e-8)


def test_md_ten_steps(committee) -> None:
    loaded, _ = committee
    atoms = bulk("Si", "diamond", 5.43, cubic=True)
    assert len(atoms) == 8
    atoms.rattle(0.02, seed=3)
    atoms.calc = member_calculator(loaded, 0)
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dyn = Langevin(atoms, 1.0 * units.fs, temperature_K=300, friction=0.02, rng=np.random.default_rng(1))
    dyn.run(10)
    assert dyn.nsteps == 10
    assert np.isfinite(atoms.positions).all() and np.isfinite(atoms.get_potential_energy())


def test_committee_spread(committee, si_frames: list[Atoms]) -> None:
    ensemble = CommitteeCalculator(committee[0], extrapolation_grade=False)
    atoms = si_frames[-1].copy()
    atoms.calc = ensemble
    energy = atoms.get_potential_energy()
    assert np.isfinite(energy)
    results = ensemble.results
    assert results["member_energy"].shape == (2,) and results["forces"].shape == (len(atoms), 3)
    assert results["force_std"].shape == (len(atoms),) and np.isfinite(results["max_force_std"])
    assert results["energy_std"] > 0.0  # different seeds give different members


# --- the committee pipeline with backend mace (what the workflow runs) ----------------------------


@pytest.fixture(scope="module")
def mace_manifest(si_frames: list[Atoms], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """plan (backend mace) -> train_member x 2 (in parallel, as two workflow jobs would) -> collect."""
    workdir = tmp_path_factory.mktemp("mace_pipeline")
    plan_committee(si_frames, workdir, ["Si"], TrainConfig(committee_size=2, backend="mace", mace_epochs=EPOCHS))
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda member: train_member(workdir, member), range(2)))
    return collect_committee(workdir)


def test_plan_shares_split_and_resamples_with_ace(si_frames: list[Atoms], tmp_path: Path) -> None:
    """Same held-out structures and references for both backends; backend and epochs enter the hash."""
    plans = {
        name: plan_committee(si_frames, tmp_path / name, ["Si"], TrainConfig(committee_size=2, backend=name))  # type: ignore[arg-type]
        for name in ("ace", "mace")
    }
    ace_plan, mace_plan = plans["ace"], plans["mace"]
    assert ace_plan.backend == "ace" and ace_plan.mace is None
    for key in ("training_ids", "test_ids", "reference_energies", "settings", "split"):
        assert getattr(ace_plan, key) == getattr(mace_plan, key), key
    assert ace_plan.config_hash != mace_plan.config_hash
    epochs, why = choose_mace_epochs(len(mace_plan.training_ids))
    assert mace_plan.mace.max_epochs == epochs and mace_plan.settings_why["mace_epochs"] == why
    assert 40 <= epochs <= 400 and str(TARGET_STEPS) in why
    assert choose_mace_epochs(3000)[0] < epochs  # more data, fewer epochs for the same steps
    other = plan_committee(
        si_frames, tmp_path / "other", ["Si"], TrainConfig(committee_size=2, backend="mace", mace_options={"num_channels": 16})
    )
    assert other.mace.hyperparameters.num_channels == 16 and other.config_hash != mace_plan.config_hash
    with pytest.raises(ValueError, match="max_num_epochs"):
        plan_committee(si_frames, tmp_path / "bad", ["Si"], TrainConfig(backend="mace", mace_options={"max_num_epochs": 3}))


def test_manifest_says_mace_and_points_at_models(mace_manifest: Path) -> None:
    manifest = json.loads(mace_manifest.read_text())
    root = mace_manifest.parent
    assert manifest["backend"] == "mace" and manifest["mace"]["max_epochs"] == EPOCHS
    assert len(manifest["members"]) == 2 and len({m["seed"] for m in manifest["members"]}) == 2
    assert ace.RESULT_NAME == RESULT_NAME == "member.json"  # the workflow rule's output, for either backend
    for member in manifest["members"]:
        model = root / member["model"]
        assert not Path(member["model"]).is_absolute() and model.suffix == ".model" and model.is_file()
        assert (root / member["mace_log"]).read_text().strip() and (root / member["mace_curve"]).is_file()
        assert "potential_yace" not in member  # .yace export is ACE-only
        facts = json.loads((model.parent / RESULT_NAME).read_text())
        assert facts["seed"] == member["seed"] and facts["max_epochs"] == EPOCHS
        assert set(member["bootstrap"]) <= set(manifest["training_ids"])  # members never see test structures
        assert sum(member["bootstrap"].values()) == len(manifest["training_ids"]) == member["n_frames_written"]
        assert member["n_training_structures"] == len(member["bootstrap"]) and member["wall_time_s"] > 0
    assert manifest["members"][0]["seed"] != manifest["members"][1]["seed"]  # small data: all of it, own seeds


def test_committee_calculator_mace_mean_spread_and_md(mace_manifest: Path) -> None:
    calc = CommitteeCalculator(mace_manifest, extrapolation_grade=False)
    atoms = bulk("Si", "diamond", 5.43, cubic=True)
    atoms.rattle(0.05, seed=4)
    atoms.calc = calc
    forces = atoms.get_forces()
    results = calc.results
    assert forces.shape == (8, 3) and np.isfinite(forces).all() and np.isfinite(results["energy"])
    assert results["force_std"].shape == (8,) and results["max_force_std"] > 0 and results["energy_std"] >= 0
    assert results["stress"].shape == (6,) and results["member_stress"].shape == (2, 6)
    assert "gamma" not in results  # ACE's extrapolation grade has no MACE analogue
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dyn = Langevin(atoms, 1.0 * units.fs, temperature_K=300, friction=0.02, rng=np.random.default_rng(1))
    dyn.run(10)
    assert dyn.nsteps == 10 and np.isfinite(atoms.positions).all() and np.isfinite(calc.results["max_force_std"])


def test_mace_members_take_slabs_as_they_are(mace_manifest: Path) -> None:
    """No ace_view: a slab with less vacuum than ACE's cutoff is evaluated; no stress without full periodicity."""
    from ase.build import diamond100

    slab = diamond100("Si", size=(2, 2, 4), vacuum=1.0)
    slab.pbc = (True, True, False)
    slab.calc = CommitteeCalculator(mace_manifest, extrapolation_grade=False)
    assert np.isfinite(slab.get_forces()).all() and "stress" not in slab.calc.results
    with pytest.raises(ValueError, match="vacuum"):
        ace.ace_view(slab)


def test_member_calculator_fast_equals_sum(mace_manifest: Path) -> None:
    manifest = load_committee(mace_manifest)
    fast, slow = member_calculator(manifest, 1), ase_sum(manifest, 1)
    crystal = bulk("Si", "diamond", 5.43, cubic=True)
    crystal.rattle(0.05, seed=2)
    dimer = Atoms("Si2", positions=[[0, 0, 0], [0, 0, 1.2]], cell=[12, 12, 12], pbc=True)
    for atoms in (crystal, dimer):
        a, b = atoms.copy(), atoms.copy()
        a.calc, b.calc = fast, slow
        assert a.get_potential_energy() == pytest.approx(b.get_potential_energy(), abs=1e-9)
        np.testing.assert_allclose(a.get_forces(), b.get_forces(), atol=1e-9)
        np.testing.assert_allclose(a.get_stress(), b.get_stress(), atol=1e-10)
    # the committee mean of member 1 alone is that member
    single = CommitteeCalculator(manifest, extrapolation_grade=False, members=[1])
    probe = crystal.copy()
    probe.calc = single
    a = crystal.copy()
    a.calc = fast
    assert probe.get_potential_energy() == pytest.approx(a.get_potential_energy(), abs=1e-9)


def test_report_committee_mace(mace_manifest: Path, tmp_path: Path) -> None:
    paths = report_committee(mace_manifest, tmp_path)
    metrics = CommitteeMetrics.read(paths["metrics"])
    _, test = load_split(load_committee(mace_manifest))
    assert metrics.committee.test.n_structures == len(test) > 0
    for part in ("train", "test"):
        for key in ("energy_rmse_per_atom", "force_rmse", "stress_rmse"):
            assert np.isfinite(getattr(getattr(metrics.committee, part), key)), (part, key)
    assert len(metrics.members) == 2 and metrics.config_hash == json.loads(mace_manifest.read_text())["config_hash"]
    curves = training_curves(load_committee(mace_manifest))
    assert len(curves) == 2 and all(len(c.step) == EPOCHS and np.isfinite(c.force_rmse).all() for c in curves)
    for key in ("parity", "learning_curve"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[key].stat().st_size > 10_000


def test_backends_by_name_and_torch_is_not_imported() -> None:
    assert get_backend("ace").name == "ace" and get_backend("mace").name == "mace"
    with pytest.raises(ValueError, match="unknown training backend"):
        get_backend("nequip")
    code = (
        "import sys, mlip_autopipec.potentials.committee, mlip_autopipec.potentials.committee_plan, mlip_autopipec.potentials.metrics; "
        "print(sorted({'torch', 'mace', 'pyace'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
