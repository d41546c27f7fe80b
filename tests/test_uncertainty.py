"""Threshold calibration (percentile honoured, reason recorded, small-sample fallback), the uncertainty test
on a real committee of Lennard-Jones potentials, and near-duplicate removal by structure descriptors."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.lj import LennardJones

from mlip_autopipec.active_learning.uncertainty import (
    Threshold,
    calibrate_threshold,
    committee_threshold,
    condensed,
    fitted_by_members,
    is_uncertain,
    remove_near_duplicates,
    samples_needed,
    uncertainty_hook,
)
from mlip_autopipec.descriptors import DescriptorSpec, structure_descriptors


class LJCommittee(Calculator):
    """A committee of real Lennard-Jones potentials whose sigma/epsilon differ per member; reports the mean
    and the spread in the keys of ``potentials.committee.CommitteeCalculator``."""

    implemented_properties = ["energy", "forces", "energy_std_per_atom", "force_std", "max_force_std", "mean_force_std"]

    def __init__(self, n_members: int = 4, spread: float = 0.02, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.members = [
            LennardJones(
                sigma=2.338 * (1 + spread * rng.standard_normal()), epsilon=0.409 * (1 + spread * rng.standard_normal()), rc=6.0
            )
            for _ in range(n_members)
        ]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        energies, forces = [], []
        for member in self.members:
            probe = self.atoms.copy()
            probe.calc = member
            energies.append(probe.get_potential_energy())
            forces.append(probe.get_forces())
        energies, forces = np.array(energies), np.array(forces)
        force_std = np.linalg.norm(forces.std(axis=0), axis=1)
        self.results = {
            "energy": float(energies.mean()),
            "forces": forces.mean(axis=0),
            "energy_std_per_atom": float(energies.std() / len(self.atoms)),
            "force_std": force_std,
            "max_force_std": float(force_std.max()),
            "mean_force_std": float(force_std.mean()),
            "member_forces": forces,
        }


# ---------------------------------------------------------------- calibration


def test_percentile_is_honoured_and_reason_recorded() -> None:
    values = np.random.default_rng(0).lognormal(mean=-3.0, sigma=0.5, size=2000)
    threshold = calibrate_threshold(values, 95.0)
    assert isinstance(threshold, Threshold)
    assert threshold.value == pytest.approx(np.percentile(values, 95.0))
    assert np.mean(values > threshold.value) == pytest.approx(0.05, abs=0.002)
    assert threshold.n == 2000 and threshold.percentile == 95.0
    assert "95th percentile" in threshold.reason and "2000" in threshold.reason
    assert threshold.to_dict()["reason"] == threshold.reason
    assert calibrate_threshold(values, 99.0).value > threshold.value


def test_threshold_file_keeps_its_shape(tmp_path) -> None:
    import json

    threshold = calibrate_threshold(np.linspace(0.01, 0.2, 40), 95.0)
    threshold.write(tmp_path / "threshold.json")
    assert json.loads((tmp_path / "threshold.json").read_text()) == threshold.to_dict()
    assert set(threshold.to_dict()) == {
        "value",
        "percentile",
        "n",
        "reason",
        "upper",
        "target_force_rmse",
        "error_scale",
        "calibration_structures",
        "spread_error_spearman",
    }
    assert Threshold.read(tmp_path / "threshold.json") == threshold
    with pytest.raises(ValueError):
        Threshold.model_validate({**threshold.to_dict(), "unit": "eV/A"})  # unknown keys are refused


def test_small_sample_uses_a_log_normal_fit_not_an_outlier() -> None:
    assert samples_needed(95.0) == 20 and samples_needed(99.0) == 100 and samples_needed(50.0) == 10
    values = np.array([0.02, 0.05, 0.03, 0.04, 0.01])
    threshold = calibrate_threshold(values, 95.0)
    logs = np.log(values)
    expected = min(np.exp(logs.mean() + 1.6448536 * logs.std(ddof=1)), 0.05)
    assert threshold.value == pytest.approx(expected, rel=1e-6) and threshold.n == 5
    assert "only 5 training values" in threshold.reason and "log-normal" in threshold.reason
    # one outlier among twelve spreads (a dimer at short range) must not set the threshold
    rng = np.random.default_rng(1)
    typical = rng.lognormal(np.log(0.05), 0.3, size=11)
    with_outlier = np.append(typical, 3.0)
    robust = calibrate_threshold(with_outlier, 95.0)
    assert robust.value < 1.0 < with_outlier.max()
    assert robust.value > np.median(typical)
    # too few values cannot be fitted: the maximum is kept
    assert calibrate_threshold([0.1, 0.3], 95.0).value == pytest.approx(0.3)
    # symmetric cells have spreads of round-off size; they must not drag the threshold to zero
    symmetric = np.append(np.full(10, 1e-9), [0.04, 0.05, 0.06])
    robust = calibrate_threshold(symmetric, 95.0)
    assert 0.04 < robust.value <= 0.06 and "10 near-zero" in robust.reason
    # 19 values cannot resolve the 95th percentile, 20 can
    ramp = np.linspace(0.0, 1.0, 20)
    assert calibrate_threshold(ramp[:19], 95.0).value == pytest.approx(ramp[18])
    assert calibrate_threshold(ramp, 95.0).value == pytest.approx(np.percentile(ramp, 95.0))


def test_non_finite_floor_and_fallback() -> None:
    values = np.concatenate([np.full(30, 0.1), [np.nan, np.inf]])
    threshold = calibrate_threshold(values, 90.0, floor=0.2)
    assert threshold.n == 30 and threshold.value == pytest.approx(0.2)
    assert "ignored 2 non-finite" in threshold.reason and "floor" in threshold.reason
    with pytest.raises(ValueError):
        calibrate_threshold([], 95.0)
    fallback = calibrate_threshold([np.nan], 95.0, fallback=0.15)
    assert fallback.value == 0.15 and fallback.n == 0 and "fallback" in fallback.reason
    with pytest.raises(ValueError):
        calibrate_threshold([0.1, 0.2], 0.0)
    with pytest.raises(ValueError):
        calibrate_threshold([-0.1] * 30, 95.0)


# ---------------------------------------------------------------- is_uncertain on a real committee


def rattled_cu(amplitude: float, seed: int, scale: float = 1.0) -> Atoms:
    atoms = bulk("Cu", "fcc", 3.61 * scale, cubic=True) * (2, 2, 2)
    atoms.rattle(amplitude, seed=seed)
    return atoms


def committee_spreads(frames: list[Atoms], committee: LJCommittee) -> np.ndarray:
    spreads = []
    for atoms in frames:
        atoms.calc = committee
        atoms.get_forces()
        spreads.append(committee.results["max_force_std"])
    return np.array(spreads)


def test_committee_flags_configurations_unlike_its_training_data() -> None:
    committee = LJCommittee()
    train = [rattled_cu(0.03, seed) for seed in range(25)]
    threshold = calibrate_threshold(committee_spreads(train, committee), 95.0)
    assert threshold.n == 25 and threshold.value > 0
    familiar = rattled_cu(0.02, 100)
    familiar.calc = committee
    familiar.get_forces()
    assert not is_uncertain(committee.results, threshold)
    assert not is_uncertain(familiar, threshold)  # an Atoms with the committee attached works too
    compressed = rattled_cu(0.25, 101, scale=0.9)
    compressed.calc = committee
    assert is_uncertain(compressed, threshold)
    # energy criterion alone
    results = {"max_force_std": 0.0, "energy_std_per_atom": 0.5}
    assert is_uncertain(results, threshold, energy_threshold=0.1)
    assert not is_uncertain(results, threshold, energy_threshold=1.0)
    assert is_uncertain({"max_force_std": float("nan")}, threshold)
    with pytest.raises(KeyError):
        is_uncertain({"energy": 1.0}, threshold)

    hook = uncertainty_hook(threshold)
    assert hook(compressed) and compressed.info["uncertainty"] > threshold.value
    assert not hook(familiar) and familiar.info["uncertainty"] <= threshold.value


# ---------------------------------------------------------------- near-duplicate removal


SPEC = DescriptorSpec(species=("Cu",), r_cut=4.5, n_max=4, l_max=4)


def noisy_copy(atoms: Atoms, seed: int, uncertainty: float | None) -> Atoms:
    copy = atoms.copy()
    copy.positions += np.random.default_rng(seed).normal(0.0, 1e-4, copy.positions.shape)
    if uncertainty is not None:
        copy.info["uncertainty"] = uncertainty
    return copy


def test_committee_threshold_ignores_clusters_and_honours_a_fixed_value() -> None:
    """Dimers in the training set carry the largest spreads; the threshold is calibrated on the bulk cells."""
    committee = LJCommittee()
    bulk_cells = [rattled_cu(0.03, seed) for seed in range(25)]
    dimers = [Atoms("Cu2", positions=[[0, 0, 0], [0, 0, d]]) for d in (1.6, 1.8, 2.0)]
    assert condensed(bulk_cells + dimers) == bulk_cells
    threshold = committee_threshold(committee, bulk_cells + dimers, 95.0)
    assert threshold.n == 25 and "25 condensed training structures of 28" in threshold.reason
    assert threshold.value == pytest.approx(calibrate_threshold(committee_spreads(bulk_cells, committee), 95.0).value)
    assert threshold.value < committee_spreads(dimers, committee).max()
    only_clusters = committee_threshold(committee, dimers, 95.0)
    assert only_clusters.n == 3 and "all 3 training structures" in only_clusters.reason
    fixed = committee_threshold(committee, bulk_cells, 95.0, fixed=0.01)
    assert fixed.value == 0.01 and "fixed" in fixed.reason


def test_threshold_uses_the_members_fitted_to_each_structure() -> None:
    """With bootstrap members, the spread on a training structure is taken over the members that drew it."""
    from mlip_autopipec.potentials.dataset import structure_key

    committee = LJCommittee(n_members=4, spread=0.05)
    cells = [rattled_cu(0.03, seed) for seed in range(25)]
    manifest = {
        "members": [{"bootstrap": {structure_key(a): 1 for a in cells}} if k < 2 else {"bootstrap": {}} for k in range(4)]
    }
    fitted = fitted_by_members([member["bootstrap"] for member in manifest["members"]])
    assert all(fitted[structure_key(a)] == [0, 1] for a in cells)
    in_sample = committee_threshold(committee, cells, 95.0, fitted_by=fitted)
    manual = []
    for atoms in cells:
        atoms.calc = committee
        atoms.get_forces()
        manual.append(np.linalg.norm(committee.results["member_forces"][[0, 1]].std(axis=0), axis=1).max())
    assert in_sample.value == pytest.approx(np.percentile(manual, 95.0))
    assert "fitted to each structure for 25" in in_sample.reason
    everyone = committee_threshold(committee, cells, 95.0)
    assert everyone.value != pytest.approx(in_sample.value)


def test_near_duplicates_removed_distinct_kept_most_uncertain_kept() -> None:
    base_a = rattled_cu(0.1, 1)
    base_b = rattled_cu(0.1, 2, scale=1.03)
    base_c = bulk("Cu", "bcc", 2.87, cubic=True) * (2, 2, 2)
    group_a = [noisy_copy(base_a, s, u) for s, u in [(10, 0.2), (11, 0.9), (12, 0.5)]]
    group_b = [noisy_copy(base_b, s, u) for s, u in [(20, 0.3), (21, 0.1)]]
    group_c = [noisy_copy(base_c, 30, None), noisy_copy(base_c, 31, None)]
    frames = [group_a[0], group_b[0], group_c[0], group_a[1], group_b[1], group_a[2], group_c[1]]

    min_distance = 0.01
    features = structure_descriptors(frames, SPEC)
    within = max(
        np.linalg.norm(features[0] - features[3]),
        np.linalg.norm(features[1] - features[4]),
        np.linalg.norm(features[2] - features[6]),
    )
    assert within < 0.1 * min_distance  # 1e-4 A noise is far below the duplicate distance

    kept, dropped = remove_near_duplicates(frames, SPEC, min_distance)
    assert dropped == 4 and len(kept) == 3
    ids = [id(a) for a in kept]
    assert id(group_a[1]) in ids  # the most uncertain copy of each group survives
    assert id(group_b[0]) in ids
    assert id(group_c[0]) in ids  # without uncertainties: the first in input order
    positions = [next(k for k, f in enumerate(frames) if f is a) for a in kept]
    assert positions == sorted(positions)  # input order kept

    # distinct structures, two of them different rattles of the same crystal, all survive
    distinct = [base_a, base_b, base_c, rattled_cu(0.1, 3)]
    features = structure_descriptors(distinct, SPEC)
    gaps = np.linalg.norm(features[:, None] - features[None], axis=2)[np.triu_indices(4, 1)]
    assert gaps.min() > 2 * min_distance
    kept, dropped = remove_near_duplicates(distinct, SPEC, min_distance)
    assert dropped == 0 and len(kept) == 4
    assert remove_near_duplicates([base_a], SPEC, min_distance) == ([base_a], 0)
