"""A short production-MD probe of a candidate potential: does it hold the highest target temperature?

Why: cross-validation scores a basis on structures like its training data; it cannot see what a basis does far
from them. On the demo's 23-28 Si labels the 80- and 150-function linear ACE bases, best by cross-validation
(fresh-set force RMSE 0.145 against 0.272 eV/A for 24 functions, relaxed-ion C44 73 against 14 GPa), collapsed in
NVT at 2020 K, the demo's highest target temperature: two atoms at 0.5-0.6 A within 1 ps (150 functions), the
potential energy 1 eV/atom below the crystal's after 5-7 ps (80 functions), while 24 functions ran 10 ps at
+0.47-0.56 eV/atom (a liquid). A potential that fails this way is not deliverable whatever its errors, so the
basis selection probes each candidate before accepting it.

The probe is the validation's own stability run (``validation.stability.nvt_run``): Langevin at the temperature
on a cell of at least ``PROBE_ATOMS`` atoms grown from the lowest-energy periodic training structure, judged
stable when it neither explodes, collapses nor runs away, and its mean potential energy does not fall more than
``MAX_ENERGY_DROP`` below the start (a state below the crystal's at that temperature is a hole in the potential).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator

PROBE_ATOMS = 64
PROBE_PS = 10.0
MAX_ENERGY_DROP = 0.1  # eV/atom below the start structure's energy: a hole, not thermal motion


@dataclass(frozen=True)
class ProbeSettings:
    """Where and how long a candidate is probed: the run's highest target temperature and its MD timestep."""

    temperature_K: float
    timestep_fs: float
    duration_ps: float = PROBE_PS
    seed: int = 42


@dataclass(frozen=True)
class ProbeResult:
    stable: bool
    summary: str  # one line for the plan's reasons


def probe_start(structures: Sequence[Atoms]) -> Atoms | None:
    """The lowest-DFT-energy-per-atom fully periodic training structure with more than one atom (None: none)."""
    candidates = [
        atoms
        for atoms in structures
        if len(atoms) > 1 and bool(np.all(atoms.pbc)) and atoms.cell.rank == 3 and atoms.calc is not None
    ]
    if not candidates:
        return None
    best = min(candidates, key=lambda atoms: float(atoms.calc.results["energy"]) / len(atoms))
    start = Atoms(numbers=best.numbers, positions=best.positions, cell=best.cell, pbc=True)
    return start


def probe(calculator: BaseCalculator, start: Atoms, settings: ProbeSettings) -> ProbeResult:
    """NVT of ``settings.duration_ps`` at ``settings.temperature_K`` from ``start`` grown to ``PROBE_ATOMS`` atoms."""
    from mlip_autopipec.validation.stability import nvt_run, stability_cell  # matplotlib: only when probing

    cell = stability_cell(start, PROBE_ATOMS)
    run = nvt_run(cell, calculator, settings.temperature_K, settings.duration_ps, settings.timestep_fs, settings.seed)
    rise = run.energy_rise
    stable = run.stable and rise is not None and rise > -MAX_ENERGY_DROP
    where = f"{run.duration_ps:g} of {run.requested_ps:g} ps NVT at {settings.temperature_K:g} K, {len(cell)} atoms"
    if run.stopped:
        summary = f"{where}: stopped at {run.stopped}"
    else:
        summary = f"{where}: d_min/d_nn {run.min_distance_ratio:.2f}, potential energy {rise:+.3f} eV/atom from the start"
    return ProbeResult(stable, summary)
