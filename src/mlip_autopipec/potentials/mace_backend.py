"""The MACE backend of a committee: settings, one member's fit with the real ``mace_run_train``, loading, curves.

One member: the training structures become delta targets (DFT minus baseline minus per-element
reference energies, exactly as ``ace.train_ace_member`` prepares them), are written to extxyz
under the keys ``REF_energy`` / ``REF_forces`` / ``REF_stress``, and ``mace_run_train`` fits a small
MACE model in float64 on the device the config's ``device`` resolves to (``potentials.device``; the CPU
unless CUDA is asked for or, with ``auto``, seen), and saves it CPU-loadable (``--save_cpu``). The committee (split, resamples, seeds, manifest) is
``committee_plan``'s; ``MACE`` is this module's ``TrainingBackend``.

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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator, Calculator
from ase.data import atomic_numbers
from ase.io import write
from pydantic import BaseModel, ConfigDict, Field

from mlip_autopipec.executables import run_logged, venv_tool
from mlip_autopipec.potentials.backend import Curve, CurveLabels, MemberJob, TrainingData, relative_path
from mlip_autopipec.potentials.delta import delta_targets, subtract_reference_energies
from mlip_autopipec.potentials.device import DeviceChoice, as_choice

if TYPE_CHECKING:
    from mlip_autopipec.config.models import TrainConfig
    from mlip_autopipec.data.records import MaceMemberEntry, MaceMemberRecord

TRAIN_NAME = "mace_train.extxyz"
LOG_NAME = "mace_train.log"
#: The same file name as the ACE member's facts: the workflow's ``train_member`` output for either backend.
RESULT_NAME = "member.json"
MODEL_NAME = "mace_member"
ENERGY_KEY = "REF_energy"
FORCES_KEY = "REF_forces"
STRESS_KEY = "REF_stress"


class MaceHyperparameters(BaseModel):
    """The model and optimiser flags of ``mace_run_train``; the defaults are a tiny model for CPU delta fits.

    ``energy_weight`` 10 (mace's default is 1 against forces 100): with 1, 20 epochs on the Si fixture left
    384 meV/atom energy RMSE; with 10, 31.
    """

    model_config = ConfigDict(extra="forbid")

    num_channels: int = Field(default=8, ge=1, description="Channels per irreducible representation (count).")
    max_L: int = Field(default=0, ge=0, description="Highest angular momentum of the equivariant messages.")
    r_max: float = Field(default=4.0, gt=0, description="Radial cutoff of one message-passing layer (Angstrom).")
    num_interactions: int = Field(default=2, ge=1, description="Message-passing layers (count).")
    correlation: int = Field(default=2, ge=1, description="Body order of the messages minus one.")
    num_radial_basis: int = Field(default=6, ge=1, description="Bessel functions of the radial basis (count).")
    batch_size: int = Field(default=4, ge=1, description="Training structures per optimiser step (count).")
    valid_batch_size: int = Field(default=4, ge=1, description="Validation structures per evaluation batch (count).")
    lr: float = Field(default=0.01, gt=0, description="Adam learning rate (dimensionless).")
    energy_weight: float = Field(default=10.0, ge=0, description="Weight of energies in the loss (forces: 100).")


class MaceSettings(BaseModel):
    """Every ``mace_run_train`` choice of a committee's members."""

    model_config = ConfigDict(extra="forbid")

    max_epochs: int = Field(
        ge=1, description="Training epochs (count): train.mace_epochs, else chosen by ``choose_mace_epochs``."
    )
    options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="The user's extra mace_run_train flags (train.mace_options), as given."
    )
    hyperparameters: MaceHyperparameters = Field(
        default_factory=MaceHyperparameters, description="The tiny defaults with the user's options applied."
    )

    def flags(self) -> dict[str, Any]:
        """The model and optimiser flags of the command line: the hyperparameters, then any other option."""
        return {**self.hyperparameters.model_dump(), **self.options}


#: ``mace_run_train`` flags the pipeline sets itself: file names, label keys, E0s, seed and epochs are
#: bookkeeping the committee relies on (epochs: ``train.mace_epochs``), so ``options`` may not change them.
RESERVED_FLAGS = frozenset(
    {
        "name",
        "train_file",
        "valid_file",
        "test_file",
        "E0s",
        "energy_key",
        "forces_key",
        "stress_key",
        "seed",
        "max_num_epochs",
        "model_dir",
        "log_dir",
        "checkpoints_dir",
        "results_dir",
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
    batch = int({**MaceHyperparameters().model_dump(), **dict(options or {})}["batch_size"])
    per_epoch = max(1, math.ceil(max(n_train, 1) * (1.0 - valid_fraction) / batch))
    epochs = int(min(max(math.ceil(TARGET_STEPS / per_epoch), EPOCH_RANGE[0]), EPOCH_RANGE[1]))
    why = (
        f"about {TARGET_STEPS} optimiser steps: {n_train} training structures in batches of {batch} "
        f"({per_epoch} steps per epoch), kept within {EPOCH_RANGE[0]}-{EPOCH_RANGE[1]} epochs"
    )
    return epochs, why


def mace_settings(n_train: int, epochs: int | None = None, options: Mapping[str, Any] | None = None) -> tuple[MaceSettings, str]:
    """The settings for ``n_train`` training frames: ``epochs`` (the user's) or ``choose_mace_epochs``; and why those epochs."""
    options = check_mace_options(options)
    if epochs is None:
        epochs, why = choose_mace_epochs(n_train, options)
    else:
        why = "set by the user (train.mace_epochs)"
    known = {key: value for key, value in options.items() if key in MaceHyperparameters.model_fields}
    return MaceSettings(max_epochs=int(epochs), options=options, hyperparameters=MaceHyperparameters(**known)), why


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
    weights: Sequence[int] | np.ndarray | None = None,
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
    frames: list[Atoms] = []
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
    settings: MaceSettings,
    valid_fraction: float = 0.1,
    name: str = MODEL_NAME,
    stress: bool = True,
    device: str = "cpu",
) -> list[str]:
    """The ``mace_run_train`` command line (``device``, float64, the settings' model)."""
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
        f"--max_num_epochs={int(settings.max_epochs)}",
        f"--device={device}",
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
    for key, value in settings.flags().items():
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
            rows.append(
                {
                    "epoch": float(entry["epoch"]),
                    "rmse_f": float(entry["rmse_f"]),
                    "rmse_e_per_atom": float(entry.get("rmse_e_per_atom", np.nan)),
                }
            )
    return rows


def fit_mace_member(
    train_atoms: Sequence[Atoms],
    workdir: str | Path,
    elements: Sequence[str],
    baseline: BaseCalculator | None,
    reference_energies: Mapping[str, float] | None,
    settings: MaceSettings,
    seed: int = 123,
    weights: Sequence[int] | np.ndarray | None = None,
    valid_fraction: float = 0.1,
    stress: bool = True,
    threads: int = 1,
    timeout_s: float | None = None,
    device: DeviceChoice | str = "auto",
) -> MaceMemberRecord:
    """Fit one delta-learned MACE member with the real ``mace_run_train`` in ``workdir``; return its facts.

    Writes ``mace_train.extxyz`` (delta targets), ``mace_train.log`` (the trainer's output),
    ``member.json`` (``MaceMemberRecord``, with the ``device`` it trained on) and the model ``mace_member.model``
    (``mace_member_stagetwo.model`` when stage two/SWA is enabled through the settings' options).
    ``device``: a choice, or ``auto``/``cpu``/``cuda`` to resolve here. Raises ``MaceTrainingError`` on failure.
    """
    from mlip_autopipec.data.records import MaceMemberRecord  # records embeds MaceSettings: import here, not at the top

    choice = as_choice(device)
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    (workdir / RESULT_NAME).unlink(missing_ok=True)
    dataset = write_mace_dataset(train_atoms, workdir / TRAIN_NAME, baseline, reference_energies, weights)
    stress = stress and any(
        atoms.pbc.all() and atoms.calc is not None and "stress" in atoms.calc.results for atoms in train_atoms
    )
    for stale in (
        f"{MODEL_NAME}.model",
        f"{MODEL_NAME}_stagetwo.model",
        f"{MODEL_NAME}_compiled.model",
        f"{MODEL_NAME}_stagetwo_compiled.model",
    ):
        (workdir / stale).unlink(missing_ok=True)
    for stale_dir in ("checkpoints", "results", "logs"):  # checkpoints: mace would restart from an old run; the others append
        shutil.rmtree(workdir / stale_dir, ignore_errors=True)
    argv = mace_train_argv(dataset.name, elements, seed, settings, valid_fraction, MODEL_NAME, stress, choice.resolved)
    log = workdir / LOG_NAME
    run_logged(argv, workdir, log, trainer_env(threads, choice.resolved), timeout_s, MaceTrainingError, append=False)
    counts = np.ones(len(train_atoms), dtype=int) if weights is None else np.asarray(weights, dtype=int)
    result = MaceMemberRecord(
        workdir=workdir,
        model=_find_model(workdir, MODEL_NAME),
        dataset=dataset,
        log=log,
        curve=_find_curve(workdir, MODEL_NAME, seed),
        seed=int(seed),
        max_epochs=int(settings.max_epochs),
        n_structures=int(np.count_nonzero(counts > 0)),
        n_frames_written=int(counts.sum()),
        elements=sorted(set(elements)),
        reference_energies=dict(reference_energies or {}),
        argv=argv,
        wall_time_s=round(time.monotonic() - start, 2),
        device=choice,
    )
    result.write(workdir / RESULT_NAME)
    return result


def trainer_env(threads: int, device: str) -> dict[str, str]:
    """The trainer's environment: ``threads`` CPU threads; on the CPU no GPU visible, so torch never initialises CUDA."""
    env = {
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1",
    }
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def load_mace_model(model_path: str | Path, device: str = "cpu") -> Calculator:
    """The bare MACE calculator (float64, CPU by default) for a saved ``.model``."""
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    import mace  # noqa: F401  - before e3nn, see module docstring
    from mace.calculators import MACECalculator

    return MACECalculator(model_paths=str(model_path), device=device, default_dtype="float64")


class MaceBackend:
    """The ``mace_run_train`` MACE backend of a committee (``TrainingBackend``)."""

    name: Literal["mace"] = "mace"
    curve_labels = CurveLabels("epoch", "validation", "MACE validation curves (delta targets, mace's own validation frames)")

    def choose_settings(
        self,
        train: TrainConfig,
        n_structures: int,
        n_train: int,
        elements: Sequence[str],
        training: TrainingData | None = None,
        seed: int = 42,
    ) -> tuple[MaceSettings, dict[str, str]]:
        """``mace_settings`` of the training frames, with ``train.mace_epochs`` and ``train.mace_options``."""
        settings, why = mace_settings(n_train, train.mace_epochs, train.mace_options)
        return settings, {"mace_epochs": why}

    def train(self, job: MemberJob) -> MaceMemberRecord:
        assert job.plan.mace is not None
        return fit_mace_member(
            job.train,
            job.workdir,
            job.plan.elements,
            job.baseline,
            job.plan.reference_energies,
            job.plan.mace,
            seed=job.seed,
            weights=job.weights,
            threads=job.threads,
            timeout_s=job.timeout_s,
            device=job.device,
        )

    def read_member(self, path: Path) -> MaceMemberRecord:
        from mlip_autopipec.data.records import MaceMemberRecord

        return MaceMemberRecord.read(path)

    def entry(self, record: MaceMemberRecord, root: Path, common: dict[str, Any]) -> MaceMemberEntry:
        from mlip_autopipec.data.records import MaceMemberEntry

        return MaceMemberEntry(
            **common,
            model=relative_path(record.model, root),
            mace_log=relative_path(record.log, root),
            mace_curve=relative_path(record.curve, root),
            max_epochs=record.max_epochs,
            n_frames_written=record.n_frames_written,
        )

    def load(self, root: Path, member: MaceMemberEntry, extrapolation_grade: bool) -> Calculator:
        """The bare MACE model on the CPU; ``extrapolation_grade`` is ACE's active-set gamma, which MACE has no analogue of."""
        return self.load_on(root, member, extrapolation_grade, "cpu")

    def load_on(self, root: Path, member: MaceMemberEntry, extrapolation_grade: bool, device: str) -> Calculator:
        """The bare MACE model on ``device`` (``cpu`` or ``cuda``): committee MD and kMC run it where the config says."""
        return load_mace_model(root / member.model, device)

    def view(self, atoms: Atoms) -> Atoms:
        """MACE takes any periodicity (slabs, wires, molecules) as it is."""
        return atoms

    def cutoff(self, settings: MaceSettings) -> float:
        """The receptive field: ``r_max`` times the number of message-passing layers."""
        return float(settings.hyperparameters.r_max) * int(settings.hyperparameters.num_interactions)

    def curve(self, root: Path, member: MaceMemberEntry) -> Curve | None:
        """mace's results file: validation errors per epoch."""
        if not member.mace_curve or not (root / member.mace_curve).is_file():
            return None
        rows = read_mace_curve(root / member.mace_curve)
        epoch, force, energy = (
            np.array([row[key] for row in rows], dtype=float) for key in ("epoch", "rmse_f", "rmse_e_per_atom")
        )
        return Curve(epoch, force, energy)


MACE = MaceBackend()
