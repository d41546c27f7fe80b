"""On-the-fly adaptive kMC with the committee: the uncertainty check at every saddle and minimum.

Same result type as the MD driver (``OtfResult``), so the loop's decision treats both engines alike:
every configuration the hook sees is a check, every flagged one an uncertain check.
"""

from __future__ import annotations

import time

from ase import Atoms
from ase.calculators.calculator import Calculator

from mlip_autopipec.active_learning.kmc import KMCSettings, run_akmc
from mlip_autopipec.active_learning.otf import OtfResult, _collected
from mlip_autopipec.active_learning.uncertainty import committee_results
from mlip_autopipec.exploration.explore import prepare_start


def otf_kmc(
    atoms: Atoms,
    committee: Calculator,
    threshold: float,
    *,
    temperature_K: float,
    steps: int = 10,
    searches: int = 8,
    max_uncertain: int = 10,
    supercell_atoms: int = 64,
    seed: int = 0,
) -> OtfResult:
    """Run ``steps`` aKMC steps from ``atoms`` (relaxed first); collect configurations above ``threshold``."""
    began = time.perf_counter()
    work = prepare_start(atoms, supercell_atoms)
    result = OtfResult(float(temperature_K), "kmc", 0, 0, 0)

    def check(configuration: Atoms) -> bool:
        probe = configuration.copy()
        probe.calc = committee
        results = committee_results(probe)
        value = float(results["max_force_std"])
        result.checks += 1
        result.max_uncertainty = max(result.max_uncertainty, value)
        result.spreads.append(value)
        if value > threshold:
            result.uncertain_checks += 1
            if len(result.uncertain) < max_uncertain:
                result.uncertain.append(_collected(probe, value, {"temperature": float(temperature_K), "ensemble": "kmc"}))
            return True
        return False

    settings = KMCSettings(temperature_K=float(temperature_K), n_searches=searches, seed=seed)
    kmc = run_akmc(work, committee, steps, settings, uncertainty=check)
    result.steps_done = kmc.steps
    result.stopped_reason = kmc.reason
    result.wall_time_s = time.perf_counter() - began
    return result
