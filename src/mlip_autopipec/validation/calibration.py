"""Does the committee's spread know when the potential is wrong? Its calibration on the fresh validation set.

Why: the loop decides what to label and when to stop from the committee's force spread and a threshold;
that is only sound when the spread ranks the true errors (Spearman correlation over atoms) and when the
threshold catches the structures whose errors are truly beyond the target (recall) without flagging mostly
good ones (precision). True errors come from DFT on structures the loop never saw (``fresh_set``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from ase import Atoms  # noqa: E402
from ase.calculators.calculator import BaseCalculator  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from mlip_autopipec.data.records import ValidationRow  # noqa: E402
from mlip_autopipec.potentials.delta import dft_labels  # noqa: E402
from mlip_autopipec.validation.table import metric  # noqa: E402

GROUP = "uncertainty calibration"


@dataclass(frozen=True)
class Calibration:
    """The committee's force spread against the true force error, per atom and per structure."""

    atom_spread: np.ndarray  # per atom: committee force std (norm of per-component std), eV/A
    atom_error: np.ndarray  # per atom: |F_pred - F_dft| (norm), eV/A
    structure_spread: np.ndarray  # per structure: max per-atom spread, eV/A
    structure_error: np.ndarray  # per structure: force RMSE per Cartesian component (the tolerance's statistic), eV/A
    spearman: float | None  # rank correlation of atom_spread and atom_error; None when either is constant
    spearman_p: float | None  # its two-sided p-value
    threshold: float | None  # the loop's threshold on the max spread per structure, eV/A
    target: float  # a structure is truly bad when its max per-atom error exceeds this, eV/A

    @property
    def n_atoms(self) -> int:
        return int(self.atom_spread.size)

    @property
    def n_structures(self) -> int:
        return int(self.structure_spread.size)

    @property
    def bad(self) -> np.ndarray:
        return self.structure_error > self.target

    @property
    def flagged(self) -> np.ndarray:
        if self.threshold is None:
            return np.zeros(self.n_structures, dtype=bool)
        return self.structure_spread > self.threshold

    @property
    def recall(self) -> float | None:
        """Fraction of the truly bad structures that the spread flags (None without bad ones)."""
        bad = self.bad
        return float(np.sum(bad & self.flagged) / np.sum(bad)) if bad.any() else None

    @property
    def precision(self) -> float | None:
        """Fraction of the flagged structures that are truly bad (None when none is flagged)."""
        flagged = self.flagged
        return float(np.sum(self.bad & flagged) / np.sum(flagged)) if flagged.any() else None


def spread_calibration(
    labelled: Sequence[Atoms],
    committee: BaseCalculator,
    threshold: float | None,
    target: float,
    member: int | None = None,
) -> Calibration:
    """Spread and true error of ``committee`` (a ``CommitteeCalculator``) on structures with DFT labels attached.

    ``labelled``: e.g. ``SetErrors.labelled`` (no DFT runs here); ``threshold``: from ``threshold.json`` (None: no
    flagging numbers); ``target``: the force tolerance (eV/A); ``member``: the error of that member's forces
    instead of the committee mean's (what production MD with one member sees).
    """
    if not labelled:
        raise ValueError("calibration needs at least one labelled structure")
    spreads, errors = [], []
    for atoms in labelled:
        reference = dft_labels(atoms)["forces"]
        work = atoms.copy()
        work.calc = committee
        work.get_forces()
        results = committee.results
        predicted = results["forces"] if member is None else results["member_forces"][member]
        spreads.append(np.asarray(results["force_std"], dtype=float))
        errors.append(np.linalg.norm(np.asarray(predicted, dtype=float) - reference, axis=1))
    atom_spread, atom_error = np.concatenate(spreads), np.concatenate(errors)
    rho, p = (None, None)
    if atom_spread.size > 2 and np.ptp(atom_spread) > 0 and np.ptp(atom_error) > 0:
        result = spearmanr(atom_spread, atom_error)
        rho, p = float(result.statistic), float(result.pvalue)
    return Calibration(
        atom_spread=atom_spread,
        atom_error=atom_error,
        structure_spread=np.array([s.max() for s in spreads]),
        structure_error=np.array([float(np.sqrt(np.mean(e**2) / 3.0)) if e.size else 0.0 for e in errors]),
        spearman=rho,
        spearman_p=p,
        threshold=None if threshold is None else float(threshold),
        target=float(target),
    )


def calibration_rows(calibration: Calibration) -> list[ValidationRow]:
    """Info rows: Spearman rho (atoms), truly bad and flagged structures, recall and precision of the threshold."""
    c = calibration
    rows = []
    if c.spearman is not None:
        rows.append(
            metric(
                GROUP,
                "Spearman rank correlation, force spread vs force error",
                "-",
                c.spearman,
                None,
                n_samples=c.n_atoms,
                note=f"over atoms of the fresh validation set (p = {c.spearman_p:.2g}); n_samples: atoms",
            )
        )
    bad, flagged = int(np.sum(c.bad)), int(np.sum(c.flagged))
    rows.append(
        metric(
            GROUP,
            "structures with a force error above the target",
            "structures",
            float(bad),
            None,
            n_samples=c.n_structures,
            note=f"the structure's force RMSE per component > {c.target:g} eV/A (the force tolerance, same statistic)"
            + ("" if c.spearman is not None else "; Spearman correlation undefined (constant spread or error)"),
        )
    )
    if c.threshold is None:
        return rows
    rows.append(
        metric(
            GROUP,
            "structures flagged by the committee",
            "structures",
            float(flagged),
            None,
            n_samples=c.n_structures,
            note=f"largest per-atom force spread > {c.threshold:.3g} eV/A (the loop's threshold)",
        )
    )
    if c.recall is not None:
        rows.append(
            metric(
                GROUP,
                "bad structures flagged (recall)",
                "fraction",
                c.recall,
                None,
                n_samples=bad,
                note="of the structures above the target, the fraction whose spread exceeds the threshold",
            )
        )
    if c.precision is not None:
        rows.append(
            metric(
                GROUP,
                "flagged structures truly bad (precision)",
                "fraction",
                c.precision,
                None,
                n_samples=flagged,
                note="of the flagged structures, the fraction whose error is above the target",
            )
        )
    return rows


def calibration_plot(calibration: Calibration, path: str | Path, title: str = "committee spread vs true error") -> Path:
    """Per atom (left) and per structure (right, with the threshold and the target) spread vs true force error."""
    c = calibration
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), dpi=110)
    rho = "undefined" if c.spearman is None else f"{c.spearman:.2f}"
    axes[0].scatter(c.atom_spread, c.atom_error, s=6, alpha=0.5, label=f"{c.n_atoms} atoms, Spearman {rho}")
    axes[0].set_xlabel("committee force spread per atom (eV/A)")
    axes[0].set_ylabel("true force error per atom (eV/A)")
    axes[1].scatter(
        c.structure_spread, c.structure_error, s=16, alpha=0.8, color="tab:orange", label=f"{c.n_structures} structures"
    )
    axes[1].axhline(c.target, color="k", ls="--", lw=0.8, label=f"target {c.target:g} eV/A")
    if c.threshold is not None:
        axes[1].axvline(c.threshold, color="tab:red", ls="--", lw=0.8, label=f"threshold {c.threshold:.3g} eV/A")
    axes[1].set_xlabel("max force spread per structure (eV/A)")
    axes[1].set_ylabel("max true force error per structure (eV/A)")
    for ax in axes:
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
