"""The labelling-engine interface: everything the label job asks of a DFT code, and nothing more.

Why: the architecture promises that a new DFT code (CP2K, VASP) is one module. The label job
(``labeller.py``: the ladder loop, the label cache, its lock, the record) speaks only to this interface,
and Quantum ESPRESSO (``dft/espresso/``) is its first implementation. An engine writes the input of one
attempt, runs its program, classifies what happened into the code-neutral outcomes below, walks its own
recovery ladder, and parses the results; ``dft_parameters`` says what enters the DFT hash, the key of
the label cache. A new engine is a class with these methods and one line in ``ENGINES``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from ase import Atoms

from mlip_autopipec.config.models import DFTConfig, LabelConfig
from mlip_autopipec.dft.runner import ProcessResult

# The outcome of one run of a DFT program, in words every engine shares (they are stored in label records).
CONVERGED = "converged"
SCF_NOT_CONVERGED = "scf_not_converged"
CRASHED = "crashed"  # an error stop or a non-zero exit with the output complete
TRUNCATED = "truncated"  # the output ends early: the process was killed or the disk filled
MISSING_FORCES = "missing_forces"
MISSING_STRESS = "missing_stress"
WALLTIME_EXCEEDED = "walltime_exceeded"
NOT_RUN = "not_run"
LAUNCH_FAILED = "launch_failed"  # the program never started (launcher, MPI, loader): the label job stops, nothing is cached
OUTPUT_LOST = "output_lost"  # the program ended normally (exit 0) but its output lacks its end: the file system lost it
DISK_FULL = "disk_full"  # the run ended early on a full disk (or quota)
ENVIRONMENT_FAILURES = (LAUNCH_FAILED, OUTPUT_LOST, DISK_FULL)
"""Outcomes that are the machine's fault, never the structure's: the label job stops with one line, tries no ladder
rung and caches nothing, so the same structure is labelled normally once the machine is fixed."""

SCRATCH_FOLDER = "scratch"
"""Folder beside the ``attempt_{n}`` folders where an engine keeps what one attempt hands the next (e.g. a charge density)."""


@dataclass(frozen=True)
class RunOutcome:
    """The verdict on one run of the DFT program: status, the reason in words, and what the ladder decides on."""

    status: str
    reason: str
    scf_iterations: int | None = None
    failing_routine: str | None = None  # the routine named by an error stop, when the program named one

    @property
    def ok(self) -> bool:
        return self.status == CONVERGED


@dataclass(frozen=True)
class LabelResults:
    """What a converged run gives the label: energy (eV), forces (eV/Angstrom), stress (Voigt, eV/Angstrom^3) if printed."""

    energy: float
    forces: np.ndarray
    stress: np.ndarray | None


class LabellingEngine(Protocol):
    """One DFT code behind the label job. Attempts run in ``workdir/attempt_{n}``; the label job owns those folders."""

    name: str

    def dft_parameters(self, dft: DFTConfig) -> dict[str, Any]:
        """Every value that changes a label; its hash keys the label cache (a new engine includes its own name)."""
        ...

    def kpoints(self, atoms: Atoms, dft: DFTConfig) -> list[int] | None:
        """The k-point mesh the label is computed on, for the record; None for the Gamma point only."""
        ...

    def write_input(
        self, atoms: Atoms, dft: DFTConfig, directory: Path, overrides: dict[str, Any], restart: bool, walltime_s: float
    ) -> None:
        """Write the input files of one attempt into ``directory``, with the ladder's ``overrides`` applied."""
        ...

    def run(
        self, atoms: Atoms, dft: DFTConfig, label: LabelConfig, directory: Path, ntasks: int | None, pass_fds: tuple[int, ...]
    ) -> ProcessResult:
        """Run the program in ``directory`` under the wall-time limit; ``pass_fds`` must stay open in the program."""
        ...

    def classify(self, directory: Path, process: ProcessResult, atoms: Atoms) -> RunOutcome:
        """Read the attempt's output and say what happened."""
        ...

    def rung_name(self, rung: int) -> str:
        """Name of a rung of the recovery ladder (0 is the base parameters)."""
        ...

    def rung_overrides(self, rung: int, dft: DFTConfig) -> dict[str, Any]:
        """The parameters rungs 1..``rung`` change, relative to ``dft``."""
        ...

    def next_rung(self, rung: int, outcome: RunOutcome) -> int | None:
        """The rung of the next attempt after ``outcome``, or None when retrying cannot help."""
        ...

    def can_restart(self, outcome: RunOutcome, scratch: Path) -> bool:
        """Whether the next attempt continues from what this one left in ``scratch``."""
        ...

    def read_results(self, directory: Path) -> LabelResults:
        """Energy, forces and stress of a converged attempt."""
        ...


ENGINES: dict[str, str] = {"quantum_espresso": "mlip_autopipec.dft.espresso.engine:QuantumEspresso"}
"""Engine name -> ``module:class``; imported on demand, so an engine's dependencies load only when it is used."""

DEFAULT_ENGINE = "quantum_espresso"


def get_engine(name: str = DEFAULT_ENGINE) -> LabellingEngine:
    """The engine called ``name``."""
    if name not in ENGINES:
        raise ValueError(f"unknown labelling engine '{name}'; known engines: {', '.join(sorted(ENGINES))}")
    module, _, attribute = ENGINES[name].partition(":")
    engine: LabellingEngine = getattr(importlib.import_module(module), attribute)()
    return engine
