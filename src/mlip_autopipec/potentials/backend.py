"""What every training backend provides, the registry of backends, and the settings the whole committee shares.

Why a protocol: the committee (split, reference energies, bootstrap resamples, member seeds, manifest)
is the same for every trainer, so a backend only says how it chooses its settings, trains one member,
describes that member in the manifest, loads it, views a structure and reads its training curve.
Adding a backend is one module with one object that satisfies ``TrainingBackend``, added to ``BACKENDS``.

Import note: ``data.records`` embeds the settings models of this module and of the backends, so the
backend modules import ``data.records`` inside their functions, never at module level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, overload

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator, Calculator
from pydantic import BaseModel, ConfigDict, Field

from mlip_autopipec.potentials.device import DeviceChoice
from mlip_autopipec.potentials.stability_probe import ProbeSettings

if TYPE_CHECKING:
    from mlip_autopipec.config.models import TrainConfig
    from mlip_autopipec.data.records import CommitteePlan, MemberEntry, MemberRecord

BackendName = Literal["ace", "mace"]

# A backend's own settings model, member record and manifest entry (e.g. AceSettings, AceMemberRecord, AceMemberEntry).
SettingsT = TypeVar("SettingsT", bound=BaseModel)
RecordT = TypeVar("RecordT", bound="MemberRecord")
EntryT = TypeVar("EntryT", bound="MemberEntry")


class CommitteeSettings(BaseModel):
    """Choices shared by every backend: which structures are held out and how members resample the rest."""

    model_config = ConfigDict(extra="forbid")

    test_fraction: float = Field(
        default=0.2, ge=0.0, lt=1.0, description="Fraction of distinct structures held out of training (dimensionless)."
    )
    seed: int = Field(
        default=42, ge=0, description="Seed of the split, the bootstrap resamples and (offset per member) the trainers."
    )
    bootstrap: bool = Field(
        default=True, description="Each committee member trains on its own bootstrap resample of the training set."
    )


BOOTSTRAP_FROM = 200
"""Distinct structures from which committee members train on bootstrap resamples instead of on all the data."""


def choose_committee_settings(n_structures: int, seed: int = 42) -> tuple[CommitteeSettings, dict[str, str]]:
    """Test fraction by data size: 0.2 below 50 structures (enough held out to mean something), 0.1 below 500, 0.05 above.

    Members resample the data only from ``BOOTSTRAP_FROM`` structures on: on less, a member that sees 63 % of a
    dozen structures predicts the others badly, and the committee's mean with it (the demo's iteration-0 committee:
    17 meV/atom on each member's own structures, 151 meV/atom on the training split). Below that, members fit all
    the data and differ by seed: MACE by its initialisation, linear ACE by a draw from the ridge posterior.
    """
    test_fraction = 0.2 if n_structures < 50 else 0.1 if n_structures < 500 else 0.05
    bootstrap = n_structures >= BOOTSTRAP_FROM
    why = {
        "test_fraction": f"{test_fraction} of {n_structures} structures held out, stratified by origin",
        "bootstrap": f"{n_structures} structures (>= {BOOTSTRAP_FROM}): each member fits its own bootstrap resample"
        if bootstrap
        else f"{n_structures} structures (< {BOOTSTRAP_FROM}): every member fits all of them and members differ by "
        "seed (MACE: initialisation; linear ACE: a draw from the ridge posterior around the all-data fit)",
    }
    return CommitteeSettings(test_fraction=test_fraction, seed=seed, bootstrap=bootstrap), why


def member_seed(settings: CommitteeSettings, member: int) -> int:
    """Each member's trainer seed (pacemaker or mace): distinct and reproducible."""
    return int(settings.seed) + 1000 * (member + 1)


def member_weights(settings: CommitteeSettings, n_train: int, member: int) -> np.ndarray:
    """How often member ``member`` draws each training structure: its bootstrap resample, or all once."""
    from mlip_autopipec.potentials.dataset import bootstrap_counts

    return bootstrap_counts(n_train, settings.seed, member) if settings.bootstrap else np.ones(n_train, dtype=int)


@dataclass(frozen=True)
class TrainingData:
    """A committee's training structures with what their delta targets are taken relative to."""

    structures: Sequence[Atoms]
    baseline: BaseCalculator | None
    reference_energies: Mapping[str, float]
    probe: ProbeSettings | None = None  # MD that a candidate model must survive (the run's highest temperature)


@dataclass(frozen=True)
class MemberJob:
    """One member's training inputs, built the same way for every backend (shared split, resample, seed)."""

    plan: CommitteePlan
    train: list[Atoms]
    workdir: Path
    weights: np.ndarray
    seed: int
    baseline: BaseCalculator | None
    timeout_s: float | None = None
    active_set: bool = True
    threads: int = 1
    index: int = 0  # the member's place in the committee (posterior draws need it)
    device: DeviceChoice | str = "auto"
    """Where a torch trainer (MACE) runs: a resolved choice, or the config's name; ACE (pacemaker) ignores it."""


@dataclass(frozen=True)
class Curve:
    """One member's errors on its delta targets during training, as its trainer logged them."""

    step: np.ndarray
    force_rmse: np.ndarray  # eV/A per component
    energy_rmse_per_atom: np.ndarray  # eV/atom


@dataclass(frozen=True)
class CurveLabels:
    """How a backend's training curves are drawn: x axis, which error (train/validation), title."""

    xlabel: str
    which: str
    title: str


class TrainingBackend(Protocol[SettingsT, RecordT, EntryT]):
    """The backend-specific steps of a committee; everything else is shared (see ``committee_plan``).

    Generic in the backend's own settings, member record and manifest entry types: each backend takes
    back only the kinds of objects it produces.
    """

    curve_labels: CurveLabels

    @property
    def name(self) -> BackendName:
        """The backend's name in configs and manifests (read-only, so each backend may narrow it to its own literal)."""
        ...

    def choose_settings(
        self,
        train: TrainConfig,
        n_structures: int,
        n_train: int,
        elements: Sequence[str],
        training: TrainingData | None = None,
        seed: int = 42,
    ) -> tuple[SettingsT, dict[str, str]]:
        """The backend's settings for this data (``n_structures`` labelled, ``n_train`` after the split) and why;
        ``training`` (the split's training structures and their targets' offsets) lets a backend choose from the data
        itself, ``seed`` seeds that choice."""
        ...

    def train(self, job: MemberJob) -> RecordT:
        """Fit one member in ``job.workdir``; it leaves ``member.json`` there."""
        ...

    def read_member(self, path: Path) -> RecordT:
        """A member's ``member.json`` back as the backend's record."""
        ...

    def entry(self, record: RecordT, root: Path, common: dict[str, Any]) -> EntryT:
        """The member's manifest entry (paths relative to the committee folder ``root``; ``common``: shared fields)."""
        ...

    def load(self, root: Path, member: EntryT, extrapolation_grade: bool) -> Calculator:
        """The bare model calculator of a manifest entry."""
        ...

    def view(self, atoms: Atoms) -> Atoms:
        """The structure as the model evaluates it."""
        ...

    def cutoff(self, settings: SettingsT) -> float:
        """How far (A) an atom's force depends on its neighbours under these settings."""
        ...

    def curve(self, root: Path, member: EntryT) -> Curve | None:
        """The member's training curve, if its trainer wrote one."""
        ...


@overload
def relative_path(path: Path, root: Path) -> str: ...


@overload
def relative_path(path: None, root: Path) -> None: ...


@overload
def relative_path(path: Path | None, root: Path) -> str | None: ...


def relative_path(path: Path | None, root: Path) -> str | None:
    """``path`` relative to the committee folder, so a copied committee folder still works."""
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def get_backend(name: str) -> TrainingBackend[Any, Any, Any]:
    """The backend by name (``plan.backend``)."""
    from mlip_autopipec.potentials.ace import ACE
    from mlip_autopipec.potentials.mace_backend import MACE

    backends: dict[str, TrainingBackend[Any, Any, Any]] = {"ace": ACE, "mace": MACE}
    if name not in backends:
        raise ValueError(f"unknown training backend {name!r}; use one of {', '.join(backends)}")
    return backends[name]
