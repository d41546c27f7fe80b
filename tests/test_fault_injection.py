"""Fault injection: each fault a real run meets ends cleanly, and nothing finished is lost.

Real components throughout: the project's Snakefile run by Snakemake, the real pw.x behind a wrapper script that
injects a fault for one structure (``faults/<structure id>`` in the run folder names it), a real tmpfs for the full
disk and a real SQLite lock. One module run labels four 2-atom Si cells at the Gamma point while one pw.x crashes
and one hangs; every other case works on a copy of that run and counts the pw.x runs of its reruns: a finished
label is never computed again. The SIGKILL-at-random-moments half of the matrix is in test_workflow_loop.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import ase.db
import ase.io
import pytest
from ase import Atoms

from conftest import FAST_SI_DFT, LABELLED, copy_run, small_si_structures, snakemake, write_config
from mlip_autopipec.data.database import WAIT_ENV, structure_id_of
from mlip_autopipec.data.ids import structure_id
from mlip_autopipec.data.ingest import ingest_iteration, restore_index
from mlip_autopipec.data.records import LabelRecord
from mlip_autopipec.errors import CorruptRunFile, DatabaseUnavailable

pytestmark = [pytest.mark.workflow, pytest.mark.dft, pytest.mark.usefixtures("pw_available")]

WALLTIME_S = 10.0
WRAPPER = """#!/bin/sh
# The real pw.x, with a fault for one structure: $PW_FAULTS/<structure id> names it. Every run is counted in
# $PW_FAULTS/../pw_runs.log ("start <id> <fault>", "end <exit code> <id>"); the attempt folder's parent is the id.
ulimit -c 0
sid=$(basename "$(dirname "$PWD")")
fault=$(cat "$PW_FAULTS/$sid" 2>/dev/null)
log="$PW_FAULTS/../pw_runs.log"
echo "start $sid $fault" >> "$log"
rc=0
case "$fault" in
crash)  # a segfault mid-SCF: the output stops in the third SCF iteration, the process dies of SIGSEGV
    pw.x "$@" | sed '/iteration #  3/q'
    echo "end 139 $sid" >> "$log"
    kill -SEGV $$ ;;
hang)  # stuck mid-SCF in a process that ignores SIGTERM (an MPI rank that outlives its launcher)
    pw.x "$@" | sed '/iteration #  3/q'
    (trap '' TERM; exec sleep 300) ;;
truncate)  # pw.x ends normally, then its output loses its tail
    pw.x "$@"; rc=$?; truncate -s 6000 espresso.pwo ;;
fill_before)  # the disk fills up just before pw.x starts
    dd if=/dev/zero of="$PW_FILLER" bs=64k 2>/dev/null; pw.x "$@"; rc=$? ;;
fill_after)  # pw.x converges, then the disk fills up (its scratch gone) before the label is stored
    pw.x "$@"; rc=$?; rm -rf ../scratch; dd if=/dev/zero of="$PW_FILLER" bs=64k 2>/dev/null ;;
*)
    pw.x "$@"; rc=$? ;;
esac
echo "end $rc $sid" >> "$log"
exit $rc
"""


@dataclass(frozen=True)
class Run:
    """A run folder and its four structures: two clean (a, b), one whose pw.x crashes (c), one that hangs (d)."""

    workdir: Path
    ids: list[str]
    result: subprocess.CompletedProcess[str]
    seconds: float

    @property
    def a(self) -> str:
        return self.ids[0]

    @property
    def b(self) -> str:
        return self.ids[1]

    @property
    def c(self) -> str:
        return self.ids[2]

    @property
    def d(self) -> str:
        return self.ids[3]


def _run(workdir: Path, *args: str, target: str | None = LABELLED, **env: str) -> subprocess.CompletedProcess[str]:
    """Snakemake on ``workdir`` (keep-going, as ``mlip-pipe run``), the faults and the pw.x log of that folder."""
    variables = {"PW_FAULTS": str(workdir / "faults"), "PW_FILLER": str(workdir / "filler"), **env}
    with mock.patch.dict(os.environ, variables):
        return snakemake(workdir, "--keep-going", *args, check=False, target=target)


def _fault(workdir: Path, sid: str, fault: str | None) -> None:
    path = workdir / "faults" / sid
    if fault is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(fault)


def _pw_runs(workdir: Path) -> Counter[str]:
    """pw.x runs started per structure id in this folder."""
    path = workdir / "pw_runs.log"
    lines = path.read_text().splitlines() if path.is_file() else []
    return Counter(line.split()[1] for line in lines if line.startswith("start "))


def _lines(result: subprocess.CompletedProcess[str], words: str) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if words in line]


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback (most recent call last)" not in result.stdout + result.stderr, result.stderr[-3000:]


def _index(workdir: Path) -> dict[str, tuple[str, float | None, str]]:
    """structure id -> (state, energy, reason) of every row of the run's database index."""
    db = ase.db.connect(str(workdir / "results/database.db"), use_lock_file=False)
    return {structure_id_of(row): (row.state, row.get("energy"), row.get("reason", "")) for row in db.select()}


def _label(workdir: Path, sid: str) -> Path:
    return workdir / "results/iter_0/labels" / f"{sid}.json"


def _forget(workdir: Path, *sids: str) -> None:
    """Delete these label files and the ingest summary, so that the next run labels them again (Snakemake does not
    rerun a job for a missing intermediate file while the target is up to date)."""
    for sid in sids:
        _label(workdir, sid).unlink()
    (workdir / "results/iter_0/ingested.json").unlink()


def _cache_entry(workdir: Path, sid: str) -> Path:
    (entry,) = (workdir / "label_cache").glob(f"*/{sid}.json")
    return entry


def _processes_in(folder: Path) -> list[str]:
    """Live processes whose working directory is inside ``folder`` (what a killed job must not leave behind)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cwd = os.readlink(proc / "cwd")
            if cwd.startswith(str(folder)) and (proc / "stat").read_text().split()[2] != "Z":
                found.append(f"{proc.name} {(proc / 'comm').read_text().strip()} in {cwd}")
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def faulted(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Four Si cells labelled through Snakemake while structure c's pw.x segfaults mid-SCF and d's hangs."""
    workdir = tmp_path_factory.mktemp("faults")
    ase.io.write(workdir / "si.extxyz", small_si_structures(4))
    frames = ase.io.read(workdir / "si.extxyz", index=":")
    ids = [structure_id(Atoms(numbers=a.numbers, positions=a.positions, cell=a.cell, pbc=a.pbc)) for a in frames]
    wrapper = workdir / "pw_faults.sh"
    wrapper.write_text(WRAPPER)
    wrapper.chmod(0o755)
    label = {"mpi": {"ntasks": 1}, "command": str(wrapper), "walltime_s": WALLTIME_S, "max_attempts": 2}
    write_config(workdir, dft={**FAST_SI_DFT, "kpoint_spacing": 2.5}, label=label)  # Gamma point only
    (workdir / "faults").mkdir()
    _fault(workdir, ids[2], "crash")
    _fault(workdir, ids[3], "hang")
    start = time.monotonic()
    result = _run(workdir)
    return Run(workdir, ids, result, time.monotonic() - start)


def _copy(run: Run, tmp_path: Path) -> Path:
    """A private copy of the faulted run without its faults and with its own pw.x log."""
    workdir = copy_run(run.workdir, tmp_path / "run")
    shutil.rmtree(workdir / "faults")
    (workdir / "faults").mkdir()
    (workdir / "pw_runs.log").unlink()
    return workdir


# ---------------------------------------------------------------- 1, 2: pw.x crashes, pw.x hangs


def test_a_crashing_pw_fails_its_structure_with_the_reason_and_the_others_go_on(faulted: Run) -> None:
    """A segfault mid-SCF may be the machine's (a bad node, memory) or the structure's: the ladder tries again with
    the same parameters, then the label says ``failed`` with the signal; the failure is not final, so a later run
    labels the structure again (test_a_corrupt_structure_file_...). The other structures are labelled."""
    assert faulted.result.returncode == 0, faulted.result.stderr[-3000:]
    summary = json.loads((faulted.workdir / "results/iter_0/ingested.json").read_text())
    assert summary["labels"] == {"labelled": 2, "failed": 2}
    assert "killed by signal 11 after 3 SCF iterations" in summary["failed"][faulted.c]
    assert summary["failed"][faulted.c].endswith("(after 2 attempts)")
    index = _index(faulted.workdir)
    assert index[faulted.c][0] == "failed" and "signal 11" in index[faulted.c][2] and index[faulted.c][1] is None
    assert index[faulted.a][0] == index[faulted.b][0] == "labelled"
    record = LabelRecord.read(_cache_entry(faulted.workdir, faulted.c))
    assert [a.status for a in record.attempts] == ["truncated", "truncated"]
    assert _pw_runs(faulted.workdir) == {faulted.a: 1, faulted.b: 1, faulted.c: 2, faulted.d: 2}


def test_a_hanging_pw_is_killed_at_its_wall_time_and_leaves_no_process(faulted: Run) -> None:
    """pw.x stuck mid-SCF in a process that ignores SIGTERM: killed at label.walltime_s, reported with the reason; the
    group's SIGKILL reaches the process that outlived its parent, so nothing holds the cache entry's lock after it."""
    index = _index(faulted.workdir)
    assert index[faulted.d][0] == "failed"
    assert index[faulted.d][2].startswith("walltime_exceeded: killed at the wall-time limit after 3 SCF iterations")
    record = LabelRecord.read(_label(faulted.workdir, faulted.d))
    assert [a.status for a in record.attempts] == ["walltime_exceeded"] * 2
    assert all(WALLTIME_S <= a.wall_time_s < WALLTIME_S + 5.0 for a in record.attempts)
    assert _processes_in(faulted.workdir) == []
    lock = _cache_entry(faulted.workdir, faulted.d).with_suffix(".lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if an orphan still held it


# ---------------------------------------------------------------- 3: an output cut short


def test_a_truncated_output_is_an_environment_failure_and_is_not_cached(faulted: Run, tmp_path: Path) -> None:
    """pw.x ends normally (exit code 0) but its output lacks its end: only the file system can have lost it (pw.x 6.7
    on a full disk does exactly that), so it is no verdict on the structure: one line, no ladder rung, nothing cached,
    no label file. Once the output survives, the structure is labelled; nothing else is computed again."""
    workdir = _copy(faulted, tmp_path)
    cached = _cache_entry(workdir, faulted.c).read_bytes()
    _fault(workdir, faulted.c, "truncate")
    _forget(workdir, faulted.c)
    result = _run(workdir)
    assert result.returncode != 0
    _no_traceback(result)
    lines = _lines(result, "ends before JOB DONE")
    assert lines and "exit code 0" in lines[0] and "nothing was cached" in lines[0] and "free disk space" in lines[0]
    assert not _label(workdir, faulted.c).exists()
    assert _cache_entry(workdir, faulted.c).read_bytes() == cached  # the old (non-final) failure, not a new record
    runs = _pw_runs(workdir)
    assert set(runs) == {faulted.c}  # one attempt per job (no ladder rung); Snakemake may retry the job

    _fault(workdir, faulted.c, None)
    result = _run(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    index = _index(workdir)
    assert index[faulted.c][0] == "labelled"  # a failure labelled later is labelled in the index too
    assert {sid: index[sid] for sid in (faulted.a, faulted.b)} == {
        sid: _index(faulted.workdir)[sid] for sid in (faulted.a, faulted.b)
    }
    assert _pw_runs(workdir) - runs == {faulted.c: 1}


# ---------------------------------------------------------------- 4: a damaged file in results/


def test_a_corrupt_structure_file_stops_its_job_with_one_line_and_deleting_it_recomputes_nothing(
    faulted: Run, tmp_path: Path
) -> None:
    """A structure file cut inside its last number, which ASE reads without a word as another structure: the label
    job names the file and the fix instead of labelling the wrong structure. Deleted, as the line says, the file is
    written again by Snakemake when a job needs it (here: the label asked for), and the label comes from the cache."""
    workdir = _copy(faulted, tmp_path)
    damaged = workdir / "results/iter_0/user" / f"{faulted.a}.extxyz"
    damaged.write_text(damaged.read_text().rstrip("\n")[:-3])
    result = _run(workdir)
    assert result.returncode != 0
    _no_traceback(result)
    lines = _lines(result, "is corrupt")
    assert lines and f"{damaged.relative_to(workdir)} is corrupt (it is cut short" in lines[0]
    assert "delete it and rerun" in lines[0]
    assert _pw_runs(workdir) == {}

    damaged.unlink()
    result = _run(workdir, target=str(_label(workdir, faulted.a).relative_to(workdir)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert damaged.is_file() and _pw_runs(workdir) == {}
    record = LabelRecord.read(_label(workdir, faulted.a))
    assert record.cache_hit and record.energy == _index(faulted.workdir)[faulted.a][1]
    assert _index(workdir) == _index(faulted.workdir)  # the index never saw the damaged file

    # A label file cut short stops ingest the same way, before the index is touched.
    label = _label(workdir, faulted.b)
    label.write_bytes(label.read_bytes()[:-40])
    with pytest.raises(CorruptRunFile) as caught:
        ingest_iteration(workdir / "results/database.db", 0, [], [label])
    assert str(caught.value).startswith(f"{label} is corrupt (") and "delete it and rerun" in str(caught.value)
    assert _index(workdir) == _index(faulted.workdir)


# ---------------------------------------------------------------- 5: the database locked, the database deleted


def test_a_locked_database_stops_ingest_with_one_line_naming_the_holder_then_a_rerun_completes(
    faulted: Run, tmp_path: Path
) -> None:
    """Another program holds SQLite's write lock (an sqlite3 shell mid-transaction): ingest waits MLIP_PIPE_DB_WAIT_S,
    then stops with one line naming the file and the process. A stale ASE lock file (``database.db.lock``, left by a
    killed writer) makes no one wait. After the lock is released a rerun completes, with no DFT."""
    workdir = _copy(faulted, tmp_path)
    before = _index(workdir)
    (workdir / "results/iter_0/ingested.json").unlink()
    (workdir / "results/database.db.lock").write_text("")
    holder = sqlite3.connect(workdir / "results/database.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        result = _run(workdir, **{WAIT_ENV: "2"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode != 0
    _no_traceback(result)
    lines = _lines(result, "database.db is locked")
    assert lines and f"by pid {os.getpid()} (" in lines[0] and "waited 2 s" in lines[0] and WAIT_ENV in lines[0]

    result = _run(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _index(workdir) == before and _pw_runs(workdir) == {}


def test_a_deleted_database_is_rebuilt_from_the_label_files(faulted: Run, tmp_path: Path) -> None:
    """The index is derived: deleted after a run, the next run rebuilds it when it plans (no job, no DFT); deleted
    while a later iteration runs, that iteration's ingest rebuilds the earlier ones first."""
    workdir = _copy(faulted, tmp_path)
    before = _index(workdir)
    (workdir / "results/database.db").unlink()
    result = _run(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr and _lines(result, "database.db was missing: rebuilt")
    assert _index(workdir) == before and _pw_runs(workdir) == {}

    (workdir / "results/database.db").unlink()
    summary = ingest_iteration(workdir / "results/database.db", 1, [], [])
    assert summary.database == {"failed": 2, "labelled": 2} and _index(workdir) == before

    # Overwritten with something that is not SQLite: one line saying to delete it; then it is rebuilt.
    (workdir / "results/database.db").write_bytes(b"not a database, " * 512)
    with pytest.raises(DatabaseUnavailable) as caught:
        ingest_iteration(workdir / "results/database.db", 1, [], [])
    assert "database.db is not a usable SQLite database" in str(caught.value) and "delete it and rerun" in str(caught.value)
    (workdir / "results/database.db").unlink()
    assert restore_index(workdir / "results/database.db") == [0] and _index(workdir) == before


# ---------------------------------------------------------------- 6: the disk full


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MB tmpfs; skipped, saying why, where this user may not mount one."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_a_full_disk_stops_with_one_line_keeps_nothing_half_written_and_loses_nothing(
    faulted: Run, tmp_path: Path, small_disk: Path
) -> None:
    """results/ and the label cache on a small tmpfs that fills up, once before pw.x runs (pw.x 6.7 then exits 0 with
    an empty output) and once after it converged (the label cannot be stored): each time one line naming the mount
    point and the fix, no label file, the cache entry as it was and no temporary file. After space is freed a rerun
    labels both structures; the finished labels are not computed again."""
    workdir = _copy(faulted, tmp_path)
    for name in ("results", "label_cache"):
        shutil.copytree(workdir / name, small_disk / name, symlinks=True)
        shutil.rmtree(workdir / name)
        (workdir / name).symlink_to(small_disk / name)
    cached = {sid: _cache_entry(workdir, sid).read_bytes() for sid in (faulted.c, faulted.d)}
    filler = {"PW_FILLER": str(small_disk / "filler")}

    _fault(workdir, faulted.c, "fill_before")
    _forget(workdir, faulted.c)
    result = _run(workdir, **filler)
    assert result.returncode != 0
    _no_traceback(result)
    lines = _lines(result, "no room to write")
    assert lines and f"on the file system mounted at {small_disk} (0 kB free)" in lines[0] and "free space" in lines[0]

    (small_disk / "filler").unlink()
    _fault(workdir, faulted.c, None)
    _fault(workdir, faulted.d, "fill_after")
    _label(workdir, faulted.d).unlink()
    result = _run(workdir, target=str(_label(workdir, faulted.d).relative_to(workdir)), **filler)
    assert result.returncode != 0
    _no_traceback(result)
    lines = _lines(result, "no space left to write label_cache/")
    assert lines and f"{faulted.d}.json on the file system mounted at {small_disk}" in lines[0]
    assert "nothing half-written was kept" in lines[0]
    assert not _label(workdir, faulted.c).exists() and not _label(workdir, faulted.d).exists()
    assert {sid: _cache_entry(workdir, sid).read_bytes() for sid in cached} == cached
    assert not list(small_disk.rglob("*.tmp"))

    (small_disk / "filler").unlink()
    _fault(workdir, faulted.d, None)
    before = _pw_runs(workdir)
    result = _run(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _pw_runs(workdir) - before == {faulted.c: 1, faulted.d: 1}
    assert {state for state, _, _ in _index(workdir).values()} == {"labelled"}


# ---------------------------------------------------------------- 7: a label cache entry cut short


def test_a_truncated_cache_entry_is_recomputed_with_a_warning_and_the_rest_of_the_cache_is_used(
    faulted: Run, tmp_path: Path
) -> None:
    """A cache entry cut short by hand: the label job says which entry is corrupt, computes that label again (the
    same energy) and replaces the entry; the other structure asked for again comes from the cache."""
    workdir = _copy(faulted, tmp_path)
    entry = _cache_entry(workdir, faulted.a)
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    _forget(workdir, faulted.a, faulted.b)
    result = _run(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    _no_traceback(result)
    log = (workdir / "logs/label/iter_0" / f"{faulted.a}.log").read_text()
    assert f"label cache entry {entry.relative_to(workdir)} is corrupt (" in log and "labelling the structure again" in log
    assert _pw_runs(workdir) == {faulted.a: 1}  # b came from the cache
    again = LabelRecord.read(entry)
    original = LabelRecord.read(_cache_entry(faulted.workdir, faulted.a))
    assert again.state == "labelled" and again.energy == pytest.approx(original.energy, abs=1e-6)
    assert _index(workdir)[faulted.b] == _index(faulted.workdir)[faulted.b]
