"""A MACE backend behind the same delta-learning interface as the ACE committee.

One member: the training structures become delta targets (DFT minus baseline minus per-element
reference energies, exactly as ``ace.train_ace_member`` prepares them), are written to extxyz
under the keys ``REF_energy`` / ``REF_forces`` / ``REF_stress``, and the real ``mace_run_train``
command fits a small MACE model on CPU in float64. At run time the member is
``baseline + MACE + reference energies`` through ``delta.make_delta_calculator``; a committee of
members (different seeds and bootstrap resamples) is combined with ``ensemble.EnsembleCalculator``,
which returns the same uncertainty keys as the ACE ``CommitteeCalculator``.

Because the reference energies are subtracted from the labels, MACE is given ``E0s`` of zero for
every element: the model only learns the smooth remainder.

Import note: on torch 2.13, ``import e3nn`` before ``import mace`` fails (weights-only unpickling);
this module imports MACE lazily and sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` first.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator, Calculator
from ase.data import atomic_numbers
from ase.io import write

from mlip_autopipec.executables import run_logged, venv_tool
from mlip_autopipec.potentials.dataset import bootstrap_counts
from mlip_autopipec.potentials.delta import delta_targets, make_delta_calculator, subtract_reference_energies
from mlip_autopipec.potentials.ensemble import EnsembleCalculator

TRAIN_NAME = "mace_train.extxyz"
LOG_NAME = "mace_train.log"
RESULT_NAME = "mace_member.json"
MODEL_NAME = "mace_member"
ENERGY_KEY = "REF_energy"
FORCES_KEY = "REF_forces"
STRESS_KEY = "REF_stress"

#: A tiny model: enough for tests and small delta fits on a CPU. ``energy_weight`` 10 (mace's default
#: is 1 against forces 100): with 1, 20 epochs on the Si fixture left 384 meV/atom energy RMSE; with 10, 31.
TINY_MACE: dict[str, Any] = {
    "num_channels": 8,
    "max_L": 0,
    "r_max": 4.0,
    "num_interactions": 2,
    "correlation": 2,
    "num_radial_basis": 6,
    "batch_size": 4,
    "valid_batch_size": 4,
    "lr": 0.01,
    "energy_weight": 10.0,
}


class MaceTrainingError(RuntimeError):
    """``mace_run_train`` failed or wrote no model; the message names the log to read."""


def _tool(name: str) -> str:
    found = venv_tool(name)
    if found is None:
        raise MaceTrainingError(f"'{name}' not found; install mace-torch")
    return found


def write_mace_dataset(
    train_atoms: Sequence[Atoms],
    path: str | Path,
    baseline: BaseCalculator | None,
    reference_energies: Mapping[str, float] | None,
    weights: Sequence[int] | None = None,
) -> Path:
    """Delta targets (DFT - baseline - references) as extxyz with ``REF_*`` keys; return the path.

    ``weights`` are integer multiplicities (bootstrap counts): a structure drawn k times is
    written k times (MACE has per-config weights too, but duplication keeps the file self-evident).
    """
    targets = delta_targets(train_atoms, baseline)
    if reference_energies:
        targets = subtract_reference_energies(targets, reference_energies)
    counts = np.ones(len(targets), dtype=int) if weights is None else np.asarray(weights, dtype=int)
    if counts.shape != (len(targets),):
        raise ValueError(f"got {counts.size} weights for {len(targets)} structures")
    frames = []
    for atoms, count in zip(targets, counts, strict=True):
        results = atoms.calc.results
        clean = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        clean.info[ENERGY_KEY] = float(results["energy"])
        clean.arrays[FORCES_KEY] = np.asarray(results["forces"], dtype=float)
        if "stress" in results and bool(atoms.pbc.all()):
            clean.info[STRESS_KEY] = np.asarray(results["stress"], dtype=float).reshape(6)
        frames.extend(clean.copy() for _ in range(int(count)))
    if not frames:
        raise ValueError("no training structures for MACE")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write(str(path), frames, format="extxyz")
    return path


def mace_train_argv(
    train_file: str | Path,
    elements: Sequence[str],
    seed: int,
    max_epochs: int,
    valid_fraction: float = 0.1,
    name: str = MODEL_NAME,
    stress: bool = True,
    options: Mapping[str, Any] | None = None,
) -> list[str]:
    """The ``mace_run_train`` command line (CPU, float64, tiny model unless ``options`` override)."""
    settings = {**TINY_MACE, **dict(options or {})}
    e0s = {int(atomic_numbers[symbol]): 0.0 for symbol in sorted(set(elements))}
    argv = [
        _tool("mace_run_train"),
        f"--name={name}",
        f"--train_file={train_file}",
        f"--valid_fraction={valid_fraction}",
        f"--E0s={e0s!r}",  # a Python literal: mace parses it with ast.literal_eval, int keys
        f"--energy_key={ENERGY_KEY}",
        f"--forces_key={FORCES_KEY}",
        f"--stress_key={STRESS_KEY}",
        f"--seed={int(seed)}",
        f"--max_num_epochs={int(max_epochs)}",
        "--device=cpu",
        "--default_dtype=float64",
        "--model_dir=.",
        "--log_dir=logs",
        "--checkpoints_dir=checkpoints",
        "--results_dir=results",
        "--eval_interval=1",
        "--plot=False",
        "--save_cpu",
    ]
    if stress:
        argv += ["--loss=stress", "--compute_stress=True", "--error_table=PerAtomRMSEstressvirials"]
    for key, value in settings.items():
        argv.append(f"--{key}={value}")
    return argv


def _find_model(workdir: Path, name: str) -> Path:
    """The model ``mace_run_train`` saved: ``<name>_stagetwo.model`` if stage two ran, else ``<name>.model``."""
    for candidate in (f"{name}_stagetwo.model", f"{name}.model"):
        path = workdir / candidate
        if path.is_file():
            return path
    raise MaceTrainingError(f"mace_run_train wrote no {name}.model in {workdir}; see {workdir / LOG_NAME}")


def train_mace_member(
    train_atoms: Sequence[Atoms],
    workdir: str | Path,
    elements: Sequence[str],
    baseline: BaseCalculator | None,
    reference_energies: Mapping[str, float] | None,
    seed: int = 123,
    max_epochs: int = 20,
    weights: Sequence[int] | None = None,
    valid_fraction: float = 0.1,
    stress: bool = True,
    options: Mapping[str, Any] | None = None,
    threads: int = 1,
    timeout_s: float | None = None,
) -> Path:
    """Fit one delta-learned MACE member with the real ``mace_run_train`` in ``workdir``; return the model path.

    Writes ``mace_train.extxyz`` (delta targets), ``mace_train.log`` (the trainer's output),
    ``mace_member.json`` (facts: seed, epochs, wall time, model path) and the model
    ``mace_member.model`` (``mace_member_stagetwo.model`` when stage two/SWA is enabled through
    ``options``). ``options`` override ``TINY_MACE`` and add any ``mace_run_train`` flag
    (``{"num_channels": 32, "max_L": 1}``). Raises ``MaceTrainingError`` on failure.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    dataset = write_mace_dataset(train_atoms, workdir / TRAIN_NAME, baseline, reference_energies, weights)
    stress = stress and any(atoms.pbc.all() and atoms.calc is not None and "stress" in atoms.calc.results for atoms in train_atoms)
    for stale in (f"{MODEL_NAME}.model", f"{MODEL_NAME}_stagetwo.model", f"{MODEL_NAME}_compiled.model", f"{MODEL_NAME}_stagetwo_compiled.model"):
        (workdir / stale).unlink(missing_ok=True)
    shutil.rmtree(workdir / "checkpoints", ignore_errors=True)  # else mace would restart from an old run
    argv = mace_train_argv(dataset.name, elements, seed, max_epochs, valid_fraction, MODEL_NAME, stress, options)
    env = {
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }
    log = workdir / LOG_NAME
    run_logged(argv, workdir, log, env, timeout_s, MaceTrainingError, append=False)
    model = _find_model(workdir, MODEL_NAME)
    facts = {
        "model": str(model),
        "dataset": str(dataset),
        "log": str(log),
        "seed": int(seed),
        "max_epochs": int(max_epochs),
        "n_structures": len(train_atoms),
        "n_frames_written": int(len(train_atoms) if weights is None else np.sum(weights)),
        "elements": sorted(set(elements)),
        "reference_energies": dict(reference_energies or {}),
        "argv": argv,
        "wall_time_s": round(time.monotonic() - start, 2),
    }
    (workdir / RESULT_NAME).write_text(json.dumps(facts, indent=2))
    return model


def load_mace_model(model_path: str | Path, device: str = "cpu") -> Calculator:
    """The bare MACE calculator (float64, CPU by default) for a saved ``.model``."""
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    import mace  # noqa: F401  - before e3nn, see module docstring
    from mace.calculators import MACECalculator

    return MACECalculator(model_paths=str(model_path), device=device, default_dtype="float64")


def mace_member_calculator(
    model_path: str | Path,
    baseline: BaseCalculator | None,
    reference_energies: Mapping[str, float] | None,
    device: str = "cpu",
) -> BaseCalculator:
    """baseline + MACE + per-element reference energies (``make_delta_calculator``); the bare model without either."""
    return make_delta_calculator(baseline, load_mace_model(model_path, device), reference_energies)


def mace_committee(
    train_atoms: Sequence[Atoms],
    workdir: str | Path,
    elements: Sequence[str],
    baseline: BaseCalculator | None,
    reference_energies: Mapping[str, float] | None,
    committee_size: int = 2,
    seed: int = 42,
    max_epochs: int = 20,
    bootstrap: bool = True,
    **train_kwargs: Any,
) -> tuple[EnsembleCalculator, list[Path]]:
    """Train ``committee_size`` MACE members (in ``workdir/mace_member_KK``, one after another) and combine them.

    Member k uses trainer seed ``seed + 1000 * (k + 1)`` and, with ``bootstrap``, the same
    bootstrap resample as ACE member k (``dataset.bootstrap_counts(n, seed, k)``). Returns the
    ``EnsembleCalculator`` (mean, ``energy_std``, ``force_std``, ...) and the model paths.
    """
    if committee_size < 2:
        raise ValueError("a committee needs at least two members")
    workdir = Path(workdir)
    paths = []
    for member in range(committee_size):
        weights = bootstrap_counts(len(train_atoms), seed, member) if bootstrap else None
        paths.append(
            train_mace_member(
                train_atoms,
                workdir / f"mace_member_{member:02d}",
                elements,
                baseline,
                reference_energies,
                seed=seed + 1000 * (member + 1),
                max_epochs=max_epochs,
                weights=weights,
                **train_kwargs,
            )
        )
    members = [mace_member_calculator(path, baseline, reference_energies) for path in paths]
    return EnsembleCalculator(members), paths
