"""A committee of delta-learned ACE or MACE members: plan, train member k (one job each), collect, and run.

Why a committee: the spread of N independently trained members (different seeds, bootstrap
resamples of the training set) is large where the data do not constrain the model, which is the
signal active learning needs. The manifest (``committee.json``) records everything needed to
rebuild the calculator and to audit the fit: members, baseline name and parameters, reference
energies, training and test structure ids, settings and a config hash.

Workflow use: ``plan_committee`` once, ``train_member(workdir, k)`` as N separate jobs (they only
read the plan's files), ``collect_committee`` once; ``train_committee`` does all three in one call.

Backends: ``plan_committee(backend="ace" | "mace")``. The split, reference energies, bootstrap
resamples and member seeds are the backend-independent part (so both backends see the same
held-out structures); a ``Backend`` holds the rest: how a member trains, what its manifest entry
records, how it is loaded and which view of a structure it evaluates. Plans and manifests without
a ``backend`` key are ACE (written before MACE was selectable).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator, Calculator, all_changes
from ase.io import read
from ase.neighborlist import neighbor_list
from ase.stress import full_3x3_to_voigt_6_stress

from mlip_autopipec.data.atomic_io import atomic_write_extxyz, atomic_write_json
from mlip_autopipec.data.ids import parameters_hash
from mlip_autopipec.potentials.ace import (
    RESULT_NAME,
    AceMemberResult,
    AceTrainingSettings,
    ace_view,
    choose_ace_settings,
    train_ace_member,
)
from mlip_autopipec.potentials.baselines import make_baseline
from mlip_autopipec.potentials.dataset import bootstrap_counts, split_train_test
from mlip_autopipec.potentials.delta import (
    delta_targets,
    make_delta_calculator,
    reference_energies,
    reference_energy,
)
from mlip_autopipec.potentials.ensemble import spread_results
from mlip_autopipec.potentials.mace_backend import (
    TINY_MACE,
    MaceMemberResult,
    check_mace_options,
    choose_mace_epochs,
    fit_mace_member,
    load_mace_model,
)
from mlip_autopipec.potentials.pair import PairPotential

MANIFEST_NAME = "committee.json"
PLAN_NAME = "plan.json"
TRAIN_NAME = "train.extxyz"
TEST_NAME = "test.extxyz"
MANIFEST_VERSION = 1
BackendName = Literal["ace", "mace"]


def member_dir(workdir: str | Path, member: int) -> Path:
    return Path(workdir) / f"member_{member:02d}"


def member_seed(settings: AceTrainingSettings, member: int) -> int:
    """Each member's trainer seed (pacemaker or mace): distinct and reproducible."""
    return int(settings.seed) + 1000 * (member + 1)


def member_weights(settings: AceTrainingSettings, n_train: int, member: int) -> np.ndarray:
    """How often member ``member`` draws each training structure: its bootstrap resample, or all once."""
    return bootstrap_counts(n_train, settings.seed, member) if settings.bootstrap else np.ones(n_train, dtype=int)


# --- what differs between the backends ------------------------------------------------------------


@dataclass(frozen=True)
class MemberJob:
    """One member's training inputs, built the same way for every backend (shared split, resample, seed)."""

    plan: Mapping[str, Any]
    train: list[Atoms]
    workdir: Path
    weights: np.ndarray
    seed: int
    baseline: BaseCalculator | None
    timeout_s: float | None = None
    active_set: bool = True
    threads: int = 1


def _train_ace(job: MemberJob) -> AceMemberResult:
    settings = AceTrainingSettings(**job.plan["settings"])
    return train_ace_member(
        job.train, job.workdir, settings, job.plan["elements"], job.baseline, job.plan["reference_energies"],
        weights=job.weights, seed=job.seed, active_set=job.active_set, timeout_s=job.timeout_s,
    )


def _train_mace(job: MemberJob) -> MaceMemberResult:
    mace = job.plan["mace"]
    return fit_mace_member(
        job.train, job.workdir, job.plan["elements"], job.baseline, job.plan["reference_energies"],
        seed=job.seed, max_epochs=int(mace["max_epochs"]), weights=job.weights, options=mace["options"],
        threads=job.threads, timeout_s=job.timeout_s,
    )


def _ace_entry(result: AceMemberResult, root: Path) -> dict[str, Any]:
    return {
        "potential_yaml": _relative(result.potential_yaml, root),
        "potential_yace": _relative(result.potential_yace, root),
        "active_set": _relative(result.active_set, root),
        "pacemaker_log": _relative(result.log, root),
        "pacemaker_metrics": _relative(result.metrics, root),
        "n_functions": result.n_functions,
    }


def _mace_entry(result: MaceMemberResult, root: Path) -> dict[str, Any]:
    return {
        "model": _relative(result.model, root),
        "mace_log": _relative(result.log, root),
        "mace_curve": _relative(result.curve, root),
        "max_epochs": result.max_epochs,
        "n_frames_written": result.n_frames_written,
    }


def _load_ace(root: Path, member: Mapping[str, Any], extrapolation_grade: bool) -> Calculator:
    from pyace import PyACECalculator

    if extrapolation_grade and member.get("active_set"):
        calc = PyACECalculator(str(root / member["potential_yaml"]))
        calc.set_active_set(str(root / member["active_set"]))
        return calc
    return PyACECalculator(str(root / member["potential_yace"]))


def _load_mace(root: Path, member: Mapping[str, Any], extrapolation_grade: bool) -> Calculator:
    """The bare MACE model; ``extrapolation_grade`` is ACE's active-set gamma, which MACE has no analogue of."""
    return load_mace_model(root / member["model"])


def _as_is(atoms: Atoms) -> Atoms:
    """MACE takes any periodicity (slabs, wires, molecules) as it is."""
    return atoms


@dataclass(frozen=True)
class Backend:
    """The backend-specific steps of a committee; everything else is shared.

    ``train``: fit one member (writes ``member_KK/member.json``); ``result``: that file back as the
    backend's result; ``entry``: the member's manifest fields (paths relative to the committee
    folder); ``load``: the bare model calculator of a manifest entry; ``view``: the structure as
    the model evaluates it (ACE: slabs made fully periodic, see ``ace.ace_view``).
    """

    name: BackendName
    train: Callable[[MemberJob], Any]
    result: Callable[[Mapping[str, Any]], Any]
    entry: Callable[[Any, Path], dict[str, Any]]
    load: Callable[[Path, Mapping[str, Any], bool], Calculator]
    view: Callable[[Atoms], Atoms]


BACKENDS: dict[str, Backend] = {
    "ace": Backend("ace", _train_ace, AceMemberResult.from_json, _ace_entry, _load_ace, ace_view),
    "mace": Backend("mace", _train_mace, MaceMemberResult.from_json, _mace_entry, _load_mace, _as_is),
}


def get_backend(source: str | Mapping[str, Any]) -> Backend:
    """The backend by name or of a plan/manifest; one without a ``backend`` key is ACE (older manifests)."""
    name = source if isinstance(source, str) else source.get("backend", "ace")
    if name not in BACKENDS:
        raise ValueError(f"unknown training backend {name!r}; use one of {', '.join(BACKENDS)}")
    return BACKENDS[name]


# --- plan, train, collect ------------------------------------------------------------------------

_HASHED = ("elements", "committee_size", "backend", "mace", "baseline", "reference_energies", "settings", "training_ids", "test_ids")


def _mace_plan(n_train: int, epochs: int | None, options: Mapping[str, Any] | None) -> tuple[dict[str, Any], str]:
    """The plan's ``mace`` block (epochs, the user's flags, the resulting hyperparameters) and why those epochs."""
    options = check_mace_options(options)
    if epochs is None:
        epochs, why = choose_mace_epochs(n_train, options)
    else:
        why = "set by the user (train.mace_epochs)"
    return {"max_epochs": int(epochs), "options": options, "hyperparameters": {**TINY_MACE, **options}}, why


def plan_committee(
    structures: Sequence[Atoms],
    workdir: str | Path,
    elements: Sequence[str],
    committee_size: int = 4,
    baseline: str = "zbl",
    baseline_params: Mapping[str, Any] | None = None,
    settings: AceTrainingSettings | None = None,
    isolated_energies: Mapping[str, float] | None = None,
    backend: BackendName = "ace",
    mace_epochs: int | None = None,
    mace_options: Mapping[str, Any] | None = None,
    previous_plan: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Split the data (test held out by structure), fit reference energies on the training delta targets,
    write ``train.extxyz``, ``test.extxyz`` and ``plan.json`` into ``workdir``; return the plan.

    ``settings`` default to ``choose_ace_settings(len(structures), elements)``; their test fraction,
    seed and bootstrap flag drive the split and resamples of either backend, the basis keys only ACE.
    ``backend="mace"`` also records ``mace``: ``max_epochs`` (``mace_epochs``, else
    ``choose_mace_epochs`` of the training-set size), ``options`` (extra ``mace_run_train`` flags)
    and the resulting ``hyperparameters``; all of it enters ``config_hash``.

    ``previous_plan`` (the last iteration's): its test and training structures stay where they were
    (only new structures are split), and
    ``initial_test_ids`` (the first iteration's test set, held out ever since) is carried along, so
    every committee of a run is scored on that same yardstick and the stopping rule compares like
    with like.
    """
    if committee_size < 1:
        raise ValueError(f"committee_size must be >= 1, got {committee_size}")
    backend = get_backend(backend).name
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    why: dict[str, str] = {}
    if settings is None:
        settings, why = choose_ace_settings(len(structures), elements)
    params = dict(baseline_params or {})
    base = make_baseline(baseline, elements, **params)
    previous = previous_plan or {}
    split = split_train_test(list(structures), settings.test_fraction, settings.seed,
                             held_out=previous.get("test_ids", ()), trained=previous.get("training_ids", ()))
    if not split.train:
        raise ValueError("no training structures after the split")
    mace: dict[str, Any] | None = None
    if backend == "mace":
        mace, why["mace_epochs"] = _mace_plan(len(split.train), mace_epochs, mace_options)
    references = reference_energies(delta_targets(split.train, base), elements=list(elements), isolated=isolated_energies)
    atomic_write_extxyz(workdir / TRAIN_NAME, split.train)
    atomic_write_extxyz(workdir / TEST_NAME, split.test)
    plan = {
        "version": MANIFEST_VERSION,
        "backend": backend,
        **({"mace": mace} if mace is not None else {}),
        "elements": sorted(set(elements)),
        "committee_size": int(committee_size),
        "baseline": {"name": baseline, "parameters": params},
        "reference_energies": references,
        "isolated_energies": dict(isolated_energies or {}),
        "settings": settings.model_dump(),
        "settings_why": why,
        "split": {
            "seed": split.seed,
            "test_fraction": split.test_fraction,
            "origins": split.origins,
            "train_file": TRAIN_NAME,
            "test_file": TEST_NAME,
        },
        "training_ids": split.train_ids,
        "test_ids": split.test_ids,
        "initial_test_ids": list(previous_plan.get("initial_test_ids", previous_plan["test_ids"])) if previous_plan else split.test_ids,
    }
    plan["config_hash"] = parameters_hash({k: plan[k] for k in _HASHED if k in plan})
    atomic_write_json(workdir / PLAN_NAME, plan)
    return plan


def load_plan(workdir: str | Path) -> dict[str, Any]:
    return json.loads((Path(workdir) / PLAN_NAME).read_text())


def _read(path: Path) -> list[Atoms]:
    if not path.is_file() or path.stat().st_size == 0:
        return []
    frames = read(str(path), index=":")
    return frames if isinstance(frames, list) else [frames]


def train_member(
    workdir: str | Path, member: int, timeout_s: float | None = None, active_set: bool = True, threads: int = 1
) -> AceMemberResult | MaceMemberResult:
    """Train committee member ``member`` from the plan in ``workdir`` (one workflow job per member).

    The member fits its own bootstrap resample of the training set (seeded by settings seed and
    member index) with its own trainer seed, in ``workdir/member_KK``, with the plan's backend;
    either backend leaves ``member_KK/member.json``. ``active_set``: ACE only; ``threads``: MACE's
    torch threads.
    """
    workdir = Path(workdir).resolve()
    plan = load_plan(workdir)
    if not 0 <= member < plan["committee_size"]:
        raise ValueError(f"member {member} is outside 0..{plan['committee_size'] - 1}")
    settings = AceTrainingSettings(**plan["settings"])
    train = _read(workdir / plan["split"]["train_file"])
    job = MemberJob(
        plan=plan,
        train=train,
        workdir=member_dir(workdir, member),
        weights=member_weights(settings, len(train), member),
        seed=member_seed(settings, member),
        baseline=make_manifest_baseline(plan),
        timeout_s=timeout_s,
        active_set=active_set,
        threads=threads,
    )
    return get_backend(plan).train(job)


def collect_committee(workdir: str | Path) -> Path:
    """Write ``committee.json`` from the plan and every member's ``member.json``; return its path."""
    workdir = Path(workdir).resolve()
    plan = load_plan(workdir)
    backend = get_backend(plan)
    settings = AceTrainingSettings(**plan["settings"])
    train_ids = plan["training_ids"]
    members = []
    for member in range(plan["committee_size"]):
        path = member_dir(workdir, member) / RESULT_NAME
        if not path.is_file():
            raise FileNotFoundError(f"committee member {member} has not been trained (no {path})")
        result = backend.result(json.loads(path.read_text()))
        members.append(
            {
                "index": member,
                "seed": result.seed,
                **backend.entry(result, workdir),
                "n_training_structures": result.n_structures,
                "bootstrap": _bootstrap_by_id(train_ids, member_weights(settings, len(train_ids), member)),
                "wall_time_s": result.wall_time_s,
            }
        )
    manifest = {
        **plan,
        "backend": backend.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "members": members,
    }
    return atomic_write_json(workdir / MANIFEST_NAME, manifest)


def _bootstrap_by_id(ids: Sequence[str], counts: np.ndarray) -> dict[str, int]:
    """Structure id -> times drawn (repeated frames of one structure add up)."""
    drawn: dict[str, int] = {}
    for sid, count in zip(ids, counts, strict=True):
        if count > 0:
            drawn[sid] = drawn.get(sid, 0) + int(count)
    return drawn


def _relative(path: Path | None, root: Path) -> str | None:
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def train_committee(
    structures: Sequence[Atoms],
    workdir: str | Path,
    elements: Sequence[str],
    parallel: int = 1,
    timeout_s: float | None = None,
    **plan_options: Any,
) -> Path:
    """Plan (``plan_options`` go to ``plan_committee``), train every member (``parallel`` trainer processes at a
    time) and collect; return the manifest path."""
    plan = plan_committee(structures, workdir, elements, **plan_options)
    committee_size = int(plan["committee_size"])
    with ThreadPoolExecutor(max_workers=max(1, int(parallel))) as pool:
        futures = [pool.submit(train_member, workdir, member, timeout_s) for member in range(committee_size)]
        for future in futures:
            future.result()
    return collect_committee(workdir)


def load_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest; ``path`` is ``committee.json`` or the folder holding it."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    manifest["_root"] = str(path.parent.resolve())
    return manifest


def load_split(manifest: Mapping[str, Any]) -> tuple[list[Atoms], list[Atoms]]:
    """(train, test) structures with their DFT labels, as the committee was planned."""
    root = Path(manifest["_root"])
    return _read(root / manifest["split"]["train_file"]), _read(root / manifest["split"]["test_file"])


def _member_model(manifest: Mapping[str, Any], member: Mapping[str, Any], extrapolation_grade: bool) -> Calculator:
    return get_backend(manifest).load(Path(manifest["_root"]), member, extrapolation_grade)


def model_cutoff(manifest: Mapping[str, Any]) -> float:
    """How far (A) an atom's force depends on its neighbours: what a carved environment must keep intact.

    ACE: its radial cutoff. MACE: ``r_max`` times the number of message-passing layers (its receptive field).
    """
    if get_backend(manifest).name == "mace":
        hyper = manifest["mace"]["hyperparameters"]
        return float(hyper["r_max"]) * int(hyper["num_interactions"])
    return float(manifest["settings"]["cutoff"])


def make_manifest_baseline(manifest: Mapping[str, Any]) -> BaseCalculator | None:
    """The baseline recorded in the manifest, rebuilt with the same name and parameters as in training."""
    return make_baseline(manifest["baseline"]["name"], manifest["elements"], **manifest["baseline"]["parameters"])


def _voigt(stress: Any) -> np.ndarray:
    stress = np.asarray(stress, dtype=float)
    return full_3x3_to_voigt_6_stress(stress) if stress.shape == (3, 3) else stress.reshape(6)


class BaselineEvaluator:
    """Energy, forces and stress of the baseline, fast in MD.

    Why: the pair baselines (ZBL, LJ) build an ASE neighbour list on every call, which costs more
    than the ACE evaluation itself in a 64-atom MD step. For a ``PairPotential`` this keeps a
    Verlet list (cutoff + ``skin``) and rebuilds it only when an atom has moved more than half
    the skin or the cell, periodicity or species changed; pair terms come from the baseline's own
    ``pair_energy`` (already switched to zero at its cutoff), so the numbers are the baseline's.
    Any other calculator is called as it is.
    """

    def __init__(self, baseline: BaseCalculator | None, skin: float = 1.0) -> None:
        self.baseline = baseline
        self.skin = float(skin)
        self._key: tuple[Any, ...] | None = None
        self._reference: np.ndarray | None = None
        self._pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __call__(self, atoms: Atoms) -> tuple[float, np.ndarray, np.ndarray | None]:
        n = len(atoms)
        periodic = bool(atoms.pbc.all()) and atoms.cell.rank == 3
        if self.baseline is None:
            return 0.0, np.zeros((n, 3)), (np.zeros(6) if periodic else None)
        if not isinstance(self.baseline, PairPotential):
            probe = atoms.copy()
            stress = _voigt(self.baseline.get_property("stress", probe)) if periodic else None
            return float(self.baseline.get_property("energy", probe)), np.asarray(self.baseline.get_property("forces", probe), dtype=float), stress
        numbers = atoms.get_atomic_numbers()
        positions = atoms.get_positions()
        cutoff = self.baseline.max_cutoff(numbers) if n else 0.0
        key = (n, tuple(numbers), tuple(atoms.pbc), atoms.cell.array.round(12).tobytes(), cutoff)
        moved = np.inf if self._reference is None or self._key != key else float(np.max(np.linalg.norm(positions - self._reference, axis=1), initial=0.0))
        if moved > 0.5 * self.skin:
            if n > 1 or (n == 1 and atoms.pbc.any()):
                i, j, shifts = neighbor_list("ijS", atoms, cutoff + self.skin, self_interaction=False)
            else:
                i = j = np.zeros(0, dtype=int)
                shifts = np.zeros((0, 3))
            self._pairs = (i, j, shifts @ atoms.cell.array)
            self._key, self._reference = key, positions.copy()
        assert self._pairs is not None
        i, j, offsets = self._pairs
        forces = np.zeros((n, 3))
        energy = 0.0
        virial = np.zeros((3, 3))
        if len(i):
            vec = positions[j] - positions[i] + offsets
            d = np.linalg.norm(vec, axis=1)
            close = d < cutoff
            if close.any():
                i, j, vec, d = i[close], j[close], vec[close], d[close]
                phi, dphi = self.baseline.pair_energy(numbers[i], numbers[j], d)
                energy = 0.5 * float(phi.sum())
                pair_force = (dphi / d)[:, None] * vec
                for axis in range(3):
                    forces[:, axis] = np.bincount(i, weights=pair_force[:, axis], minlength=n)
                virial = 0.5 * pair_force.T @ vec
        stress = full_3x3_to_voigt_6_stress(virial / atoms.get_volume()) if periodic else None
        return energy, forces, stress


class DeltaMemberCalculator(Calculator):
    """One member for production MD: baseline (Verlet-listed) + model + reference energies.

    Same numbers as ``make_delta_calculator(baseline, model, references)``, in one ``calculate``
    without ``SumCalculator``'s per-part copies. ``view``: the structure as the model takes it
    (``ace_view`` for ACE, the default; as it is for MACE).
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(
        self,
        model: Calculator,
        baseline: BaseCalculator | None,
        reference_energies: Mapping[str, float],
        view: Callable[[Atoms], Atoms] = ace_view,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.baseline = BaselineEvaluator(baseline)
        self.reference_energies = dict(reference_energies)
        self.view = view

    def _model(self, atoms: Atoms, periodic: bool) -> tuple[float, np.ndarray, np.ndarray | None]:
        model = self.model
        atoms = self.view(atoms)
        if hasattr(model, "ace") and hasattr(model, "get_atomic_env"):
            # PyACECalculator's own steps without its per-call extras (projections, gamma, copies):
            # about 15% of an MD step for 64 atoms. Virial order xx yy zz xy xz yz -> Voigt yz xz xy.
            model.ace.compute(model.get_atomic_env(atoms), compute_projections=False)
            stress = np.array(model.ace.virial)[[0, 1, 2, 5, 4, 3]] / atoms.get_volume() if periodic else None
            return float(model.ace.energy), np.array(model.ace.forces, dtype=float), stress
        model.calculate(atoms, ["energy", "forces", "stress"], all_changes)
        stress = _voigt(model.results["stress"]) if periodic and "stress" in model.results else None
        return float(model.results["energy"]), np.asarray(model.results["forces"], dtype=float), stress

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = all_changes,
    ) -> None:
        super().calculate(atoms, list(properties), list(system_changes))
        atoms = self.atoms
        periodic = bool(atoms.pbc.all()) and atoms.cell.rank == 3
        model_energy, model_forces, model_stress = self._model(atoms, periodic)
        base_energy, base_forces, base_stress = self.baseline(atoms)
        energy = model_energy + base_energy + reference_energy(atoms, self.reference_energies)
        self.results = {"energy": energy, "free_energy": energy, "forces": model_forces + base_forces}
        if model_stress is not None and base_stress is not None:
            self.results["stress"] = model_stress + base_stress


AceDeltaCalculator = DeltaMemberCalculator  # the name before MACE members existed


def member_calculator(manifest: Mapping[str, Any] | str | Path, member: int = 0, fast: bool = True) -> BaseCalculator:
    """One member as a production calculator: baseline + model (ACE ``.yace`` or MACE ``.model``) + reference energies.

    ``fast=False`` builds the same sum with ``make_delta_calculator`` (ASE ``SumCalculator``).
    """
    manifest = manifest if isinstance(manifest, Mapping) else load_manifest(manifest)
    backend = get_backend(manifest)
    baseline = make_manifest_baseline(manifest)
    model = _member_model(manifest, manifest["members"][member], extrapolation_grade=False)
    if fast:
        return DeltaMemberCalculator(model, baseline, manifest["reference_energies"], view=backend.view)
    return make_delta_calculator(baseline, model, manifest["reference_energies"])


class CommitteeCalculator(Calculator):
    """Mean of the members (each = baseline + ACE or MACE model + reference energies) and their spread.

    ``results`` beyond energy/forces/stress: ``energy_std`` (eV), ``energy_std_per_atom``,
    ``force_std`` (per atom: norm of the per-component std over members, eV/A), ``max_force_std``,
    ``mean_force_std``, ``stress_std`` (Voigt), ``member_energy`` / ``member_forces`` /
    ``member_stress`` (each member's full prediction) and, when ACE members carry an active set,
    ``gamma`` (per atom, the largest extrapolation grade over members) and ``max_gamma``; stress
    only for fully periodic cells. MACE members see the structure as it is, ACE members its
    ``ace_view`` (slabs made fully periodic).
    The baseline and reference energies are shared by all members, so they shift the mean but
    do not enter the spread; ``include_baseline=False`` drops the baseline (for checks only).
    """

    implemented_properties = [
        "energy", "free_energy", "forces", "stress",
        "energy_std", "energy_std_per_atom", "force_std", "max_force_std", "mean_force_std", "gamma", "max_gamma",
    ]

    def __init__(
        self,
        manifest: Mapping[str, Any] | str | Path,
        extrapolation_grade: bool = True,
        include_baseline: bool = True,
        members: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.manifest = dict(manifest) if isinstance(manifest, Mapping) else load_manifest(manifest)
        self.backend = get_backend(self.manifest)
        chosen = list(range(len(self.manifest["members"]))) if members is None else list(members)
        self.models = [_member_model(self.manifest, self.manifest["members"][k], extrapolation_grade) for k in chosen]
        self.baseline = make_manifest_baseline(self.manifest) if include_baseline else None
        self._baseline = BaselineEvaluator(self.baseline)
        self.reference_energies = dict(self.manifest["reference_energies"])

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = all_changes,
    ) -> None:
        super().calculate(atoms, list(properties), list(system_changes))
        atoms = self.atoms
        periodic = bool(atoms.pbc.all()) and atoms.cell.rank == 3
        n = len(atoms)
        base_energy, shift_forces, base_stress = self._baseline(atoms)
        shift_energy = base_energy + reference_energy(atoms, self.reference_energies)
        shift_stress = base_stress if base_stress is not None else np.zeros(6)
        energies, forces, stresses, gammas = [], [], [], []
        view = self.backend.view(atoms)
        for model in self.models:
            model.calculate(view, ["energy", "forces", "stress"], all_changes)
            energies.append(float(model.results["energy"]) + shift_energy)
            forces.append(np.asarray(model.results["forces"], dtype=float) + shift_forces)
            if periodic:
                stresses.append(_voigt(model.results["stress"]) + shift_stress)
            if getattr(model, "is_active_set_configured", False):
                gammas.append(np.asarray(model.results.get("gamma", np.zeros(n)), dtype=float))
        self.results = spread_results(np.array(energies), np.array(forces), n)
        if periodic:
            stress = np.array(stresses)
            self.results.update(stress=stress.mean(axis=0), stress_std=stress.std(axis=0), member_stress=stress)
        if gammas:
            gamma = np.max(np.array(gammas), axis=0)
            self.results.update(gamma=gamma, max_gamma=float(gamma.max()) if n else 0.0)


def committee_wall_time(manifest: Mapping[str, Any]) -> float:
    """Sum of the members' training times (s), for reports."""
    return float(sum(m.get("wall_time_s", 0.0) for m in manifest["members"]))


__all__ = [
    "BACKENDS",
    "AceDeltaCalculator",
    "Backend",
    "BaselineEvaluator",
    "CommitteeCalculator",
    "DeltaMemberCalculator",
    "MemberJob",
    "collect_committee",
    "get_backend",
    "load_manifest",
    "model_cutoff",
    "load_split",
    "member_calculator",
    "plan_committee",
    "train_committee",
    "train_member",
]
