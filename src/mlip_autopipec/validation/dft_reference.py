"""DFT from the project's own labelling engine as an ASE calculator: the reference side of every validation.

Why a calculator: the property code (equation of state, elastic constants, phonons, defects) is written once
for any ASE calculator, and runs with the potential and with this. Each call is one label through
``dft.labeller.label_structure``: the same engine, pseudopotentials, cutoffs, k-point spacing and smearing
as the training labels, and the same label cache, so a validation that is run again (or a structure that
the loop already labelled) costs no DFT. A structure whose label failed after the recovery ladder raises
``DftLabelFailed``: a validation row is never computed from an unconverged SCF.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from mlip_autopipec.config.models import DFTConfig, LabelConfig
from mlip_autopipec.data.ids import structure_id
from mlip_autopipec.data.records import LabelRecord
from mlip_autopipec.dft.labeller import label_structure


class DftLabelFailed(RuntimeError):
    """The labelling engine could not converge a structure that a validation needs."""


class LabelledDft(Calculator):
    """Energy (eV), forces (eV/A) and stress (eV/A^3, Voigt; periodic cells only) from the labelling engine.

    ``workdir``: where the engine's attempts run (one folder per structure id); ``origin``: recorded in each
    label (``validation`` by default, so the labels of a validation are told apart in the cache).
    ``records`` keeps every label this calculator used, in call order (counts and DFT time for reports).
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(
        self,
        dft: DFTConfig,
        label: LabelConfig,
        workdir: str | Path,
        ntasks: int | None = None,
        origin: str = "validation",
    ) -> None:
        super().__init__()
        self.dft = dft
        self.label_settings = label
        self.workdir = Path(workdir)
        self.ntasks = ntasks
        self.origin = origin
        self.records: list[LabelRecord] = []

    def label_of(self, atoms: Atoms) -> LabelRecord:
        """The label record of ``atoms`` (from the cache when it exists); raises when its label failed."""
        sid = structure_id(atoms)
        record = label_structure(
            atoms,
            self.dft,
            self.label_settings,
            self.workdir / sid,
            iteration=-1,
            origin=str(atoms.info.get("origin", self.origin)),
            ntasks=self.ntasks,
        )
        self.records.append(record)
        if record.state != "labelled":
            raise DftLabelFailed(f"DFT label of {sid} ({atoms.get_chemical_formula()}) failed: {record.reason}")
        return record

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = all_changes,
    ) -> None:
        super().calculate(atoms, list(properties), list(system_changes))
        assert self.atoms is not None  # Calculator.calculate has just set self.atoms
        record = self.label_of(self.atoms)
        assert record.energy is not None and record.forces is not None
        self.results = {"energy": record.energy, "free_energy": record.energy, "forces": np.array(record.forces)}
        if record.stress is not None and all(self.atoms.pbc):
            self.results["stress"] = np.array(record.stress)

    @property
    def dft_seconds(self) -> float:
        """Wall time of the DFT runs this calculator caused (cache hits cost nothing)."""
        return float(sum(r.wall_time_s for r in self.records if not r.cache_hit))

    @property
    def dft_runs(self) -> int:
        """Labels computed by the engine (not taken from the cache)."""
        return sum(1 for r in self.records if not r.cache_hit)
