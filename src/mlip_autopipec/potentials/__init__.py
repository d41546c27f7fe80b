"""Physical baselines (ZBL, Lennard-Jones) and delta-learning helpers, all as plain ASE calculators."""

from mlip_autopipec.potentials.baselines import BASELINE_NAMES, BaselineName, make_baseline, recommended_baseline
from mlip_autopipec.potentials.delta import (
    DeltaCalculator,
    ReferenceEnergyCalculator,
    add_reference_energies,
    delta_targets,
    make_delta_calculator,
    reference_energies,
    reference_energy,
    subtract_reference_energies,
)
from mlip_autopipec.potentials.lennard_jones import LennardJonesBaseline
from mlip_autopipec.potentials.zbl import ZBLCalculator

__all__ = [
    "BASELINE_NAMES",
    "BaselineName",
    "DeltaCalculator",
    "LennardJonesBaseline",
    "ReferenceEnergyCalculator",
    "ZBLCalculator",
    "add_reference_energies",
    "delta_targets",
    "make_baseline",
    "make_delta_calculator",
    "recommended_baseline",
    "reference_energies",
    "reference_energy",
    "subtract_reference_energies",
]
