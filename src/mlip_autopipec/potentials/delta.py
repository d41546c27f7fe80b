"""Delta learning: train on DFT minus a physical baseline, run as baseline plus model.

Why: the model then only has to learn the smooth remainder of the DFT surface, and the physics
the data cannot teach (short-range repulsion) comes from the baseline at run time. The same
baseline object, with the same parameters, must be used for ``delta_targets`` and for
``make_delta_calculator``, otherwise the sum no longer reproduces DFT.

Per-element reference energies (the energy of each element "at infinity") are the other large,
trivial part of a total energy. If DFT isolated-atom energies are known they are used as they
are; otherwise ``reference_energies`` fits them by least squares on the total energies versus
composition, ``subtract_reference_energies`` removes them from the labels and
``ReferenceEnergyCalculator`` (or ``make_delta_calculator(..., reference_energies=...)``) adds
them back, as a constant per atom with no forces and no stress.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator, Calculator, all_changes
from ase.calculators.mixing import SumCalculator
from ase.calculators.singlepoint import SinglePointCalculator
from ase.stress import full_3x3_to_voigt_6_stress

#: Labels carried over from DFT; energies and forces have the baseline subtracted.
LABEL_KEYS = ("energy", "free_energy", "forces", "stress")


def _stress_voigt(stress: Any) -> np.ndarray:
    stress = np.asarray(stress, dtype=float)
    return full_3x3_to_voigt_6_stress(stress) if stress.shape == (3, 3) else stress.reshape(6)


def dft_labels(atoms: Atoms, index: int = 0) -> dict[str, Any]:
    """The energy/free_energy/forces/stress stored on ``atoms.calc`` (a SinglePointCalculator)."""
    if atoms.calc is None or "energy" not in atoms.calc.results:
        raise ValueError(f"structure {index} ({atoms.get_chemical_formula()}) has no DFT energy attached")
    labels: dict[str, Any] = {}
    for key in LABEL_KEYS:
        value = atoms.calc.results.get(key)
        if value is None:
            continue
        if key in ("energy", "free_energy"):
            labels[key] = float(value)
        elif key == "stress":
            labels[key] = _stress_voigt(value)
        else:
            labels[key] = np.array(value, dtype=float)
    return labels


def delta_targets(atoms_list: Iterable[Atoms], baseline: BaseCalculator | None) -> list[Atoms]:
    """Copies of the structures whose attached results are DFT minus baseline.

    Every label present (energy, free_energy, forces, stress) is reduced by the baseline's value
    for the same property; the baseline's free energy is its energy. With ``baseline=None`` the
    copies carry the DFT labels unchanged. The inputs are not modified.
    """
    targets = []
    for index, atoms in enumerate(atoms_list):
        labels = dft_labels(atoms, index)
        new = atoms.copy()
        if baseline is not None:
            probe = atoms.copy()
            if "stress" in labels and not (probe.pbc.all() and probe.cell.rank == 3):
                del labels["stress"]  # the baseline has no stress without full periodicity, nor does a bulk stress exist
            for key, value in list(labels.items()):
                name = "energy" if key == "free_energy" else key
                base = baseline.get_property(name, probe)
                if key == "stress":
                    labels[key] = value - _stress_voigt(base)
                elif key == "forces":
                    labels[key] = value - np.asarray(base, dtype=float)
                else:
                    labels[key] = value - float(base)
        new.calc = SinglePointCalculator(new, **labels)
        targets.append(new)
    return targets


class ReferenceEnergyCalculator(Calculator):
    """E = sum_i e_ref[element_i]: per-element constant energies, zero forces, zero stress."""

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, reference_energies: Mapping[str, float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reference_energies = {symbol: float(value) for symbol, value in reference_energies.items()}

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | tuple[str, ...] = ("energy",),
        system_changes: list[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        energies = np.array(
            [_lookup(self.reference_energies, symbol) for symbol in self.atoms.get_chemical_symbols()], dtype=float
        )
        energy = float(energies.sum())
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "energies": energies,
            "forces": np.zeros((len(self.atoms), 3)),
        }
        if self.atoms.pbc.all() and self.atoms.cell.rank == 3:
            self.results["stress"] = np.zeros(6)


def _lookup(references: Mapping[str, float], symbol: str) -> float:
    try:
        return references[symbol]
    except KeyError:
        raise ValueError(f"no reference energy for element {symbol}; known: {sorted(references)}") from None


def reference_energies(
    atoms_list: Sequence[Atoms],
    energies: Sequence[float] | None = None,
    elements: Sequence[str] | None = None,
    isolated: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Per-element reference energies e_X with E_s ~ sum_X N_sX e_X, by least squares.

    ``energies`` default to the energies attached to the structures (DFT or, after
    ``delta_targets``, DFT minus baseline; the baseline is zero for isolated atoms, so references
    fitted to either describe the same thing). Elements in ``isolated`` (e.g. DFT isolated-atom
    energies) are fixed to those values and only the rest are fitted. Each structure is weighted
    by 1/N_atoms, i.e. the per-atom energy residual is minimised, so large cells do not dominate.
    If the compositions cannot separate the elements (e.g. every structure has the same
    stoichiometry) the minimum-norm solution is returned with a warning: the sum over any
    occurring composition is still right, the split between elements is not. Elements in
    ``elements`` that occur in no structure get 0.0, also with a warning.
    """
    atoms_list = list(atoms_list)
    if energies is None:
        energies = [dft_labels(atoms, index)["energy"] for index, atoms in enumerate(atoms_list)]
    energy = np.asarray(energies, dtype=float)
    if energy.shape != (len(atoms_list),):
        raise ValueError(f"got {energy.size} energies for {len(atoms_list)} structures")
    symbols_per_structure = [atoms.get_chemical_symbols() for atoms in atoms_list]
    present = sorted({symbol for symbols in symbols_per_structure for symbol in symbols})
    if elements is None:
        elements = present
    missing = sorted(set(present) - set(elements))
    if missing:
        raise ValueError(f"structures contain {missing}, which are not among the elements {list(elements)}")
    fixed = {symbol: float(value) for symbol, value in (isolated or {}).items()}
    result: dict[str, float] = {symbol: fixed[symbol] for symbol in elements if symbol in fixed}

    absent = [symbol for symbol in elements if symbol not in fixed and symbol not in present]
    if absent:
        warnings.warn(f"reference energies: {absent} occur in no structure; set to 0.0", stacklevel=2)
        result.update({symbol: 0.0 for symbol in absent})
    unknown = [symbol for symbol in elements if symbol not in result]
    if not unknown:
        return {symbol: result[symbol] for symbol in elements}
    if not atoms_list:
        raise ValueError("reference energies: no structures to fit to")

    counts = np.array([[symbols.count(symbol) for symbol in unknown] for symbols in symbols_per_structure], dtype=float)
    known = np.array(
        [sum(result[symbol] for symbol in symbols if symbol in result) for symbols in symbols_per_structure],
        dtype=float,
    )
    natoms = np.array([len(symbols) for symbols in symbols_per_structure], dtype=float)
    weights = 1.0 / np.maximum(natoms, 1.0)
    solution, _, rank, _ = np.linalg.lstsq(counts * weights[:, None], (energy - known) * weights, rcond=None)
    if rank < len(unknown):
        warnings.warn(
            f"reference energies: the compositions do not determine {unknown} separately "
            f"(rank {rank} < {len(unknown)}); using the minimum-norm split",
            stacklevel=2,
        )
    result.update({symbol: float(value) for symbol, value in zip(unknown, solution, strict=True)})
    return {symbol: result[symbol] for symbol in elements}


def reference_energy(atoms: Atoms, references: Mapping[str, float]) -> float:
    """sum_i e_ref[element_i] for one structure."""
    return float(sum(_lookup(references, symbol) for symbol in atoms.get_chemical_symbols()))


def subtract_reference_energies(atoms_list: Iterable[Atoms], references: Mapping[str, float]) -> list[Atoms]:
    """Copies whose energy and free energy have sum_i e_ref[element_i] removed; forces, stress unchanged."""
    return _shift_energies(atoms_list, references, -1.0)


def add_reference_energies(atoms_list: Iterable[Atoms], references: Mapping[str, float]) -> list[Atoms]:
    """Inverse of ``subtract_reference_energies``."""
    return _shift_energies(atoms_list, references, 1.0)


def _shift_energies(atoms_list: Iterable[Atoms], references: Mapping[str, float], sign: float) -> list[Atoms]:
    shifted = []
    for index, atoms in enumerate(atoms_list):
        labels = dft_labels(atoms, index)
        offset = sign * reference_energy(atoms, references)
        for key in ("energy", "free_energy"):
            if key in labels:
                labels[key] += offset
        new = atoms.copy()
        new.calc = SinglePointCalculator(new, **labels)
        shifted.append(new)
    return shifted


class DeltaCalculator(SumCalculator):
    """baseline + model (+ per-element reference energies) as one ASE calculator.

    Built on ``ase.calculators.mixing.SumCalculator``: properties are those every part
    implements; each part's value is in ``results['<property>_contributions']``.
    """

    def __init__(
        self,
        baseline: BaseCalculator,
        model: BaseCalculator,
        reference_energies: Mapping[str, float] | None = None,
    ) -> None:
        parts: list[BaseCalculator] = [baseline, model]
        if reference_energies:
            parts.append(ReferenceEnergyCalculator(reference_energies))
        super().__init__(parts)
        self.baseline = baseline
        self.model = model
        self.reference_energies = dict(reference_energies) if reference_energies else None


def make_delta_calculator(
    baseline: BaseCalculator | None,
    model: BaseCalculator,
    reference_energies: Mapping[str, float] | None = None,
) -> BaseCalculator:
    """The calculator to run: ``model`` itself when there is no baseline and no references, else the sum.

    ``reference_energies`` are the ones removed with ``subtract_reference_energies`` before
    training (leave them out if the model learned them itself).
    """
    if baseline is None and not reference_energies:
        return model
    if baseline is None:
        return SumCalculator([model, ReferenceEnergyCalculator(reference_energies or {})])
    return DeltaCalculator(baseline, model, reference_energies)
