"""A MACE backend behind the same delta-learning interface as the ACE committee.

One member: the training structures become delta targets (DFT minus baseline minus per-element
reference energies, exactly as ``ace.train_ace_member`` prepares them), are written to extxyz
under the keys ``REF_energy`` / ``REF_forces`` / ``REF_stress``, and the real ``mace_run_train``
command fits a small MACE model on CPU in float64. At run time the member is
``baseline + MACE + reference energies`` through ``delta.make_delta_calculator``; a committee of
members (different seeds and bootstrap resamples) is combined with ``ensemble.EnsembleCalculator``,
which returns the same uncertainty keys as the ACE ``CommitteeCalculator``. The workflow's committee
(``train.backend: mace``) goes through ``committee.plan_committee`` / ``train_member`` instead, which
call ``fit_mace_member`` here with the split, resamples and seeds the ACE committee would use.

Because the reference energies are subtracted from the labels, MACE is given ``E0s`` of zero for
every element: the model only learns the smooth remainder.

Import note: on torch 2.13, ``import e3nn`` before ``import mace`` fails (weights-only unpickling);
this module imports MACE lazily and sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` first.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator, Calculator
from ase.data import atomic_numbers
from ase.io import write

from mlip_autopipec.data.atomic_io import atomic_write_json
from mlip_autopipec.executables import run_logged, venv_tool
from mlip_autopipec.potentials.dataset import bootstrap_counts
from mlip_autopipec.potentials.delta import delta_targets, make_delta_calculator, subtract_reference_energies
from mlip_autopipec.potentials.ensemble import EnsembleCalculator

TRAIN_NAME = "mace_train.extxyz"
LOG_NAME = "mace_train.log"
#: The same file name as the ACE member's facts: the workflow's ``train_member`` output for either backend.
RESULT_NAME = "member.json"
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


#: ``mace_run_train`` flags the pipeline sets itself: file names, label keys, E0s, seed and epochs are
#: bookkeeping the committee relies on (epochs: ``train.mace_epochs``), so ``options`` may not change them.
RESERVED_FLAGS = frozenset(
    {
        "name", "train_file", "valid_file", "test_file", "E0s", "energy_key", "forces_key", "stress_key",
        "seed", "max_num_epochs", "model_dir", "log_dir", "checkpoints_dir", "results_dir",
    }
)

#: ``choose_mace_epochs``: about this many optimiser steps, within these epochs. On the Si fixture
#: (26 training structures, 6 steps per epoch) 100 epochs gave 0.099 eV/A held-out force RMSE in 26 s
#: and 333 epochs (2000 steps) 0.068 eV/A in 75 s on one CPU core.
TARGET_STEPS = 2000
EPOCH_RANGE = (40, 400)


class MaceTrainingError(RuntimeError):
    """``mace_run_train`` failed or wrote no model; the message names the log to read."""


def check_mace_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The extra ``mace_run_train`` flags as a plain dict; raises ``ValueError`` for a flag the pipeline sets."""
    options = dict(options or {})
    reserved = sorted(set(options) & RESERVED_FLAGS)
    if reserved:
        raise ValueError(
            f"{', '.join(reserved)} set by the pipeline, not through mace_options"
            + (" (use train.mace_epochs)" if "max_num_epochs" in reserved else "")
        )
    return options


def choose_mace_epochs(n_train: int, options: Mapping[str, Any] | None = None, valid_fraction: float = 0.1) -> tuple[int, str]:
    """Epochs for about ``TARGET_STEPS`` optimiser steps (Adam), kept within ``EPOCH_RANGE``; returns (epochs, why).

    Why steps, not epochs: one epoch of a 30-structure set is a handful of steps, of a 3000-structure
    set hundreds; a fixed step budget trains small sets long enough and large ones not for days.
    """
    batch = int({**TINY_MACE, **dict(options or {})}["batch_size"])
    per_epoch = max(1, math.ceil(max(n_train, 1) * (1.0 - valid_fraction) / batch))
    epochs = int(min(max(math.ceil(TARGET_STEPS / per_epoch), EPOCH_RANGE[0]), EPOCH_RANGE[1]))
    why = (
        f"about {TARGET_STEPS} optimiser steps: {n_train} training structures in batches of {batch} "
        f"({per_epoch} steps per epoch), kept within {EPOCH_RANGE[0]}-{EPOCH_RANGE[1]} epochs"
    )
    return epochs, why


@dataclass
class MaceMemberResult:
    """Paths (absolute) and facts of one trained MACE member, also written as ``member.json`` in its folder.

    ``n_structures``: distinct structures fitted (bootstrap draws > 0); ``n_frames_written``: with repeats.
    ``curve``: mace's per-epoch results (validation RMSEs), for the learning-curve plot.
    """

    workdir: Path
    model: Path
    dataset: Path
    log: Path
    curve: Path | None
    seed: int
    max_epochs: int
    n_structures: int
    n_frames_written: int
    elements: list[str]
    reference_energies: dict[str, float]
    argv: list[str]
    wall_time_s: float

    def to_json(self) -> dict[str, Any]:
        return {key: (str(value) if isinstance(value, Path) else value) for key, value in asdict(self).items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MaceMemberResult:
        paths = {"workdir", "model", "dataset", "log", "curve"}
        known = {f.name for f in fields(cls)}
        return cls(**{k: (Path(v) if k in paths and v else v) for k, v in data.items() if k in known})


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
    settings = {**TINY_MACE, **check_mace_options(options)}
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


def _find_curve(workdir: Path, name: str, seed: int) -> Path | None:
    """mace's per-evaluation JSON lines (``results/<name>_run-<seed>_train.txt``), if it wrote them."""
    path = workdir / "results" / f"{name}_run-{int(seed)}_train.txt"
    return path if path.is_file() else next(iter(sorted((workdir / "results").glob(f"{name}_run-*_train.txt"))), None)


def read_mace_curve(path: str | Path) -> list[dict[str, float]]:
    """Per-epoch validation errors from mace's results file: ``epoch``, ``rmse_f`` (eV/A per component), ``rmse_e_per_atom`` (eV).

    mace writes one JSON object a line: ``mode: opt`` per batch, ``mode: eval`` per evaluation
    (``epoch: null`` before training); only evaluations after an epoch are kept.
    """
    rows = []
    for line in Path(path).read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("mode") == "eval" and entry.get("epoch") is not None and "rmse_f" in entry:
            rows.append({"epoch": float(entry["epoch"]), "rmse_f": float(entry["rmse_f"]), "rmse_e_per_atom": float(entry.get("rmse_e_per_atom", np.nan))})
    return rows


def fit_mace_member(
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
) -> MaceMemberResult:
    """Fit one delta-learned MACE member with the real ``mace_run_train`` in ``workdir``; return its facts.

    Writes ``mace_train.extxyz`` (delta targets), ``mace_train.log`` (the trainer's output),
    ``member.json`` (``MaceMemberResult``) and the model ``mace_member.model``
    (``mace_member_stagetwo.model`` when stage two/SWA is enabled through ``options``). ``options``
    override ``TINY_MACE`` and add any ``mace_run_train`` flag (``{"num_channels": 32, "max_L": 1}``)
    except ``RESERVED_FLAGS``. Raises ``MaceTrainingError`` on failure.
    """
    options = check_mace_options(options)
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    (workdir / RESULT_NAME).unlink(missing_ok=True)
    dataset = write_mace_dataset(train_atoms, workdir / TRAIN_NAME, baseline, reference_energies, weights)
    stress = stress and any(atoms.pbc.all() and atoms.calc is not None and "stress" in atoms.calc.results for atoms in train_atoms)
    for stale in (f"{MODEL_NAME}.model", f"{MODEL_NAME}_stagetwo.model", f"{MODEL_NAME}_compiled.model", f"{MODEL_NAME}_stagetwo_compiled.model"):
        (workdir / stale).unlink(missing_ok=True)
    for stale_dir in ("checkpoints", "results", "logs"):  # checkpoints: mace would restart from an old run; the others append
        shutil.rmtree(workdir / stale_dir, ignore_errors=True)
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
    counts = np.ones(len(train_atoms), dtype=int) if weights is None else np.asarray(weights, dtype=int)
    result = MaceMemberResult(
        workdir=workdir,
        model=_find_model(workdir, MODEL_NAME),
        dataset=dataset,
        log=log,
        curve=_find_curve(workdir, MODEL_NAME, seed),
        seed=int(seed),
        max_epochs=int(max_epochs),
        n_structures=int(np.count_nonzero(counts > 0)),
        n_frames_written=int(counts.sum()),
        elements=sorted(set(elements)),
        reference_energies=dict(reference_energies or {}),
        argv=argv,
        wall_time_s=round(time.monotonic() - start, 2),
    )
    atomic_write_json(workdir / RESULT_NAME, result.to_json())
    return result


def train_mace_member(*args: Any, **kwargs: Any) -> Path:
    """``fit_mace_member`` returning only the model path (same arguments)."""
    return fit_mace_member(*args, **kwargs).model


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
