"""Run one DFT program (under its MPI launcher) with a wall-time limit, killing its whole process group when it overruns.

Code-neutral: every labelling engine launches its program through here, and asks ``launch_failure`` whether
the program ever started. A launcher that cannot start the program (OpenMPI without SLURM's PMI under ``srun``,
``mpirun`` in a half-dropped SLURM environment, a missing executable or shared library) is a fault of the
machine or of ``label.mpi``, not of the structure: the label job stops at once instead of walking the recovery
ladder and caching a failed label.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from mlip_autopipec.config.models import MPIConfig
from mlip_autopipec.disk import describe_disk, disk_is_nearly_full


@dataclass(frozen=True)
class ProcessResult:
    """How the process ended: exit code (None if unknown), whether our limit killed it, and its wall time (s)."""

    returncode: int | None
    timed_out: bool
    wall_time_s: float
    argv: tuple[str, ...] = ()
    launcher: tuple[str, ...] = ()  # the leading words of ``argv`` that are the MPI launcher (empty: none)
    launch_error: str | None = None  # why the operating system could not start ``argv[0]`` at all

    @property
    def program(self) -> str:
        """The program the launcher was asked to start (``argv`` after the launcher words)."""
        rest = self.argv[len(self.launcher) :]
        return os.path.basename(rest[0]) if rest else "the program"

    @property
    def launched_by(self) -> str:
        """How the program was launched, in words for a message."""
        return f"under '{' '.join(self.launcher)}'" if self.launcher else "without an MPI launcher"


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
        return ["mpirun", *root, "-np", str(n), *extra, *shlex.split(mpi.mpirun_args)]
    if launcher == "srun":
        return ["srun", "--ntasks", str(n), *extra, *shlex.split(mpi.srun_args)]
    return extra


def run_process(
    argv: list[str],
    directory: Path,
    stdout: Path,
    stderr: Path,
    walltime_s: float,
    pass_fds: tuple[int, ...] = (),
    launcher: tuple[str, ...] = (),
) -> ProcessResult:
    """Run ``argv`` in ``directory``; on time-out, SIGTERM then SIGKILL the whole process group.

    ``pass_fds``: descriptors the process inherits (the label cache lock, held as long as the program runs).
    ``launcher``: the leading words of ``argv`` that are the MPI launcher, for ``launch_failure``'s message.
    An executable that cannot be started gives exit code 127 (not found) or 126 (not executable), as a shell
    would, with the reason in ``launch_error`` and in the ``stderr`` file, instead of an exception.
    """
    start = time.monotonic()
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        try:
            process = subprocess.Popen(argv, cwd=directory, stdout=out, stderr=err, start_new_session=True, pass_fds=pass_fds)
        except OSError as error:
            reason = f"{argv[0]}: {error.strerror or error}"
            err.write(f"{reason}\n".encode())
            code = 127 if isinstance(error, FileNotFoundError) else 126
            return ProcessResult(code, False, time.monotonic() - start, tuple(argv), launcher, reason)
        try:
            returncode = process.wait(timeout=walltime_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            returncode = _stop_group(process)
        except BaseException:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
    return ProcessResult(returncode, timed_out, time.monotonic() - start, tuple(argv), launcher)


def _stop_group(process: subprocess.Popen[bytes], grace_s: float = 5.0) -> int:
    """SIGTERM the process group, give it ``grace_s``, then SIGKILL whatever is left of the group, and reap the leader.

    Why SIGKILL even after the leader died of the SIGTERM: a hung rank, a stopped process or a child that ignores
    SIGTERM would live on without it, holding the label cache's lock (it inherits the descriptor) so that every later
    job for the structure waits for it. The leader is watched without being reaped (``WNOWAIT``), so its group id
    cannot pass to an unrelated process before the SIGKILL.
    """
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if hasattr(os, "waitid"):
            if os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None:
                break
        elif process.poll() is not None:
            break
        time.sleep(0.05)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return process.wait()


# What a launcher, MPI library or loader prints when the program never starts, and the fix for each; the first
# match wins, so the specific messages come before the generic ones. Real messages: ../shared/DEPENDENCIES.md.
_SINGLE_NODE_MPIRUN = "'--mca ras ^slurm --mca plm ^slurm'"  # OpenMPI ignores the SLURM allocation: one node only
_SYMPTOMS: tuple[tuple[str, str], ...] = (
    (
        r"OMPI was not built with SLURM's PMI support",
        "this OpenMPI cannot be started by srun; set label.mpi.launcher: mpirun (inside a SLURM job on one node with "
        f"label.mpi.mpirun_args: {_SINGLE_NODE_MPIRUN}), or install PMIx (Debian: libpmix-dev) and set "
        "label.mpi.srun_args: '--mpi=pmix'",
    ),
    (
        r"can ?not load PMIx library",
        "install the PMIx library SLURM loads, the unversioned libpmix.so (Debian: libpmix-dev; libpmix2 alone is "
        "not enough) for srun --mpi=pmix, or set label.mpi.launcher: mpirun",
    ),
    (
        r"unable to find the following environment variable",
        "mpirun sees a partial SLURM environment (the job step dropped SLURM_* variables); on one node set "
        f"label.mpi.mpirun_args: {_SINGLE_NODE_MPIRUN}, else label.mpi.launcher: srun with an MPI built with SLURM's PMI",
    ),
    (
        r"error while loading shared libraries|cannot open shared object file",
        "a shared library is missing; load the modules (LD_LIBRARY_PATH) the program was built with before the run, "
        "or point label.command at a pw.x that runs here",
    ),
    (
        r"unable to find the specified executable|command not found|No such file or directory|Permission denied",
        "install the program or set label.command to its full path; check label.mpi.launcher",
    ),
    (
        r"\b(srun|salloc|sbatch)\b.*error|\bPMIx?\b|MPI_Init|\bORTE|\bPRTE|mpirun|mpiexec|hydra|failed to start",
        "the MPI launcher could not start the program; set label.mpi.launcher (auto, mpirun, srun or none) "
        "and label.mpi.extra_args to a launcher that works on this machine",
    ),
)
_GENERIC_FIX = "check label.command and label.mpi.launcher (auto, mpirun, srun or none) on this machine"


def _evidence(pattern: str, text: str) -> str | None:
    """The line that matches ``pattern``, from the match on (with the next line when it ends in a colon, as MPI's
    lists do), or None."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        match = re.search(pattern, line, re.IGNORECASE)
        if match:
            line = line[match.start() :]  # "However, it was unable to ..." -> "unable to ..."
            if line.endswith(":") and index + 1 < len(lines):
                line = f"{line} {lines[index + 1]}"
            return line[:200]
    return None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not set(line.strip()) <= {"-", "="}]
    return lines[0][:200] if lines else "nothing on stderr"


def _diagnosis(process: ProcessResult, output: str, errors: str) -> tuple[str, str] | None:
    """(evidence, fix) when the program cannot have started: the OS refused it, a launcher, MPI or loader message,
    exit code 126/127, or an exit without a word on stdout that no signal explains; else None."""
    if process.launch_error is not None:
        if process.launcher:
            return (
                process.launch_error,
                "install it or set label.mpi.launcher to one that exists here (auto, mpirun, srun or none)",
            )
        return process.launch_error, "install it or set label.command to its full path"
    text = f"{errors}\n{output}"
    for pattern, fix in _SYMPTOMS:
        line = _evidence(pattern, text)
        if line is not None:
            return line, fix
    code = process.returncode
    signalled = code is not None and (code < 0 or code >= 128)
    if code in (126, 127) or not (output.strip() or signalled):
        return _first_line(errors), _GENERIC_FIX
    return None


_DISK_FULL_WORDS = re.compile(r"No space left on device|Disk quota exceeded|disk is full", re.IGNORECASE)


def disk_failure(process: ProcessResult, directory: Path, output: str, errors: str) -> str | None:
    """One line naming the disk and the fix when a run that did not succeed had no room to write; else None.

    Why also by free space, not only by the words: pw.x 6.7 says nothing on a full disk, it exits 0 with its output
    empty or cut at a buffer boundary, which would otherwise read as "never started" or as a DFT failure.
    """
    if process.timed_out:
        return None
    evidence = _evidence(_DISK_FULL_WORDS.pattern, f"{errors}\n{output}")
    if evidence is None and not disk_is_nearly_full(directory):
        return None
    said = f"; it said: {evidence}" if evidence else ""
    return (
        f"{process.program} ended early (exit code {process.returncode}) with no room to write in {directory}, on "
        f"{describe_disk(directory)}{said}: an environment failure, not a DFT one, so nothing was cached; "
        "fix: free space there (or move the run folder to a larger disk), then rerun"
    )


def launch_failure(process: ProcessResult, output: str, errors: str, started: bool) -> str | None:
    """One line naming the launcher, the evidence and the fix when the program never started; None when it did
    start or may have (a time-out, or a signal with no message, is left to the engine's own verdict).

    ``started``: whether the engine found its program's banner in ``output`` (for pw.x, "Program PWSCF").
    """
    if started or process.timed_out:
        return None
    found = _diagnosis(process, output, errors)
    if found is None:
        return None
    evidence, fix = found
    return (
        f"{process.program} never started {process.launched_by} (exit code {process.returncode}: {evidence}): "
        f"an environment failure, not a DFT one, so no DFT parameter was changed and no label was cached; fix: {fix}"
    )
