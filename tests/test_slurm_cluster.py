"""The project's SLURM profile on a real single-node SLURM cluster (tests/slurm_cluster.py brings it up and down).

``mlip-pipe run --profile`` with the executor plugin runs a tiny Si workflow up to the first committee: three
2-atom cells labelled by pw.x under ``srun`` with 2 MPI tasks (``srun --mpi=pmix``: Debian's OpenMPI has no SLURM
PMI, so plain ``srun`` cannot start it; PMIx can), then a two-member ACE committee. The profile is the project's
own, with three lines changed for this cluster: the partition (``CHANGE_ME`` in the file), no account, and
``slurm-status-command: squeue`` because there is no accounting daemon for ``sacct``. The checks read ``squeue``
(finished jobs stay listed for ``MinJobAge``): every job completed with the partition, tasks, memory and run time
the profile and the rules promise, every label step ran under ``srun``, and every label converged.

Needs root, Linux and apt-get (it installs slurm-wlm, munge and libpmix-dev when missing); elsewhere it skips with
the reason. Five to seven minutes on 2 cores (plus about 45 s of apt-get the first time), most of it Snakemake
starting inside each of the eight jobs.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ase.io
import pytest
import slurm_cluster
import yaml

from conftest import REPO, small_si_structures, write_config

TARGET = "results/iter_0/models/committee.json"
LABELS = 3
MPI_TASKS = 2
COMMITTEE_SIZE = 2
RUN_TIMEOUT_S = 1200
# Whichever test runs first brings the cluster up and runs the workflow inside its own time limit: all get the long one.
pytestmark = [
    pytest.mark.workflow,
    pytest.mark.dft,
    pytest.mark.usefixtures("pw_available"),
    pytest.mark.timeout(RUN_TIMEOUT_S + 300),
]


@dataclass(frozen=True)
class SlurmRun:
    """A finished run: its folder, the profile it ran with, squeue's job table and Snakemake's per-job resources."""

    workdir: Path
    profile: dict
    jobs: list[dict[str, str]]
    promised: dict[str, dict[str, str]]  # SLURM job id -> the resources Snakemake resolved for that job
    state: Path  # the cluster's state folder (daemon logs)
    wall_s: float


def cluster_profile(partition: str) -> dict:
    """profiles/slurm/config.yaml as a user on this cluster would edit it: its partition, no account, squeue."""
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    defaults = profile["default-resources"]
    defaults["slurm_partition"] = partition
    defaults.pop("slurm_account", None)
    profile["slurm-status-command"] = "squeue"  # no slurmdbd here, so no sacct
    profile["slurm-init-seconds-before-status-checks"] = 5  # MinJobAge (3600 s) >= 3x this
    return profile


def resolved_resources(log: str) -> dict[str, dict[str, str]]:
    """SLURM job id -> the ``resources:`` Snakemake printed for that job (what it asked the plugin to submit)."""
    by_job: dict[str, dict[str, str]] = {}
    current: str | None = None
    for line in log.splitlines():
        if match := re.match(r"\s+jobid: (\d+)$", line):
            current = match.group(1)
        elif (match := re.match(r"\s+resources: (.*)$", line)) and current is not None:
            by_job[current] = dict(item.split("=", 1) for item in match.group(1).split(", ") if "=" in item)
        elif match := re.search(r"rule (\w+):$", line):
            current = None
    submitted = dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", log))
    return {slurm_id: by_job.get(job, {}) for job, slurm_id in submitted.items()}


def megabytes(text: str) -> int:
    """'4000M' or '4G' (squeue, tres) in MB."""
    value, unit = float(text[:-1]), text[-1].upper()
    return int(value * {"M": 1, "G": 1024, "T": 1024 * 1024}[unit])


def minutes(limit: str) -> int:
    """squeue's time limit ('1:00:00', '4:05:00', '1-00:00:00', '10:00') in minutes."""
    days, _, clock = limit.rpartition("-")
    parts = [int(part) for part in clock.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    hours, mins, secs = parts
    return (int(days or 0) * 24 + hours) * 60 + mins + math.ceil(secs / 60)


def tres_memory(tres: str) -> int:
    """The mem= entry of squeue's TRES list, in MB."""
    return megabytes(dict(item.split("=", 1) for item in tres.split(","))["mem"])


def rule_of(job: dict[str, str]) -> str:
    """The rule name from the plugin's job comment ('rule_label_wildcards_0_s…')."""
    return job["Comment"].removeprefix("rule_").split("_wildcards_")[0]


def format_table(jobs: list[dict[str, str]]) -> str:
    """The job table for the test's output: job, rule, partition, tasks, memory, runtime limit, state, elapsed."""
    header = f"{'job':>4}  {'rule':<18} {'partition':<10} {'tasks':>5}  {'memory':<22} {'limit':>8}  {'state':<10} {'elapsed':>7}"
    lines = [header]
    for job in jobs:
        per_cpu = megabytes(job["MinMemory"]) != tres_memory(job["TresAlloc"])
        memory = f"{job['MinMemory']}/cpu ({tres_memory(job['TresAlloc'])}M)" if per_cpu else job["MinMemory"]
        lines.append(
            f"{job['JobID']:>4}  {rule_of(job):<18} {job['Partition']:<10} {job['NumTasks']:>5}  {memory:<22} "
            f"{job['TimeLimit']:>8}  {job['State']:<10} {job['TimeUsed']:>7}"
        )
    return "\n".join(lines)


def run_workflow(workdir: Path, profile: dict) -> subprocess.CompletedProcess[str]:
    """``mlip-pipe run --profile`` up to the first committee, under ``timeout -k`` (a stuck plugin never hangs CI)."""
    ase.io.write(workdir / "si.extxyz", small_si_structures(LABELS))
    mpi = {"ntasks": MPI_TASKS, "launcher": "auto", "srun_args": "--mpi=pmix"}  # auto picks srun inside SLURM
    write_config(workdir, label={"mpi": mpi}, train={"committee_size": COMMITTEE_SIZE, "optimizer_steps": 20})
    (workdir / "profile").mkdir()
    (workdir / "profile" / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    command = [str(REPO / ".venv" / "bin" / "mlip-pipe"), "run", "--config", "config.yaml", "--profile", "profile", TARGET]
    timeout = ["timeout", "-k", "20", str(RUN_TIMEOUT_S)]
    return subprocess.run([*timeout, *command], cwd=workdir, capture_output=True, text=True, timeout=RUN_TIMEOUT_S + 60)


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmRun]:
    """Cluster up, the tiny workflow through the profile, squeue's table read, cluster down (always)."""
    reason = slurm_cluster.unavailable_reason()
    if reason:
        pytest.skip(f"no SLURM test cluster on this machine: {reason}")
    state = tmp_path_factory.mktemp("slurm_state")
    try:  # whatever happens from here on, the daemons go and our slurm.conf is removed
        try:
            cluster = slurm_cluster.start(state)
        except slurm_cluster.ClusterUnavailable as error:  # apt-get could not install the packages
            pytest.skip(f"no SLURM test cluster on this machine: {error}")
        workdir = tmp_path_factory.mktemp("slurm_run")
        profile = cluster_profile(cluster.partition)
        start = time.monotonic()
        result = run_workflow(workdir, profile)
        wall = time.monotonic() - start
        jobs = slurm_cluster.job_table()
        assert result.returncode == 0, f"mlip-pipe run failed:\n{result.stdout[-3000:]}\n{result.stderr[-4000:]}"
        yield SlurmRun(workdir, profile, jobs, resolved_resources(result.stdout + result.stderr), state, wall)
    finally:
        slurm_cluster.stop(state)


def test_every_job_got_what_the_profile_promises(slurm_run: SlurmRun, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = slurm_run.jobs
    with capsys.disabled():
        print(f"\nSLURM job table (squeue, run {slurm_run.wall_s:.0f} s):\n{format_table(jobs)}")
    rules = [rule_of(job) for job in jobs]
    assert rules.count("label") == LABELS and rules.count("train_member") == COMMITTEE_SIZE, rules
    assert {"import_structures", "train_plan", "train_committee"} <= set(rules)
    defaults = slurm_run.profile["default-resources"]
    for job in jobs:
        rule, promised = rule_of(job), slurm_run.promised[job["JobID"]]
        where = f"job {job['JobID']} ({rule})"
        assert job["State"] == "COMPLETED", where
        assert job["Partition"] == defaults["slurm_partition"], where
        assert minutes(job["TimeLimit"]) == int(promised["runtime"]), where
        # every job's memory is its rule's resources.<rule>.mem_mb from the expanded config (tests/test_resources.py)
        assert megabytes(job["MinMemory"]) == tres_memory(job["TresAlloc"]) == int(promised["mem_mb"]), where
        assert int(job["NumTasks"]) == (MPI_TASKS if rule == "label" else 1), where
        if rule == "label":
            assert MPI_TASKS == int(promised["tasks"]), where


def test_pw_x_ran_under_srun_with_two_tasks(slurm_run: SlurmRun) -> None:
    """Each label job launched one job step (srun) and pw.x reports 2 MPI processes: no mpirun fallback."""
    slurmd_log = (slurm_run.state / "slurmd.log").read_text()
    for job in (job for job in slurm_run.jobs if rule_of(job) == "label"):
        assert f"launch task StepId={job['JobID']}.0 " in slurmd_log, f"label job {job['JobID']} started no srun step"
    outputs = sorted((slurm_run.workdir / "results/iter_0/dft").glob("*/attempt_*/espresso.pwo"))
    assert len(outputs) == LABELS
    for output in outputs:
        assert re.search(rf"running on\s+{MPI_TASKS} processors", output.read_text()), output


def test_every_label_converged(slurm_run: SlurmRun) -> None:
    labels = sorted((slurm_run.workdir / "results/iter_0/labels").glob("*.json"))
    assert len(labels) == LABELS
    for path in labels:
        label = json.loads(path.read_text())
        atoms = len(label["numbers"])
        assert label["state"] == "labelled" and label["attempts"][-1]["status"] == "converged", path.name
        assert math.isfinite(label["energy"]), path.name
        assert len(label["forces"]) == atoms and all(len(row) == 3 for row in label["forces"]), path.name
        assert len(label["stress"]) == 6 and all(map(math.isfinite, label["stress"])), path.name  # Voigt
    manifest = json.loads((slurm_run.workdir / TARGET).read_text())
    assert len(manifest["members"]) == COMMITTEE_SIZE
