"""Labelling throughput: Snakemake (one job per structure) against a plain Python loop over the library.

Both label the same structures with the real pw.x and the same parameters, each with an empty label
cache, in one run of this script (Snakemake up to iteration 0's ingest: the given structures' label jobs and the
database, no generation, exploration or training); it prints labels per minute for each and the overhead ratio. With
--eight-atom it also times one 8-atom Si label at the expander's default parameters on 2 MPI ranks.

    .venv/bin/python benchmarks/label_throughput.py [--structures 6] [--eight-atom] [--json PATH]

``--json PATH`` also writes the numbers (both wall times, labels per minute, the ratio) for benchmarks/run_all.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ase.io
import yaml
from ase.build import bulk

from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.dft.labeller import label_structure

REPO = Path(__file__).resolve().parents[1]
FAST = {"ecutwfc": 20.0, "ecutrho": 80.0, "kpoint_spacing": 0.5}


def structures(count: int) -> list:
    frames = []
    for seed in range(count):
        atoms = bulk("Si", "diamond", 5.43 * (1 + 0.005 * seed))
        atoms.rattle(0.05, seed=100 + seed)
        frames.append(atoms)
    return frames


def plain_loop(frames: list, workdir: Path) -> float:
    full = expand_config({"composition": "Si", "dft": FAST, "label": {"mpi": {"ntasks": 2}, "cache_dir": str(workdir / "cache")}})
    start = time.perf_counter()
    for number, atoms in enumerate(frames):
        record = label_structure(atoms, full.dft, full.label, workdir / f"run_{number}")
        assert record.state == "labelled" and not record.cache_hit
    return time.perf_counter() - start


def through_snakemake(frames: list, workdir: Path) -> float:
    ase.io.write(workdir / "si.extxyz", frames)
    # only the labels and their ingest: no generation or exploration, and the target stops before training
    config = {
        "composition": "Si",
        "structures": "si.extxyz",
        "generate": {"enabled": False},
        "explore": {"enabled": False},
        "dft": FAST,
        "label": {"mpi": {"ntasks": 2}},
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "workflow/Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        "-c",
        "2",
        "--quiet",
        "all",
        "--",  # --quiet takes a list: the target after it would be read as one of its choices
        "results/iter_0/ingested.json",
    ]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"label_throughput: Snakemake failed (exit {done.returncode}): {done.stderr[-1500:]}")
    return time.perf_counter() - start


def eight_atom_label(workdir: Path) -> float:
    full = expand_config({"composition": "Si", "label": {"mpi": {"ntasks": 2}, "cache_dir": str(workdir / "cache8")}})
    atoms = bulk("Si", "diamond", 5.43, cubic=True)
    atoms.rattle(0.05, seed=8)
    start = time.perf_counter()
    record = label_structure(atoms, full.dft, full.label, workdir / "eight")
    elapsed = time.perf_counter() - start
    print(
        f"8-atom Si, default parameters ({full.dft.ecutwfc:g} Ry, k-mesh {record.kpoints}, {full.dft.pseudo_family}), "
        f"2 MPI ranks: {elapsed:.1f} s wall ({record.state}, {len(record.attempts)} attempt)"
    )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structures", type=int, default=6)
    parser.add_argument("--eight-atom", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()
    frames = structures(args.structures)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "loop").mkdir()
        (root / "smk").mkdir()
        loop = plain_loop(frames, root / "loop")
        smk = through_snakemake(frames, root / "smk")
        n = len(frames)
        print(f"{n} 2-atom Si labels ({FAST}), 2 MPI ranks each")
        print(f"plain library loop : {loop:6.1f} s  {60 * n / loop:6.1f} labels/min")
        print(f"snakemake -c 2     : {smk:6.1f} s  {60 * n / smk:6.1f} labels/min")
        print(f"overhead ratio (snakemake time / loop time): {smk / loop:.2f}")
        eight = eight_atom_label(root) if args.eight_atom else None
        if args.json:
            numbers = {"structures": n, "dft": FAST, "loop_s": loop, "snakemake_s": smk, "ratio": smk / loop}
            numbers |= {"loop_labels_per_min": 60 * n / loop, "snakemake_labels_per_min": 60 * n / smk, "eight_atom_s": eight}
            args.json.write_text(json.dumps(numbers, indent=1))


if __name__ == "__main__":
    main()
