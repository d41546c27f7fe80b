"""Delta learning: train on DFT minus a physical baseline, run as baseline plus model.

Why: the model then only has to learn the smooth remainder of the DFT surface, and the physics
the data cannot teach (short-range repulsion) comes from the baseline at run time. The same
baseline, with the same parameters, must be used for ``delta_targets`` and for the
``DeltaCalculator``, otherwise the sum no longer reproduces DFT.

Per-element reference energies (the energy of each element "at infinity") are the other large,
trivial part of a total energy. If DFT isolated-atom energies are known they are used as they
are; otherwise ``reference_energies`` fits them by least squares on the total energies versus
composition, ``subtract_reference_energies`` removes them from the labels and the
``DeltaCalculator`` adds them back, as a constant per atom with no forces and no stress.

``DeltaCalculator`` is the one implementation of "baseline + model + reference energies": a single
member runs as one, and the committee calculator adds the same ``DeltaOffset`` (baseline and
reference energies, computed once per structure) to each member's model prediction.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator, Calculator, all_changes
from ase.calculators.singlepoint import SinglePointCalculator
from ase.neighborlist import neighbor_list
from ase.stress import full_3x3_to_voigt_6_stress

from mlip_autopipec.potentials.pair import PairPotential

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
        assert self.atoms is not None  # Calculator.calculate has just set self.atoms
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


@dataclass(frozen=True)
class Prediction:
    """Energy (eV), forces (eV/A, N x 3) and Voigt stress (eV/A^3; None without full periodicity) of one structure."""

    energy: float
    forces: np.ndarray
    stress: np.ndarray | None


def is_periodic(atoms: Atoms) -> bool:
    """Fully periodic with a 3D cell: only then is there a stress."""
    return bool(atoms.pbc.all()) and atoms.cell.rank == 3


class BaselineEvaluator:
    """Energy, forces and stress of the baseline, fast in MD.

    Why: the pair baselines (ZBL, LJ) build an ASE neighbour list on every call, which costs more
    than the ACE evaluation itself in a 64-atom MD step. For a ``PairPotential`` this keeps a
    Verlet list (cutoff + ``skin``) and rebuilds it only when an atom has moved more than half
    the skin or the cell, periodicity or species changed; pair terms come from the baseline's own
    ``pair_energy`` (already switched to zero at its cutoff), so the numbers are the baseline's.
    Any other calculator is called as it is.
    """

    def __init__(self, baseline: BaseCalculator | None, skin: float = 1.0) -> None:
        self.baseline = baseline
        self.skin = float(skin)
        self._key: tuple[Any, ...] | None = None
        self._reference: np.ndarray | None = None
        self._pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __call__(self, atoms: Atoms) -> tuple[float, np.ndarray, np.ndarray | None]:
        n = len(atoms)
        periodic = is_periodic(atoms)
        if self.baseline is None:
            return 0.0, np.zeros((n, 3)), (np.zeros(6) if periodic else None)
        if not isinstance(self.baseline, PairPotential):
            probe = atoms.copy()
            stress = _stress_voigt(self.baseline.get_property("stress", probe)) if periodic else None
            return (
                float(self.baseline.get_property("energy", probe)),
                np.asarray(self.baseline.get_property("forces", probe), dtype=float),
                stress,
            )
        numbers = atoms.get_atomic_numbers()
        positions = atoms.get_positions()
        cutoff = self.baseline.max_cutoff(numbers) if n else 0.0
        key = (n, tuple(numbers), tuple(atoms.pbc), atoms.cell.array.round(12).tobytes(), cutoff)
        moved = (
            np.inf
            if self._reference is None or self._key != key
            else float(np.max(np.linalg.norm(positions - self._reference, axis=1), initial=0.0))
        )
        if moved > 0.5 * self.skin:
            if n > 1 or (n == 1 and atoms.pbc.any()):
                i, j, shifts = neighbor_list("ijS", atoms, cutoff + self.skin, self_interaction=False)
            else:
                i = j = np.zeros(0, dtype=int)
                shifts = np.zeros((0, 3))
            self._pairs = (i, j, shifts @ atoms.cell.array)
            self._key, self._reference = key, positions.copy()
        assert self._pairs is not None
        i, j, offsets = self._pairs
        forces = np.zeros((n, 3))
        energy = 0.0
        virial = np.zeros((3, 3))
        if len(i):
            vec = positions[j] - positions[i] + offsets
            d = np.linalg.norm(vec, axis=1)
            close = d < cutoff
            if close.any():
                i, j, vec, d = i[close], j[close], vec[close], d[close]
                phi, dphi = self.baseline.pair_energy(numbers[i], numbers[j], d)
                energy = 0.5 * float(phi.sum())
                pair_force = (dphi / d)[:, None] * vec
                for axis in range(3):
                    forces[:, axis] = np.bincount(i, weights=pair_force[:, axis], minlength=n)
                virial = 0.5 * pair_force.T @ vec
        stress = full_3x3_to_voigt_6_stress(virial / atoms.get_volume()) if periodic else None
        return energy, forces, stress


class DeltaOffset:
    """What a delta-learned model's prediction is added to: the baseline plus the per-element reference energies."""

    def __init__(self, baseline: BaseCalculator | None, reference_energies: Mapping[str, float] | None) -> None:
        self.baseline = BaselineEvaluator(baseline)
        self.reference_energies = dict(reference_energies or {})

    def __call__(self, atoms: Atoms) -> Prediction:
        energy, forces, stress = self.baseline(atoms)
        if self.reference_energies:
            energy = energy + reference_energy(atoms, self.reference_energies)
        return Prediction(energy, forces, stress)


def add_offset(model: Prediction, offset: Prediction) -> Prediction:
    """model + offset; a stress only where both have one."""
    stress = model.stress + offset.stress if model.stress is not None and offset.stress is not None else None
    return Prediction(model.energy + offset.energy, model.forces + offset.forces, stress)


def model_prediction(model: BaseCalculator, atoms: Atoms, periodic: bool) -> Prediction:
    """The bare model's energy, forces and (fully periodic only) Voigt stress; its other results stay on ``model.results``."""
    model.calculate(atoms, ["energy", "forces", "stress"], all_changes)
    stress = _stress_voigt(model.results["stress"]) if periodic and "stress" in model.results else None
    return Prediction(float(model.results["energy"]), np.asarray(model.results["forces"], dtype=float), stress)


def fast_model_prediction(model: BaseCalculator, atoms: Atoms, periodic: bool) -> Prediction:
    """``model_prediction``, with PyACECalculator's own steps without its per-call extras (projections, gamma,
    copies): about 15% of an MD step for 64 atoms. Virial order xx yy zz xy xz yz -> Voigt yz xz xy."""
    if hasattr(model, "ace") and hasattr(model, "get_atomic_env"):
        model.ace.compute(model.get_atomic_env(atoms), compute_projections=False)
        stress = np.array(model.ace.virial)[[0, 1, 2, 5, 4, 3]] / atoms.get_volume() if periodic else None
        return Prediction(float(model.ace.energy), np.array(model.ace.forces, dtype=float), stress)
    return model_prediction(model, atoms, periodic)


def as_is(atoms: Atoms) -> Atoms:
    """The identity view: the model takes the structure as it is."""
    return atoms


class DeltaCalculator(Calculator):
    """baseline + model + per-element reference energies as one ASE calculator.

    ``view``: the structure as the model takes it (``ace.ace_view`` for ACE, as it is for MACE).
    The baseline goes through ``BaselineEvaluator`` (a Verlet list for pair baselines).
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(
        self,
        baseline: BaseCalculator | None,
        model: BaseCalculator,
        reference_energies: Mapping[str, float] | None = None,
        view: Callable[[Atoms], Atoms] = as_is,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.baseline = baseline
        self.model = model
        self.reference_energies = dict(reference_energies) if reference_energies else None
        self.offset = DeltaOffset(baseline, reference_energies)
        self.view = view

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = all_changes,
    ) -> None:
        super().calculate(atoms, list(properties), list(system_changes))
        assert self.atoms is not None  # Calculator.calculate has just set self.atoms
        periodic = is_periodic(self.atoms)
        total = add_offset(fast_model_prediction(self.model, self.view(self.atoms), periodic), self.offset(self.atoms))
        self.results = {"energy": total.energy, "free_energy": total.energy, "forces": total.forces}
        if total.stress is not None:
            self.results["stress"] = total.stress


def make_delta_calculator(
    baseline: BaseCalculator | None,
    model: BaseCalculator,
    reference_energies: Mapping[str, float] | None = None,
    view: Callable[[Atoms], Atoms] = as_is,
) -> BaseCalculator:
    """The calculator to run: ``model`` itself when there is no baseline and no references, else the ``DeltaCalculator``.

    ``reference_energies`` are the ones removed with ``subtract_reference_energies`` before
    training (leave them out if the model learned them itself).
    """
    if baseline is None and not reference_energies:
        return model
    return DeltaCalculator(baseline, model, reference_energies, view)
