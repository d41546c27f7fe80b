"""A throw-away single-node SLURM cluster (Debian's slurm-wlm and munge) for tests of the SLURM profile.

Why a real cluster: the profile's promises (partition, tasks, memory, run time, pw.x under ``srun``) only mean
something when ``sbatch`` and ``srun`` really run. Set-up that works on one machine (../shared/DEPENDENCIES.md):
``proctrack/linuxproc`` and ``task/none`` (no cgroups in a container), munged with a key made here, no accounting
daemon (so the profile asks ``squeue``, and ``MinJobAge`` keeps finished jobs visible to it), and the config at the
default path ``/etc/slurm/slurm.conf``, because the executor's job step drops every ``SLURM_*`` variable,
``SLURM_CONF`` included, before the rule runs ``srun``. ``libpmix-dev`` gives the unversioned ``libpmix.so`` that
SLURM's ``mpi/pmix`` plugin loads, so ``srun --mpi=pmix`` starts Debian's OpenMPI programs.

Needs root, Linux and apt-get (it installs what is missing). Usable by hand as well:
``python tests/slurm_cluster.py up STATE_DIR`` / ``python tests/slurm_cluster.py down STATE_DIR``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# written by tests/slurm_cluster.py"  # a slurm.conf without it belongs to someone else: never touched
PARTITION = "debug"
PACKAGES = ("slurm-wlm", "munge", "libpmix-dev")
PMIX_LIBRARY = Path("/usr/lib/x86_64-linux-gnu/pmix2/lib/libpmix.so")  # what SLURM's mpi/pmix dlopen()s
MIN_JOB_AGE_S = 3600  # finished jobs stay in squeue this long: >= 3x the plugin's init-seconds-before-status-checks


class ClusterUnavailable(RuntimeError):
    """This machine cannot host the test cluster (no root, no apt-get, someone else's SLURM): a reason to skip."""


class ClusterError(RuntimeError):
    """The packages are there but a daemon did not come up: a failure, not a skip."""


@dataclass(frozen=True)
class Cluster:
    """A running cluster: its state folder (logs, spool, munge key), partition and node."""

    state: Path
    partition: str
    node: str
    cpus: int
    memory_mb: int


def unavailable_reason() -> str | None:
    """Why this machine cannot host the cluster, or None when it can (root, Linux, apt-get or SLURM present)."""
    if not sys.platform.startswith("linux"):
        return f"a SLURM test cluster needs Linux, not {sys.platform}"
    if os.geteuid() != 0:
        return "a SLURM test cluster needs root (it installs slurm-wlm and munge and starts slurmctld and slurmd)"
    if _missing_packages() and shutil.which("apt-get") is None:
        return f"slurm-wlm/munge are not installed and there is no apt-get to install {' '.join(PACKAGES)}"
    if SLURM_CONF.exists() and MARKER not in SLURM_CONF.read_text(errors="replace"):
        return f"{SLURM_CONF} exists and was not written by this test: a real SLURM installation is left alone"
    return None


def _missing_packages() -> list[str]:
    """The packages whose programs or library are absent."""
    missing = [name for name, probe in (("slurm-wlm", "slurmctld"), ("munge", "munged")) if shutil.which(probe) is None]
    return missing + ([] if PMIX_LIBRARY.exists() else ["libpmix-dev"])


def install() -> None:
    """apt-get the missing packages (after apt-get update); ClusterUnavailable if that fails."""
    missing = _missing_packages()
    if not missing:
        return
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
            raise ClusterUnavailable(f"'{' '.join(command)}' failed: {' '.join(tail)}")


def _node_line() -> tuple[str, int, int, str]:
    """(node name, CPUs, memory MB, the slurm.conf node line) from ``slurmd -C``, memory rounded down for headroom."""
    text = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    fields = dict(word.split("=", 1) for word in text.split())
    memory = int(fields["RealMemory"]) * 9 // 10
    words = [f"{key}={fields[key]}" for key in ("NodeName", "CPUs", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore")]
    return fields["NodeName"], int(fields["CPUs"]), memory, " ".join([*words, f"RealMemory={memory}", "NodeAddr=127.0.0.1"])


def slurm_conf(state: Path, node_line: str, node: str) -> str:
    """The single-node slurm.conf: root runs everything, no cgroups, no accounting, a jobcomp file as a record."""
    return f"""{MARKER}; removed by its teardown
ClusterName=ci
SlurmctldHost={node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={state}/munge.socket
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/d
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
MinJobAge={MIN_JOB_AGE_S}
JobCompType=jobcomp/filetxt
JobCompLoc={state}/jobcomp.txt
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SlurmctldTimeout=30
SlurmdTimeout=30
{node_line} State=UNKNOWN
PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def _daemon(argv: list[str], state: Path, name: str) -> None:
    """Start one daemon (it forks itself); its log goes to the state folder."""
    with open(state / f"{name}.out", "ab") as out:
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=60)
    if result.returncode != 0:
        raise ClusterError(f"{name} did not start (exit {result.returncode}); see {state / (name + '.out')}")


def _wait_idle(node: str, timeout_s: float = 60.0) -> None:
    """Until the node reports idle (slurmd registered with slurmctld)."""
    deadline = time.monotonic() + timeout_s
    state = ""
    while time.monotonic() < deadline:
        result = subprocess.run(["sinfo", "-h", "-n", node, "-o", "%T"], capture_output=True, text=True)
        state = result.stdout.strip()
        if state == "idle":
            return
        time.sleep(0.5)
    raise ClusterError(f"node {node} is '{state or 'unknown'}', not idle, {timeout_s:.0f} s after start")


def _shut_down_leftovers() -> None:
    """Stop daemons an earlier, killed run of this script left behind (our slurm.conf still names them)."""
    if not SLURM_CONF.exists():
        return
    subprocess.run(["scontrol", "shutdown"], capture_output=True, timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and subprocess.run(["scontrol", "ping"], capture_output=True).returncode == 0:
        time.sleep(0.5)


def start(state: Path) -> Cluster:
    """Install what is missing, write slurm.conf, start munged, slurmctld and slurmd; return once the node is idle."""
    reason = unavailable_reason()
    if reason:
        raise ClusterUnavailable(reason)
    install()
    _shut_down_leftovers()
    state.mkdir(parents=True, exist_ok=True)
    for folder in ("ctld", "d", "munge"):
        (state / folder).mkdir(exist_ok=True)
    key = state / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    node, cpus, memory, node_line = _node_line()
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SLURM_CONF.write_text(slurm_conf(state, node_line, node))
    munge = [f"--key-file={key}", f"--socket={state}/munge.socket", f"--pid-file={state}/munged.pid"]
    munge += [f"--log-file={state}/munged.log", f"--seed-file={state}/munge/seed", "--force"]
    _daemon(["munged", *munge], state, "munged")
    _daemon(["slurmctld", "-c"], state, "slurmctld")  # -c: a clean start, no jobs from an earlier cluster
    _daemon(["slurmd"], state, "slurmd")
    _wait_idle(node)
    return Cluster(state, PARTITION, node, cpus, memory)


def _stop_pid(pid_file: Path, timeout_s: float = 20.0) -> None:
    """SIGTERM the daemon named in ``pid_file`` (ours: we started it) and wait for it to go."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)


def stop(state: Path) -> None:
    """Cancel every job, stop slurmd, slurmctld and munged (by their pid files) and remove our slurm.conf."""
    if SLURM_CONF.exists() and MARKER in SLURM_CONF.read_text(errors="replace"):
        subprocess.run(["scancel", "--full", "--user", "root"], capture_output=True, timeout=30)
    for name in ("slurmd", "slurmctld", "munged"):
        _stop_pid(state / f"{name}.pid")
    if SLURM_CONF.exists() and MARKER in SLURM_CONF.read_text(errors="replace"):
        SLURM_CONF.unlink()


# squeue -O field, its width and the key in job_table's rows; finished jobs stay listed for MinJobAge
SQUEUE_FIELDS = (
    ("JobID", 12, "JobID"),
    ("Comment", 80, "Comment"),  # the plugin's "rule_<rule>_wildcards_<...>"
    ("Partition", 16, "Partition"),
    ("NumTasks", 8, "NumTasks"),
    ("NumCPUs", 8, "NumCPUs"),
    ("MinMemory", 12, "MinMemory"),  # per CPU or per node, as asked: compare with TresAlloc's mem
    ("tres-alloc", 80, "TresAlloc"),
    ("TimeLimit", 16, "TimeLimit"),
    ("State", 16, "State"),
    ("TimeUsed", 12, "TimeUsed"),
)


def job_table() -> list[dict[str, str]]:
    """Every job slurmctld still holds, oldest first: one dict per job, from ``squeue -O`` (no sacct needed)."""
    fields = ",".join(f"{field}:{width}" for field, width, _ in SQUEUE_FIELDS)
    command = ["squeue", "-h", "-t", "all", "--sort", "i", "-O", fields]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    rows = []
    for line in result.stdout.splitlines():
        row, position = {}, 0
        for _, width, key in SQUEUE_FIELDS:
            row[key] = line[position : position + width].strip()
            position += width
        rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    """``up STATE_DIR`` or ``down STATE_DIR`` by hand."""
    if len(argv) != 2 or argv[0] not in ("up", "down"):
        print("usage: slurm_cluster.py up|down STATE_DIR", file=sys.stderr)
        return 2
    state = Path(argv[1]).resolve()
    if argv[0] == "down":
        stop(state)
        return 0
    try:
        print(json.dumps(start(state).__dict__, default=str))
    except (ClusterUnavailable, ClusterError) as error:
        print(f"slurm_cluster: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
