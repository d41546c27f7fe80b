"""Training time of one pacemaker (ACE) member against one MACE member on the same data.

Both fit the same delta targets (real pw.x Si labels from tests/data/si_labels minus ZBL minus the
fitted per-element reference energy), each with its real command-line trainer as a subprocess:
``pacemaker`` (expander settings for this data size, ``--ace-maxiter`` BFGS steps, ``.yace`` export,
no active set) and ``mace_run_train`` (tiny model: 8 channels, L=0, r_max 4, 2 interactions, energy weight 10,
float64 on CPU, ``--mace-epochs`` epochs). Wall times include each trainer's start-up. For context
the training-set RMSE of each fitted member (baseline + model + references vs DFT) is printed too.

    .venv/bin/python benchmarks/training_time.py [--ace-maxiter 100] [--mace-epochs 20] [--workdir DIR] [--json PATH]

``--json PATH`` also writes the numbers (both wall times, their ratio, the training RMSEs) for benchmarks/run_all.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

import numpy as np  # noqa: E402
from ase import Atoms  # noqa: E402
from ase.calculators.calculator import BaseCalculator  # noqa: E402

from mlip_autopipec.potentials.ace import choose_ace_settings, train_ace_member  # noqa: E402
from mlip_autopipec.potentials.baselines import make_baseline  # noqa: E402
from mlip_autopipec.potentials.dataset import load_structures  # noqa: E402
from mlip_autopipec.potentials.delta import delta_targets, make_delta_calculator, reference_energies  # noqa: E402
from mlip_autopipec.potentials.mace_backend import fit_mace_member, load_mace_model, mace_settings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "data" / "si_labels" / "si_labels.extxyz"


def rmse(frames: list[Atoms], calc: BaseCalculator) -> tuple[float, float]:
    """(energy RMSE in meV/atom, force RMSE in eV/A) of ``calc`` against the DFT labels."""
    de, df = [], []
    for source in frames:
        atoms = source.copy()
        atoms.calc = calc
        de.append((atoms.get_potential_energy() - source.get_potential_energy()) / len(atoms))
        df.append((atoms.get_forces() - source.get_forces()).ravel())
    return 1000.0 * float(np.sqrt(np.mean(np.square(de)))), float(np.sqrt(np.mean(np.square(np.concatenate(df)))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ace-maxiter", type=int, default=100)
    parser.add_argument("--mace-epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="OMP threads for the MACE trainer (pacemaker runs with 1)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()

    frames = load_structures(FIXTURE)
    elements = ["Si"]
    baseline = make_baseline("zbl", elements)
    references = reference_energies(delta_targets(frames, baseline), elements=elements)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="training_time_"))
    n_atoms = sum(len(a) for a in frames)
    print(
        f"data: {len(frames)} Si structures ({n_atoms} atoms) from {FIXTURE.relative_to(REPO)}; baseline zbl; E_ref(Si) = {references['Si']:.4f} eV"
    )
    print(f"workdir: {workdir}")

    settings, _ = choose_ace_settings(len(frames), elements)
    settings = settings.model_copy(update={"maxiter": args.ace_maxiter})
    start = time.perf_counter()
    ace = train_ace_member(frames, workdir / "ace", settings, elements, baseline, references, seed=42, active_set=False)
    ace_s = time.perf_counter() - start
    from pyace import PyACECalculator

    ace_rmse = rmse(frames, make_delta_calculator(baseline, PyACECalculator(str(ace.potential_yace)), references))
    print(
        f"ACE  (pacemaker, {ace.n_functions} functions, BFGS maxiter {args.ace_maxiter}): {ace_s:8.1f} s"
        f"   train RMSE {ace_rmse[0]:.1f} meV/atom, {ace_rmse[1]:.3f} eV/A"
    )

    start = time.perf_counter()
    model = fit_mace_member(
        frames,
        workdir / "mace",
        elements,
        baseline,
        references,
        mace_settings(len(frames), args.mace_epochs)[0],
        seed=123,
        threads=args.threads,
    ).model
    mace_s = time.perf_counter() - start
    mace_rmse = rmse(frames, make_delta_calculator(baseline, load_mace_model(model), references))
    print(
        f"MACE (mace_run_train, 8 ch L=0 r 4.0 2 layers, {args.mace_epochs} epochs): {mace_s:8.1f} s"
        f"   train RMSE {mace_rmse[0]:.1f} meV/atom, {mace_rmse[1]:.3f} eV/A  [valid 10% held out of the fit]"
    )
    print(f"ratio MACE / ACE training time: {mace_s / ace_s:.2f}")
    if args.json:
        numbers = {"ace_maxiter": args.ace_maxiter, "mace_epochs": args.mace_epochs, "ace_s": ace_s, "mace_s": mace_s}
        numbers |= {"ratio": mace_s / ace_s, "ace_train_rmse": ace_rmse, "mace_train_rmse": mace_rmse, "structures": len(frames)}
        args.json.write_text(json.dumps(numbers, indent=1))


if __name__ == "__main__":
    main()
