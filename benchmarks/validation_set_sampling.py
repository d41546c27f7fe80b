"""How hot is the fresh validation set? Harmonic (normal-mode) thermal displacements against the reference, independent
rattles of one amplitude for every material, judged by DFT and by a committee trained on the loop's own labels.

Si with accuracy_si's config and DFT (30/120 Ry, k-spacing 0.5, 2 MPI ranks; ``benchmarks/accuracy_si.yaml``). Both
sets are drawn by ``validation/fresh_set.py`` with the same seed and slots (12 crystals per target temperature, half of
them strained, 8 CHGNet MD snapshots at 1.2x the hottest temperature, one slab); the MD snapshots are the same in both
and serve as the physical yardstick of "what Si visits when hot". Every structure is labelled by pw.x through the
label cache, which is seeded from ``benchmarks/data/accuracy_si_labels`` (the independent set and the MD snapshots
are there already) and copied back with ``--keep-labels``.

Printed per kind (rattled / strained at each temperature, MD, surface) and set: DFT energy above the ideal cell
(eV/atom, mean and largest), against classical equipartition ((3N - 3) / 2N kT, harmonic); the smallest nearest-
neighbour distance (A); the RMS and largest DFT force component (eV/A); and the force and energy RMSE of a
committee trained on the pipeline's iteration-0 labels of accuracy_si (the same label cache; none of them is in
either set). The ratio printed is (set energy above crystal) / (equipartition) for each sampling at each temperature:
1 is a crystal at its temperature.

    nice -n 10 .venv/bin/python benchmarks/validation_set_sampling.py --workdir /tmp/vss --keep-labels benchmarks/data/accuracy_si_labels

Writes ``benchmarks/validation_set_sampling.json``. Cost: about 40 pw.x runs of 8-atom cells that no earlier run made
(the harmonic set, the ideal cell), 15-40 s each on 2 cores, plus one committee (linear ACE, a few minutes).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase.neighborlist import neighbor_list
from ase.units import kB

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy_si  # noqa: E402  (the benchmark beside this one: its config, labeller and committee helpers)

OUTPUT = Path(__file__).with_suffix(".json")
SAMPLINGS = ("independent", "harmonic")


def _kind(origin: str) -> str:
    """``validation_rattled_300K`` -> ``rattled_300K``; ``validation_md_1320K`` -> ``md_1320K``."""
    return origin.removeprefix("validation_")


def physics(frames: Sequence[Any], crystal_energy_per_atom: float) -> dict[str, dict[str, float]]:
    """Per kind: DFT energy above the ideal cell, nearest distance, DFT forces, temperature's equipartition."""
    kinds: dict[str, list[Any]] = {}
    for atoms in frames:
        kinds.setdefault(_kind(str(atoms.info["origin"])), []).append(atoms)
    out = {}
    for kind, group in sorted(kinds.items()):
        above = [a.get_potential_energy() / len(a) - crystal_energy_per_atom for a in group]
        forces = np.concatenate([a.get_forces().ravel() for a in group])
        nearest = [float(neighbor_list("d", a, 3.5).min()) for a in group]
        temperature = float(group[0].info.get("temperature", float("nan")))
        n = len(group[0])
        out[kind] = {
            "n_structures": len(group),
            "energy_above_crystal_mean": float(np.mean(above)),
            "energy_above_crystal_max": float(np.max(above)),
            "equipartition": (3 * n - 3) / (2 * n) * kB * temperature,
            "nearest_distance_min": float(np.min(nearest)),
            "force_rms": float(np.sqrt(np.mean(forces**2))),
            "force_max": float(np.abs(forces).max()),
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/validation_set_sampling"))
    parser.add_argument("--keep-labels", type=Path, default=None, help="folder of label records to replay and to fill")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--json", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    began = time.monotonic()

    from mlip_autopipec.config.expander import expand_config
    from mlip_autopipec.data.label_cache import copy_records
    from mlip_autopipec.data.records import LabelRecord
    from mlip_autopipec.dft.labeller import dft_hash
    from mlip_autopipec.potentials.surrogate import make_surrogate
    from mlip_autopipec.structures.perturb import supercell_for
    from mlip_autopipec.validation.crystal import validation_crystal
    from mlip_autopipec.validation.dft_reference import LabelledDft
    from mlip_autopipec.validation.fresh_set import draw_validation_set

    config, bench = accuracy_si.load_benchmark_config(accuracy_si.CONFIG, None, quick=False)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    full = expand_config(copy.deepcopy(config))
    labeller = accuracy_si.Labeller(full, workdir)
    if args.keep_labels:
        accuracy_si.log(f"labels: {copy_records(args.keep_labels, labeller.cache_dir)} records replayed")
    dft = LabelledDft(full.dft, labeller.label, workdir / "validation_dft", ntasks=labeller.ntasks)

    crystal = validation_crystal(full.composition, full.system.bonding_type).atoms
    assert crystal is not None
    cfg = full.validation.model_copy(
        update={"set_per_temperature": int(bench["set_per_temperature"]), "set_md_snapshots": int(bench["set_md_snapshots"])}
    )
    surrogate, surrogate_name = make_surrogate(full.explore.surrogate, full.explore.surrogate_model)
    try:
        ideal = supercell_for(crystal, cfg.set_cell_atoms)
        ideal.info["origin"] = "validation_ideal_cell"
        crystal_energy = dft.label_of(ideal).energy / len(ideal)
        sets = {}
        for sampling in SAMPLINGS:
            thermal = surrogate if sampling == "harmonic" else None
            drawn = draw_validation_set(
                crystal,
                full.temperatures,
                cfg,
                full.seed,
                surrogate,
                timestep_fs=full.explore.timestep_fs,
                thermal_calculator=thermal,
            )
            accuracy_si.log(f"{sampling}: {len(drawn)} structures; labelling")
            sets[sampling] = accuracy_si.label_drawn(drawn, dft)[0]
    finally:
        if args.keep_labels:
            accuracy_si.log(f"labels: {copy_records(labeller.cache_dir, args.keep_labels)} records kept")

    # a committee on the pipeline's iteration-0 labels (accuracy_si's run, from the same cache)
    cache = labeller.cache_dir / dft_hash(full.dft)  # where the run's labels (and this set's) are kept
    train_files = []
    for path in sorted(cache.glob("*.json")):
        record = LabelRecord.read(path)
        if record.iteration == 0 and not str(record.origin).startswith("validation") and record.state == "labelled":
            train_files.append(path)
    accuracy_si.log(f"committee: training on {len(train_files)} iteration-0 labels of accuracy_si")
    started = time.monotonic()
    folder = workdir / "committee_iter0"
    manifest = folder / "models" / "committee.json"
    if not manifest.is_file():
        accuracy_si.train_strategy_committee(folder, train_files, full, args.cores)
    train_seconds = time.monotonic() - started

    report: dict[str, Any] = {
        "benchmark": "validation_set_sampling",
        "reference": "independent rattles, one spring constant (5 eV/A^2) for every material",
        "ours": f"harmonic normal modes of the cell from {surrogate_name} force constants",
        "dft": {"ecutwfc": full.dft.ecutwfc, "ecutrho": full.dft.ecutrho, "kpoint_spacing": full.dft.kpoint_spacing},
        "crystal_energy_per_atom": crystal_energy,
        "committee": {"training_labels": len(train_files), "train_wall_time_s": round(train_seconds, 1)},
        "sets": {},
    }
    print(
        f"\n{'set':<12} {'kind':<16} {'n':>3} {'E-E0 mean':>10} {'max':>7} {'3/2kT*':>7} {'ratio':>6} {'d_min':>6} "
        f"{'F rms':>6} {'F max':>6} {'MLIP F':>7} {'MLIP E':>7}"
    )
    for sampling, frames in sets.items():
        stats = physics(frames, crystal_energy)
        errors = accuracy_si.evaluate(manifest, frames)
        per_kind = {}
        for kind, row in stats.items():
            group = [a for a in frames if _kind(str(a.info["origin"])) == kind]
            mine = accuracy_si.evaluate(manifest, group)
            row.update({"committee_force_rmse": mine["force_rmse"], "committee_energy_rmse": mine["energy_rmse"]})
            row["ratio_to_equipartition"] = row["energy_above_crystal_mean"] / row["equipartition"]
            per_kind[kind] = row
            print(
                f"{sampling:<12} {kind:<16} {row['n_structures']:>3} {row['energy_above_crystal_mean']:>10.3f} "
                f"{row['energy_above_crystal_max']:>7.3f} {row['equipartition']:>7.3f} {row['ratio_to_equipartition']:>6.2f} "
                f"{row['nearest_distance_min']:>6.2f} {row['force_rms']:>6.2f} {row['force_max']:>6.2f} "
                f"{row['committee_force_rmse']:>7.3f} {1000 * row['committee_energy_rmse']:>7.1f}"
            )
        report["sets"][sampling] = {
            "overall": {k: errors[k] for k in ("force_rmse", "energy_rmse", "n_structures", "n_atoms")},
            "by_kind": per_kind,
        }
        print(
            f"{sampling:<12} {'all':<16} {errors['n_structures']:>3} committee force RMSE {errors['force_rmse']:.3f} eV/A, "
            f"energy {1000 * errors['energy_rmse']:.1f} meV/atom"
        )
    print("(* equipartition (3N-3)/2N kT; ratio = mean energy above the crystal / equipartition: 1 is the crystal at its T)")
    report["pw_runs"] = dft.dft_runs
    report["dft_seconds"] = round(dft.dft_seconds, 1)
    report["wall_time_s"] = round(time.monotonic() - began, 1)
    args.json.write_text(json.dumps(report, indent=1))
    accuracy_si.log(f"wrote {args.json} ({dft.dft_runs} pw.x runs, {report['wall_time_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
