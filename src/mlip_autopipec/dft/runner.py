"""Run one DFT program (under its MPI launcher) with a wall-time limit, killing its whole process group when it overruns.

Code-neutral: every labelling engine launches its program through here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from mlip_autopipec.config.models import MPIConfig


@dataclass(frozen=True)
class ProcessResult:
    """How the process ended: exit code (None if unknown), whether our limit killed it, and its wall time (s)."""

    returncode: int | None
    timed_out: bool
    wall_time_s: float


def mpi_prefix(mpi: MPIConfig, ntasks: int | None = None) -> list[str]:
    """The launcher words before the program: ``mpirun -np N`` (with --allow-run-as-root as root), ``srun``, or none."""
    n = ntasks or mpi.ntasks
    launcher = mpi.launcher
    if launcher == "auto":
        if os.environ.get("SLURM_JOB_ID") and shutil.which("srun"):
            launcher = "srun"
        elif n > 1 and shutil.which("mpirun"):
            launcher = "mpirun"
        else:
            launcher = "none"
    extra = shlex.split(mpi.extra_args)
    if launcher == "mpirun":
        root = ["--allow-run-as-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        return ["mpirun", *root, "-np", str(n), *extra]
    if launcher == "srun":
        return ["srun", "--ntasks", str(n), *extra]
    return extra


def run_process(
    argv: list[str], directory: Path, stdout: Path, stderr: Path, walltime_s: float, pass_fds: tuple[int, ...] = ()
) -> ProcessResult:
    """Run ``argv`` in ``directory``; on time-out, SIGTERM then SIGKILL the whole process group.

    ``pass_fds``: descriptors the process inherits (the label cache lock, held as long as the program runs).
    """
    start = time.monotonic()
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen(argv, cwd=directory, stdout=out, stderr=err, start_new_session=True, pass_fds=pass_fds)
        try:
            returncode = process.wait(timeout=walltime_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 30.0)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
            returncode = process.returncode
        except BaseException:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
    return ProcessResult(returncode, timed_out, time.monotonic() - start)
