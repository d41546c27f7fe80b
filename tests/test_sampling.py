"""DIRECT sampling: covers rare clusters, keeps the right PCs, streams, reproducible, sane edge cases."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from mlip_autopipec.sampling import array_chunks, direct_select, direct_select_stream
from mlip_autopipec.sampling.chunks import rebatch
from mlip_autopipec.sampling.reduction import choose_n_components

CLUSTER_SIZES = [5000] + [50] * 6 + [5]


def clustered_features(seed: int = 0, dim: int = 30, latent: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """One big cluster, six of 50 and one of 5, on a 6-D latent space mapped into 30 correlated features.

    The big cluster (spread 1) sits at the origin; the small ones (spread 0.3) sit 8 away from it
    and at least 7 from each other, so every cluster is unambiguous.
    """
    rng = np.random.default_rng(seed)
    loadings = rng.standard_normal((latent, dim))
    centres = np.zeros((len(CLUSTER_SIZES), latent))
    number = 1
    while number < len(CLUSTER_SIZES):
        direction = rng.standard_normal(latent)
        candidate = 8.0 * direction / np.linalg.norm(direction)
        if np.all(np.linalg.norm(centres[1:number] - candidate, axis=1) >= 7.0):
            centres[number] = candidate
            number += 1
    blocks, truth = [], []
    for number, size in enumerate(CLUSTER_SIZES):
        spread = 1.0 if number == 0 else 0.3
        latent_points = centres[number] + spread * rng.standard_normal((size, latent))
        blocks.append(latent_points @ loadings + 0.1 * rng.standard_normal((size, dim)))
        truth += [number] * size
    features, labels = np.vstack(blocks), np.array(truth)
    order = rng.permutation(len(features))
    return features[order], labels[order]


@pytest.fixture(scope="module")
def clustered() -> tuple[np.ndarray, np.ndarray]:
    return clustered_features()


def test_direct_picks_every_cluster_where_random_misses_small_ones(clustered):
    features, truth = clustered
    n_clusters_true = len(CLUSTER_SIZES)
    result = direct_select(features, n_select=30)
    assert result.n_selected == 30 and result.n_clusters == 30
    assert set(truth[result.indices]) == set(range(n_clusters_true))

    random_missed, random_coverage, random_distance = [], [], []
    for seed in range(10):
        picks = np.random.default_rng(seed).choice(len(features), size=result.n_selected, replace=False)
        random_missed.append(n_clusters_true - len(set(truth[picks])))
        score = result.coverage_of(picks)
        random_coverage.append(score.coverage)
        random_distance.append(score.mean_nearest_distance)
    print(f"random selection misses {random_missed} of {n_clusters_true} clusters (seeds 0-9)")
    print(
        f"coverage DIRECT {result.coverage:.3f} vs random {np.mean(random_coverage):.3f}; "
        f"mean nearest distance DIRECT {result.mean_nearest_distance:.3f} vs random {np.mean(random_distance):.3f}"
    )
    assert sum(missed > 0 for missed in random_missed) >= 9
    assert np.mean(random_missed) >= 3
    assert result.coverage > np.mean(random_coverage) + 0.05
    assert result.mean_nearest_distance < np.mean(random_distance)
    assert 0.0 <= result.coverage <= 1.0
    assert result.max_nearest_distance >= result.mean_nearest_distance > 0.0


@pytest.mark.parametrize("data_seed", [1, 2])
def test_direct_beats_random_on_other_draws_of_the_data(data_seed):
    features, truth = clustered_features(seed=data_seed)
    result = direct_select(features, n_select=20, strategy="random", seed=data_seed)
    assert set(truth[result.indices]) == set(range(len(CLUSTER_SIZES)))
    random_coverage = [
        result.coverage_of(np.random.default_rng(seed).choice(len(features), 20, replace=False)).coverage for seed in range(5)
    ]
    assert result.coverage > np.mean(random_coverage)


def test_kaiser_rule_keeps_the_significant_dimensions():
    rng = np.random.default_rng(7)
    n_significant, n_features = 4, 20
    latent = rng.standard_normal((3000, n_significant)) * np.array([3.0, 2.5, 2.0, 1.5])
    features = latent @ rng.standard_normal((n_significant, n_features))
    features += 0.2 * rng.standard_normal(features.shape)
    result = direct_select(features, n_select=10, pca_mode="kaiser")
    assert result.n_components == n_significant
    assert np.all(result.explained_variance > 1.0)
    assert result.coordinates.shape == (3000, n_significant)

    varied = direct_select(features, n_select=10, pca_mode="variance", variance_target=0.999)
    assert varied.n_components > n_significant
    assert varied.explained_variance_ratio.sum() >= 0.999
    assert varied.explained_variance_ratio[:-1].sum() < 0.999


def test_component_choice_rules():
    eigenvalues = np.array([5.0, 2.0, 1.2, 0.5, 0.3])
    ratio = eigenvalues / eigenvalues.sum()
    assert choose_n_components(eigenvalues, ratio, "kaiser", 0.95) == 3
    assert choose_n_components(eigenvalues, ratio, "variance", 0.5) == 1
    assert choose_n_components(eigenvalues, ratio, "variance", 0.9) == 3
    assert choose_n_components(np.array([0.9, 0.8]), np.array([0.5, 0.5]), "kaiser", 0.95) == 1
    with pytest.raises(ValueError):
        choose_n_components(eigenvalues, ratio, "variance", 1.5)


@pytest.mark.parametrize("solver", ["covariance", "incremental"])
def test_streaming_agrees_with_in_memory(clustered, solver):
    features, truth = clustered
    in_memory = direct_select(features, n_select=30)

    def uneven_chunks():
        sizes = np.random.default_rng(0).integers(0, 900, size=40)
        start = 0
        for size in sizes:
            yield features[start : start + size]
            start += size
        yield features[start:]

    streamed = direct_select_stream(uneven_chunks, n_select=30, pca_solver=solver)
    regular = direct_select_stream(array_chunks(features, 777), n_select=30, pca_solver=solver)
    for result in (streamed, regular):
        assert result.n_components == in_memory.n_components
        np.testing.assert_allclose(result.explained_variance, in_memory.explained_variance, rtol=1e-6)
        np.testing.assert_allclose(result.coordinates, in_memory.coordinates, atol=1e-4)
        assert set(truth[result.indices]) == set(range(len(CLUSTER_SIZES)))
        assert adjusted_rand_score(in_memory.cluster_labels, result.cluster_labels) > 0.9
        assert abs(result.coverage - in_memory.coverage) < 0.05
        assert result.mean_nearest_distance == pytest.approx(in_memory.mean_nearest_distance, rel=0.1)
        assert {"pca", "transform", "birch_fit", "select", "total"} <= set(result.timings)
        assert result.source_passes == (2 if solver == "covariance" else 3)


def test_one_pass_statistics_survive_constant_and_offset_features():
    rng = np.random.default_rng(5)
    base = rng.standard_normal((4000, 6)) @ rng.standard_normal((6, 12))
    constant = np.full((4000, 1), 7.25)
    offset = 1000.0 + 1e-3 * base[:, :1]  # large mean, tiny spread: cancellation-prone without a shift
    features = np.hstack([base, constant, offset])
    exact = direct_select(features, n_select=10)
    for solver in ("covariance", "incremental"):
        streamed = direct_select_stream(array_chunks(features, 999), n_select=10, pca_solver=solver)
        assert streamed.n_components == exact.n_components
        np.testing.assert_allclose(streamed.explained_variance, exact.explained_variance, rtol=1e-6)
        np.testing.assert_allclose(streamed.coordinates, exact.coordinates, atol=1e-5)


def test_large_arrays_go_through_the_streaming_path(clustered, monkeypatch):
    import mlip_autopipec.sampling.direct as direct

    features, truth = clustered
    monkeypatch.setattr(direct, "IN_MEMORY_LIMIT", 1000)
    delegated = direct_select(features, n_select=30)
    streamed = direct_select_stream(array_chunks(features), n_select=30)
    np.testing.assert_array_equal(delegated.indices, streamed.indices)
    assert delegated.source_passes == 2
    assert set(truth[delegated.indices]) == set(range(len(CLUSTER_SIZES)))


def test_random_strategy_is_reproducible_per_seed(clustered):
    features, _ = clustered
    first = direct_select(features, n_select=40, k_per_cluster=2, strategy="random", seed=3)
    again = direct_select(features, n_select=40, k_per_cluster=2, strategy="random", seed=3)
    other = direct_select(features, n_select=40, k_per_cluster=2, strategy="random", seed=4)
    np.testing.assert_array_equal(first.indices, again.indices)
    np.testing.assert_array_equal(first.cluster_labels, again.cluster_labels)
    assert not np.array_equal(first.indices, other.indices)
    sizes = np.bincount(first.cluster_labels)
    assert first.n_clusters == 20
    assert first.n_selected == np.minimum(sizes, 2).sum() <= 40
    np.testing.assert_array_equal(np.bincount(first.cluster_labels[first.indices]), np.minimum(sizes, 2))

    closest = direct_select(features, n_select=40, k_per_cluster=2, strategy="closest", seed=3)
    np.testing.assert_array_equal(closest.indices, direct_select(features, 40, k_per_cluster=2, seed=3).indices)


def test_closest_picks_the_frames_nearest_each_centroid(clustered):
    features, _ = clustered
    result = direct_select(features, n_select=15, k_per_cluster=3)
    coords, labels = result.coordinates.astype(np.float64), result.cluster_labels
    for cluster in range(result.n_clusters):
        members = np.flatnonzero(labels == cluster)
        distance = np.linalg.norm(coords[members] - coords[members].mean(axis=0), axis=1)
        expected = set(members[np.argsort(distance, kind="stable")[:3]])
        assert set(result.indices[labels[result.indices] == cluster]) == expected


def test_n_select_at_least_the_number_of_frames_returns_all():
    features = np.random.default_rng(0).standard_normal((50, 8))
    for result in (direct_select(features, n_select=80), direct_select_stream(array_chunks(features, 16), 80)):
        assert result.all_selected
        np.testing.assert_array_equal(result.indices, np.arange(50))
        np.testing.assert_array_equal(result.cluster_labels, np.arange(50))
        assert result.coverage == 1.0 and result.mean_nearest_distance == 0.0
        assert result.n_components >= 1
    single = direct_select(features[:1], n_select=5)
    assert single.all_selected and list(single.indices) == [0] and single.n_components == 0


def test_clusters_smaller_than_k_give_all_members():
    rng = np.random.default_rng(1)
    big = rng.standard_normal((300, 5))
    tiny = 30.0 + 0.1 * rng.standard_normal((3, 5))
    features = np.vstack([big, tiny])
    result = direct_select(features, n_select=20, n_clusters=2, k_per_cluster=10)
    assert result.n_clusters == 2
    assert {300, 301, 302} <= set(result.indices)
    assert result.n_selected == 13
    sizes = np.bincount(result.cluster_labels[result.indices])
    assert sorted(sizes) == [3, 10]


def test_bad_input_is_rejected_with_a_clear_message():
    features = np.random.default_rng(0).standard_normal((100, 4))
    with pytest.raises(ValueError, match="n_select"):
        direct_select(features, n_select=0)
    with pytest.raises(ValueError, match="exceeds n_select"):
        direct_select(features, n_select=10, n_clusters=6, k_per_cluster=2)
    broken = features.copy()
    broken[5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        direct_select(broken, n_select=10)
    with pytest.raises(ValueError, match="2-D"):
        direct_select(features[:, 0], n_select=10)

    calls = {"count": 0}

    def shrinking():
        calls["count"] += 1
        yield features if calls["count"] == 1 else features[:90]

    with pytest.raises(ValueError, match="same data"):
        direct_select_stream(shrinking, n_select=10)


def test_rebatch_merges_small_chunks_and_the_tail():
    chunks = [np.ones((size, 2)) for size in (3, 0, 4, 10, 1, 2)]
    batches = list(rebatch(chunks, min_rows=5))
    assert [len(batch) for batch in batches] == [7, 13]
    assert [len(batch) for batch in rebatch([np.ones((2, 2))], min_rows=5)] == [2]


def test_structure_selection_caps_the_share_of_dimers_and_trimers():
    """A dimer scan is a row of outliers in descriptor space; the cap keeps the picks mostly condensed."""
    from ase import Atoms
    from ase.build import bulk

    from mlip_autopipec.sampling.structures import is_cluster, select_structures

    dimers = [Atoms("Si2", positions=[[0, 0, 0], [0, 0, d]]) for d in np.linspace(1.6, 4.0, 25)]
    cells = []
    for seed in range(25):
        atoms = bulk("Si", "diamond", 5.43 * (1 + 0.01 * (seed % 5)), cubic=True)
        atoms.rattle(0.05 + 0.01 * seed, seed=seed)
        cells.append(atoms)
    isolated = Atoms("Si", pbc=False)
    isolated.info["origin"] = "isolated_atom"
    frames = [*dimers, *cells, isolated]
    capped = select_structures(frames, 11, ["Si"], seed=0, cluster_fraction=0.2)
    assert len(frames) - 1 in capped.indices and len(capped.indices) == 11
    assert capped.n_few_atom_clusters == sum(is_cluster(frames[i]) for i in capped.indices) == 2
    only_bulk = select_structures(frames, 11, ["Si"], seed=0, cluster_fraction=0.0)
    assert only_bulk.n_few_atom_clusters == 0 and len(only_bulk.indices) == 11
    # too few condensed frames for their share: clusters fill the rest of the budget
    short = select_structures([*dimers, *cells[:3], isolated], 11, ["Si"], seed=0, cluster_fraction=0.2)
    assert len(short.indices) == 11 and short.n_few_atom_clusters == 7


def test_structure_selection_spreads_its_strain_share_over_volume():
    """The demo's failure: DIRECT picked 1 of 12 strained cells. The reserved share spans the whole volume range."""
    from ase.build import bulk

    from mlip_autopipec.sampling.structures import select_structures

    rattled = []
    for seed in range(30):
        atoms = bulk("Si", "diamond", 5.43, cubic=True)
        atoms.rattle(0.05 + 0.005 * seed, seed=seed)
        rattled.append(atoms)
    strained = []
    for k, scale in enumerate(np.linspace(0.94, 1.06, 12)):
        atoms = bulk("Si", "diamond", 5.43 * scale, cubic=True)
        atoms.rattle(0.02, seed=100 + k)
        atoms.info["origin"] = "strain_rattle"
        strained.append(atoms)
    frames = [*rattled, *strained]
    volumes = sorted(a.get_volume() for a in strained)
    picked = select_structures(frames, 15, ["Si"], seed=0, cluster_fraction=0.2, strain_fraction=0.2)
    chosen = [frames[i] for i in picked.indices if frames[i].info.get("origin") == "strain_rattle"]
    assert picked.n_strained == 3 and len(chosen) >= 3 and len(picked.indices) == 15
    chosen_volumes = sorted(a.get_volume() for a in chosen)
    assert chosen_volumes[0] == volumes[0] and chosen_volumes[-1] == volumes[-1]
    without = select_structures(frames, 15, ["Si"], seed=0, cluster_fraction=0.2, strain_fraction=0.0)
    assert without.n_strained == 0
    relaxed = []
    for scale in np.linspace(0.97, 1.03, 3):
        atoms = bulk("Si", "diamond", 5.43 * scale, cubic=True)
        atoms.info["origin"] = "strain_relaxed"
        relaxed.append(atoms)
    mixed = [*frames, *relaxed]
    both = select_structures(mixed, 15, ["Si"], seed=0, cluster_fraction=0.2, strain_fraction=0.3)
    origins = Counter(mixed[i].info.get("origin") for i in both.indices)
    assert both.n_strained == 4 and origins["strain_relaxed"] >= 2 and origins["strain_rattle"] >= 2
    with pytest.raises(ValueError, match="strain_fraction"):
        select_structures(frames, 15, ["Si"], seed=0, strain_fraction=1.5)


def test_initial_selection_writes_one_file_per_pick_and_counts_its_sources(tmp_path):
    """The checkpoint `select`: generated and explored frames compete; the summary says where the picks came from."""
    from ase import Atoms
    from ase.build import bulk

    from mlip_autopipec.config.models import SelectConfig
    from mlip_autopipec.data.records import SelectionSummary
    from mlip_autopipec.sampling.initial_selection import select_initial_structures

    isolated = Atoms("Si", pbc=False)
    isolated.info["origin"] = "isolated_atom"
    dimers = [Atoms("Si2", positions=[[0, 0, 0], [0, 0, d]]) for d in np.linspace(1.8, 3.6, 6)]
    for dimer in dimers:
        dimer.info["origin"] = "dimer"
    generated = [isolated, *dimers, bulk("Si", "diamond", 5.43, cubic=True)]
    explored = []
    for seed in range(12):
        atoms = bulk("Si", "diamond", 5.43 * (1 + 0.01 * (seed % 4)), cubic=True)
        atoms.rattle(0.05 + 0.02 * seed, seed=seed)
        atoms.info["origin"] = "explore"
        explored.append(atoms)
    summary = select_initial_structures(
        generated, explored, tmp_path / "selected", SelectConfig(initial_structures=6, cluster_fraction=0.2), ["Si"], seed=0
    )
    files = sorted((tmp_path / "selected").glob("*.extxyz"))
    assert summary.selected == len(files) == 6 and summary.forced_isolated_atoms == 1
    assert (summary.candidates, summary.generated, summary.explored) == (20, 8, 12)
    assert summary.few_atom_clusters == 1 and 1 <= summary.selected_from_exploration <= 4
    origins = sorted(ase_read(path).info["origin"] for path in files)
    assert origins.count("isolated_atom") == 1 and origins.count("explore") == summary.selected_from_exploration
    summary.write(tmp_path / "selection.json")
    assert SelectionSummary.read(tmp_path / "selection.json") == summary


def ase_read(path):
    import ase.io

    return ase.io.read(path)
