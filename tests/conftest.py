"""Shared fixtures: small real Si structures and cheap-but-real DFT settings for pw.x."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from ase import Atoms
from ase.build import bulk
from ase.calculators.espresso import Espresso, EspressoProfile
from ase.calculators.mixing import SumCalculator

from mlip_autopipec.config.models import FullConfig, TrainConfig
from mlip_autopipec.config.rule_params import STRICT_ENV
from mlip_autopipec.dft.espresso.inputs import pw_input_data
from mlip_autopipec.dft.kpoints import kpoint_mesh
from mlip_autopipec.potentials.backend import get_backend
from mlip_autopipec.potentials.baselines import make_baseline
from mlip_autopipec.potentials.committee_plan import TrainedCommittee, train_committee
from mlip_autopipec.potentials.delta import ReferenceEnergyCalculator

# Every job of every real Snakemake run in the tests refuses a config value its rule does not pass in params
# (config/rule_params.py): a script that reads an undeclared key fails its test instead of rerunning imprecisely.
os.environ.setdefault(STRICT_ENV, "1")

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
PW_OUTPUTS = Path(__file__).parent / "data" / "pw_outputs"
PYTHON = sys.executable

# Cheap but real: 2-atom Si cells converge in a second or two on 2 cores with these.
FAST_SI_DFT = {"ecutwfc": 20.0, "ecutrho": 80.0, "kpoint_spacing": 0.5}


def small_si_structures(count: int = 3) -> list[Atoms]:
    frames = []
    for seed in range(count):
        atoms = bulk("Si", "diamond", 5.43 * (1.0 + 0.01 * seed))
        atoms.rattle(0.05, seed=seed)
        atoms.info["origin"] = "test_rattle"
        frames.append(atoms)
    return frames


@pytest.fixture(scope="session")
def pw_available() -> None:
    if shutil.which("pw.x") is None:
        pytest.fail("pw.x is not installed; run 'bash envs/install.sh' (installs the Debian quantum-espresso package)")


SI_LABELS = Path(__file__).parent / "data" / "si_labels" / "si_labels.extxyz"
"""33 real pw.x-labelled Si structures (tests/data/si_labels/make_si_labels.py made them)."""


@pytest.fixture(scope="session")
def si_frames() -> list[Atoms]:
    """The Si label fixture, shared by the ACE and MACE training tests (callers copy before changing frames)."""
    from mlip_autopipec.potentials.dataset import load_structures

    return load_structures(SI_LABELS)


ACE_COMMITTEE_SIZE = 3


@pytest.fixture(scope="session")
def ace_committee(si_frames: list[Atoms], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real pacemaker committee (3 members, 2 at a time) with the expander's settings, fewer BFGS steps: trained
    once per session (about a minute on 2 cores) for the training and the export tests. Tests that write into the
    committee folder work on a copy."""
    workdir = tmp_path_factory.mktemp("committee")
    train = TrainConfig(committee_size=ACE_COMMITTEE_SIZE, baseline="zbl", optimizer_steps=50)
    return train_committee(si_frames, workdir, ["Si"], train=train, parallel=2)


# ---------------------------------------------------------------- real Snakemake runs in a temporary folder

LABELLED = "results/iter_0/ingested.json"  # target: iteration 0 labelled and indexed (no training)


def snakemake(workdir: Path, *args: str, check: bool = True, target: str | None = LABELLED) -> subprocess.CompletedProcess[str]:
    command = [
        PYTHON,
        "-m",
        "snakemake",
        "-s",
        str(SNAKEFILE),
        "-d",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        "-c",
        "2",
        *args,
    ]
    if target:
        command.append(target)
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def write_config(workdir: Path, **extra: object) -> dict:
    config = {
        "composition": "Si",
        "structures": "si.extxyz",
        "dft": dict(FAST_SI_DFT),
        "label": {"mpi": {"ntasks": 2}},
        **extra,
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return config


def copy_run(source: Path, target: Path) -> Path:
    """A private copy of a finished run (results, label cache, Snakemake's metadata, times kept) for a test that
    edits it, so that tests sharing one run never see each other's edits, whatever their order."""
    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    return target


def direct_ase_energy(atoms: Atoms, full: FullConfig, directory: Path) -> tuple[float, np.ndarray]:
    """The same calculation through ASE's own Espresso calculator and profile.run (no code of ours runs pw.x)."""
    dft = full.dft
    calc = Espresso(
        profile=EspressoProfile(command="mpirun --allow-run-as-root -np 2 pw.x", pseudo_dir=dft.pseudo_dir),
        directory=str(directory),
        input_data=pw_input_data(dft, atoms, {}, restart=False, walltime_s=600),
        pseudopotentials=dft.pseudopotentials,
        kpts=kpoint_mesh(atoms, dft.kpoint_spacing),
    )
    work = atoms.copy()
    work.calc = calc
    return work.get_potential_energy(), work.get_forces()


def ase_sum(loaded: TrainedCommittee, member: int) -> SumCalculator:
    """The reference composition: ASE's SumCalculator of baseline, bare model and reference energies."""
    manifest = loaded.manifest
    model = get_backend(manifest.backend).load(loaded.root, manifest.members[member], extrapolation_grade=False)
    baseline = make_baseline(manifest.baseline.name, manifest.elements, **manifest.baseline.parameters)
    return SumCalculator([baseline, model, ReferenceEnergyCalculator(manifest.reference_energies)])
