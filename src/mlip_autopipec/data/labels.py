"""The label record: one JSON file per labelled (or failed) structure, self-contained and atomic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from pydantic import BaseModel, Field

from mlip_autopipec.data.atomic_io import atomic_write_json

LabelState = Literal["labelled", "failed"]


class Attempt(BaseModel):
    """One pw.x run of the recovery ladder."""

    number: int
    rung: str
    overrides: dict[str, Any] = Field(default_factory=dict)
    restarted_from_charge_density: bool = False
    status: str
    reason: str = ""
    scf_iterations: int | None = None
    wall_time_s: float = 0.0


class LabelRecord(BaseModel):
    """Everything known about one DFT label: structure, results, parameters and provenance."""

    structure_id: str
    state: LabelState
    reason: str = ""
    iteration: int = 0
    origin: str = "unknown"
    dft_hash: str
    dft_parameters: dict[str, Any]
    pseudo_family: str
    pseudo_md5: dict[str, str]
    kpoints: list[int] | None = None  # None: Gamma point only
    numbers: list[int]
    positions: list[list[float]]
    cell: list[list[float]]
    pbc: list[bool]
    energy: float | None = None  # eV (free energy with smearing)
    forces: list[list[float]] | None = None  # eV/Angstrom
    stress: list[float] | None = None  # eV/Angstrom^3, Voigt order
    attempts: list[Attempt] = Field(default_factory=list)
    wall_time_s: float = 0.0
    cache_hit: bool = False

    @classmethod
    def structure_fields(cls, atoms: Atoms) -> dict[str, Any]:
        return {
            "numbers": atoms.get_atomic_numbers().tolist(),
            "positions": atoms.get_positions().tolist(),
            "cell": atoms.get_cell().array.tolist(),
            "pbc": [bool(p) for p in atoms.get_pbc()],
        }

    def to_atoms(self) -> Atoms:
        """The structure with its DFT results attached as a SinglePointCalculator (when labelled)."""
        atoms = Atoms(numbers=self.numbers, positions=self.positions, cell=self.cell, pbc=self.pbc)
        atoms.info.update(structure_id=self.structure_id, dft_hash=self.dft_hash, origin=self.origin, iteration=self.iteration)
        if self.state == "labelled":
            results: dict[str, Any] = {"energy": self.energy, "forces": np.array(self.forces)}
            if self.stress is not None and all(self.pbc):  # a slab's or molecule's "stress" is not a bulk stress
                results["stress"] = np.array(self.stress)
            atoms.calc = SinglePointCalculator(atoms, **results)
        return atoms

    def write(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.model_dump(mode="json"))

    @classmethod
    def read(cls, path: str | Path) -> "LabelRecord":
        return cls.model_validate(json.loads(Path(path).read_text()))
