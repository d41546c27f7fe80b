"""Data efficiency of DIRECT selection (issue 5): force error of a small model trained on N DIRECT frames vs N random.

Question: how many training frames does a model need when DIRECT picks them, compared with picking
them at random from the same pool? Goal: DIRECT reaches the held-out force RMSE that random selection
reaches with N = 100 frames (the largest ``--sizes``) with at most half as many frames.

Data (every label comes from the CHGNet surrogate, ``make_surrogate('chgnet')``)
- Pool: ``explore_md`` trajectories of 8-atom diamond Si (the cubic cell) under 12 conditions:
  NVT at 300, 600, 1000, 1500, 2000 K; NPT (MTK barostat) at 300, 1000, 1500 K and 0 GPa and at
  1000 K and 5 GPa; NVT in three randomly strained cells (up to 4 % volumetric and 4 % shear strain,
  ``structures.perturb.random_strain``) at 300, 900, 1500 K. 2 fs steps, a frame every 4 steps,
  ``--pool`` frames in all (default 720: 60 per trajectory). Frames 8 fs apart are strongly
  correlated, as in a real exploration pool: that redundancy is what DIRECT is meant to remove.
- Held-out test set: the same 12 conditions run again from other seeds (and other random strains),
  a frame every 8 steps, ``--test`` frames in all (default 180). No test frame is in the pool,
  and every condition weighs the same in both sets.
- Every trajectory is cached as ``<cache>/frames/*.extxyz.gz`` (with the surrogate's energy and
  forces), the descriptor derivatives as ``<cache>/features-*.npz`` (default cache
  /tmp/mlip_direct_efficiency), so reruns skip the MD: the default sets cost about 4,300 CHGNet steps
  (5-20 min on 2 busy CPU cores), the descriptor derivatives 1-2 min, the fits 2-5 min per model.

Models: ridge regression on per-atom power-spectrum descriptors p_i (``per_atom_descriptors`` with
``DescriptorSpec(('Si',), r_cut=5, n_max=6, l_max=4)``, 105 features), energy = sum of atomic energies,
- ``linear``: eps_i = w . p_i (a linear SOAP/SNAP-like model, 105 weights);
- ``quadratic``: eps_i = w . p_i + sum_{a<=b} q_ab z_ia z_ib, where z_i are the first ``QUADRATIC_PCS``
  (20) principal components of the standardised p_i (PCA of all pool atoms, descriptors only, no
  labels; the same for every training set): 105 + 210 = 315 weights. The linear model's error
  flattens out near its whole-pool floor (~0.08 eV/A) by 50-100 frames, which leaves little room
  for any selection to matter; the quadratic model has more capacity (floor ~0.07 eV/A) and
  needs more, and better spread, data;
plus a constant energy per atom e0. Forces are the exact negative gradient of that model energy
(never regressed directly): F_k = -sum_i d eps_i / d r_k, with dp_i/dr_k by central finite differences
(h = 1e-3 A, 6N evaluations of ``per_atom_descriptors`` per frame), through the chain rule for z_i.
Weights are fitted jointly on energies per atom and force components by least squares (each energy
row counts as ``ENERGY_WEIGHT`` force components; e0 is solved exactly, unpenalised) with a ridge
penalty on the column-scaled weights (columns scaled by their RMS over the pool's force rows,
from descriptors only). The ridge strength is picked for every training set by 5-fold
cross-validation over its own frames (force RMSE, grid 1e-9..1e-1), as a practitioner with only
that set would do: the same protocol for DIRECT and random sets, no tuning on the test set.
A tiny pacemaker ACE fit would be closer to production but takes minutes per fit (and TensorFlow);
these fits take well under a second, so many sizes and seeds are cheap.

Selection: DIRECT as the pipeline runs it (``sampling.structures``): ``structure_descriptors`` with
the pipeline's selection basis (r_cut 5, n_max 6, l_max 4, per-species means and variances) ->
``direct_select(features, n, seed=seed)`` (PCA, BIRCH, one frame per cluster). Random: ``n`` pool
frames drawn without replacement by ``numpy.random.default_rng(seed)``. Errors are averaged over
``--seeds`` seeds (0..seeds-1) for both (DIRECT's picks may not depend on the seed at all).

Output per model: the table at ``--sizes`` (held-out force RMSE in eV/A and energy RMSE in
meV/atom, mean +- std over seeds), both curves on a finer grid (``--grid``), how many training
frames came from each MD condition, and the N at which DIRECT's mean force RMSE first reaches
random's at the largest size (log-log interpolation between grid points) as a ratio of that size.

Findings of the default run (8-atom Si, CHGNet labels): the verdict depends on the model's capacity.
With the linear model DIRECT gives no gain (about random's force error at every N, slightly worse at
N = 25 and 100). With the quadratic model DIRECT at N = 50 (0.085 eV/A) beats random at N = 100
(0.105 eV/A with CV-chosen ridge; 0.092 eV/A even with the ridge tuned on the test set): ratio ~0.4.
But the quadratic model on random frames is worse than the linear one (0.105 vs 0.085 eV/A at
N = 100), so against the best model on 100 random frames DIRECT needs ~50 frames: ratio ~0.5.
DIRECT spends its frames on the widest-spread conditions (1500 K strained, NPT 1500 K, 2000 K) and
few on 300 K; its picks do not depend on the seed here, so its spread comes from the CV folds only.

    .venv/bin/python benchmarks/direct_data_efficiency.py [--seeds 5] [--sizes 25,50,100]
        [--pool 720] [--test 180] [--grid 10,15,20,25,30,40,50,70,100] [--models linear,quadratic]
        [--cache DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk

from mlip_autopipec.data.seeds import job_seed
from mlip_autopipec.data.trajectories import read_frames, write_frames
from mlip_autopipec.descriptors import DescriptorSpec, per_atom_descriptors, structure_descriptors
from mlip_autopipec.sampling.direct import direct_select
from mlip_autopipec.sampling.structures import SELECTION_SPEC
from mlip_autopipec.structures.perturb import random_strain

LATTICE = 5.43  # Angstrom, diamond Si
TIMESTEP_FS = 2.0
POOL_EVERY = 4
TEST_EVERY = 8
STRAIN = 0.04  # largest volumetric and shear strain of the strained cells
MODEL_SPEC = DescriptorSpec(species=("Si",), r_cut=5.0, n_max=6, l_max=4)
FD_STEP = 1e-3  # Angstrom, central finite differences of the descriptor
QUADRATIC_PCS = 20  # principal components of p_i whose products the quadratic model adds
ENERGY_WEIGHT = 10.0  # one energy-per-atom row counts as this many force components
RIDGES = tuple(10.0**k for k in range(-9, 0))  # ridge grid (x number of training rows), scaled columns
CV_FOLDS = 5
MODELS = ("linear", "quadratic")
CACHE_VERSION = "v1"


@dataclass(frozen=True)
class Condition:
    ensemble: str
    temperature_K: float
    pressure_gpa: float = 0.0
    strained: bool = False

    @property
    def label(self) -> str:
        text = f"{self.ensemble.upper()} {self.temperature_K:g} K"
        if self.ensemble == "npt":
            text += f" {self.pressure_gpa:g} GPa"
        return text + (" strained" if self.strained else "")


CONDITIONS = (
    Condition("nvt", 300),
    Condition("nvt", 600),
    Condition("nvt", 1000),
    Condition("nvt", 1500),
    Condition("nvt", 2000),
    Condition("npt", 300),
    Condition("npt", 1000),
    Condition("npt", 1500),
    Condition("npt", 1000, 5.0),
    Condition("nvt", 300, strained=True),
    Condition("nvt", 900, strained=True),
    Condition("nvt", 1500, strained=True),
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def int_list(text: str) -> list[int]:
    values = sorted({int(part) for part in text.split(",") if part.strip()})
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"need positive integers, got {text!r}")
    return values


def model_list(text: str) -> list[str]:
    values = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [v for v in values if v not in MODELS]
    if not values or unknown:
        raise argparse.ArgumentTypeError(f"models are {', '.join(MODELS)}; got {text!r}")
    return values


# ---------------------------------------------------------------------------------------------- data


class Surrogate:
    """CHGNet, loaded on first use only (a fully cached run never imports torch)."""

    def __init__(self) -> None:
        self._calc = None

    def get(self):
        if self._calc is None:
            from mlip_autopipec.potentials.surrogate import make_surrogate

            self._calc, _ = make_surrogate("chgnet")
        return self._calc


def trajectory(
    surrogate: Surrogate, which: str, index: int, condition: Condition, n_frames: int, every: int, seed: int, cache: Path
) -> list[Atoms]:
    """Frames of one cached trajectory; runs the MD when its file is not there yet."""
    rng_seed = job_seed(seed, which, index)
    key = f"{CACHE_VERSION}|{which}|{index}|{condition}|{n_frames}|{every}|{rng_seed}|{TIMESTEP_FS}|{STRAIN}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    path = cache / "frames" / f"{which}-{index:02d}-{digest}.extxyz.gz"
    if path.is_file():
        return read_frames(path)
    from mlip_autopipec.exploration.explore import explore_md

    start = bulk("Si", "diamond", a=LATTICE, cubic=True)
    if condition.strained:
        start = random_strain(start, np.random.default_rng(rng_seed), STRAIN, STRAIN)
    began = time.perf_counter()
    result = explore_md(
        start,
        surrogate.get(),
        temperature_K=condition.temperature_K,
        ensemble=condition.ensemble,
        steps=n_frames * every,
        timestep_fs=TIMESTEP_FS,
        sample_every=every,
        supercell_atoms=len(start),
        pressure_gpa=condition.pressure_gpa,
        seed=rng_seed,
        start_id=f"{which}-{index}",
        tdamp_steps=50.0,
        pdamp_steps=200.0,
    )
    write_frames(path, result.frames)
    note = f" (stopped early: {result.reason})" if result.stopped_early else ""
    seconds = time.perf_counter() - began
    log(f"  {which} {index:2d} {condition.label:28s} {result.n_frames:4d} frames in {seconds:6.1f} s{note}")
    return result.frames


def frame_set(surrogate: Surrogate, which: str, total: int, every: int, seed: int, cache: Path) -> tuple[list[Atoms], np.ndarray]:
    """All frames of one set (pool or test) and the condition index of each."""
    per_trajectory = max(1, math.ceil(total / len(CONDITIONS)))
    frames: list[Atoms] = []
    labels: list[int] = []
    for index, condition in enumerate(CONDITIONS):
        part = trajectory(surrogate, which, index, condition, per_trajectory, every, seed, cache)
        frames.extend(part)
        labels.extend([index] * len(part))
    return frames, np.asarray(labels)


# ------------------------------------------------------------------------------ descriptor derivatives


@dataclass
class AtomData:
    """Per frame (all frames have the same N atoms): p_i (n, N, F), dp_i/dr (n, 3N, N, F), labels."""

    descriptors: np.ndarray
    derivatives: np.ndarray
    energies: np.ndarray
    forces: np.ndarray  # (n, 3N), the same coordinate order as derivatives' axis 1

    @property
    def n_atoms(self) -> int:
        return self.descriptors.shape[1]


def atom_data(frames: list[Atoms], spec: DescriptorSpec, h: float = FD_STEP) -> AtomData:
    """p_i of every atom and dp_i/dr_k for every coordinate k by central differences."""
    sizes = {len(atoms) for atoms in frames}
    if len(sizes) != 1:
        raise ValueError(f"this benchmark expects frames of one size, got {sorted(sizes)}")
    n = sizes.pop()
    descriptors = np.empty((len(frames), n, spec.n_features))
    derivatives = np.empty((len(frames), 3 * n, n, spec.n_features))
    for f, atoms in enumerate(frames):
        base = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        descriptors[f] = per_atom_descriptors(base, spec)
        moved = base.copy()
        for k in range(n):
            for axis in range(3):
                moved.positions[k, axis] += h
                plus = per_atom_descriptors(moved, spec)
                moved.positions[k, axis] -= 2 * h
                minus = per_atom_descriptors(moved, spec)
                moved.positions[k, axis] += h
                derivatives[f, 3 * k + axis] = (plus - minus) / (2 * h)
    return AtomData(
        descriptors,
        derivatives,
        energies=np.array([atoms.get_potential_energy() for atoms in frames]),
        forces=np.array([np.asarray(atoms.get_forces()).reshape(-1) for atoms in frames]),
    )


def cached_atom_data(frames: list[Atoms], which: str, cache: Path) -> AtomData:
    hasher = hashlib.sha256(f"{CACHE_VERSION}|{MODEL_SPEC}|{FD_STEP}".encode())
    for atoms in frames:
        hasher.update(np.ascontiguousarray(atoms.positions).tobytes())
        hasher.update(np.ascontiguousarray(atoms.cell.array).tobytes())
        hasher.update(np.asarray(atoms.get_forces()).tobytes())
    path = cache / f"features-{which}-{hasher.hexdigest()[:12]}.npz"
    if path.is_file():
        with np.load(path) as data:
            return AtomData(data["descriptors"], data["derivatives"], data["energies"], data["forces"])
    began = time.perf_counter()
    data = atom_data(frames, MODEL_SPEC)
    log(
        f"  per-atom descriptors + finite-difference derivatives of {len(frames)} {which} frames: "
        f"{time.perf_counter() - began:.1f} s"
    )
    np.savez(path, descriptors=data.descriptors, derivatives=data.derivatives, energies=data.energies, forces=data.forces)
    return data


# ---------------------------------------------------------------------------------------- the models


@dataclass
class Design:
    """What the ridge model sees per frame: summed features s (n, M) and their coordinate derivatives d (n, 3N, M)."""

    sums: np.ndarray
    derivatives: np.ndarray
    energies: np.ndarray
    forces: np.ndarray
    n_atoms: int


class FeatureMap:
    """Per-atom features of one model, built from p_i and dp_i/dr: p_i itself, or p_i plus z_ia z_ib."""

    def __init__(self, model: str, pool: AtomData, n_pcs: int = QUADRATIC_PCS) -> None:
        self.model = model
        flat = pool.descriptors.reshape(-1, pool.descriptors.shape[-1])
        self.mean = flat.mean(axis=0)
        std = flat.std(axis=0)
        std = np.where(std > 1e-12 * std.max(), std, 1.0)
        values, vectors = np.linalg.eigh(np.cov(((flat - self.mean) / std).T))
        order = np.argsort(values)[::-1][:n_pcs]
        self.projection = vectors[:, order] / std[:, None]  # p -> z (standardised PCA scores)
        self.upper = np.triu_indices(len(order))

    def __call__(self, data: AtomData) -> Design:
        sums = data.descriptors.sum(axis=1)
        derivatives = data.derivatives.sum(axis=2)
        if self.model == "quadratic":
            a, b = self.upper
            z = (data.descriptors - self.mean) @ self.projection  # (n, N, K)
            dz = data.derivatives @ self.projection  # (n, 3N, N, K)
            quad_sums = np.einsum("nia,nib->nab", z, z)[:, a, b]
            quad_derivatives = np.einsum("ncia,nib->ncab", dz, z)
            quad_derivatives = (quad_derivatives + quad_derivatives.transpose(0, 1, 3, 2))[:, :, a, b]
            sums = np.concatenate([sums, quad_sums], axis=1)
            derivatives = np.concatenate([derivatives, quad_derivatives], axis=2)
        return Design(sums, derivatives, data.energies, data.forces, data.n_atoms)


@dataclass
class RidgeModel:
    weights: np.ndarray  # per summed feature
    e0: float  # eV per atom
    ridge: float

    def energies(self, design: Design) -> np.ndarray:
        return design.sums @ self.weights + self.e0 * design.n_atoms

    def forces(self, design: Design, rows: np.ndarray | None = None) -> np.ndarray:
        derivatives = design.derivatives if rows is None else design.derivatives[rows]
        return -(derivatives @ self.weights)


def column_scale(design: Design) -> np.ndarray:
    """RMS of every feature-derivative column over all force rows (of the pool: descriptors only)."""
    scale = np.sqrt(np.mean(design.derivatives.reshape(-1, design.derivatives.shape[-1]) ** 2, axis=0))
    return np.where(scale > 1e-12 * scale.max(), scale, 1.0)


def _ridge_path(design: Design, rows: np.ndarray, scale: np.ndarray) -> tuple[list[np.ndarray], list[float]]:
    """Scaled weights and e0 for every ridge in RIDGES, fitted on the frames ``rows``.

    e0 only enters the energy rows, so centring them on the training mean solves it exactly; what
    remains is a plain ridge problem, solved for the whole grid from one SVD.
    """
    n = design.n_atoms
    x = design.sums[rows] / n / scale
    y = design.energies[rows] / n
    x_mean, y_mean = x.mean(axis=0), float(y.mean())
    weight = math.sqrt(ENERGY_WEIGHT)
    matrix = np.vstack([weight * (x - x_mean), -(design.derivatives[rows] / scale).reshape(-1, len(scale))])
    target = np.concatenate([weight * (y - y_mean), design.forces[rows].reshape(-1)])
    u, singular, vt = np.linalg.svd(matrix, full_matrices=False)
    projected = u.T @ target
    weights = [vt.T @ (singular / (singular**2 + ridge * len(matrix)) * projected) for ridge in RIDGES]
    return weights, [y_mean - float(x_mean @ w) for w in weights]


def fit(design: Design, rows: np.ndarray, scale: np.ndarray, cv_seed: int = 0) -> RidgeModel:
    """Ridge fit on the frames ``rows``, its strength chosen by CV_FOLDS-fold CV over those frames."""
    rows = np.asarray(rows)
    folds = min(CV_FOLDS, len(rows))
    best = 0
    if folds >= 2:
        order = np.random.default_rng(cv_seed).permutation(len(rows))
        squared = np.zeros(len(RIDGES))
        for fold in range(folds):
            held = order[fold::folds]
            kept = np.setdiff1d(order, held)
            weights, _ = _ridge_path(design, rows[kept], scale)
            derivatives = design.derivatives[rows[held]] / scale
            for j, w in enumerate(weights):
                squared[j] += float(np.sum((-(derivatives @ w) - design.forces[rows[held]]) ** 2))
        best = int(np.argmin(squared))
    weights, offsets = _ridge_path(design, rows, scale)
    return RidgeModel(weights=weights[best] / scale, e0=offsets[best], ridge=RIDGES[best])


def errors(model: RidgeModel, design: Design) -> tuple[float, float]:
    """(force RMSE over all components in eV/A, energy RMSE in meV/atom)."""
    force_rmse = float(np.sqrt(np.mean((model.forces(design) - design.forces) ** 2)))
    per_atom = (model.energies(design) - design.energies) / design.n_atoms
    return force_rmse, float(1000 * np.sqrt(np.mean(per_atom**2)))


# ------------------------------------------------------------------------------------------ the run


def interpolate_crossing(sizes: list[int], curve: list[float], target: float) -> float | None:
    """Smallest N (log-log interpolation) where the curve first falls to ``target``; None if it never does."""
    if curve[0] <= target:
        return float(sizes[0])
    for (n0, e0), (n1, e1) in zip(zip(sizes, curve, strict=False), zip(sizes[1:], curve[1:], strict=False), strict=False):
        if e1 <= target:
            t = (math.log(target) - math.log(e0)) / (math.log(e1) - math.log(e0))
            return float(math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0))))
    return None


def run_model(
    name: str,
    pool_data: AtomData,
    test_data: AtomData,
    selections: dict[str, dict[int, list[np.ndarray]]],
    args: argparse.Namespace,
    grid: list[int],
) -> dict:
    began = time.perf_counter()
    features = FeatureMap(name, pool_data)
    pool, test = features(pool_data), features(test_data)
    scale = column_scale(pool)
    results: dict[str, dict[int, list[tuple[float, float]]]] = {"direct": {}, "random": {}}
    ridges: dict[str, dict[int, list[float]]] = {"direct": {}, "random": {}}
    for method in ("direct", "random"):
        for n in grid:
            models = [fit(pool, rows, scale, cv_seed=seed) for seed, rows in enumerate(selections[method][n])]
            results[method][n] = [errors(model, test) for model in models]
            ridges[method][n] = [model.ridge for model in models]
    whole = fit(pool, np.arange(len(pool.energies)), scale)
    full = errors(whole, test)

    def stats(method: str, n: int, which: int) -> tuple[float, float]:
        values = np.array([pair[which] for pair in results[method][n]])
        return float(values.mean()), float(values.std())

    largest = max(args.sizes)
    print(f"=== model '{name}': {pool.sums.shape[1]} weights + e0; ridge by {CV_FOLDS}-fold CV per training set ===")
    print(
        f"fitted on the whole pool ({len(pool.energies)} frames): force RMSE {full[0]:.4f} eV/A, "
        f"energy RMSE {full[1]:.2f} meV/atom (ridge {whole.ridge:g})"
    )
    print("    N | held-out force RMSE (eV/A)              | held-out energy RMSE (meV/atom)")
    print("      | DIRECT           random           D/R   | DIRECT           random")
    for n in args.sizes:
        fd, fds = stats("direct", n, 0)
        fr, frs = stats("random", n, 0)
        ed, eds = stats("direct", n, 1)
        er, ers = stats("random", n, 1)
        print(
            f"  {n:3d} | {fd:.4f} +- {fds:.4f}  {fr:.4f} +- {frs:.4f}  {fd / fr:5.3f} | "
            f"{ed:6.2f} +- {eds:5.2f}  {er:6.2f} +- {ers:5.2f}"
        )
    print("finer curves, mean force RMSE (eV/A) [median CV ridge]:")
    for n in grid:
        print(
            f"  N={n:3d}  DIRECT {stats('direct', n, 0)[0]:.4f} [{np.median(ridges['direct'][n]):.0e}]   "
            f"random {stats('random', n, 0)[0]:.4f} [{np.median(ridges['random'][n]):.0e}]"
        )
    target = stats("random", largest, 0)[0]
    crossing = interpolate_crossing(grid, [stats("direct", n, 0)[0] for n in grid], target)
    if crossing is None:
        verdict = None
        print(
            f"RESULT ({name}): DIRECT never reaches random's force RMSE at N = {largest} ({target:.4f} eV/A) "
            f"with up to {grid[-1]} frames: goal (ratio <= 0.50) not met"
        )
    else:
        ratio = crossing / largest
        how = "at or below the smallest size tried" if crossing == grid[0] else "log-log interpolated"
        verdict = ratio <= 0.5
        print(
            f"RESULT ({name}): DIRECT reaches random's force RMSE at N = {largest} ({target:.4f} eV/A) with "
            f"N = {crossing:.1f} frames ({how}): ratio {ratio:.2f} "
            f"(goal <= 0.50: {'met' if verdict else 'not met'})"
        )
    print(f"({time.perf_counter() - began:.0f} s)")
    print()
    return {
        "weights": int(pool.sums.shape[1]),
        "full_pool": full,
        "crossing": crossing,
        "goal_met": verdict,
        "results": {m: {str(n): v for n, v in r.items()} for m, r in results.items()},
        "ridges": {m: {str(n): v for n, v in r.items()} for m, r in ridges.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (0..seeds-1) to average over")
    parser.add_argument("--sizes", type=int_list, default=[25, 50, 100], help="training-set sizes for the table")
    parser.add_argument(
        "--grid",
        type=int_list,
        default=[10, 15, 20, 25, 30, 40, 50, 70, 100],
        help="sizes of the finer curves used for the crossing (the --sizes are added)",
    )
    parser.add_argument("--pool", type=int, default=720, help="pool frames (split evenly over the 12 conditions)")
    parser.add_argument("--test", type=int, default=180, help="held-out frames (split evenly over the 12 conditions)")
    parser.add_argument("--models", type=model_list, default=list(MODELS), help="linear, quadratic or both")
    parser.add_argument("--data-seed", type=int, default=2024, help="seed of the MD runs")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/mlip_direct_efficiency"))
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    args.cache.mkdir(parents=True, exist_ok=True)

    began = time.perf_counter()
    log(f"pool and held-out frames (CHGNet MD, cache {args.cache}):")
    surrogate = Surrogate()
    pool, pool_conditions = frame_set(surrogate, "pool", args.pool, POOL_EVERY, args.data_seed, args.cache)
    test, test_conditions = frame_set(surrogate, "test", args.test, TEST_EVERY, args.data_seed, args.cache)
    largest = max(args.sizes)
    if largest >= len(pool):
        parser.error(f"the largest size ({largest}) must be smaller than the pool ({len(pool)} frames)")
    pool_data = cached_atom_data(pool, "pool", args.cache)
    test_data = cached_atom_data(test, "test", args.cache)

    selection_spec = DescriptorSpec(species=("Si",), include_variance=True, **SELECTION_SPEC)
    selection_features = structure_descriptors(pool, selection_spec)
    grid = sorted({n for n in args.grid if n < len(pool)} | set(args.sizes))
    seeds = list(range(args.seeds))
    selections: dict[str, dict[int, list[np.ndarray]]] = {"direct": {}, "random": {}}
    for n in grid:
        selections["direct"][n] = [np.asarray(direct_select(selection_features, n, seed=s).indices) for s in seeds]
        selections["random"][n] = [np.sort(np.random.default_rng(s).choice(len(pool), size=n, replace=False)) for s in seeds]

    forces = test_data.forces
    print("DIRECT vs random training frames for a small force-fitted model (benchmarks/direct_data_efficiency.py)")
    print(
        f"pool {len(pool)} / held-out {len(test)} frames of 8-atom Si from separate CHGNet MD runs, "
        f"{len(CONDITIONS)} conditions (NVT/NPT 300-2000 K, 0/5 GPa, strained cells); seeds {seeds}"
    )
    print(f"held-out force RMS (error of predicting zero forces): {np.sqrt(np.mean(forces**2)):.3f} eV/A")
    distinct = len({tuple(rows) for rows in selections["direct"][largest]})
    print(
        f"training frames per MD condition at N = {largest}, mean over seeds "
        f"({distinct} distinct DIRECT selection(s) over the {len(seeds)} seeds):"
    )
    for index, condition in enumerate(CONDITIONS):
        counts = {
            m: np.mean([np.sum(pool_conditions[rows] == index) for rows in selections[m][largest]]) for m in ("direct", "random")
        }
        print(
            f"  {condition.label:28s} DIRECT {counts['direct']:5.1f}   random {counts['random']:5.1f}   "
            f"(pool {np.sum(pool_conditions == index)}, held-out {np.sum(test_conditions == index)})"
        )
    print()
    report = {"pool": len(pool), "test": len(test), "seeds": seeds, "sizes": args.sizes, "grid": grid, "models": {}}
    for name in args.models:
        report["models"][name] = run_model(name, pool_data, test_data, selections, args, grid)
    print(f"total wall time {time.perf_counter() - began:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
