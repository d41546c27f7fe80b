"""Quantum ESPRESSO (pw.x) behind the labelling-engine interface: the first implementation of ``dft.engine``.

Why a class of thin methods: the label job's loop, cache and record are code-neutral; this class only
says how pw.x does each step (input, launch, verdict, ladder, results), using the modules beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase import Atoms

from mlip_autopipec.config.models import DFTConfig, LabelConfig
from mlip_autopipec.dft.engine import DISK_FULL, LAUNCH_FAILED, SCF_NOT_CONVERGED, WALLTIME_EXCEEDED, LabelResults, RunOutcome
from mlip_autopipec.dft.espresso.inputs import (
    ERROR_NAME,
    INPUT_NAME,
    OUTPUT_NAME,
    PREFIX,
    espresso_profile,
    pool_flags,
    write_pw_input,
)
from mlip_autopipec.dft.espresso.pw_output import classify_pw_output, read_pw_results
from mlip_autopipec.dft.espresso.recovery import LADDER, next_rung, rung_overrides
from mlip_autopipec.dft.kpoints import kpoint_mesh
from mlip_autopipec.dft.runner import ProcessResult, disk_failure, launch_failure, mpi_prefix, run_process

BANNER = "Program PWSCF"
"""The first line pw.x prints once MPI is up: without it, pw.x never started."""


class QuantumEspresso:
    """pw.x SCF labels: ASE writes the input, our runner launches pw.x (MPI, k-point pools), ASE reads the output."""

    name = "quantum_espresso"

    def dft_parameters(self, dft: DFTConfig) -> dict[str, Any]:
        # Without the engine's name: label caches written before engines existed keep their keys.
        return dft.physics_parameters()

    def kpoints(self, atoms: Atoms, dft: DFTConfig) -> list[int] | None:
        return kpoint_mesh(atoms, dft.kpoint_spacing)

    def write_input(
        self, atoms: Atoms, dft: DFTConfig, directory: Path, overrides: dict[str, Any], restart: bool, walltime_s: float
    ) -> None:
        write_pw_input(atoms, dft, directory, overrides, restart, walltime_s)

    def run(
        self, atoms: Atoms, dft: DFTConfig, label: LabelConfig, directory: Path, ntasks: int | None, pass_fds: tuple[int, ...]
    ) -> ProcessResult:
        """``[mpirun -np N | srun ...] pw.x [-nk N] -in espresso.pwi``, killed at the wall-time limit."""
        launch = mpi_prefix(label.mpi, ntasks)
        pools = pool_flags(ntasks or label.mpi.ntasks, self.kpoints(atoms, dft)) if launch else []
        command = " ".join([*launch, label.command, *pools])
        argv = espresso_profile(command, dft).get_command(INPUT_NAME)
        out, err = directory / OUTPUT_NAME, directory / ERROR_NAME
        return run_process(argv, directory, out, err, label.walltime_s, pass_fds, launcher=tuple(launch))

    def classify(self, directory: Path, process: ProcessResult, atoms: Atoms) -> RunOutcome:
        """A full disk, then a launch failure (pw.x never printed its banner, the launcher or loader said why), before
        any DFT verdict: on a full disk pw.x exits 0 with an empty output, which would otherwise read as never started."""
        text = (directory / OUTPUT_NAME).read_text(errors="replace")
        errors = (directory / ERROR_NAME).read_text(errors="replace") if (directory / ERROR_NAME).is_file() else ""
        failure = launch_failure(process, text, errors, started=BANNER in text)
        if failure is not None:
            outcome = RunOutcome(LAUNCH_FAILED, f"{failure} (output in {directory})")
        else:
            outcome = classify_pw_output(text, process.returncode, process.timed_out, periodic=bool(atoms.get_pbc().any()))
        if not outcome.ok:
            full = disk_failure(process, directory, text, errors)
            if full is not None:
                return RunOutcome(DISK_FULL, full, outcome.scf_iterations)
        return outcome

    def rung_name(self, rung: int) -> str:
        return LADDER[rung].name

    def rung_overrides(self, rung: int, dft: DFTConfig) -> dict[str, Any]:
        base = {"mixing_beta": dft.mixing_beta, "electron_maxstep": dft.electron_maxstep, "degauss": dft.degauss}
        return rung_overrides(rung, base, smeared=dft.occupations == "smearing")

    def next_rung(self, rung: int, outcome: RunOutcome) -> int | None:
        return next_rung(rung, outcome)

    def can_restart(self, outcome: RunOutcome, scratch: Path) -> bool:
        """After an unconverged SCF or a time-out, start from the charge density pw.x saved, if it saved one."""
        if outcome.status not in (SCF_NOT_CONVERGED, WALLTIME_EXCEEDED):
            return False
        save = scratch / f"{PREFIX}.save"
        return any(save.glob("charge-density*")) if save.is_dir() else False

    def read_results(self, directory: Path) -> LabelResults:
        parsed = read_pw_results(directory / OUTPUT_NAME)
        stress = parsed.get("stress")
        return LabelResults(energy=float(parsed["energy"]), forces=parsed["forces"], stress=stress)  # type: ignore[arg-type]
