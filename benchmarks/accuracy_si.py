"""Does the loop earn its DFT calls? Si from its composition alone: learning curves against DFT calls of the full
pipeline (DIRECT + active learning), of DIRECT picks alone and of random picks, on one fixed validation set.

How to run (the config is ``benchmarks/accuracy_si.yaml``; pw.x dominates, so be nice to the shared cores):

    nice -n 10 .venv/bin/python benchmarks/accuracy_si.py                      # the full run: budget 300 (hours)
    nice -n 10 .venv/bin/python benchmarks/accuracy_si.py --quick              # smoke run: budget 30, 2 curve points
    .venv/bin/python benchmarks/accuracy_si.py --budget 120 --workdir /tmp/acc120 --keep-labels benchmarks/data/accuracy_si_labels

Options: ``--workdir DIR`` (default /tmp/accuracy_si, quick: /tmp/accuracy_si_quick; a rerun in the same folder
resumes: Snakemake redoes nothing that is done, committees already trained on the same picks are reused, labels
come from the label cache), ``--budget N`` (DFT budget of the pipeline, also the largest DIRECT/random size),
``--keep-labels DIR`` (see below), ``--reuse-run`` (do not call mlip-pipe when the run folder already holds its
validation), ``--cores`` (for Snakemake and the committee members trained side by side), ``--json FILE``
(default: ``benchmarks/accuracy_si.json`` beside this script).

What it does
1. Writes the config (without its ``benchmark:`` section; ``--budget`` sets ``dft_budget``) to
   ``<workdir>/config.yaml`` and runs ``mlip-pipe run --config config.yaml`` there: real Snakemake, generation,
   CHGNet exploration, DIRECT selection, pw.x labels, ACE committees, committee-MD active learning, validation.
2. Draws ONE fixed validation set with ``validation/fresh_set.py`` (``draw_validation_set``, the run's seed, so its
   rattled/strained crystals and surface slab are the validation stage's own, labelled once): rattled and strained
   8-atom crystals at every target temperature (displaced by the cell's normal modes from the surrogate's force
   constants, ``validation.set_displacements: harmonic``), MD snapshots at 1.2x the hottest temperature run with the
   exploration surrogate (CHGNet, which none of the three strategies trains), one surface slab. It is labelled once
   through the run's label cache (``LabelledDft``) and saved to ``<workdir>/benchmark/validation_set.extxyz``;
   every committee below is judged on exactly these structures.
3. Learning curves, each point a committee (same ``train`` section, seed, split rule, baseline and reference
   energies as the pipeline: ``plan_from_labels`` + ``train_member`` + ``collect_committee``):
   - ``pipeline``: each iteration's committee (``results/iter_k/models/committee.json``) against the DFT calls
     of iterations 0..k (every label record, failed ones included);
   - ``direct``: the project's DIRECT selection (``sampling.structures.select_structures``, the pipeline's
     seed and cluster quota) of N structures from iteration 0's pool (generated structures + exploration frames,
     in the order the pipeline's ``select`` reads them), no active learning;
   - ``random``: the isolated atom (DIRECT and the pipeline always label it: it fixes the reference energy) plus
     the first N - 1 frames of a seeded permutation of the rest of the same pool (prefixes: nested sets).
   N runs over ``curve_fractions`` x budget. Labels go through the same label cache, so a structure that the
   pipeline (or another point) labelled costs no pw.x run; the DFT calls of a point are its N structures.
4. Prints the table (strategy x DFT calls) and the goals, writes the JSON, copies new labels to ``--keep-labels``.

The numbers (JSON keys)
- ``dft_calls``: DFT labels behind the delivered committee (``results/final``): label records of iterations
  0..k, k its iteration; ``dft_calls_total``: every label record of the run.
- ``validation_force_rmse`` (eV/A, per Cartesian component) and ``validation_energy_rmse`` (eV/atom): the
  delivered committee (mean of the members) against DFT on the fixed validation set; ``validation_set`` says how
  many structures/atoms they rest on, by origin.
- ``passes_all``: every judged row of the pipeline's own validation table (``results/validation/validation.json``,
  ``validation_table``) is ``pass`` (no warn, fail or incomplete row).
- ``calls_ratio_vs_random``: the DFT calls the pipeline needs to bring the validation force RMSE down to random
  picking's at its largest N (log-log interpolation between the two iterations that bracket the crossing; the first
  iteration's calls when it is already there: then ``calls_to_reach_random.upper_bound`` is true), divided by that
  N; null when no iteration reaches it.
  ``calls_ratio_direct_vs_random``: the same for the DIRECT curve; ``*_energy`` variants use the energy RMSE.
- ``learning_curves``: per strategy, points with ``dft_calls``, ``force_rmse``, ``energy_rmse`` (the units above),
  ``n_structures``/``n_atoms`` of the validation set, per-kind force RMSE, labels failed, pw.x runs and DFT seconds
  it caused (cache misses only), training wall time.
- ``dft_settings``, ``wall_times_s``, ``machine`` (cores, load), ``quick`` (true for a smoke run: its numbers say
  that every stage runs, not how good the loop is).
Goals (printed met/unmet): every validation row passes; validation force RMSE <= 0.10 eV/A and energy RMSE
<= 5 meV/atom with at most 300 DFT calls; calls_ratio_vs_random <= 0.5.

Cost (2 cores, 8-atom cells at these DFT settings: ~15 s per pw.x label idle, 35-80 s when the cores are shared):
the quick run (budget 30) made 134 pw.x runs (30 pipeline, 44 validation stage, 3 validation set, 57 DIRECT/random)
and took 2.5 h on shared cores (pipeline 82 min, of it validation 20 min). The full run is about 1,000 pw.x runs
(300 pipeline, ~70 validation stage, ~10 more for the set, ~300 DIRECT, ~290 random): about 4-5 h of pw.x on idle
cores, plus 15 committees of 3 ACE members: linear ACE up to 300 structures per element, solved exactly
(``potentials/ace_linear.py``), so their cost is small next to pw.x.

``--keep-labels DIR``: the label cache's records (``<cache>/<dft hash>/<structure id>.json``, ``data/label_cache.py``)
are copied from DIR into the run's cache before anything runs and back to DIR after every stage, so DIR can be
committed as data (e.g. ``benchmarks/data/accuracy_si_labels/``) and a later run replays its labels instead of
running pw.x again (a label is keyed by structure content and DFT parameters; the same config and seed give the
same structures).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
CONFIG = Path(__file__).with_suffix(".yaml")
OUTPUT = Path(__file__).with_suffix(".json")
STRATEGIES = ("pipeline", "direct", "random")
GOAL_FORCE_RMSE = 0.10  # eV/A
GOAL_ENERGY_RMSE = 0.005  # eV/atom
GOAL_MAX_CALLS = 300
GOAL_RATIO = 0.5


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ arithmetic


def calls_to_reach(calls: Sequence[float], errors: Sequence[float | None], target: float) -> float | None:
    """DFT calls at which a learning curve first reaches ``target`` (an error, lower is better).

    Points are taken in order of calls; between the last point above the target and the first at or below it, the
    crossing is interpolated log-log (errors fall roughly as a power of the data size). When the first point is
    already at or below the target its calls are returned (an upper bound). None when no point reaches it.
    Points without an error (a failed committee) are skipped.
    """
    points = sorted((float(c), float(e)) for c, e in zip(calls, errors, strict=True) if e is not None)
    previous: tuple[float, float] | None = None
    for c, e in points:
        if e <= target:
            if previous is None or previous[1] <= 0 or e <= 0 or previous[1] == e:
                return c
            c0, e0 = previous
            t = (math.log(target) - math.log(e0)) / (math.log(e) - math.log(e0))
            return float(math.exp(math.log(c0) + t * (math.log(c) - math.log(c0))))
        previous = (c, e)
    return None


def calls_ratio(curve: Sequence[dict[str, Any]], reference: Sequence[dict[str, Any]], key: str = "force_rmse") -> dict[str, Any]:
    """How many calls ``curve`` needs to reach ``reference``'s error at its largest size, as a fraction of that size."""
    valid = [p for p in reference if p.get(key) is not None]
    if not valid or not curve:
        return {"target": None, "reference_calls": None, "calls": None, "ratio": None, "upper_bound": False}
    last = max(valid, key=lambda p: p["dft_calls"])
    target = float(last[key])
    needed = calls_to_reach([p["dft_calls"] for p in curve], [p.get(key) for p in curve], target)
    first = min((p for p in curve if p.get(key) is not None), key=lambda p: p["dft_calls"], default=None)
    return {
        "target": target,
        "reference_calls": int(last["dft_calls"]),
        "calls": None if needed is None else round(needed, 2),
        "ratio": None if needed is None else round(needed / float(last["dft_calls"]), 4),
        # the curve's first point is already at the target: fewer calls might do, the ratio is an upper bound
        "upper_bound": first is not None and float(first[key]) <= target,
    }


def curve_sizes(budget: int, fractions: Sequence[float]) -> list[int]:
    """Training-set sizes of the DIRECT and random curves: the fractions of the budget, rounded, distinct, >= 2."""
    return sorted({max(2, int(round(f * budget))) for f in fractions if f > 0})


def passes_all(rows: Sequence[dict[str, Any]]) -> bool:
    """Every judged row passes: something was judged, and no row is warn, fail or incomplete."""
    judged = [r for r in rows if r.get("mark") in ("pass", "warn", "fail", "incomplete")]
    return bool(judged) and all(r["mark"] == "pass" for r in judged)


# ------------------------------------------------------------------------------------------ config and labels


def load_benchmark_config(path: Path, budget: int | None, quick: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the pipeline's config, the benchmark's settings) from the YAML, with --quick and --budget applied."""
    raw = yaml.safe_load(path.read_text())
    bench = raw.pop("benchmark", {}) or {}
    quick_settings = bench.pop("quick", {}) or {}
    if quick:
        overrides = quick_settings.pop("config", {}) or {}
        raw = _deep_merge(raw, overrides)
        bench.update(quick_settings)
    if budget is not None:
        raw["dft_budget"] = int(budget)
    elif "budget" in bench:
        raw["dft_budget"] = int(bench["budget"])
    bench.pop("budget", None)
    return raw, bench


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class Labeller:
    """Labels through the run's DFT settings and label cache, counting pw.x runs and their seconds."""

    def __init__(self, full: Any, workdir: Path) -> None:
        from mlip_autopipec.config.models import LabelConfig

        self.dft = full.dft
        cache_dir = Path(full.label.cache_dir)
        cache_dir = cache_dir if cache_dir.is_absolute() else workdir / cache_dir
        self.label: LabelConfig = full.label.model_copy(update={"cache_dir": str(cache_dir)})
        self.cache_dir = cache_dir
        self.ntasks = int(full.label.mpi.ntasks)
        self.dft_dir = workdir / "benchmark" / "dft"

    def label_file(self, structure_file: Path, labels: Path) -> tuple[Any, bool]:
        """Label one selected-structure file (as the pipeline's label job does); write its record.

        Returns (record, whether it was labelled now rather than read back from an earlier invocation's record).
        """
        import ase.io

        from mlip_autopipec.data.records import LabelRecord
        from mlip_autopipec.dft.labeller import label_structure

        out = labels / f"{structure_file.stem}.json"
        if out.is_file():
            return LabelRecord.read(out), False
        read = ase.io.read(structure_file, index=0)
        atoms = read[0] if isinstance(read, list) else read
        record = label_structure(atoms, self.dft, self.label, self.dft_dir / structure_file.stem, iteration=0, ntasks=self.ntasks)
        record.write(out)
        return record, True


# ------------------------------------------------------------------------------------------ stages


def run_pipeline(workdir: Path, cores: int, reuse: bool) -> dict[str, Any]:
    """``mlip-pipe run`` in the work folder (Snakemake resumes what is done); its exit code and wall time."""
    results = workdir / "results"
    if reuse and (results / "validation" / "validation.json").is_file():
        log("pipeline: reusing the finished run in " + str(workdir))
        return {"exit_code": None, "wall_time_s": 0.0, "reused": True}
    mlip_pipe = str(Path(sys.executable).parent / "mlip-pipe")
    log(f"pipeline: mlip-pipe run --config config.yaml --cores {cores} in {workdir} (log: run.log)")
    started = time.monotonic()
    with open(workdir / "run.log", "a") as out:
        code = subprocess.call(
            [mlip_pipe, "run", "--config", "config.yaml", "--cores", str(cores)],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wall = round(time.monotonic() - started, 1)
    log(f"pipeline: exit code {code} after {wall:.0f} s")
    return {"exit_code": code, "wall_time_s": wall, "reused": False}


def exploration_pool(full: Any, results: Path) -> tuple[list[Any], int]:
    """Iteration 0's candidates as the pipeline's ``select`` reads them: generated, then every explore trajectory
    in the order of ``explored_frames()`` (start, ensemble, temperature). Returns (frames, number generated)."""
    import ase.io

    from mlip_autopipec.data.trajectories import read_frames

    generated = ase.io.read(results / "iter_0" / "generated.extxyz", index=":")
    generated = generated if isinstance(generated, list) else [generated]
    explored = []
    if full.explore.enabled and full.generate.enabled:
        for start in range(full.explore.starts):
            for ensemble in full.explore.ensembles:
                for temperature in full.explore.temperatures:
                    path = results / "iter_0" / "explore" / f"start{start}_{ensemble}_{temperature:g}K.extxyz.gz"
                    explored += read_frames(path)
    return [*generated, *explored], len(generated)


def validation_set(full: Any, bench: dict[str, Any], labeller: Labeller, workdir: Path) -> dict[str, Any]:
    """The fixed validation set: drawn once, labelled once (label cache), kept as an extxyz with its DFT labels."""
    import ase.io

    from mlip_autopipec.validation.crystal import validation_crystal
    from mlip_autopipec.validation.dft_reference import LabelledDft

    folder = workdir / "benchmark"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "validation_set.extxyz"
    info_path = folder / "validation_set.json"
    kept = json.loads(info_path.read_text()) if info_path.is_file() else {}
    if path.is_file() and kept.get("displacements", "independent") == full.validation.set_displacements:
        frames = ase.io.read(path, index=":")
        log(f"validation set: {len(frames)} labelled structures from {path}")
        return {"frames": frames, "info": kept}
    from mlip_autopipec.potentials.surrogate import make_surrogate
    from mlip_autopipec.validation.fresh_set import draw_validation_set

    crystal = validation_crystal(full.composition, full.system.bonding_type).atoms
    if crystal is None:
        raise SystemExit(f"{full.composition}: no crystal to draw a validation set from")
    cfg = full.validation.model_copy(
        update={"set_per_temperature": int(bench["set_per_temperature"]), "set_md_snapshots": int(bench["set_md_snapshots"])}
    )
    surrogate, surrogate_name = make_surrogate(full.explore.surrogate, full.explore.surrogate_model)
    started = time.monotonic()
    thermal = surrogate if cfg.set_displacements == "harmonic" else None  # the validation stage's own choice
    drawn = draw_validation_set(
        crystal, full.temperatures, cfg, full.seed, surrogate, timestep_fs=full.explore.timestep_fs, thermal_calculator=thermal
    )
    log(f"validation set: {len(drawn)} structures drawn ({surrogate_name} MD snapshots, {cfg.set_displacements}); labelling them")
    reference = LabelledDft(full.dft, labeller.label, folder / "validation_dft", ntasks=labeller.ntasks)
    frames, failed = label_drawn(drawn, reference)
    origins: dict[str, int] = {}
    for atoms in frames:
        origins[str(atoms.info["origin"])] = origins.get(str(atoms.info["origin"]), 0) + 1
    info = {
        "n_structures": len(frames),
        "n_atoms": int(sum(len(a) for a in frames)),
        "by_origin": origins,
        "seed": full.seed,
        "set_per_temperature": cfg.set_per_temperature,
        "md_snapshots": cfg.set_md_snapshots,
        "md_calculator": surrogate_name,
        "displacements": cfg.set_displacements,
        "failed_ids": failed,
        "pw_runs": reference.dft_runs,
        "dft_seconds": round(reference.dft_seconds, 1),
        "wall_time_s": round(time.monotonic() - started, 1),
    }
    ase.io.write(path, frames, format="extxyz")
    info_path.write_text(json.dumps(info, indent=1))
    return {"frames": frames, "info": info}


def label_drawn(drawn: Sequence[Any], reference: Any) -> tuple[list[Any], list[str]]:
    """DFT labels of drawn structures through ``reference`` (a ``LabelledDft``: cache first), their info kept;
    returns (labelled frames, ids whose label failed: left out and said)."""
    from mlip_autopipec.validation.dft_reference import DftLabelFailed

    frames, failed = [], []
    for number, atoms in enumerate(drawn, 1):
        try:
            record = reference.label_of(atoms)
        except DftLabelFailed as error:
            log(f"  {error}")
            failed.append(str(atoms.info["structure_id"]))
            continue
        labelled = record.to_atoms()
        labelled.info.update({k: v for k, v in atoms.info.items() if isinstance(v, str | int | float)})
        frames.append(labelled)
        log(f"  {number}/{len(drawn)} {atoms.info['origin']}{' (cache)' if record.cache_hit else ''}")
    return frames, failed


def _kind(origin: str) -> str:
    return origin.removeprefix("validation_").split("_")[0]


def evaluate(committee_path: Path, frames: Sequence[Any]) -> dict[str, Any]:
    """The committee mean against DFT on the validation set: overall and per kind (rattled, strained, md, surface)."""
    from mlip_autopipec.potentials.committee import CommitteeCalculator
    from mlip_autopipec.potentials.committee_plan import load_committee
    from mlip_autopipec.potentials.metrics import error_metrics, predict

    calculator = CommitteeCalculator(load_committee(committee_path), extrapolation_grade=False)
    overall = error_metrics(predict(calculator, frames))
    kinds: dict[str, list[Any]] = {}
    for atoms in frames:
        kinds.setdefault(_kind(str(atoms.info.get("origin", "unknown"))), []).append(atoms)
    by_kind = {}
    for kind, group in sorted(kinds.items()):
        stats = error_metrics(predict(calculator, group))
        by_kind[kind] = {
            "force_rmse": stats.force_rmse,
            "energy_rmse": stats.energy_rmse_per_atom,
            "n_structures": stats.n_structures,
        }
    return {
        "force_rmse": overall.force_rmse,
        "energy_rmse": overall.energy_rmse_per_atom,
        "stress_rmse_gpa": overall.stress_rmse_gpa,
        "n_structures": overall.n_structures,
        "n_atoms": overall.n_atoms,
        "by_kind": by_kind,
    }


def pipeline_curve(results: Path, frames: Sequence[Any]) -> list[dict[str, Any]]:
    """Each iteration's committee against the DFT calls so far (label records of iterations 0..k)."""
    from mlip_autopipec.data.records import LabelRecord

    points = []
    calls = failed = pw_runs = 0
    seconds = 0.0
    iteration = 0
    while (results / f"iter_{iteration}").is_dir():
        for path in sorted((results / f"iter_{iteration}" / "labels").glob("*.json")):
            record = LabelRecord.read(path)
            calls += 1
            failed += record.state != "labelled"
            if not record.cache_hit:
                pw_runs += 1
                seconds += record.wall_time_s
        manifest = results / f"iter_{iteration}" / "models" / "committee.json"
        if manifest.is_file():
            point: dict[str, Any] = {"iteration": iteration, "dft_calls": calls, "labels_failed": failed, "pw_runs": pw_runs}
            point["dft_seconds"] = round(seconds, 1)
            point.update(evaluate(manifest, frames))
            point["config_hash"] = json.loads(manifest.read_text()).get("config_hash")
            points.append(point)
            log(f"pipeline iteration {iteration}: {calls} calls, force RMSE {point['force_rmse']:.4f} eV/A")
        iteration += 1
    return points


def train_strategy_committee(folder: Path, label_files: Sequence[Path], full: Any, cores: int) -> Path:
    """The pipeline's committee recipe on these labels: plan, members (``cores`` at a time), manifest."""
    from mlip_autopipec.potentials.committee_plan import collect_committee, plan_from_labels, train_member

    models = folder / "models"
    planned = plan_from_labels(label_files, models, full.elements, full.train, seed=int(full.seed))
    with ThreadPoolExecutor(max_workers=max(1, cores)) as pool:
        for future in [pool.submit(train_member, models, k) for k in range(planned.plan.committee_size)]:
            future.result()
    return collect_committee(models)


def strategy_point(
    name: str, n: int, picks: Sequence[Any], full: Any, labeller: Labeller, frames: Sequence[Any], workdir: Path, cores: int
) -> dict[str, Any]:
    """Label the picks (cache first), train a committee on them (reused when the same picks were trained), evaluate."""
    from mlip_autopipec.data.structure_files import fan_out

    folder = workdir / "benchmark" / name / f"n{n:04d}"
    written = fan_out(list(picks), folder / "selected", origin="generated")
    ids = sorted(written)
    labels = folder / "labels"
    labels.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    pw_runs, seconds, failed = 0, 0.0, 0
    for number, sid in enumerate(ids, 1):
        record, now = labeller.label_file(written[sid], labels)
        failed += record.state != "labelled"
        if not record.cache_hit:  # pw.x ran for this point (now or in an earlier invocation)
            pw_runs += 1
            seconds += record.wall_time_s
            if now:
                log(f"  {name} N={n}: {number}/{len(ids)} labelled by pw.x ({record.wall_time_s:.0f} s)")
    label_seconds = time.monotonic() - started
    manifest = folder / "models" / "committee.json"
    picks_file = folder / "picks.json"
    trained = picks_file.is_file() and json.loads(picks_file.read_text()) == ids and manifest.is_file()
    started = time.monotonic()
    if not trained:
        log(f"  {name} N={n}: training the committee on {len(ids) - failed} labels")
        shutil.rmtree(folder / "models", ignore_errors=True)
        train_strategy_committee(folder, [labels / f"{sid}.json" for sid in ids], full, cores)
        picks_file.write_text(json.dumps(ids))
    train_seconds = time.monotonic() - started
    point = {
        "n_picked": n,
        "dft_calls": len(ids),
        "labels_failed": failed,
        "pw_runs": pw_runs,
        "dft_seconds": round(seconds, 1),
        "label_wall_time_s": round(label_seconds, 1),
        "train_wall_time_s": round(train_seconds, 1),
        "reused_committee": trained,
    }
    point.update(evaluate(manifest, frames))
    log(f"{name} N={n}: {len(ids)} calls ({pw_runs} pw.x runs), force RMSE {point['force_rmse']:.4f} eV/A")
    return point


def direct_picks(pool: Sequence[Any], n: int, full: Any) -> list[Any]:
    from mlip_autopipec.sampling.structures import select_structures

    selection = select_structures(list(pool), n, list(full.elements), int(full.seed), float(full.select.cluster_fraction))
    return [pool[i] for i in selection.indices]


def random_order(pool: Sequence[Any], seed: int) -> list[int]:
    """Isolated atoms first (always labelled, as by DIRECT), then a seeded permutation of every other frame."""
    from mlip_autopipec.data.seeds import job_seed

    forced = [i for i, atoms in enumerate(pool) if atoms.info.get("origin") == "isolated_atom"]
    rest = [i for i in range(len(pool)) if i not in set(forced)]
    permutation = np.random.default_rng(job_seed(seed, "accuracy_si", "random")).permutation(len(rest))
    return forced + [rest[int(k)] for k in permutation]


def random_picks(pool: Sequence[Any], order: Sequence[int], n: int) -> list[Any]:
    """The first ``n`` distinct structures (by content id) of the order: prefixes of one permutation."""
    from ase import Atoms

    from mlip_autopipec.data.ids import structure_id

    picks, seen = [], set()
    for index in order:
        atoms = pool[index]
        sid = structure_id(Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc))
        if sid in seen:
            continue
        seen.add(sid)
        picks.append(atoms)
        if len(picks) == n:
            break
    return picks


# ------------------------------------------------------------------------------------------ report


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    curves = report["learning_curves"]
    by_calls: dict[int, dict[str, dict[str, Any]]] = {}
    for strategy in STRATEGIES:
        for point in curves[strategy]:
            by_calls.setdefault(int(point["dft_calls"]), {})[strategy] = point
    quick = " (QUICK smoke run: small scale)" if report["quick"] else ""
    table = Table(
        title=f"Si: errors on the validation set against DFT calls{quick}\n"
        f"({report['validation_set']['n_structures']} structures, {report['validation_set']['n_atoms']} atoms; "
        "force RMSE eV/A | energy RMSE meV/atom)"
    )
    table.add_column("DFT calls", justify="right")
    for strategy in STRATEGIES:
        table.add_column(strategy, justify="right")
    for calls in sorted(by_calls):
        cells = []
        for strategy in STRATEGIES:
            point = by_calls[calls].get(strategy)
            if point is None or point.get("force_rmse") is None:
                cells.append("-")
                continue
            tag = f" (it {point['iteration']})" if strategy == "pipeline" else ""
            cells.append(f"{point['force_rmse']:.4f} | {1000 * point['energy_rmse']:.2f}{tag}")
        table.add_row(str(calls), *cells)
    console.print(table)
    goals = Table(title="Goals")
    goals.add_column("goal")
    goals.add_column("value")
    goals.add_column("met")
    for goal in report["goals"]:
        goals.add_row(goal["goal"], goal["value"], "[green]met[/green]" if goal["met"] else "[red]unmet[/red]")
    console.print(goals)


def goals_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    force, energy, calls = report["validation_force_rmse"], report["validation_energy_rmse"], report["dft_calls"]
    ratio = report["calls_ratio_vs_random"]
    marks = report["validation_marks"]
    return [
        {
            "goal": "every row of the validation table passes",
            "value": ", ".join(f"{k} {v}" for k, v in sorted(marks.items())) or "no validation table",
            "met": bool(report["passes_all"]),
        },
        {
            "goal": f"validation force RMSE <= {GOAL_FORCE_RMSE} eV/A and energy RMSE <= {1000 * GOAL_ENERGY_RMSE:g} meV/atom "
            f"with <= {GOAL_MAX_CALLS} DFT calls",
            "value": "no delivered committee"
            if force is None
            else f"{force:.4f} eV/A, {1000 * energy:.2f} meV/atom, {calls} calls",
            "met": force is not None
            and force <= GOAL_FORCE_RMSE
            and energy <= GOAL_ENERGY_RMSE
            and calls is not None
            and calls <= GOAL_MAX_CALLS,
        },
        {
            "goal": f"calls_ratio_vs_random <= {GOAL_RATIO}",
            "value": "never reached" if ratio is None else f"{ratio:.3f}",
            "met": ratio is not None and ratio <= GOAL_RATIO,
        },
    ]


# ------------------------------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIG, help="the benchmark's config (default: accuracy_si.yaml)")
    parser.add_argument("--workdir", type=Path, default=None, help="run folder (default /tmp/accuracy_si[_quick])")
    parser.add_argument("--budget", type=int, default=None, help="DFT budget of the pipeline and largest curve size")
    parser.add_argument("--quick", action="store_true", help="smoke run at a small scale (the config's quick section)")
    parser.add_argument("--keep-labels", type=Path, default=None, help="folder of label records to replay and to fill")
    parser.add_argument("--reuse-run", action="store_true", help="do not call mlip-pipe when the run has its validation")
    parser.add_argument("--cores", type=int, default=2, help="cores for Snakemake and for committee members side by side")
    parser.add_argument("--json", type=Path, default=OUTPUT, help="where the results go (default: accuracy_si.json)")
    args = parser.parse_args(argv)
    if args.budget is not None and args.budget < 2:
        parser.error("--budget must be at least 2")

    began = time.monotonic()
    load_start = os.getloadavg()
    config, bench = load_benchmark_config(args.config, args.budget, args.quick)
    workdir = (args.workdir or Path("/tmp/accuracy_si_quick" if args.quick else "/tmp/accuracy_si")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    from mlip_autopipec.config.expander import expand_config
    from mlip_autopipec.data.label_cache import copy_records
    from mlip_autopipec.data.records import ValidationReport
    from mlip_autopipec.dft.labeller import dft_hash

    full = expand_config(copy.deepcopy(config))
    labeller = Labeller(full, workdir)
    if args.keep_labels:
        log(f"labels: {copy_records(args.keep_labels, labeller.cache_dir)} records replayed from {args.keep_labels}")

    def keep() -> None:
        if args.keep_labels:
            log(f"labels: {copy_records(labeller.cache_dir, args.keep_labels)} new records kept in {args.keep_labels}")

    wall: dict[str, float] = {}
    try:  # the pipeline stage is most of the pw.x: keep its labels even when it fails or is interrupted
        run = run_pipeline(workdir, args.cores, args.reuse_run)
    finally:
        keep()
    wall["pipeline_run"] = run["wall_time_s"]
    results = workdir / "results"
    if not (results / "iter_0" / "generated.extxyz").is_file():
        raise SystemExit(f"the pipeline left no iteration-0 pool in {results}; see {workdir / 'run.log'}")

    started = time.monotonic()
    try:
        vset = validation_set(full, bench, labeller, workdir)
    finally:
        keep()
    frames = vset["frames"]
    wall["validation_set"] = round(time.monotonic() - started, 1)

    started = time.monotonic()
    curves: dict[str, list[dict[str, Any]]] = {"pipeline": pipeline_curve(results, frames)}
    wall["pipeline_curve"] = round(time.monotonic() - started, 1)

    pool, n_generated = exploration_pool(full, results)
    budget = int(full.dft_budget)
    sizes = [n for n in curve_sizes(budget, bench["curve_fractions"]) if n <= len(pool)]
    log(f"pool: {len(pool)} frames ({n_generated} generated); DIRECT and random curves at N = {sizes}")
    pipeline_initial = sorted(p.stem for p in (results / "iter_0" / "selected").glob("*.extxyz"))
    initial_picks = direct_picks(pool, int(full.select.initial_structures), full)
    from mlip_autopipec.data.structure_files import fan_out

    reproduced = sorted(fan_out(initial_picks, workdir / "benchmark" / "direct_initial_check", origin="generated"))
    direct_matches = reproduced == pipeline_initial
    log(f"DIRECT at N = {full.select.initial_structures} reproduces the pipeline's iteration-0 picks: {direct_matches}")

    for name in ("direct", "random"):
        started = time.monotonic()
        order = random_order(pool, int(full.seed)) if name == "random" else []
        curves[name] = []
        for n in sizes:
            picks = direct_picks(pool, n, full) if name == "direct" else random_picks(pool, order, n)
            try:
                curves[name].append(strategy_point(name, n, picks, full, labeller, frames, workdir, args.cores))
            finally:
                keep()
        wall[name] = round(time.monotonic() - started, 1)

    # the delivered committee and the run's own validation
    final = results / "final" / "committee.json"
    delivered = None
    if final.is_file():
        final_hash = json.loads(final.read_text()).get("config_hash")
        delivered = next((p for p in curves["pipeline"] if p.get("config_hash") == final_hash), None)
    validation_file = results / "validation" / "validation.json"
    rows: list[dict[str, Any]] = []
    stage: dict[str, Any] = {}
    if validation_file.is_file():
        validation = ValidationReport.read(validation_file)
        rows = [row.model_dump(mode="json") for row in validation.rows]
        stage = {
            "dft_runs": validation.dft_runs,
            "dft_seconds": validation.dft_seconds,
            "passed_with_warnings": validation.passed,
        }
    marks: dict[str, int] = {}
    for row in rows:
        marks[row["mark"]] = marks.get(row["mark"], 0) + 1

    used_ids: set[str] = set()
    for path in (workdir / "benchmark").glob("*/n*/labels/*.json"):
        used_ids.add(path.stem)
    used_ids |= {p.stem for p in results.glob("iter_*/labels/*.json")}
    overlap = sorted({str(a.info.get("structure_id")) for a in frames} & used_ids)
    if overlap:
        log(f"warning: {len(overlap)} validation structures are training structures of some strategy: {overlap}")

    ratio = calls_ratio(curves["pipeline"], curves["random"])
    ratio_energy = calls_ratio(curves["pipeline"], curves["random"], key="energy_rmse")
    ratio_direct = calls_ratio(curves["direct"], curves["random"])
    total_calls = sum(1 for _ in results.glob("iter_*/labels/*.json"))
    dft = full.dft
    report: dict[str, Any] = {
        "benchmark": "accuracy_si",
        "quick": bool(args.quick),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "workdir": str(workdir),
        "budget": budget,
        "dft_calls": None if delivered is None else delivered["dft_calls"],
        "dft_calls_total": total_calls,
        "delivered_iteration": None if delivered is None else delivered["iteration"],
        "validation_force_rmse": None if delivered is None else delivered["force_rmse"],
        "validation_energy_rmse": None if delivered is None else delivered["energy_rmse"],
        "passes_all": passes_all(rows),
        "validation_marks": marks,
        "calls_ratio_vs_random": ratio["ratio"],
        "calls_to_reach_random": ratio,
        "labels_kept_in": None if args.keep_labels is None else str(args.keep_labels),
        "calls_ratio_vs_random_energy": ratio_energy["ratio"],
        "calls_ratio_direct_vs_random": ratio_direct["ratio"],
        "learning_curves": curves,
        "curve_sizes": sizes,
        "validation_set": {**vset["info"], "overlap_with_training": overlap},
        "validation_table": rows,
        "validation_stage": stage,
        "pool": {"frames": len(pool), "generated": n_generated, "explored": len(pool) - n_generated},
        "direct_reproduces_pipeline_iteration_0": direct_matches,
        "pipeline": {**run, "max_iterations": full.max_iterations, "initial_structures": full.select.initial_structures},
        "dft_settings": {
            "code": "Quantum ESPRESSO pw.x",
            "functional": dft.functional,
            "pseudo_family": dft.pseudo_family,
            "pseudopotentials": dict(dft.pseudopotentials),
            "ecutwfc_ry": dft.ecutwfc,
            "ecutrho_ry": dft.ecutrho,
            "kpoint_spacing_per_angstrom": dft.kpoint_spacing,
            "smearing": dft.smearing,
            "degauss_ry": dft.degauss,
            "conv_thr_per_atom_ry": dft.conv_thr_per_atom,
            "mpi_ranks": labeller.ntasks,
            "dft_hash": dft_hash(dft),
            "cell_atoms": full.generate.target_atoms,
        },
        "committee": full.train.model_dump(mode="json", exclude={"why"}),
        "wall_times_s": {**wall, "total": round(time.monotonic() - began, 1)},
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in load_start],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
    }
    report["goals"] = goals_of(report)
    args.json.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print_report(report)
    log(f"written {args.json}")
    keep()
    return 0


if __name__ == "__main__":
    sys.exit(main())
