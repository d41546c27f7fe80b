"""A committee's life on disk: plan it, train member k (one job each), collect the manifest, load it back.

Why a committee: the spread of N independently trained members (different seeds, bootstrap
resamples of the training set) is large where the data do not constrain the model, which is the
signal active learning needs. The plan (``plan.json``) and manifest (``committee.json``) record
everything needed to rebuild the calculator and to audit the fit: members, baseline name and
parameters, reference energies, training and test structure ids, settings and a config hash.

Workflow use: ``plan_from_labels`` (or ``plan_committee``) once, ``train_member(workdir, k)`` as N
separate jobs (they only read the plan's files), ``collect_committee`` once; ``train_committee``
does all three in one call. The split, reference energies, bootstrap resamples and member seeds are
the backend-independent part (so every backend sees the same held-out structures); the plan's
backend (``backend.get_backend``) does the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator
from ase.io import read

from mlip_autopipec.config.models import TrainConfig
from mlip_autopipec.data.atomic_io import atomic_write_extxyz
from mlip_autopipec.data.ids import parameters_hash
from mlip_autopipec.data.records import (
    BaselineChoice,
    CommitteeManifest,
    CommitteePlan,
    LabelRecord,
    MemberRecord,
    SplitRecord,
)
from mlip_autopipec.potentials.backend import (
    CommitteeSettings,
    MemberJob,
    TrainingData,
    choose_committee_settings,
    get_backend,
    member_seed,
    member_weights,
)
from mlip_autopipec.potentials.baselines import make_baseline
from mlip_autopipec.potentials.dataset import split_train_test
from mlip_autopipec.potentials.delta import delta_targets, reference_energies
from mlip_autopipec.potentials.device import DeviceChoice
from mlip_autopipec.potentials.stability_probe import ProbeSettings

MANIFEST_NAME = "committee.json"
PLAN_NAME = "plan.json"
TRAIN_NAME = "train.extxyz"
TEST_NAME = "test.extxyz"
LAYOUT_VERSION = 2  # 2: committee-wide settings under "settings", the backend's under its name

_HASHED = {
    "elements",
    "committee_size",
    "backend",
    "ace",
    "mace",
    "baseline",
    "reference_energies",
    "settings",
    "training_ids",
    "test_ids",
}


def plan_config_hash(plan: CommitteePlan) -> str:
    """The hash of everything in a plan that changes the fit (``_HASHED``)."""
    return parameters_hash(plan.model_dump(mode="json", include=_HASHED, exclude_none=True))


def member_dir(workdir: str | Path, member: int) -> Path:
    return Path(workdir) / f"member_{member:02d}"


def plan_committee(
    structures: Sequence[Atoms],
    workdir: str | Path,
    elements: Sequence[str],
    train: TrainConfig | None = None,
    seed: int = 42,
    baseline_params: Mapping[str, Any] | None = None,
    isolated_energies: Mapping[str, float] | None = None,
    previous_plan: CommitteePlan | None = None,
    probe: ProbeSettings | None = None,
) -> CommitteePlan:
    """Split the data (test held out by structure), fit reference energies on the training delta targets,
    choose the backend's settings, write ``train.extxyz``, ``test.extxyz`` and ``plan.json`` into ``workdir``.

    ``train``: the config's train section (backend, committee size, baseline, the user's overrides);
    ``seed``: the run's seed (split, resamples, member seeds). The committee settings come from
    ``choose_committee_settings`` of all structures, the backend's from its ``choose_settings``; both
    with their reasons in ``settings_why``, everything that changes the fit in ``config_hash``.

    ``previous_plan`` (the last iteration's): its test and training structures stay where they were
    (only new structures are split), and ``initial_test_ids`` (the first iteration's test set, held out
    ever since) is carried along, so every committee of a run is scored on that same yardstick and the
    stopping rule compares like with like. ``probe``: the MD a candidate basis must survive (``stability_probe``).
    """
    train = train or TrainConfig()
    backend = get_backend(train.backend)
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    settings, why = choose_committee_settings(len(structures), seed)
    params = dict(baseline_params or {})
    base = make_baseline(train.baseline, elements, **params)
    split = split_train_test(
        list(structures),
        settings.test_fraction,
        settings.seed,
        held_out=previous_plan.test_ids if previous_plan else (),
        trained=previous_plan.training_ids if previous_plan else (),
    )
    if not split.train:
        raise ValueError("no training structures after the split")
    references = reference_energies(delta_targets(split.train, base), elements=list(elements), isolated=isolated_energies)
    backend_settings, backend_why = backend.choose_settings(
        train, len(structures), len(split.train), elements, TrainingData(split.train, base, references, probe), settings.seed
    )
    atomic_write_extxyz(workdir / TRAIN_NAME, split.train)
    atomic_write_extxyz(workdir / TEST_NAME, split.test)
    plan = CommitteePlan(
        version=LAYOUT_VERSION,
        backend=backend.name,
        **{backend.name: backend_settings},
        elements=sorted(set(elements)),
        committee_size=int(train.committee_size),
        baseline=BaselineChoice(name=train.baseline, parameters=params),
        reference_energies=references,
        isolated_energies=dict(isolated_energies or {}),
        settings=settings,
        settings_why={**why, **backend_why},
        split=SplitRecord(
            seed=split.seed, test_fraction=split.test_fraction, origins=split.origins, train_file=TRAIN_NAME, test_file=TEST_NAME
        ),
        training_ids=split.train_ids,
        test_ids=split.test_ids,
        initial_test_ids=list(previous_plan.initial_test_ids) if previous_plan else split.test_ids,
        config_hash="",
    )
    plan.config_hash = plan_config_hash(plan)
    plan.write(workdir / PLAN_NAME)
    return plan


class PlannedCommittee(NamedTuple):
    """A plan and what it was made from: labels that count and failed labels left out."""

    plan: CommitteePlan
    n_labelled: int
    n_failed: int


def plan_from_labels(
    label_files: Sequence[str | Path],
    workdir: str | Path,
    elements: Sequence[str],
    train: TrainConfig,
    seed: int,
    previous_plan_file: str | Path | None = None,
    probe: ProbeSettings | None = None,
) -> PlannedCommittee:
    """The workflow's plan: the labelled records (failed ones left out), DFT isolated-atom energies as fixed
    reference energies, and the previous iteration's plan (its test set stays held out)."""
    records = [LabelRecord.read(path) for path in label_files]
    labelled = [record for record in records if record.state == "labelled"]
    isolated: dict[str, float] = {}
    for r in labelled:
        if r.origin == "isolated_atom" and len(r.numbers) == 1:
            assert r.energy is not None  # a 'labelled' record always carries its energy (None only when failed)
            isolated[r.to_atoms().get_chemical_symbols()[0]] = float(r.energy)
    previous = CommitteePlan.read(previous_plan_file) if previous_plan_file else None
    plan = plan_committee(
        [record.to_atoms() for record in labelled],
        workdir,
        elements,
        train,
        seed=seed,
        isolated_energies=isolated or None,
        previous_plan=previous,
        probe=probe,
    )
    return PlannedCommittee(plan, len(labelled), len(records) - len(labelled))


def _read(path: Path) -> list[Atoms]:
    if not path.is_file() or path.stat().st_size == 0:
        return []
    frames = read(str(path), index=":")
    return frames if isinstance(frames, list) else [frames]


def make_plan_baseline(plan: CommitteePlan) -> BaseCalculator | None:
    """The baseline recorded in the plan (or manifest), rebuilt with the same name and parameters as in training."""
    return make_baseline(plan.baseline.name, plan.elements, **plan.baseline.parameters)


def train_member(
    workdir: str | Path,
    member: int,
    timeout_s: float | None = None,
    active_set: bool = True,
    threads: int = 1,
    device: DeviceChoice | str = "auto",
) -> MemberRecord:
    """Train committee member ``member`` from the plan in ``workdir`` (one workflow job per member).

    The member fits its own bootstrap resample of the training set (seeded by the committee seed and
    member index) with its own trainer seed, in ``workdir/member_KK``, with the plan's backend;
    every backend leaves ``member_KK/member.json``. ``active_set``: ACE only; ``threads``: MACE's
    torch threads; ``device``: MACE only, where it trains (recorded in its ``member.json``).
    """
    workdir = Path(workdir).resolve()
    plan = CommitteePlan.read(workdir / PLAN_NAME)
    if not 0 <= member < plan.committee_size:
        raise ValueError(f"member {member} is outside 0..{plan.committee_size - 1}")
    train = _read(workdir / plan.split.train_file)
    job = MemberJob(
        plan=plan,
        train=train,
        workdir=member_dir(workdir, member),
        weights=member_weights(plan.settings, len(train), member),
        seed=member_seed(plan.settings, member),
        baseline=make_plan_baseline(plan),
        timeout_s=timeout_s,
        active_set=active_set,
        threads=threads,
        device=device,
        index=member,
    )
    return get_backend(plan.backend).train(job)


def _bootstrap_by_id(ids: Sequence[str], counts: np.ndarray) -> dict[str, int]:
    """Structure id -> times drawn (repeated frames of one structure add up)."""
    drawn: dict[str, int] = {}
    for sid, count in zip(ids, counts, strict=True):
        if count > 0:
            drawn[sid] = drawn.get(sid, 0) + int(count)
    return drawn


def collect_committee(workdir: str | Path) -> Path:
    """Write ``committee.json`` from the plan and every member's ``member.json``; return its path."""
    workdir = Path(workdir).resolve()
    plan = CommitteePlan.read(workdir / PLAN_NAME)
    backend = get_backend(plan.backend)
    settings: CommitteeSettings = plan.settings
    members = []
    for member in range(plan.committee_size):
        path = member_dir(workdir, member) / "member.json"
        if not path.is_file():
            raise FileNotFoundError(f"committee member {member} has not been trained (no {path})")
        record = backend.read_member(path)
        common = {
            "index": member,
            "seed": record.seed,
            "n_training_structures": record.n_structures,
            "bootstrap": _bootstrap_by_id(plan.training_ids, member_weights(settings, len(plan.training_ids), member)),
            "wall_time_s": record.wall_time_s,
        }
        members.append(backend.entry(record, workdir, common))
    manifest = CommitteeManifest(**dict(plan), created=datetime.now(UTC).isoformat(timespec="seconds"), members=members)
    return manifest.write(workdir / MANIFEST_NAME)


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
    with ThreadPoolExecutor(max_workers=max(1, int(parallel))) as pool:
        futures = [pool.submit(train_member, workdir, member, timeout_s) for member in range(plan.committee_size)]
        for future in futures:
            future.result()
    return collect_committee(workdir)


@dataclass(frozen=True)
class TrainedCommittee:
    """A manifest and the folder it lives in: the members' files are relative to ``root``."""

    manifest: CommitteeManifest
    root: Path


def load_committee(path: str | Path) -> TrainedCommittee:
    """The committee of ``path``: ``committee.json`` or the folder holding it."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    return TrainedCommittee(CommitteeManifest.read(path), path.parent.resolve())


def load_split(committee: TrainedCommittee) -> tuple[list[Atoms], list[Atoms]]:
    """(train, test) structures with their DFT labels, as the committee was planned."""
    split = committee.manifest.split
    return _read(committee.root / split.train_file), _read(committee.root / split.test_file)


def dft_hashes(committee: TrainedCommittee) -> list[str]:
    """The DFT parameter hashes (``dft_hash``) of the committee's training and test labels: what "the same DFT" means
    when the committee is validated or exported."""
    train, test = load_split(committee)
    return sorted({str(atoms.info["dft_hash"]) for atoms in train + test if "dft_hash" in atoms.info})


def model_cutoff(plan: CommitteePlan) -> float:
    """How far (A) an atom's force depends on its neighbours: what a carved environment must keep intact.

    ACE: its radial cutoff. MACE: ``r_max`` times the number of message-passing layers (its receptive field).
    """
    return get_backend(plan.backend).cutoff(plan.backend_settings())
