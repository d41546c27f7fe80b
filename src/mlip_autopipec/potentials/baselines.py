"""Pick a physical baseline for delta learning by name: ``zbl`` (default), ``lj`` or ``none``.

The model is trained on DFT minus baseline and run as baseline plus model (see ``delta``), so the
baseline only has to get right what data cannot teach: the short-range repulsion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

from ase.calculators.calculator import Calculator
from ase.data import atomic_numbers

from mlip_autopipec.potentials.lennard_jones import LennardJonesBaseline
from mlip_autopipec.potentials.zbl import ZBLCalculator

BaselineName = Literal["zbl", "lj", "none"]
BASELINE_NAMES: tuple[str, ...] = get_args(BaselineName)


def recommended_baseline(elements: Sequence[str]) -> BaselineName:
    """The baseline the config expander should fill in when the user names none: always ``zbl``.

    ZBL is parameter-free for every element, physically exact where it acts (nuclear repulsion
    screened by core electrons) and switched off before the bonding region, so it fixes the
    close-contact collapse that data-driven models are prone to without biasing the region
    covered by DFT. ``lj`` (covalent-radius Lennard-Jones) is the alternative when a baseline
    with a bond-length minimum is wanted; ``none`` trains on plain DFT. ``elements`` is accepted
    so the choice can become composition-dependent without changing callers.
    """
    _check_elements(elements)
    return "zbl"


def make_baseline(name: BaselineName | str, elements: Sequence[str], **params: Any) -> Calculator | None:
    """Build the named baseline calculator (None for ``none``); ``params`` go to its constructor.

    ``zbl``: ``ZBLCalculator(inner_factor=0.5, outer_factor=0.75, r_inner=None, r_outer=None)``.
    ``lj``: ``LennardJonesBaseline(sigma=None, epsilon=0.1, cutoff=2.5, switch_on=2.0)``; per-element
    ``sigma``/``epsilon`` keys must be among ``elements`` so a typo does not pass silently.
    """
    key = str(name).strip().lower()
    if key not in BASELINE_NAMES:
        raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINE_NAMES)}")
    _check_elements(elements)
    if key == "none":
        if params:
            raise ValueError(f"baseline 'none' takes no parameters, got {sorted(params)}")
        return None
    if key == "zbl":
        return ZBLCalculator(**params)
    for table in ("sigma", "epsilon"):
        values = params.get(table)
        if isinstance(values, Mapping):
            unknown = sorted(set(values) - set(elements))
            if unknown:
                raise ValueError(f"lj baseline {table} given for {unknown}, which are not among {list(elements)}")
    return LennardJonesBaseline(**params)


def _check_elements(elements: Sequence[str]) -> None:
    unknown = [symbol for symbol in elements if symbol not in atomic_numbers or symbol == "X"]
    if unknown:
        raise ValueError(f"baseline: unknown element symbols {unknown}")
