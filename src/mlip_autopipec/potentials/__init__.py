"""Stage `train`: physical baselines, delta learning and the committee of ACE or MACE members.

``zbl``, ``lennard_jones``, ``pair`` and ``baselines`` (the physical baselines), ``delta`` (targets, reference
energies, the one baseline + model + references calculator), ``dataset`` (split, bootstrap), ``backend`` (the
training-backend protocol, its registry and the committee-wide settings), ``ace`` and ``mace_backend`` (one
module per backend: settings, training, loading, training curve), ``committee_plan`` (plan, train a member,
collect), ``committee`` (the committee calculator), ``metrics`` (errors against DFT, parity plot, learning
curve), ``surrogate`` (the universal potential that drives exploration).
"""

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
