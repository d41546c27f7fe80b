"""Where the time of an active-learning run goes: pw.x against everything else (Snakemake, CHGNet, training, MD).

Runs the pipeline with the user's command (``mlip-pipe run``) in a fresh folder on a config (default:
config/examples/si_short_loop.yaml, 2 iterations with the threshold forced low, so that every iteration
labels and retrains) and prints, per iteration, the labels, the pw.x runs and their time, the
held-out force and energy RMSE of the committee and the loop's decision; then the wall-time share of pw.x.

    .venv/bin/python benchmarks/loop_profile.py [--config my.yaml] [--keep DIR] [--json PATH]

``--json PATH`` also writes the numbers (per iteration, wall time, pw.x time and share) for benchmarks/run_all.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from mlip_autopipec.data.run_summary import run_summary

MLIP_PIPE = str(Path(sys.executable).parent / "mlip-pipe")
SHORT_LOOP = Path(__file__).resolve().parents[1] / "config" / "examples" / "si_short_loop.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="a config file (default: the Si short loop)")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="loop_profile_"))
    workdir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((args.config or SHORT_LOOP).read_text())
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    start = time.monotonic()
    with open(workdir / "run.log", "w") as log:
        code = subprocess.call(
            [MLIP_PIPE, "run", "--config", "config.yaml", "--cores", "2"], cwd=workdir, stdout=log, stderr=subprocess.STDOUT
        )
    wall = time.monotonic() - start
    if code != 0:
        sys.exit(f"the run failed (exit {code}); see {workdir / 'run.log'}")
    iterations = run_summary(workdir / "results")
    print(
        f"{'iter':>4} {'labelled':>8} {'failed':>6} {'pw.x runs':>9} {'pw.x s':>8} {'test F RMSE eV/A':>17} {'test E RMSE meV/at':>19}  decision"
    )
    for it in iterations:
        force = "-" if it["test_force_rmse"] is None else f"{it['test_force_rmse']:.3f}"
        energy = "-" if it["test_energy_rmse_per_atom"] is None else f"{1e3 * it['test_energy_rmse_per_atom']:.1f}"
        print(
            f"{it['iteration']:>4} {it['labelled']:>8} {it['failed']:>6} {it['pw_runs']:>9} {it['pw_seconds']:>8.1f} {force:>17} {energy:>19}  "
            f"{it['status'] or ''} {it['reason'] or ''}"
        )
    pw_seconds = sum(it["pw_seconds"] for it in iterations)
    print(
        f"wall time {wall:.1f} s; pw.x {pw_seconds:.1f} s (pw.x runs one at a time on 2 MPI ranks here); "
        f"share of pw.x {pw_seconds / wall:.1%}, everything else {1 - pw_seconds / wall:.1%}"
    )
    if args.json:
        numbers = {"workdir": str(workdir) if args.keep else None, "wall_s": wall, "pw_seconds": pw_seconds}
        numbers |= {"pw_share": pw_seconds / wall, "iterations": iterations}
        args.json.write_text(json.dumps(numbers, indent=1, default=str))
    if not args.keep:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
