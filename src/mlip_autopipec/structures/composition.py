"""Parse compositions the way users write them, with errors that say what to fix."""

from __future__ import annotations

import itertools
import re
from functools import cache

from pymatgen.core import Composition, Element

from mlip_autopipec.errors import ConfigError

_FORMULA_CHARS = re.compile(r"^[A-Za-z0-9.()\[\]\s]+$")
MAX_DISTINCT_ELEMENTS = 20
MAX_ATOMS_PER_FORMULA_UNIT = 100
_SYMBOLS = {element.symbol.lower(): element.symbol for element in Element}


@cache
def _symbol_splits(letters: str) -> tuple[tuple[str, ...], ...]:
    """Every way to cut a run of lower-case letters into element symbols ('fept' -> ('Fe', 'Pt'))."""
    if not letters:
        return ((),)
    splits = []
    for size in (1, 2, 3):
        head = _SYMBOLS.get(letters[:size])
        if head and len(letters) >= size:
            splits += [(head, *rest) for rest in _symbol_splits(letters[size:])]
    return tuple(splits)


def capitalised_readings(formula: str, limit: int = 2) -> list[str]:
    """What a formula typed without capitals most likely means ('si' -> 'Si', 'fept' -> 'FePt'): the readings with
    the fewest element symbols, so 'co' reads as cobalt before carbon monoxide."""
    if len(formula) > 24:  # the readings grow exponentially with the length; a long formula is not a hurried typo
        return []
    tokens = re.findall(r"[A-Za-z]+|[^A-Za-z]+", formula)
    options = [[("".join(cut), len(cut)) for cut in _symbol_splits(t.lower())] if t.isalpha() else [(t, 0)] for t in tokens]
    readings = sorted(
        {("".join(p[0] for p in combo), sum(p[1] for p in combo)) for combo in itertools.product(*options)},
        key=lambda r: (r[1], r[0]),
    )
    fewest = [text for text, count in readings if count == readings[0][1]] if readings else []
    return [text for text in fewest if text != formula][:limit]


def _did_you_mean(formula: str) -> str:
    readings = capitalised_readings(formula)
    return f"; did you mean {' or '.join(repr(r) for r in readings)}?" if readings else ""


def parse_composition(text: str) -> dict[str, float]:
    """Return {element: amount} for a formula such as ``Si``, ``FePt``, ``Fe0.5Pt0.5``, ``H2O``.

    pymatgen does the parsing; we add the checks it leaves out (unknown symbols,
    negative or zero amounts, unbalanced brackets, absurd element counts).
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("composition: is empty; give a chemical formula such as 'Si', 'FePt' or 'H2O'")
    formula = text.strip()
    if not _FORMULA_CHARS.match(formula):
        bad = next(char for char in formula if not _FORMULA_CHARS.match(char))
        raise ConfigError(
            f"composition: '{formula}' has characters that are not part of a formula ({bad!r}); "
            "use element symbols and positive amounts only, e.g. 'FePt' or 'Fe0.5Pt0.5'"
        )
    if re.search(r"(?:^|[^A-Za-z])[a-z]", formula):
        raise ConfigError(
            f"composition: '{formula}': element symbols start with a capital letter"
            + (_did_you_mean(formula) or "; write e.g. 'Si', 'FePt' or 'H2O'")
        )
    if formula.count("(") != formula.count(")") or formula.count("[") != formula.count("]"):
        raise ConfigError(f"composition: '{formula}' has unbalanced brackets; close every '(' you open")
    for symbol in re.findall(r"[A-Z][a-z]*", formula):
        if not Element.is_valid_symbol(symbol):
            raise ConfigError(
                f"composition: '{symbol}' in '{formula}' is not a chemical element"
                + (_did_you_mean(formula) or "; check the spelling and capitalisation (e.g. 'Co', not 'CO')")
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
