"""The MACE backend with the real ``mace_run_train`` on real pw.x labels (tests/data/si_labels).

A committee of two tiny MACE members (a few epochs each, about a minute in all on 2 cores) is trained
once per module; the checks are on the plumbing (files, shapes, delta composition, MD, committee keys),
not on accuracy, which a few epochs cannot give.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.io import read
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

from mlip_autopipec.potentials.baselines import make_baseline
from mlip_autopipec.potentials.dataset import load_structures
from mlip_autopipec.potentials.delta import delta_targets, reference_energies, reference_energy
from mlip_autopipec.potentials.ensemble import EnsembleCalculator
from mlip_autopipec.potentials.mace_backend import (
    ENERGY_KEY,
    FORCES_KEY,
    RESULT_NAME,
    STRESS_KEY,
    mace_committee,
    mace_member_calculator,
    write_mace_dataset,
)

FIXTURE = Path(__file__).parent / "data" / "si_labels" / "si_labels.extxyz"
EPOCHS = 5


@pytest.fixture(scope="module")
def si_frames() -> list[Atoms]:
    return load_structures(FIXTURE)


@pytest.fixture(scope="module")
def setup(si_frames: list[Atoms]) -> dict:
    baseline = make_baseline("zbl", ["Si"])
    references = reference_energies(delta_targets(si_frames, baseline), elements=["Si"])
    return {"baseline": baseline, "references": references}


@pytest.fixture(scope="module")
def committee(si_frames: list[Atoms], setup: dict, tmp_path_factory: pytest.TempPathFactory) -> tuple[EnsembleCalculator, list[Path]]:
    workdir = tmp_path_factory.mktemp("mace")
    return mace_committee(si_frames, workdir, ["Si"], setup["baseline"], setup["references"], committee_size=2, seed=7, max_epochs=EPOCHS)


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


def test_member_files(committee: tuple[EnsembleCalculator, list[Path]]) -> None:
    _, paths = committee
    assert len(paths) == 2 and paths[0] != paths[1]
    for path in paths:
        assert path.is_file() and path.suffix == ".model" and path.stat().st_size > 0
        facts = json.loads((path.parent / RESULT_NAME).read_text())
        assert facts["max_epochs"] == EPOCHS and Path(facts["model"]) == path
        assert (path.parent / "mace_train.log").read_text().strip()
    seeds = {json.loads((p.parent / RESULT_NAME).read_text())["seed"] for p in paths}
    assert len(seeds) == 2


def test_member_predicts_fixture(committee, si_frames: list[Atoms], setup: dict) -> None:
    _, paths = committee
    calc = mace_member_calculator(paths[0], setup["baseline"], setup["references"])
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
    _, paths = committee
    baseline, references = setup["baseline"], setup["references"]
    dimer = Atoms("Si2", positions=[[0, 0, 0], [0, 0, 1.0]], cell=[12, 12, 12], pbc=False)
    full, bare = dimer.copy(), dimer.copy()
    full.calc = mace_member_calculator(paths[0], baseline, references)
    bare.calc = mace_member_calculator(paths[0], None, references)
    zbl = dimer.copy()
    zbl.calc = make_baseline("zbl", ["Si"])
    zbl_energy = zbl.get_potential_energy()
    assert zbl_energy > 10.0  # strongly repulsive at 1 A
    assert full.get_potential_energy() - bare.get_potential_energy() == pytest.approx(zbl_energy, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(full.get_forces() - bare.get_forces(), zbl.get_forces(), atol=1e-9)
    # and the references are the per-element constant
    model_only = dimer.copy()
    model_only.calc = mace_member_calculator(paths[0], None, None)
    assert bare.get_potential_energy() - model_only.get_potential_energy() == pytest.approx(2 * references["Si"], abs=1e-8)


def test_md_ten_steps(committee, setup: dict) -> None:
    _, paths = committee
    atoms = bulk("Si", "diamond", 5.43, cubic=True)
    assert len(atoms) == 8
    atoms.rattle(0.02, seed=3)
    atoms.calc = mace_member_calculator(paths[0], setup["baseline"], setup["references"])
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dyn = Langevin(atoms, 1.0 * units.fs, temperature_K=300, friction=0.02, rng=np.random.default_rng(1))
    dyn.run(10)
    assert dyn.nsteps == 10
    assert np.isfinite(atoms.positions).all() and np.isfinite(atoms.get_potential_energy())


def test_committee_spread(committee, si_frames: list[Atoms]) -> None:
    ensemble, _ = committee
    atoms = si_frames[-1].copy()
    atoms.calc = ensemble
    energy = atoms.get_potential_energy()
    assert np.isfinite(energy)
    results = ensemble.results
    assert results["member_energy"].shape == (2,) and results["forces"].shape == (len(atoms), 3)
    assert results["force_std"].shape == (len(atoms),) and np.isfinite(results["max_force_std"])
    assert results["energy_std"] > 0.0  # different seeds and bootstrap resamples give different members
