"""MD speed of one trained ACE member (with its ZBL baseline) against the CHGNet surrogate, and training time.

Why: the committee exists to replace the universal surrogate for long, cheap MD; the goal is at
least 50x more atom-steps per second than CHGNet on the same structure. Both run the same ASE
Langevin NVT loop (64-atom diamond Si, 300 K, 1 fs) on the CPU, so the difference is the
potential. CHGNet runs with its faster torch thread count (1 or all cores, probed); ACE uses one. Also
timed: training one pacemaker member on the recorded Si fixture (real pw.x labels).

    .venv/bin/python benchmarks/ace_md_speed.py [--steps 200] [--workdir DIR] [--json PATH]

``--json PATH`` also writes the numbers (rates, ratio, training time) for benchmarks/run_all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.calculator import BaseCalculator
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import thermalize_momenta

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "data" / "si_labels" / "si_labels.extxyz"


def si64() -> Atoms:
    atoms = bulk("Si", "diamond", 5.43, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.02, seed=7)
    return atoms


def md_speed(calc: BaseCalculator, steps: int, warmup: int = 5) -> tuple[float, float]:
    """(atom-steps per second, seconds) of ``steps`` NVT Langevin steps after ``warmup`` untimed ones."""
    atoms = si64()
    atoms.calc = calc
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(1))
    dyn = Langevin(atoms, 1.0 * units.fs, temperature_K=300, friction=0.01 / units.fs, fixcm=False, rng=np.random.default_rng(2))
    dyn.run(warmup)
    start = time.perf_counter()
    dyn.run(steps)
    seconds = time.perf_counter() - start
    return len(atoms) * steps / seconds, seconds


def train_one_member(workdir: Path) -> tuple[Path, float, dict]:
    """Plan a committee on the fixture with the expander's settings and train its member 0; (workdir, seconds, settings)."""
    from mlip_autopipec.config.models import TrainConfig
    from mlip_autopipec.potentials.committee_plan import plan_committee, train_member
    from mlip_autopipec.potentials.dataset import load_structures

    frames = load_structures(FIXTURE)
    start = time.perf_counter()
    plan = plan_committee(frames, workdir, ["Si"], TrainConfig(committee_size=2, baseline="zbl"))
    train_member(workdir, 0)
    return workdir, time.perf_counter() - start, plan.backend_settings().model_dump()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--probe-steps", type=int, default=20, help="CHGNet steps per thread-count probe")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the trained member here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ace_bench_") as tmp:
        workdir = args.workdir or Path(tmp) / "committee"
        manifest_path, train_s, settings = train_one_member(workdir)
        print(
            f"training one pacemaker member: {train_s:.1f} s "
            f"({settings['number_of_functions_per_element']} functions, {settings['maxiter']} BFGS steps, "
            f"fixture {FIXTURE.name})",
            flush=True,
        )

        from pyace import PyACECalculator

        from mlip_autopipec.data.records import AceMemberRecord, CommitteePlan
        from mlip_autopipec.potentials.ace import ace_view
        from mlip_autopipec.potentials.committee_plan import make_plan_baseline
        from mlip_autopipec.potentials.delta import DeltaCalculator
        from mlip_autopipec.potentials.surrogate import make_surrogate

        plan = CommitteePlan.read(manifest_path / "plan.json")
        member = AceMemberRecord.read(manifest_path / "member_00" / "member.json")
        print(f"  pacemaker wall time in member.json: {member.wall_time_s:.1f} s", flush=True)
        # what committee.member_calculator builds for member 0
        ace = DeltaCalculator(
            make_plan_baseline(plan), PyACECalculator(str(member.potential_yace)), plan.reference_energies, view=ace_view
        )
        # 200 ACE steps take well under a second, so one run is at the mercy of the scheduler: median of 5.
        runs = [md_speed(ace, args.steps) for _ in range(5)]
        ace_rate, ace_s = sorted(runs)[len(runs) // 2]
        print(
            f"ACE (+ZBL baseline, .yace): {ace_rate:10.1f} atom-steps/s  ({args.steps} NVT steps, 64 atoms, {ace_s:.2f} s; "
            f"median of 5 runs: {', '.join(f'{r:.0f}' for r, _ in runs)})",
            flush=True,
        )

        import torch

        surrogate, name = make_surrogate("chgnet")
        # Give CHGNet its best thread count: on a busy 2-core machine 2 torch threads can be slower than 1.
        default_threads = torch.get_num_threads()
        probes = {}
        for threads in sorted({1, default_threads}):
            torch.set_num_threads(threads)
            probes[threads] = md_speed(surrogate, args.probe_steps, warmup=2)[0]
            print(
                f"  {name} probe, {threads} torch thread(s): {probes[threads]:.1f} atom-steps/s ({args.probe_steps} steps)",
                flush=True,
            )
        best = max(probes, key=probes.get)
        torch.set_num_threads(best)
        chg_rate, chg_s = md_speed(surrogate, args.steps)
        label = f"{name} ({best} thread{'s' if best > 1 else ''})"
        print(f"{label:26s}: {chg_rate:10.1f} atom-steps/s  ({args.steps} NVT steps, 64 atoms, {chg_s:.2f} s)", flush=True)
        ratio = ace_rate / chg_rate
        print(f"ratio ACE/{name}: {ratio:.1f}x (goal >= 50x: {'met' if ratio >= 50 else 'NOT met'})")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"machine: {os.cpu_count()} cores (load average {load:.1f} at the end), ACE single-threaded, python {sys.version.split()[0]}"
        )
        if args.json:
            numbers = {"steps": args.steps, "ace_atom_steps_per_s": ace_rate, "surrogate": name, "surrogate_threads": best}
            numbers |= {"surrogate_atom_steps_per_s": chg_rate, "ratio": ratio, "goal": 50.0, "train_s": train_s, "load": load}
            args.json.write_text(json.dumps(numbers, indent=1))


if __name__ == "__main__":
    main()
