"""Parse compositions the way users write them, with errors that say what to fix."""

from __future__ import annotations

import re

from pymatgen.core import Composition, Element

from mlip_autopipec.errors import ConfigError

_FORMULA_CHARS = re.compile(r"^[A-Za-z0-9.()\[\]\s]+$")
MAX_DISTINCT_ELEMENTS = 20
MAX_ATOMS_PER_FORMULA_UNIT = 100


def parse_composition(text: str) -> dict[str, float]:
    """Return {element: amount} for a formula such as ``Si``, ``FePt``, ``Fe0.5Pt0.5``, ``H2O``.

    pymatgen does the parsing; we add the checks it leaves out (unknown symbols,
    negative or zero amounts, unbalanced brackets, absurd element counts).
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("composition: is empty; give a chemical formula such as 'Si', 'FePt' or 'H2O'")
    formula = text.strip()
    if not _FORMULA_CHARS.match(formula):
        raise ConfigError(
            f"composition: '{formula}' has characters that are not part of a formula; "
            "use element symbols and positive amounts, e.g. 'Fe0.5Pt0.5'"
        )
    if formula.count("(") != formula.count(")") or formula.count("[") != formula.count("]"):
        raise ConfigError(f"composition: '{formula}' has unbalanced brackets; close every '(' you open")
    for symbol in re.findall(r"[A-Z][a-z]*", formula):
        if not Element.is_valid_symbol(symbol):
            raise ConfigError(
                f"composition: '{symbol}' in '{formula}' is not a chemical element; "
                "check the spelling and capitalisation (e.g. 'Co', not 'CO')"
            )
    try:
        parsed = Composition(formula, strict=True)
    except Exception as exc:  # pymatgen raises ValueError or its own errors
        raise ConfigError(f"composition: cannot parse '{formula}' ({exc}); write it like 'NaCl' or 'Ti3AlC2'") from None
    amounts = {str(el): float(amount) for el, amount in parsed.get_el_amt_dict().items()}
    if not amounts:
        raise ConfigError(f"composition: '{formula}' contains no element; give a formula such as 'Si'")
    if any(amount <= 0 for amount in amounts.values()):
        raise ConfigError(f"composition: '{formula}' has a zero or negative amount; every amount must be positive")
    if len(amounts) > MAX_DISTINCT_ELEMENTS:
        raise ConfigError(
            f"composition: '{formula[:40]}...' has {len(amounts)} distinct elements; "
            f"at most {MAX_DISTINCT_ELEMENTS} are supported"
        )
    if sum(amounts.values()) > MAX_ATOMS_PER_FORMULA_UNIT:
        raise ConfigError(
            f"composition: '{formula[:40]}' has {sum(amounts.values()):g} atoms per formula unit; "
            f"give the reduced formula (at most {MAX_ATOMS_PER_FORMULA_UNIT} atoms), e.g. 'Si' rather than 'Si128'"
        )
    return amounts


def is_metallic(elements: list[str]) -> bool:
    """True when every element is a metal: such systems need smearing of the Fermi surface."""
    return all(Element(el).is_metal for el in elements)
