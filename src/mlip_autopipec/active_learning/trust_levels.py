"""Trust levels tied to accuracy: which committee spread means "this force is wrong by more than the target".

Why: a threshold read off the committee's own spread on its training data measures how much the members
disagree, not how wrong they are. A poor committee disagrees a lot everywhere and so earns a lenient threshold,
and the loop stops labelling exactly when it should label most. Here the spread is calibrated against the true
error on labelled structures the committee did not train on (its held-out test split): the ratio of error to
spread (one number, ``error_scale``, fitted as sqrt(sum error^2 / sum spread^2) over atoms, the variance-scaling
recalibration of ensemble uncertainties) turns any spread into an expected force error. Two levels follow,
as in DP-GEN's model deviation:

- lower: the spread at which an atom's expected force error per Cartesian component reaches
  ``active_learning.target_force_rmse``; a configuration whose largest spread is above it is labelled;
- upper: ``upper_trust_factor`` times the lower level; above it the configuration is unphysical for the current
  committee (labelling it teaches the potential about regions MD should never visit), so committee MD goes back
  to its last trusted frame and labels that one.

Too few held-out atoms for a ratio fall back to the spread percentile on training data, stated in ``reason``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from ase import Atoms

from mlip_autopipec.active_learning.uncertainty import condensed, threshold_of_committee
from mlip_autopipec.config.models import ActiveLearningConfig
from mlip_autopipec.data.records import Threshold
from mlip_autopipec.potentials.committee_plan import TrainedCommittee, load_split
from mlip_autopipec.validation.calibration import Calibration, spread_calibration

MIN_CALIBRATION_ATOMS = 16
"""Fewer held-out atoms with a non-zero spread than this give no error scale worth trusting."""
MIN_CALIBRATION_STRUCTURES = 2
"""One held-out structure is one environment: its ratio says little about the next configuration."""


def error_scale(calibration: Calibration) -> tuple[float | None, int]:
    """(ratio of true per-atom force error to spread, atoms it is fitted on); None when the atoms with a non-zero
    spread are too few. Atoms whose spread vanishes (forces zero by symmetry in every member) carry no information."""
    informative = calibration.atom_spread > 1e-6
    n = int(informative.sum())
    if n < MIN_CALIBRATION_ATOMS:
        return None, n
    spread, error = calibration.atom_spread[informative], calibration.atom_error[informative]
    return float(math.sqrt(float(np.sum(error**2)) / float(np.sum(spread**2)))), n


def levels_from_scale(scale: float, target_force_rmse: float, upper_factor: float) -> tuple[float, float]:
    """(lower, upper) trust levels on the per-atom spread (eV/A): the lower one is where the expected per-atom
    error norm, ``scale * spread``, equals sqrt(3) * target (an error of ``target`` per Cartesian component)."""
    lower = math.sqrt(3.0) * float(target_force_rmse) / float(scale)
    return lower, lower * float(upper_factor)


def accuracy_threshold(
    committee_calculator: object,
    held_out: Sequence[Atoms],
    target_force_rmse: float,
    upper_factor: float,
    fallback: Callable[[], Threshold],
    percentile: float = 95.0,
) -> Threshold:
    """Trust levels of a committee calibrated on ``held_out`` labelled structures (dimer and trimer scans left out);
    ``fallback()`` (with ``upper`` set from it) when the calibration has too few atoms or structures: it is only
    computed then, as it evaluates the committee on every training structure."""
    structures = condensed(held_out)
    why_not = ""
    if len(structures) >= MIN_CALIBRATION_STRUCTURES:
        calibration = spread_calibration(structures, committee_calculator, None, target_force_rmse)  # type: ignore[arg-type]
        scale, atoms = error_scale(calibration)
        if scale is not None and scale > 0:
            lower, upper = levels_from_scale(scale, target_force_rmse, upper_factor)
            rho = calibration.spearman
            return Threshold(
                value=lower,
                percentile=float(percentile),
                n=atoms,
                upper=upper,
                target_force_rmse=float(target_force_rmse),
                error_scale=scale,
                calibration_structures=len(structures),
                spread_error_spearman=rho,
                reason=(
                    f"calibrated on accuracy: true force error = {scale:.3g} x committee spread on {atoms} held-out atoms "
                    f"of {len(structures)} structures (Spearman {'n/a' if rho is None else f'{rho:.2f}'}); spread "
                    f"{lower:.4g} eV/A means an expected error of {target_force_rmse:.3g} eV/A per component (the target), "
                    f"upper trust level {upper:.4g} eV/A ({upper_factor:g}x)"
                ),
            )
        why_not = f"only {atoms} held-out atoms with a non-zero spread (< {MIN_CALIBRATION_ATOMS})"
    else:
        why_not = f"only {len(structures)} held-out structures besides scans (< {MIN_CALIBRATION_STRUCTURES})"
    threshold = fallback()
    return threshold.model_copy(
        update={
            "upper": threshold.value * float(upper_factor),
            "target_force_rmse": float(target_force_rmse),
            "reason": f"{threshold.reason}; not calibrated on accuracy: {why_not}",
        }
    )


def trust_levels_of_committee(committee: TrainedCommittee, settings: ActiveLearningConfig) -> Threshold:
    """``threshold.json`` of a trained committee: a fixed threshold when the user set one, else the trust levels
    calibrated on its test split against ``settings.target_force_rmse`` (the percentile threshold on training
    spreads when no target is set or the test split is too small)."""
    from mlip_autopipec.potentials.committee import CommitteeCalculator

    def by_percentile() -> Threshold:
        return threshold_of_committee(committee, settings.uncertainty_percentile, settings.uncertainty_threshold)

    if settings.uncertainty_threshold is not None or settings.target_force_rmse is None:
        return by_percentile()
    _, test = load_split(committee)
    calculator = CommitteeCalculator(committee, extrapolation_grade=False)
    return accuracy_threshold(
        calculator, test, settings.target_force_rmse, settings.upper_trust_factor, by_percentile, settings.uncertainty_percentile
    )
