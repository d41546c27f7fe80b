"""Errors of the committee against DFT: numbers (JSON) and pictures (parity, learning curve).

Why both train and held-out: the train error says whether the basis is big enough, the held-out
error (structures training never saw) is the honest estimate; their gap shows overfitting. Errors
are of the full prediction (baseline + model + reference energies) against DFT, per member and for
the committee mean. Units: energies in eV/atom, forces in eV/A per Cartesian component, stress
in eV/A^3 (and GPa).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from ase import Atoms, units  # noqa: E402
from ase.calculators.calculator import BaseCalculator  # noqa: E402

from mlip_autopipec.data.records import CommitteeErrors, CommitteeMetrics, ErrorStats, MemberErrors  # noqa: E402
from mlip_autopipec.potentials.backend import get_backend  # noqa: E402
from mlip_autopipec.potentials.committee_plan import (  # noqa: E402
    TrainedCommittee,
    collect_committee,
    load_committee,
    load_split,
)
from mlip_autopipec.potentials.dataset import structure_key  # noqa: E402
from mlip_autopipec.potentials.delta import dft_labels  # noqa: E402
from mlip_autopipec.structures.clusters import is_scan  # noqa: E402

EV_A3_TO_GPA = 1.0 / units.GPa
UNITS = {"energy": "eV/atom", "force": "eV/A per component", "stress": "eV/A^3 (stress_rmse_gpa: GPa)"}


@dataclass
class Predictions:
    """Reference (DFT) and predicted values for a set of structures, flattened for error statistics."""

    energy_ref: list[float] = field(default_factory=list)  # eV/atom, per structure
    energy_pred: list[float] = field(default_factory=list)
    forces_ref: list[np.ndarray] = field(default_factory=list)  # (n_atoms, 3) per structure
    forces_pred: list[np.ndarray] = field(default_factory=list)
    stress_ref: list[np.ndarray] = field(default_factory=list)  # Voigt, only where both exist
    stress_pred: list[np.ndarray] = field(default_factory=list)

    def add(self, atoms: Atoms, energy: float, forces: np.ndarray, stress: np.ndarray | None) -> None:
        labels = dft_labels(atoms)
        n = len(atoms)
        self.energy_ref.append(labels["energy"] / n)
        self.energy_pred.append(float(energy) / n)
        self.forces_ref.append(np.asarray(labels["forces"], dtype=float))
        self.forces_pred.append(np.asarray(forces, dtype=float))
        if stress is not None and "stress" in labels:
            self.stress_ref.append(np.asarray(labels["stress"], dtype=float))
            self.stress_pred.append(np.asarray(stress, dtype=float).reshape(6))

    def forces_flat(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.forces_ref:
            return np.zeros(0), np.zeros(0)
        return np.concatenate([f.ravel() for f in self.forces_ref]), np.concatenate([f.ravel() for f in self.forces_pred])


def error_metrics(predictions: Predictions) -> ErrorStats:
    """RMSE/MAE of energy per atom and force components, RMSE of stress; counts for context."""
    out: dict[str, Any] = {"n_structures": len(predictions.energy_ref)}
    if not predictions.energy_ref:
        return ErrorStats(**out)
    de = np.array(predictions.energy_pred) - np.array(predictions.energy_ref)
    f_ref, f_pred = predictions.forces_flat()
    df = f_pred - f_ref
    out.update(
        n_atoms=int(sum(len(f) for f in predictions.forces_ref)),
        energy_rmse_per_atom=float(np.sqrt(np.mean(de**2))),
        energy_mae_per_atom=float(np.mean(np.abs(de))),
        force_rmse=float(np.sqrt(np.mean(df**2))),
        force_mae=float(np.mean(np.abs(df))),
        force_max_error=float(np.max(np.abs(df))) if df.size else 0.0,
    )
    if predictions.stress_ref:
        ds = np.array(predictions.stress_pred) - np.array(predictions.stress_ref)
        rmse = float(np.sqrt(np.mean(ds**2)))
        out.update(stress_rmse=rmse, stress_rmse_gpa=rmse * EV_A3_TO_GPA)
    return ErrorStats(**out)


def predict(calc: BaseCalculator, atoms_list: Sequence[Atoms]) -> Predictions:
    """Predictions of any ASE calculator on labelled structures."""
    predictions = Predictions()
    for atoms in atoms_list:
        work = atoms.copy()
        work.calc = calc
        stress = work.get_stress() if (work.pbc.all() and work.cell.rank == 3) else None
        predictions.add(atoms, work.get_potential_energy(), work.get_forces(), stress)
    return predictions


def committee_predictions(calc: BaseCalculator, atoms_list: Sequence[Atoms]) -> tuple[Predictions, list[Predictions]]:
    """(committee mean, one per member) from a single pass of a ``CommitteeCalculator``."""
    mean = Predictions()
    members: list[Predictions] = []
    for atoms in atoms_list:
        work = atoms.copy()
        work.calc = calc
        work.get_forces()
        results = calc.results
        if not members:
            members = [Predictions() for _ in range(len(results["member_energy"]))]
        mean.add(atoms, results["energy"], results["forces"], results.get("stress"))
        for k, member in enumerate(members):
            stress = results["member_stress"][k] if "member_stress" in results else None
            member.add(atoms, results["member_energy"][k], results["member_forces"][k], stress)
    return mean, members


def evaluate_committee(
    calc: BaseCalculator, train: Sequence[Atoms], test: Sequence[Atoms]
) -> tuple[CommitteeErrors, list[MemberErrors], dict[str, Predictions]]:
    """Errors of the committee mean and of each member on the training and held-out structures.

    Member train errors are on the whole training split (each member was fitted to a bootstrap
    resample of it). Returns (committee errors, member errors, committee-mean predictions by set, for plots).
    """
    errors: dict[str, ErrorStats] = {}
    mean_predictions: dict[str, Predictions] = {}
    per_member: dict[str, list[Predictions]] = {}
    for name, data in (("train", train), ("test", test)):
        mean, members = committee_predictions(calc, data)
        mean_predictions[name] = mean
        per_member[name] = members
        errors[name] = error_metrics(mean)
    n_members = max((len(v) for v in per_member.values()), default=0)
    member_errors = [
        MemberErrors(
            index=k,
            train=error_metrics(per_member["train"][k]) if per_member["train"] else ErrorStats(n_structures=0),
            test=error_metrics(per_member["test"][k]) if per_member["test"] else ErrorStats(n_structures=0),
        )
        for k in range(n_members)
    ]
    return CommitteeErrors(**errors), member_errors, mean_predictions


def parity_plot(predictions: Mapping[str, Predictions], path: str | Path, title: str = "") -> Path:
    """Energy-per-atom and force-component parity (DFT vs model), one colour per set (train/test)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), dpi=110)
    colours = {"train": "tab:blue", "test": "tab:orange"}
    for name, pred in predictions.items():
        if not pred.energy_ref:
            continue
        stats = error_metrics(pred)
        assert stats.energy_rmse_per_atom is not None  # error_metrics sets it whenever energy_ref is non-empty
        colour = colours.get(name)
        axes[0].scatter(
            pred.energy_ref,
            pred.energy_pred,
            s=14,
            alpha=0.8,
            color=colour,
            label=f"{name}: RMSE {1e3 * stats.energy_rmse_per_atom:.1f} meV/atom",
        )
        f_ref, f_pred = pred.forces_flat()
        axes[1].scatter(f_ref, f_pred, s=6, alpha=0.6, color=colour, label=f"{name}: RMSE {stats.force_rmse:.3f} eV/A")
    for ax, label in zip(axes, ("energy (eV/atom)", "force component (eV/A)"), strict=True):
        low, high = ax.get_xlim()
        low, high = min(low, ax.get_ylim()[0]), max(high, ax.get_ylim()[1])
        ax.plot([low, high], [low, high], "k--", lw=0.8)
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_xlabel(f"DFT {label}")
        ax.set_ylabel(f"model {label}")
        ax.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


@dataclass(frozen=True)
class TrainingCurve:
    """One member's errors on delta targets during training: force RMSE (eV/A per component) and energy RMSE (eV/atom)."""

    index: int
    step: np.ndarray
    force_rmse: np.ndarray
    energy_rmse_per_atom: np.ndarray


def training_curves(committee: TrainedCommittee) -> list[TrainingCurve]:
    """Every member's training curve that its trainer wrote (none for a member without one)."""
    backend = get_backend(committee.manifest.backend)
    curves = []
    for member in committee.manifest.members:
        curve = backend.curve(committee.root, member)
        if curve is not None and len(curve.step):
            curves.append(TrainingCurve(member.index, curve.step, curve.force_rmse, curve.energy_rmse_per_atom))
    return curves


def learning_curve_plot(committee: TrainedCommittee, path: str | Path, metrics: CommitteeMetrics | None = None) -> Path:
    """Training curve of every member from its trainer's log (force and energy RMSE per step).

    ACE: pacemaker's ``metrics.txt`` (training error per BFGS step); MACE: mace's ``results/*_train.txt``
    (error on mace's validation frames per epoch). The committee's held-out errors (from ``metrics``)
    are drawn as dashed lines. When no member has such a file, it falls back to train/test error
    against each member's number of training structures.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    curves = training_curves(committee)
    source = get_backend(committee.manifest.backend).curve_labels
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), dpi=110)
    test = metrics.committee.test.model_dump(exclude_none=True) if metrics else {}
    if curves:
        for curve in curves:
            axes[0].plot(curve.step, curve.force_rmse, label=f"member {curve.index}")
            axes[1].plot(curve.step, 1e3 * curve.energy_rmse_per_atom, label=f"member {curve.index}")
        for ax, key, scale in ((axes[0], "force_rmse", 1.0), (axes[1], "energy_rmse_per_atom", 1e3)):
            if key in test:
                ax.axhline(scale * test[key], color="k", ls="--", lw=1, label="committee, held-out")
            ax.set_xlabel(source.xlabel)
            ax.set_yscale("log")
        axes[0].set_ylabel(f"{source.which} force RMSE (eV/A)")
        axes[1].set_ylabel(f"{source.which} energy RMSE (meV/atom)")
        fig.suptitle(source.title)
    else:
        per_member = metrics.members if metrics else []
        sizes = [m.n_training_structures for m in committee.manifest.members]
        for name, marker in (("train", "o"), ("test", "s")):
            stats = [getattr(m, name) for m in per_member]
            forces = [np.nan if s.force_rmse is None else s.force_rmse for s in stats]
            energies = [np.nan if s.energy_rmse_per_atom is None else 1e3 * s.energy_rmse_per_atom for s in stats]
            axes[0].plot(sizes[: len(forces)], forces, marker, label=name)
            axes[1].plot(sizes[: len(energies)], energies, marker, label=name)
        for ax in axes:
            ax.set_xlabel("training structures")
        axes[0].set_ylabel("force RMSE (eV/A)")
        axes[1].set_ylabel("energy RMSE (meV/atom)")
        fig.suptitle("error vs training-set size")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def report_committee(manifest_path: str | Path, outdir: str | Path | None = None) -> dict[str, Path]:
    """Evaluate a trained committee on its own train/test split; write ``metrics.json``, ``parity.png``, ``learning_curve.png``."""
    from mlip_autopipec.potentials.committee import CommitteeCalculator

    committee = load_committee(manifest_path)
    manifest = committee.manifest
    outdir = Path(outdir) if outdir else committee.root
    train, test = load_split(committee)
    calc = CommitteeCalculator(committee, extrapolation_grade=False)
    errors, members, predictions = evaluate_committee(calc, train, test)
    # Held-out errors where the potential is used: without dimer/trimer scans, whose forces at short range
    # (tens of eV/A) would otherwise dominate the RMSE of a small test set.
    condensed_test = [atoms for atoms in test if not is_scan(atoms)]
    if condensed_test and len(condensed_test) < len(test):
        errors.test_condensed = error_metrics(committee_predictions(calc, condensed_test)[0])
    initial = set(manifest.initial_test_ids)
    if initial:  # the run's fixed yardstick: the first iteration's test set (condensed part), held out ever since
        subset = [atoms for atoms in test if structure_key(atoms) in initial]
        subset = [atoms for atoms in subset if not is_scan(atoms)] or subset
        errors.test_initial = error_metrics(committee_predictions(calc, subset)[0])
    for entry, member in zip(members, manifest.members, strict=True):
        entry.n_training_structures = member.n_training_structures
    metrics = CommitteeMetrics(committee=errors, members=members, config_hash=manifest.config_hash, units=UNITS)
    return {
        "metrics": metrics.write(outdir / "metrics.json"),
        "parity": parity_plot(
            predictions,
            outdir / "parity.png",
            title=f"{manifest.backend.upper()} committee of {len(manifest.members)} (baseline {manifest.baseline.name})",
        ),
        "learning_curve": learning_curve_plot(committee, outdir / "learning_curve.png", metrics),
    }


def finish_committee(workdir: str | Path) -> tuple[TrainedCommittee, dict[str, Path]]:
    """The end of a training job: collect the members into ``committee.json``, then write its metrics and pictures."""
    manifest_path = collect_committee(workdir)
    return load_committee(manifest_path), report_committee(manifest_path)
