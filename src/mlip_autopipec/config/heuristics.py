"""Expert rules of thumb, as small functions: each returns a value and the reason for it."""

from __future__ import annotations

import math

from pymatgen.core import Element

from mlip_autopipec.structures.bonding import BondingAnalysis

TEMPERATURE_FRACTIONS = (0.3, 0.6, 0.9, 1.2)  # of the melting point; the last samples the liquid
MOLECULAR_TEMPERATURES = (100.0, 300.0, 600.0)
LIGHT_ELEMENTS = {"H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne"}


def estimate_melting_point(amounts: dict[str, float], bonding: BondingAnalysis) -> tuple[float, str]:
    """A crude melting-point estimate in K: enough to place MD temperatures, not a prediction."""
    total = sum(amounts.values())
    elemental = []
    for element, amount in amounts.items():
        value = Element(element).melting_point
        elemental.append((float(value) if value else 1000.0) * amount / total)
    mean = sum(elemental)
    if bonding.bonding_type == "ionic" and bonding.oxidation_states:
        charges = bonding.oxidation_states.values()
        product = max(charges) * -min(charges)
        estimate = max(1000.0, 600.0 * product)
        return estimate, f"ionic: max(1000, 600 K x |q+ q-| = {product:g}) (alkali halides ~1000 K, oxides 2000-3000 K)"
    if bonding.bonding_type == "molecular":
        return 300.0, "molecular: no melting point estimated (MD runs at 100-600 K); 300 K is a placeholder"
    return mean, f"composition-weighted mean of the elemental melting points ({mean:.0f} K)"


def md_temperatures(melting_point: float, bonding: BondingAnalysis, user: list[float] | None) -> tuple[list[float], str]:
    if user:
        return sorted(user), "your temperatures"
    if bonding.bonding_type == "molecular":
        return list(MOLECULAR_TEMPERATURES), "molecular system: 100-600 K around ambient conditions"
    temperatures = sorted({float(round(f * melting_point / 10.0) * 10) for f in TEMPERATURE_FRACTIONS})
    return (
        temperatures,
        f"{', '.join(f'{f:g}' for f in TEMPERATURE_FRACTIONS)} x the estimated melting point ({melting_point:.0f} K); the last samples the liquid",
    )


def md_timestep(elements: list[str]) -> tuple[float, str]:
    if "H" in elements:
        return 0.5, "hydrogen present: 0.5 fs resolves its vibrations (~9 fs period)"
    if set(elements) & LIGHT_ELEMENTS:
        return 1.0, "first-row elements present: 1 fs"
    return 2.0, "only heavier elements: 2 fs"


def budget_split(dft_budget: int, max_iterations: int) -> tuple[int, int, str]:
    """Labels for iteration 0 and for each later iteration, from the total DFT budget."""
    initial = max(1, int(round(0.4 * dft_budget)))
    per_iteration = max(1, (dft_budget - initial) // max(1, max_iterations))
    return (
        initial,
        per_iteration,
        f"40% of the DFT budget ({dft_budget}) for the initial set, the rest spread over {max_iterations} iterations",
    )


def rattle_temperatures(temperatures: list[float]) -> list[float]:
    """Rattling at the coolest and hottest MD temperatures brackets the displacements MD will produce."""
    if not temperatures:
        return [300.0]
    return sorted({min(temperatures), max(temperatures)})


def cell_atoms_for(bonding: BondingAnalysis, n_elements: int) -> tuple[int, str]:
    if bonding.bonding_type == "metallic" and n_elements > 1:
        return 32, "alloy: 32-atom cells leave room for disorder (SQS) at an affordable DFT cost"
    return 16 if n_elements == 1 else 24, "small cells keep each DFT label to minutes; MD explores larger ones"


def round_to(value: float, step: float) -> float:
    return math.floor(value / step + 0.5) * step
