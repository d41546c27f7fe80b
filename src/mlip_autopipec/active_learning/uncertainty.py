"""Committee uncertainty: a data-driven threshold, the "is this uncertain?" test, near-duplicate removal.

Why these three together: active learning flags configurations where the committee disagrees more than
it does on its own training data, then sends a *diverse* subset of them to DFT.

- The threshold is a high percentile of the committee's spread (``max_force_std`` per structure) on
  the structures it was trained on, never a fixed number: what counts as "large" depends on the system,
  the model size and the data. :class:`Threshold` keeps the value together with how it was obtained
  (``reason``) so the status file can say why a structure was flagged; it is the run file
  ``threshold.json`` (``data.records.Threshold``), re-exported here.
- :func:`is_uncertain` reads the committee calculator's results (the contract of
  ``potentials/committee.py``: ``max_force_std``, optionally ``energy_std_per_atom``).
- :func:`remove_near_duplicates` removes structures whose descriptors are closer than a distance,
  keeping the most uncertain one of each group, so DFT time is not spent on near-copies
  (consecutive MD frames, symmetric kMC saddles).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from ase import Atoms

from mlip_autopipec.data.records import Threshold
from mlip_autopipec.descriptors import DescriptorSpec, structure_descriptors
from mlip_autopipec.potentials.committee_plan import TrainedCommittee, load_split
from mlip_autopipec.potentials.dataset import structure_key
from mlip_autopipec.structures.clusters import is_scan

FORCE_KEY = "max_force_std"
ENERGY_KEY = "energy_std_per_atom"
UNCERTAINTY_KEY = "uncertainty"  # atoms.info key read by remove_near_duplicates and written by collectors
MIN_SAMPLES = 10
"""Fewer training values than this never give a percentile: the sample maximum is used instead."""


def samples_needed(percentile: float, min_samples: int = MIN_SAMPLES) -> int:
    """Smallest sample whose empirical ``percentile`` is not just its maximum: 1 / (1 - p/100), at least
    ``min_samples`` (e.g. 20 values for the 95th percentile, 100 for the 99th)."""
    tail = 1.0 - percentile / 100.0
    resolvable = math.ceil(1.0 / tail - 1e-9) if tail > 0 else 1  # the 100th percentile is the maximum
    return int(max(min_samples, resolvable))


def calibrate_threshold(
    train_uncertainties: np.ndarray | Sequence[float],
    percentile: float = 95.0,
    *,
    min_samples: int = MIN_SAMPLES,
    floor: float = 0.0,
    fallback: float | None = None,
) -> Threshold:
    """The ``percentile`` of the committee's spread on its own training structures.

    Guards, each stated in ``reason``:
    - non-finite values are ignored (a failed evaluation says nothing about the spread);
    - fewer than :func:`samples_needed` values cannot resolve a high percentile (the empirical 95th
      percentile of 5 numbers is an interpolation between the two largest): the percentile of a
      log-normal fitted to them is used, capped at the sample maximum (see ``_small_sample_percentile``);
    - the value is raised to ``floor`` (default 0: an exactly agreeing committee flags any disagreement);
    - no finite value at all: ``fallback`` when given, else ValueError (there is nothing to calibrate on,
      and inventing a number is what this function exists to avoid).
    """
    if not 0.0 < float(percentile) <= 100.0:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    if floor < 0:
        raise ValueError(f"floor must be >= 0, got {floor}")
    values = np.asarray(train_uncertainties, dtype=float).ravel()
    finite = values[np.isfinite(values)]
    n = int(finite.size)
    notes = []
    if finite.size < values.size:
        notes.append(f"ignored {values.size - finite.size} non-finite values")
    if n == 0:
        if fallback is None:
            raise ValueError("calibrate_threshold: no finite training uncertainties to calibrate on and no fallback given")
        value = max(float(fallback), floor)
        notes.insert(0, f"no training uncertainties: fallback value {float(fallback):.4g} used")
    else:
        if np.any(finite < 0):
            raise ValueError("uncertainties are standard deviations and cannot be negative")
        needed = samples_needed(float(percentile), min_samples)
        if n < needed:
            value, how = _small_sample_percentile(finite, float(percentile))
            notes.insert(
                0, f"only {n} training values (< {needed} needed to resolve the {percentile:g}th percentile): {how}, {value:.4g}"
            )
        else:
            value = float(np.percentile(finite, percentile))
            notes.insert(0, f"{percentile:g}th percentile of the committee spread on {n} training values: {value:.4g}")
        if value < floor:
            notes.append(f"raised to the floor {floor:.4g}")
            value = float(floor)
    return Threshold(value=float(value), percentile=float(percentile), n=n, reason="; ".join(notes))


def _small_sample_percentile(values: np.ndarray, percentile: float) -> tuple[float, str]:
    """A high percentile from too few values to read it off: the percentile of a log-normal fitted to them,
    never above the sample maximum (and the maximum itself below 3 values or with zeros).

    Why not simply the maximum: with a dozen values the maximum is often one outlier (a dimer at a short
    distance, a strained cell) that sits far above the rest, and a threshold there lets nearly every new
    configuration through, so the loop stops learning. Committee spreads are positive and right-skewed,
    which a log-normal describes well.
    """
    maximum = float(values.max())
    # Spreads of symmetric cells are zero up to round-off (forces vanish by symmetry in every member):
    # they say nothing about the committee's disagreement and would drag a log-normal fit to zero.
    informative = values[values > 1e-3 * maximum]
    ignored = values.size - informative.size
    if informative.size < 3 or percentile >= 100.0:
        return maximum, "maximum of the sample used"
    from scipy.stats import norm

    logs = np.log(informative)
    fitted = float(np.exp(logs.mean() + norm.ppf(percentile / 100.0) * logs.std(ddof=1)))
    note = f", {ignored} near-zero spreads of symmetric cells left out" if ignored else ""
    if fitted >= maximum:
        return maximum, f"log-normal estimate above the sample maximum, maximum used{note}"
    return fitted, f"{percentile:g}th percentile of a log-normal fitted to them (sample maximum {maximum:.4g}{note})"


def condensed(structures: Sequence[Atoms]) -> list[Atoms]:
    """The training structures comparable with the MD frames the threshold judges: all but the dimer and
    trimer scans and isolated atoms (by ``info['origin']``; without an origin, by shape: non-periodic
    structures of at most three atoms).

    Those scans are in the training set to pin the short range and the reference energies, but the
    committee's spread on them says nothing about MD frames, and a dimer at a short distance easily
    carries the largest spread of all. Molecules of a molecular system are kept.
    """
    return [a for a in structures if not is_scan(a)]


def committee_threshold(
    calculator: Any,
    training: Sequence[Atoms],
    percentile: float,
    fixed: float | None = None,
    fitted_by: Mapping[str, Sequence[int]] | None = None,
) -> Threshold:
    """The threshold of one committee: ``fixed`` when the user set one, else calibrated on the committee's
    max force spread over its condensed training structures (all of them when there are none).

    ``fitted_by`` (structure id -> indices of the members whose bootstrap resample drew it): the spread on
    a structure is then taken over those members only. Why: each member leaves about a third of the
    training set out of its resample, so the full committee's spread on a "training" structure is mostly
    out-of-sample disagreement; on small data sets that put the threshold far above the spread of new MD
    frames and nothing was ever flagged. The in-sample spread is what "the committee's spread on its own
    training data" means. Structures drawn by fewer than two members use all members.
    """
    if fixed is not None:
        return Threshold(
            value=float(fixed),
            percentile=float(percentile),
            n=0,
            reason=f"fixed by active_learning.uncertainty_threshold: {float(fixed):.4g}",
        )
    chosen = condensed(training) or list(training)
    spreads = []
    in_sample = 0
    for atoms in chosen:
        work = atoms.copy()
        work.calc = calculator
        results = committee_results(work)
        members = list((fitted_by or {}).get(structure_key(atoms), []))
        if len(members) >= 2 and "member_forces" in results:
            forces = np.asarray(results["member_forces"])[members]
            spreads.append(float(np.linalg.norm(forces.std(axis=0), axis=1).max()) if len(atoms) else 0.0)
            in_sample += 1
        else:
            spreads.append(float(results[FORCE_KEY]))
    threshold = calibrate_threshold(spreads, percentile)
    scope = (
        f"{len(chosen)} condensed training structures of {len(training)}"
        if len(chosen) < len(training)
        else f"all {len(training)} training structures"
    )
    if fitted_by is not None:
        scope += f"; spread over the members fitted to each structure for {in_sample} of them"
    return Threshold(
        value=threshold.value, percentile=threshold.percentile, n=threshold.n, reason=f"{threshold.reason} (on {scope})"
    )


def fitted_by_members(bootstraps: Sequence[Mapping[str, int]]) -> dict[str, list[int]]:
    """Structure id -> the committee members whose bootstrap resample drew it (``bootstraps``: each member's
    structure id -> times drawn, in member order, as ``committee.json`` records them)."""
    fitted: dict[str, list[int]] = {}
    for position, drawn in enumerate(bootstraps):
        for sid, count in drawn.items():
            if count > 0:
                fitted.setdefault(sid, []).append(position)
    return fitted


def threshold_of_committee(committee: TrainedCommittee, percentile: float, fixed: float | None = None) -> Threshold:
    """The threshold of a trained committee (``threshold.json``): ``committee_threshold`` on its training split,
    with the spread on each structure over the members fitted to it."""
    from mlip_autopipec.potentials.committee import CommitteeCalculator

    train, _ = load_split(committee)
    calculator = CommitteeCalculator(committee, extrapolation_grade=False)
    fitted = fitted_by_members([member.bootstrap for member in committee.manifest.members])
    return committee_threshold(calculator, train, percentile, fixed, fitted)


def _value(threshold: Threshold | float) -> float:
    return float(threshold.value if isinstance(threshold, Threshold) else threshold)


def committee_results(atoms: Atoms) -> Mapping[str, Any]:
    """The committee's results for ``atoms`` (a force call is made when needed)."""
    if atoms.calc is None:
        raise ValueError("atoms have no calculator: attach the committee calculator first")
    atoms.get_forces()
    results = atoms.calc.results
    if FORCE_KEY not in results:
        raise KeyError(f"calculator {type(atoms.calc).__name__} gives no '{FORCE_KEY}': not a committee calculator")
    return results


def is_uncertain(
    results: Mapping[str, Any] | Atoms,
    threshold: Threshold | float,
    energy_threshold: Threshold | float | None = None,
) -> bool:
    """True when the largest per-atom force spread exceeds ``threshold`` (or, when given, the energy
    spread per atom exceeds ``energy_threshold``). A non-finite spread counts as uncertain: a committee
    that returns NaN is certainly not to be trusted there. ``results`` is ``calc.results`` or the Atoms."""
    if isinstance(results, Atoms):
        results = committee_results(results)
    if FORCE_KEY not in results:
        raise KeyError(f"results have no '{FORCE_KEY}': not a committee calculator's results")
    force = float(results[FORCE_KEY])
    if not math.isfinite(force) or force > _value(threshold):
        return True
    if energy_threshold is not None:
        if ENERGY_KEY not in results:
            raise KeyError(f"an energy threshold was given but the results have no '{ENERGY_KEY}'")
        energy = float(results[ENERGY_KEY])
        if not math.isfinite(energy) or energy > _value(energy_threshold):
            return True
    return False


def uncertainty_hook(threshold: Threshold | float, energy_threshold: Threshold | float | None = None) -> Callable[[Atoms], bool]:
    """A ``callable(atoms) -> bool`` for samplers (kMC, MD) whose atoms carry the committee calculator.
    It also writes the spread into ``atoms.info['uncertainty']`` for :func:`remove_near_duplicates`."""

    def hook(atoms: Atoms) -> bool:
        results = committee_results(atoms)
        atoms.info[UNCERTAINTY_KEY] = float(results[FORCE_KEY])
        return is_uncertain(results, threshold, energy_threshold)

    return hook


def remove_near_duplicates(
    frames: Sequence[Atoms],
    spec: DescriptorSpec,
    min_distance: float,
    *,
    uncertainty_key: str = UNCERTAINTY_KEY,
) -> tuple[list[Atoms], int]:
    """Drop structures whose structure descriptor lies within ``min_distance`` (Euclidean, descriptor
    units) of an already kept one; return (kept in input order, number dropped).

    Greedy threshold clustering, most uncertain first: frames are visited in decreasing
    ``atoms.info[uncertainty_key]`` (frames without it come last, in input order), so the kept member of
    each group is its most uncertain one. Structure descriptors are per-species averages, so a supercell
    of a structure is a duplicate of it, which is what we want before paying for DFT.
    """
    frames = list(frames)
    if min_distance < 0:
        raise ValueError(f"min_distance must be >= 0, got {min_distance}")
    if len(frames) < 2:
        return frames, 0
    features = structure_descriptors(frames, spec)

    def priority(k: int) -> tuple[int, float, int]:
        value = frames[k].info.get(uncertainty_key)
        if value is None or not math.isfinite(float(value)):
            return (1, 0.0, k)
        return (0, -float(value), k)

    order = sorted(range(len(frames)), key=priority)
    kept: list[int] = []
    for k in order:
        if kept:
            distances = np.linalg.norm(features[kept] - features[k], axis=1)
            if distances.min() <= min_distance:
                continue
        kept.append(k)
    kept.sort()
    return [frames[k] for k in kept], len(frames) - len(kept)
