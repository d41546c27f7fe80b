"""The report's own figures, drawn with matplotlib (Agg) from numbers read under ``results/``, returned as PNG bytes.

Why bytes: the page embeds every image (no file next to it to lose, no network), and a figure object never
outlives its function (``Figure`` with its own Agg canvas, no pyplot state shared between calls).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import units
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mlip_autopipec.potentials.metrics import Predictions
from mlip_autopipec.report.stage_times import StageTime

EV_A3_TO_GPA = 1.0 / units.GPa
SET_COLOURS = {"train": "tab:blue", "test": "tab:orange"}


def _figure(width: float, height: float, panels: int = 1) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, list(np.atleast_1d(figure.subplots(1, panels)))


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _diagonal(axes: Axes, label: str) -> None:
    low = min(axes.get_xlim()[0], axes.get_ylim()[0])
    high = max(axes.get_xlim()[1], axes.get_ylim()[1])
    axes.plot([low, high], [low, high], "k--", lw=0.8)
    axes.set_xlim(low, high)
    axes.set_ylim(low, high)
    axes.set_xlabel(f"DFT {label}")
    axes.set_ylabel(f"committee {label}")


def _rmse(reference: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predicted - reference) ** 2)))


def parity_figure(predictions: dict[str, Predictions], title: str) -> bytes:
    """Energy per atom, force components and stress components (GPa): committee mean against DFT, train and test."""
    figure, (energy, force, stress) = _figure(13.5, 4.4, 3)
    for name, pred in predictions.items():
        colour = SET_COLOURS.get(name)
        e_ref, e_pred = np.array(pred.energy_ref), np.array(pred.energy_pred)
        energy.scatter(e_ref, e_pred, s=14, color=colour, label=f"{name}: {1e3 * _rmse(e_ref, e_pred):.1f} meV/atom")
        f_ref, f_pred = pred.forces_flat()
        force.scatter(f_ref, f_pred, s=5, alpha=0.6, color=colour, label=f"{name}: {_rmse(f_ref, f_pred):.3f} eV/A")
        if pred.stress_ref:
            s_ref = EV_A3_TO_GPA * np.concatenate(pred.stress_ref)
            s_pred = EV_A3_TO_GPA * np.concatenate(pred.stress_pred)
            stress.scatter(s_ref, s_pred, s=10, color=colour, label=f"{name}: {_rmse(s_ref, s_pred):.2f} GPa")
    for axes, label in ((energy, "energy (eV/atom)"), (force, "force component (eV/A)"), (stress, "stress component (GPa)")):
        _diagonal(axes, label)
        if axes.collections:
            axes.legend(fontsize=7, loc="upper left", title="RMSE")
    if not any(pred.stress_ref for pred in predictions.values()):
        stress.text(
            0.5, 0.5, "no fully periodic structure\n(no bulk stress)", ha="center", va="center", transform=stress.transAxes
        )
    figure.suptitle(title)
    return png_bytes(figure)


@dataclass(frozen=True)
class CurvePoint:
    """One committee on the learning curve: DFT labels it was trained with (cumulative) and its held-out errors."""

    label: str
    dft_labels: int
    force_rmse: float | None
    energy_rmse_per_atom: float | None


def learning_curve_figure(points: Sequence[CurvePoint], validation: CurvePoint | None) -> bytes:
    """Held-out force and energy RMSE against DFT labels, one point per iteration; the fresh validation set apart."""
    figure, (force, energy) = _figure(11.0, 4.2, 2)
    for axes, key, scale, unit in (
        (force, "force_rmse", 1.0, "force RMSE (eV/A)"),
        (energy, "energy_rmse_per_atom", 1e3, "energy RMSE (meV/atom)"),
    ):
        shown = [(p.dft_labels, scale * getattr(p, key), p.label) for p in points if getattr(p, key) is not None]
        if shown:
            axes.plot([x for x, _, _ in shown], [y for _, y, _ in shown], "o-", color="tab:blue", label="held-out test set")
            for x, y, text in shown:
                axes.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        if validation is not None and getattr(validation, key) is not None:
            shown.append((validation.dft_labels, scale * getattr(validation, key), validation.label))
            axes.plot([shown[-1][0]], [shown[-1][1]], "*", ms=14, color="tab:red", label=validation.label)
        axes.set_xlabel("DFT labels spent by the loop (cumulative)")
        axes.set_ylabel(unit)
        axes.set_xlim(0, 1.1 * max((x for x, _, _ in shown), default=1) + 1)  # room for the labels and the star
        axes.set_ylim(0, 1.3 * max((y for _, y, _ in shown), default=1.0) or 1.0)  # and for the legend above the points
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        if axes.lines:
            axes.legend(fontsize=8, loc="upper left")
    return png_bytes(figure)


def _bins(values: np.ndarray, marks: Sequence[float]) -> tuple[np.ndarray, bool]:
    """Histogram bins: logarithmic when the spreads and thresholds span more than a decade."""
    positive = np.concatenate([values[values > 0], [m for m in marks if m > 0]])
    if positive.size and positive.max() / positive.min() > 10:
        return np.geomspace(positive.min() / 1.2, positive.max() * 1.2, 30), True
    low, high = (float(positive.min()), float(positive.max())) if positive.size else (0.0, 1.0)
    return np.linspace(0.0, max(high, low) * 1.1 or 1.0, 30), False


def uncertainty_figure(spreads: Sequence[float], threshold: float, upper: float | None, title: str) -> bytes:
    """Histogram of the committee spread at every check of the iteration's committee MD, with its trust levels."""
    values = np.asarray(spreads, dtype=float)
    marks = [threshold] + ([upper] if upper is not None else [])
    bins, logarithmic = _bins(values, marks)
    figure, (axes,) = _figure(7.0, 3.6)
    axes.hist(values, bins=list(bins), color="tab:blue", alpha=0.8, label=f"{values.size} checks")
    axes.axvline(threshold, color="tab:red", ls="--", label=f"threshold {threshold:.3g} eV/A")
    if upper is not None:
        axes.axvline(upper, color="black", ls=":", label=f"upper trust level {upper:.3g} eV/A")
    if logarithmic:
        axes.set_xscale("log")
    axes.set_xlabel("committee spread: max per-atom force std (eV/A)")
    axes.set_ylabel("checks")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(title)
    axes.legend(fontsize=8)
    return png_bytes(figure)


def timing_figure(stages: Sequence[StageTime]) -> bytes:
    """Summed job time per rule (horizontal bars, minutes), in the order the rules first ran."""
    figure, (axes,) = _figure(8.0, 0.45 * len(stages) + 1.2)
    names = [stage.rule for stage in stages][::-1]
    minutes = [stage.job_seconds / 60 for stage in stages][::-1]
    axes.barh(names, minutes, color="tab:green")
    for y, (value, stage) in enumerate(zip(minutes, stages[::-1], strict=True)):
        axes.text(value, y, f" {value:.1f} min, {stage.jobs} job{'s' if stage.jobs > 1 else ''}", va="center", fontsize=8)
    axes.set_xlabel("summed job time (min)")
    axes.set_xlim(right=max(minutes, default=1.0) * 1.35 or 1.0)
    return png_bytes(figure)
