"""CPU against CUDA for the torch stages: the same exploration job and the same MACE members, compared, and the speed ratio.

Why: ``device: auto | cpu | cuda`` (config/README.md) promises that a GPU node is used and that CPU and GPU give the
same results within float tolerance. This one short script checks both on a machine with a GPU; without CUDA it
says so and skips (``--cpu-anyway`` runs the CPU half alone, to check the script itself).

What runs, each once with ``device: cpu`` and once with ``device: cuda``, through the pipeline's own functions:

- exploration: ``exploration.job.run_exploration_job`` (the rule ``explore``'s job), surrogate NVT MD of 64-atom
  diamond Si at 300 K, same seed; CHGNet by default, or ``--surrogate member``: the CPU-trained tiny MACE member
  below loaded as a MACE surrogate file (float64, and no chgnet/pymatgen needed where packages must be carried).
  Compared: one single point of the surrogate on a rattled cell (tight), then every sampled frame of the
  trajectory (looser: MD amplifies rounding, and CHGNet computes in float32).
- MACE training: ``potentials.mace_backend.fit_mace_member`` (the rule ``train_member``'s MACE fit, the real
  ``mace_run_train``, float64) on the 33 real pw.x Si labels of tests/data/si_labels, same seed: the pipeline's tiny
  model, and a medium one (64 channels, L=1) where a GPU can pay. Both models of a pair are then evaluated on the
  CPU on the same labels and compared; the CPU-trained one is also evaluated on CUDA (committee MD's path).

Printed: wall times, the CPU/CUDA ratio of each (above 1: CUDA faster), the card, every deviation with its
tolerance, and PASS/FAIL; ``--json PATH`` writes it all. Exit status 1 when a comparison fails, 0 otherwise
(skipped included). ``--explore-atoms N`` sizes the exploration cell (where a GPU starts to pay); ``--no-training``
times the exploration alone (CHGNet).

    .venv/bin/python benchmarks/gpu_speed.py [--quick] [--surrogate chgnet|member] [--explore-atoms N] [--no-training]
        [--threads N] [--json PATH] [--cpu-anyway]

On a GPU machine whose ``python3`` has CUDA torch but none of this project's dependencies, carry the wheels that
``benchmarks/gpu_wheels.sh`` fetches (versions read from .venv) and run with ``PYTHONPATH=/tmp/site:src`` and
``/tmp/site/bin`` on ``PATH`` (for ``mace_run_train``); the command is in that script's header.

Measured 2026-11-28 on one NVIDIA H200 with 16 CPU threads, torch 2.11.0+cu130 (``benchmarks/gpu_speed.json``):
every comparison passes (MACE trained on CPU and on CUDA agree to 2e-12 eV/atom and 4e-11 eV/A; CHGNet single point
1.2e-5 eV/A, float32). CPU/CUDA speed ratios: MD of the MACE member 0.77x at 64 atoms and 1.81x at 1,728 atoms;
CHGNet MD 1.27x at 64 atoms and 2.40x at 512 atoms; the tiny MACE fit on 33 8-atom labels 0.66-0.77x and the
medium one (64 channels, L=1) 0.93x: at the pipeline's sizes a GPU pays for exploration of large cells, not for
fitting small members on little data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

import numpy as np  # noqa: E402
from ase import Atoms  # noqa: E402
from ase.build import bulk  # noqa: E402

from mlip_autopipec.config.models import ExploreConfig  # noqa: E402
from mlip_autopipec.exploration.job import run_exploration_job  # noqa: E402
from mlip_autopipec.potentials.baselines import make_baseline  # noqa: E402
from mlip_autopipec.potentials.dataset import load_structures  # noqa: E402
from mlip_autopipec.potentials.delta import delta_targets, reference_energies  # noqa: E402
from mlip_autopipec.potentials.device import DeviceChoice, probe_cuda, resolve_device  # noqa: E402
from mlip_autopipec.potentials.mace_backend import fit_mace_member, load_mace_model, mace_settings  # noqa: E402
from mlip_autopipec.potentials.surrogate import make_surrogate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "data" / "si_labels" / "si_labels.extxyz"

#: (energy eV/atom, forces eV/A, positions A). Single points: float32 rounding (CHGNet) or float64 (MACE); a
#: trajectory: the same rounding grown by a few hundred chaotic MD steps.
SINGLE_POINT_TOL = (1e-4, 2e-3, 0.0)
TRAJECTORY_TOL = (2e-3, 5e-2, 1e-2)
MACE_TOL = (1e-5, 1e-4, 0.0)
MEDIUM_MACE = {"num_channels": 64, "max_L": 1}


@dataclass
class Check:
    """One comparison: the largest deviations against their tolerances."""

    name: str
    energy: float
    forces: float
    positions: float
    tolerance: tuple[float, float, float]
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        energy_tol, force_tol, position_tol = self.tolerance
        return (
            not self.notes
            and self.energy <= energy_tol
            and self.forces <= force_tol
            and (position_tol == 0.0 or self.positions <= position_tol)
        )

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        text = f"  {verdict} {self.name}: |dE| {self.energy:.2e} eV/atom (tol {self.tolerance[0]:g}), |dF| {self.forces:.2e} eV/A (tol {self.tolerance[1]:g})"
        if self.tolerance[2]:
            text += f", |dR| {self.positions:.2e} A (tol {self.tolerance[2]:g})"
        return text + "".join(f"; {note}" for note in self.notes)


def deviations(a: list[Atoms], b: list[Atoms]) -> tuple[float, float, float]:
    """Largest |energy per atom|, |force component| and |position| differences between matching frames."""
    energy = max(abs(x.get_potential_energy() - y.get_potential_energy()) / len(x) for x, y in zip(a, b, strict=True))
    forces = max(float(np.abs(x.get_forces() - y.get_forces()).max()) for x, y in zip(a, b, strict=True))
    positions = max(float(np.abs(x.positions - y.positions).max()) for x, y in zip(a, b, strict=True))
    return energy, forces, positions


def evaluate(frames: list[Atoms], calc: Any) -> list[Atoms]:
    """Each frame with ``calc``'s energy and forces fixed on it."""
    from ase.calculators.singlepoint import SinglePointCalculator

    out = []
    for source in frames:
        atoms = Atoms(source.numbers, positions=source.positions, cell=source.cell, pbc=source.pbc)
        atoms.calc = calc
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        out.append(atoms)
    return out


def rattled_si64() -> Atoms:
    atoms = bulk("Si", "diamond", 5.43, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=11)
    return atoms


def explore_once(
    device: DeviceChoice, surrogate: str, model: Path | None, steps: int, atoms: int = 64
) -> tuple[list[Atoms], float, float, list[Atoms]]:
    """(frames, job wall s, MD wall s, single point) of one exploration job on ``device``; ``model``: a MACE file."""
    name = "mace-mp" if model is not None else surrogate
    path = str(model) if model is not None else None
    explore = ExploreConfig(surrogate=name, surrogate_model=path, steps=steps, supercell_atoms=atoms, timestep_fs=1.0)  # type: ignore[arg-type]
    began = time.perf_counter()
    frames, summary = run_exploration_job(
        bulk("Si", "diamond", 5.43, cubic=True),
        explore,
        temperature="300",
        ensemble="nvt",
        run_seed=42,
        sample_every=10,
        device=device,
    )
    job_s = time.perf_counter() - began
    md_s = sum(run.wall_time_s for run in summary.runs)
    calc, _ = make_surrogate(name, path, device.resolved)
    return frames, job_s, md_s, evaluate([rattled_si64()], calc)


def train_once(device: DeviceChoice, workdir: Path, options: dict[str, Any], epochs: int, threads: int) -> tuple[Path, float]:
    """(model file, wall s) of one MACE member fit on the Si labels on ``device``."""
    frames = load_structures(FIXTURE)
    baseline = make_baseline("zbl", ["Si"])
    references = reference_energies(delta_targets(frames, baseline), elements=["Si"])
    settings, _ = mace_settings(len(frames), epochs, options)
    began = time.perf_counter()
    record = fit_mace_member(frames, workdir, ["Si"], baseline, references, settings, seed=123, threads=threads, device=device)
    return record.model, time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter MD, fewer epochs, no medium MACE model")
    parser.add_argument("--surrogate", default="chgnet", choices=["chgnet", "member", "auto", "mace-mp", "sevenn"])
    parser.add_argument("--threads", type=int, default=min(os.cpu_count() or 1, 16), help="CPU threads (torch and the trainer)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--cpu-anyway", action="store_true", help="without CUDA, still run the CPU half (a check of the script)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--explore-atoms", type=int, default=64, help="atoms of the exploration supercell (where a GPU starts to pay)"
    )
    parser.add_argument("--no-training", action="store_true", help="exploration only (not with --surrogate member)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress shows as it happens

    import torch

    torch.set_num_threads(args.threads)
    probe = probe_cuda()
    devices = [resolve_device("cpu")]
    if probe.available:
        devices.append(resolve_device("cuda"))
        print(f"CUDA: {probe.detail}")
    else:
        print(f"CUDA: SKIPPED, no comparison and no speed ratio: {probe.detail}")
        if not args.cpu_anyway:
            return 0
    steps, epochs = (60, 3) if args.quick else (100, 15)
    models: dict[str, dict[str, Any]] = {"tiny": {}} if args.quick else {"tiny": {}, "medium": MEDIUM_MACE}
    if args.no_training:
        if args.surrogate == "member":
            parser.error("--no-training: the member surrogate is a trained member; use --surrogate chgnet")
        models = {}
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gpu_speed_"))
    print(f"threads {args.threads}, torch {torch.__version__}, workdir {workdir}")

    runs: dict[str, dict[str, Any]] = {}
    for device in devices:  # the CPU first: its tiny member is the surrogate of --surrogate member on both devices
        name = device.resolved
        runs[name] = {}
        for label, options in models.items():
            model, train_s = train_once(device, workdir / f"{label}_{name}", options, epochs, args.threads)
            runs[name][label] = (model, train_s)
            print(f"[{name}] MACE {label} member ({epochs} epochs): {train_s:.1f} s")
        member = runs["cpu"]["tiny"][0] if args.surrogate == "member" else None
        frames, job_s, md_s, single = explore_once(device, args.surrogate, member, steps, args.explore_atoms)
        runs[name]["explore"] = (frames, job_s, md_s, single)
        print(
            f"[{name}] exploration ({args.surrogate}, {args.explore_atoms} atoms, {steps} steps): job {job_s:.1f} s, MD {md_s:.1f} s, {len(frames)} frames"
        )

    result: dict[str, Any] = {
        "cuda": probe.detail,
        "gpu": probe.gpu,
        "threads": args.threads,
        "steps": steps,
        "epochs": epochs,
        "explore_atoms": args.explore_atoms,
        "surrogate": args.surrogate,
    }
    result["times_s"] = {
        name: {"explore_job": run["explore"][1], "explore_md": run["explore"][2], **{k: run[k][1] for k in models}}
        for name, run in runs.items()
    }
    checks: list[Check] = []
    if "cuda" in runs:
        cpu, gpu = runs["cpu"], runs["cuda"]
        single_tol = MACE_TOL if args.surrogate == "member" else SINGLE_POINT_TOL
        checks.append(Check("surrogate single point", *deviations(cpu["explore"][3], gpu["explore"][3]), single_tol))
        a, b = cpu["explore"][0], gpu["explore"][0]
        notes = [] if len(a) == len(b) else [f"{len(a)} CPU frames but {len(b)} CUDA frames"]
        checks.append(Check("exploration trajectory", *(deviations(a, b) if not notes else (np.inf,) * 3), TRAJECTORY_TOL, notes))
        labels = load_structures(FIXTURE)
        for label in models:
            on_cpu = evaluate(labels, load_mace_model(cpu[label][0]))
            checks.append(
                Check(
                    f"MACE {label}: CPU- vs CUDA-trained",
                    *deviations(on_cpu, evaluate(labels, load_mace_model(gpu[label][0]))),
                    MACE_TOL,
                )
            )
            checks.append(
                Check(
                    f"MACE {label}: inference CPU vs CUDA",
                    *deviations(on_cpu, evaluate(labels, load_mace_model(cpu[label][0], "cuda"))),
                    MACE_TOL,
                )
            )
        ratios = {
            "explore_job": cpu["explore"][1] / gpu["explore"][1],
            "explore_md": cpu["explore"][2] / gpu["explore"][2],
            **{f"mace_{k}": cpu[k][1] / gpu[k][1] for k in models},
        }
        result["ratio_cpu_over_cuda"] = ratios
        print(f"speed ratio CPU/CUDA on {probe.gpu} ({args.threads} CPU threads):")
        for key, value in ratios.items():
            print(f"  {key}: {value:.2f}x")
    else:
        print("speed ratio: SKIPPED (no CUDA); the CPU half ran as a check of the script")
    print("checks:" if checks else "checks: none without CUDA")
    for check in checks:
        print(check.line())
    result["checks"] = [dict(asdict(check), passed=check.passed) for check in checks]
    result["passed"] = all(check.passed for check in checks)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=float) + "\n")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
