"""The committee as a calculator: mean prediction of the members and their spread, the signal of active learning.

Every member is baseline + model + reference energies (``delta.DeltaCalculator``); the baseline and
reference energies are shared, so the committee computes them once per structure (``delta.DeltaOffset``)
and adds them to each member's model prediction. They shift the mean but do not enter the spread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator, Calculator, all_changes

from mlip_autopipec.potentials.backend import TrainingBackend, get_backend
from mlip_autopipec.potentials.committee_plan import TrainedCommittee, load_committee, make_plan_baseline
from mlip_autopipec.potentials.delta import DeltaCalculator, DeltaOffset, add_offset, as_is, is_periodic, model_prediction
from mlip_autopipec.potentials.device import LoadsOnDevice


def spread_results(energies: np.ndarray, forces: np.ndarray, n_atoms: int) -> dict[str, Any]:
    """Mean energy/forces and the uncertainty keys from per-member energies (M,) and forces (M, N, 3)."""
    force_std = np.linalg.norm(forces.std(axis=0), axis=1)
    return {
        "energy": float(energies.mean()),
        "free_energy": float(energies.mean()),
        "forces": forces.mean(axis=0),
        "energy_std": float(energies.std()),
        "energy_std_per_atom": float(energies.std() / max(n_atoms, 1)),
        "force_std": force_std,
        "max_force_std": float(force_std.max()) if n_atoms else 0.0,
        "mean_force_std": float(force_std.mean()) if n_atoms else 0.0,
        "member_energy": energies,
        "member_forces": forces,
    }


def _committee(committee: TrainedCommittee | str | Path) -> TrainedCommittee:
    return committee if isinstance(committee, TrainedCommittee) else load_committee(committee)


def load_member(
    backend: TrainingBackend[Any, Any, Any], root: Path, member: Any, extrapolation_grade: bool, device: str = "cpu"
) -> Calculator:
    """A member's bare model, on ``device`` when its backend has torch models (MACE); ACE (pyace) runs on the CPU."""
    if device != "cpu" and isinstance(backend, LoadsOnDevice):
        return backend.load_on(root, member, extrapolation_grade, device)
    return backend.load(root, member, extrapolation_grade)


def member_calculator(committee: TrainedCommittee | str | Path, member: int = 0) -> BaseCalculator:
    """One member as a production calculator: baseline + model (ACE ``.yace`` or MACE ``.model``) + reference energies."""
    committee = _committee(committee)
    manifest = committee.manifest
    backend = get_backend(manifest.backend)
    model = backend.load(committee.root, manifest.members[member], extrapolation_grade=False)
    return DeltaCalculator(make_plan_baseline(manifest), model, manifest.reference_energies, view=backend.view)


class CommitteeCalculator(Calculator):
    """Mean of the members (each = baseline + ACE or MACE model + reference energies) and their spread.

    ``results`` beyond energy/forces/stress: ``energy_std`` (eV), ``energy_std_per_atom``,
    ``force_std`` (per atom: norm of the per-component std over members, eV/A), ``max_force_std``,
    ``mean_force_std``, ``stress_std`` (Voigt), ``member_energy`` / ``member_forces`` /
    ``member_stress`` (each member's full prediction) and, when ACE members carry an active set,
    ``gamma`` (per atom, the largest extrapolation grade over members) and ``max_gamma``; stress
    only for fully periodic cells. Each member sees the structure as its backend views it
    (ACE: ``ace_view``, slabs made fully periodic; MACE: as it is).
    ``include_baseline=False`` drops the baseline (for checks only). ``committee`` may also be a list
    of ready member calculators (no baseline, no reference energies): a committee of any potentials.
    ``device``: where MACE members run (``cpu`` or ``cuda``, resolved by ``potentials.device``); ACE ignores it.
    """

    implemented_properties = [
        "energy",
        "free_energy",
        "forces",
        "stress",
        "energy_std",
        "energy_std_per_atom",
        "force_std",
        "max_force_std",
        "mean_force_std",
        "gamma",
        "max_gamma",
    ]

    def __init__(
        self,
        committee: TrainedCommittee | str | Path | Sequence[BaseCalculator],
        extrapolation_grade: bool = True,
        include_baseline: bool = True,
        members: Sequence[int] | None = None,
        device: str = "cpu",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(committee, Sequence) and not isinstance(committee, str):
            if len(committee) < 2:
                raise ValueError("a committee needs at least two members to have a spread")
            self.models: list[BaseCalculator] = list(committee)
            self.baseline = None
            self.offset = DeltaOffset(None, None)
            self.view: Callable[[Atoms], Atoms] = as_is
            return
        loaded = _committee(committee)
        manifest = loaded.manifest
        backend = get_backend(manifest.backend)
        chosen = list(range(len(manifest.members))) if members is None else list(members)
        self.models = [load_member(backend, loaded.root, manifest.members[k], extrapolation_grade, device) for k in chosen]
        self.baseline = make_plan_baseline(manifest) if include_baseline else None
        self.offset = DeltaOffset(self.baseline, manifest.reference_energies)
        self.view = backend.view

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = all_changes,
    ) -> None:
        super().calculate(atoms, list(properties), list(system_changes))
        atoms = self.atoms
        assert atoms is not None  # Calculator.calculate has just set self.atoms
        periodic = is_periodic(atoms)
        n = len(atoms)
        offset = self.offset(atoms)
        energies, forces, stresses, gammas = [], [], [], []
        view = self.view(atoms)
        for model in self.models:
            member = add_offset(model_prediction(model, view, periodic), offset)
            energies.append(member.energy)
            forces.append(member.forces)
            if periodic:
                stresses.append(member.stress)
            if getattr(model, "is_active_set_configured", False):
                gammas.append(np.asarray(model.results.get("gamma", np.zeros(n)), dtype=float))
        self.results = spread_results(np.array(energies), np.array(forces), n)
        if periodic:
            stress = np.array(stresses)
            self.results.update(stress=stress.mean(axis=0), stress_std=stress.std(axis=0), member_stress=stress)
        if gammas:
            gamma = np.max(np.array(gammas), axis=0)
            self.results.update(gamma=gamma, max_gamma=float(gamma.max()) if n else 0.0)
