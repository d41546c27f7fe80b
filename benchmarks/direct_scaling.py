"""DIRECT scaling: end-to-end streaming selection (standardise + PCA + BIRCH + selection) at growing sizes.

Features come from a chunk source that *regenerates* each chunk on every pass (seeded per chunk),
so nothing but the float32 reduced coordinates is ever held for all frames, exactly as a pipeline
streaming descriptors from disk would run. The default source is a low-rank mixture model that
mimics per-structure power-spectrum descriptors of 64-atom Si cells: 252 positive, strongly
correlated features, a handful of dominant directions (the real descriptors' correlation spectrum
decays 152, 68, 14, 5, 4, 2, ... with ~9 eigenvalues above 1), a dominant phase plus rarer ones
with Zipf-like populations, and a per-frame thermal amplitude. Computing real descriptors is
benchmarked separately in ``benchmarks/descriptor_throughput.py``; ``--descriptors`` additionally
runs DIRECT on real descriptors of rattled, strained 64-atom Si supercells for sizes <= 10,000.

Each size runs in its own subprocess so the reported peak memory (``ru_maxrss``) is that size's.
Stage times of the passes over the source include producing the features (2 passes with the
default covariance PCA, 3 with ``--pca-solver incremental``); the time spent inside the source is
also shown on its own and subtracted in "DIRECT only".

    .venv/bin/python benchmarks/direct_scaling.py [--sizes 10000,100000,1000000] [--n-select 1000]
        [--pca-solver covariance|incremental] [--descriptors] [--json PATH]

``--json PATH`` also writes every size's record (the worker's JSON line) for benchmarks/run_all.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mlip_autopipec.sampling import array_chunks, direct_select_stream

STAGES = [
    ("standardise", "scaler pass (incremental solver only)"),
    ("pca", "PCA pass(es) ({solver})"),
    ("transform", "transform pass to float32 coordinates"),
    ("birch_calibration", "BIRCH threshold search (sample)"),
    ("birch_fit", "BIRCH partial_fit (all frames)"),
    ("global_clustering", "global clustering of subclusters"),
    ("assign", "assign frames to clusters"),
    ("select", "stratified selection"),
    ("coverage", "coverage score + distances"),
]


class MixtureDescriptorSource:
    """Seeded low-rank mixture model of per-structure descriptors, regenerated chunk by chunk."""

    def __init__(
        self, n_frames: int, n_features: int = 252, rank: int = 10, n_phases: int = 12, chunk_size: int = 50_000, seed: int = 0
    ) -> None:
        rng = np.random.default_rng(seed)
        self.n_frames, self.chunk_size, self.seed = n_frames, chunk_size, seed
        self.scales = 3.0 * 0.6 ** np.arange(rank)
        self.loadings = rng.standard_normal((rank, n_features)) / math.sqrt(rank)
        self.offset = rng.normal(0.0, 1.0, n_features)
        populations = 1.0 / (1.0 + np.arange(n_phases)) ** 1.5
        self.populations = populations / populations.sum()
        self.phase_means = rng.standard_normal((n_phases, rank)) * 2.0
        self.phase_spread = rng.uniform(0.2, 1.0, (n_phases, rank))
        self.seconds = 0.0

    def chunk(self, number: int) -> np.ndarray:
        """Chunk ``number``: identical on every pass because its generator is seeded by (seed, number)."""
        start = time.perf_counter()
        size = min(self.chunk_size, self.n_frames - number * self.chunk_size)
        rng = np.random.default_rng([self.seed, number])
        phase = rng.choice(len(self.populations), size=size, p=self.populations)
        amplitude = np.sqrt(rng.gamma(4.0, 0.25, size))[:, None]
        latent = self.phase_means[phase] + self.phase_spread[phase] * amplitude * rng.standard_normal((size, len(self.scales)))
        linear = (latent * self.scales) @ self.loadings + self.offset
        features = np.logaddexp(0.0, linear).astype(np.float32)  # softplus: positive like power spectra
        features += 0.01 * rng.standard_normal(features.shape, dtype=np.float32)
        self.seconds += time.perf_counter() - start
        return features

    def __call__(self) -> Iterator[np.ndarray]:
        for number in range(math.ceil(self.n_frames / self.chunk_size)):
            yield self.chunk(number)


def real_si_descriptors(count: int, chunk: int = 1000, seed: int = 0) -> tuple[np.ndarray, float]:
    """Descriptors of rattled (0.02-0.3 A) and strained (+-2 %) 64-atom Si cells; returns (features, seconds)."""
    from ase.build import bulk

    from mlip_autopipec.descriptors import DescriptorSpec, structure_descriptors

    spec = DescriptorSpec(species=("Si",))
    base = bulk("Si", "diamond", 5.43, cubic=True) * (2, 2, 2)
    rng = np.random.default_rng(seed)
    structure_descriptors([base], spec)  # compile / load the Numba cache outside the timing
    start = time.perf_counter()
    blocks = []
    for first in range(0, count, chunk):
        frames = []
        for number in range(first, min(count, first + chunk)):
            atoms = base.copy()
            atoms.set_cell(atoms.cell * (1.0 + rng.normal(0.0, 0.02)), scale_atoms=True)
            atoms.rattle(rng.uniform(0.02, 0.3), seed=seed + number)
            frames.append(atoms)
        blocks.append(structure_descriptors(frames, spec))
    return np.vstack(blocks), time.perf_counter() - start


def worker(args: argparse.Namespace) -> None:
    """Run one size and print one JSON line (called in a subprocess by main)."""
    n_frames = args.worker
    descriptor_seconds = None
    if args.mode == "descriptors":
        features, descriptor_seconds = real_si_descriptors(n_frames)
        source = array_chunks(features.astype(np.float32), args.chunk_size)
        source_seconds = lambda: 0.0  # noqa: E731 - features are already in memory
    else:
        mixture = MixtureDescriptorSource(n_frames, args.features, chunk_size=args.chunk_size, seed=args.seed)
        source = mixture
        source_seconds = lambda: mixture.seconds  # noqa: E731
    start = time.perf_counter()
    result = direct_select_stream(
        source, args.n_select, k_per_cluster=args.k, strategy=args.strategy, seed=args.seed, pca_solver=args.pca_solver
    )
    wall = time.perf_counter() - start
    picks = np.random.default_rng(args.seed).choice(n_frames, size=result.n_selected, replace=False)
    baseline = result.coverage_of(picks)
    print(
        json.dumps(
            {
                "n": n_frames,
                "mode": args.mode,
                "solver": args.pca_solver,
                "wall": wall,
                "timings": result.timings,
                "source": source_seconds(),
                "descriptor_seconds": descriptor_seconds,
                "passes": result.source_passes,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                "n_components": result.n_components,
                "n_clusters": result.n_clusters,
                "n_subclusters": result.n_subclusters,
                "threshold": result.birch_threshold,
                "n_selected": result.n_selected,
                "coverage": result.coverage,
                "coverage_bins": result.coverage_bins,
                "mean_distance": result.mean_nearest_distance,
                "random_coverage": baseline.coverage,
                "random_mean_distance": baseline.mean_nearest_distance,
                "exact": result.distances_exact,
            }
        )
    )


def run_size(n_frames: int, mode: str, args: argparse.Namespace) -> dict:
    """Run one size in a fresh interpreter and return its JSON record."""
    command = [
        sys.executable,
        __file__,
        "--worker",
        str(n_frames),
        "--mode",
        mode,
        "--n-select",
        str(args.n_select),
        "--k",
        str(args.k),
        "--features",
        str(args.features),
        "--chunk-size",
        str(args.chunk_size),
        "--strategy",
        args.strategy,
        "--seed",
        str(args.seed),
        "--pca-solver",
        args.pca_solver,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"size {n_frames} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(records: list[dict], title: str) -> None:
    """Print stage times per size, totals, growth per 10x, memory and selection quality."""
    print(f"\n== {title} ==")
    sizes = [r["n"] for r in records]
    width = 17
    print(f"{'stage (seconds)':42s}" + "".join(f"{n:>{width},}" for n in sizes))
    for key, label in STAGES:
        label = label.format(solver=records[0]["solver"])
        print(f"{label:42s}" + "".join(f"{r['timings'].get(key, 0.0):>{width}.2f}" for r in records))
    direct_only = [r["wall"] - r["source"] for r in records]
    rows = [
        ("total wall (incl. feature source)", [r["wall"] for r in records]),
        (f"  of which feature source ({records[0]['passes']} passes)", [r["source"] for r in records]),
        ("DIRECT only", direct_only),
    ]
    if any(r["descriptor_seconds"] for r in records):
        rows.append(("real descriptors (once, not in total)", [r["descriptor_seconds"] or 0.0 for r in records]))
    for label, values in rows:
        print(f"{label:42s}" + "".join(f"{v:>{width}.2f}" for v in values))
    print(f"{'peak RSS (MB)':42s}" + "".join(f"{r['peak_mb']:>{width}.0f}" for r in records))
    print(
        f"{'PCs kept / clusters / BIRCH subclusters':42s}"
        + "".join(f"{r['n_components']:>3d}/{r['n_clusters']}/{r['n_subclusters']}".rjust(width) for r in records)
    )
    print(
        f"{'coverage DIRECT / random (bins)':42s}"
        + "".join(f"{r['coverage']:.2f}/{r['random_coverage']:.2f} ({r['coverage_bins']})".rjust(width) for r in records)
    )
    print(
        f"{'mean nearest dist DIRECT / random':42s}"
        + "".join(f"{r['mean_distance']:.3f}/{r['random_mean_distance']:.3f}".rjust(width) for r in records)
    )
    for a, b in zip(records, records[1:], strict=False):
        decades = math.log10(b["n"] / a["n"])
        total = (b["wall"] / a["wall"]) ** (1.0 / decades)
        direct = ((b["wall"] - b["source"]) / (a["wall"] - a["source"])) ** (1.0 / decades)
        print(f"growth per 10x frames {a['n']:,} -> {b['n']:,}: total x{total:.2f}, DIRECT only x{direct:.2f} (linear = x10)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated frame counts")
    parser.add_argument("--n-select", type=int, default=1000)
    parser.add_argument("--k", type=int, default=1, help="frames per cluster")
    parser.add_argument("--features", type=int, default=252, help="features per structure (Si power spectrum: 252)")
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--strategy", default="closest", choices=["closest", "random"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pca-solver",
        default="covariance",
        choices=["covariance", "incremental"],
        help="pass-2 PCA: accumulated covariance (default) or sklearn IncrementalPCA",
    )
    parser.add_argument(
        "--descriptors", action="store_true", help="also run on real descriptors of rattled 64-atom Si cells (sizes <= 10,000)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every size's record here")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="mixture", choices=["mixture", "descriptors"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args)
        return
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    print(
        f"DIRECT scaling: n_select={args.n_select}, k={args.k}, strategy={args.strategy}, "
        f"{args.features} features, chunks of {args.chunk_size:,}, PCA solver {args.pca_solver}, "
        f"{os.cpu_count()} CPUs"
    )
    records = []
    for n in sizes:
        records.append(run_size(n, "mixture", args))
        print(f"  {n:,} frames done in {records[-1]['wall']:.1f} s", flush=True)
    report(records, "synthetic mixture-model descriptors (streamed, regenerated each pass)")
    real: list[dict] = []
    if args.descriptors:
        real = descriptor_sizes(sizes, args)
    if args.json:
        settings = {
            key: getattr(args, key) for key in ("n_select", "k", "features", "chunk_size", "strategy", "seed", "pca_solver")
        }
        args.json.write_text(json.dumps({"settings": settings, "mixture": records, "descriptors": real}, indent=1))


def descriptor_sizes(sizes: list[int], args: argparse.Namespace) -> list[dict]:
    """``--descriptors``: the sizes up to 10,000 again on real Si descriptors (their records; none without the package)."""
    try:
        import mlip_autopipec.descriptors  # noqa: F401
    except ImportError as exc:
        print(f"\n--descriptors skipped: {exc}")
        return []
    real = [run_size(n, "descriptors", args) for n in sizes if n <= 10_000]
    if real:
        report(real, "real Si power-spectrum descriptors of 64-atom cells")
    else:
        print("\n--descriptors: no size <= 10,000 requested")
    return real


if __name__ == "__main__":
    main()
