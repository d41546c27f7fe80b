"""An environment failure is not a DFT failure; a batch that fails for one reason stops the run.

When pw.x never starts (a launcher, MPI or loader error), the label job must stop at once with one line naming
the launcher and the fix, try no recovery-ladder rung and cache nothing; the same structure then labels normally
once the environment is fixed. Real pw.x and real ``mpirun`` reach most failures (a half-dropped SLURM environment,
a missing program or launcher); small wrapper scripts stand in only for what this machine cannot produce (srun
without PMI support, a missing PMIx or shared library), each printing the message a real cluster printed
(../shared/DEPENDENCIES.md). When most labels of an iteration fail for one reason, ingest stops with one line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import ase.io
import pytest

from conftest import FAST_SI_DFT, PYTHON, REPO, small_si_structures, snakemake, write_config
from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.config.models import FullConfig, MPIConfig
from mlip_autopipec.data.database import StructureIndex
from mlip_autopipec.data.ids import structure_id
from mlip_autopipec.data.ingest import common_failure, ingest_iteration
from mlip_autopipec.data.label_cache import LabelCache
from mlip_autopipec.data.records import Attempt, LabelRecord
from mlip_autopipec.dft.engine import LAUNCH_FAILED, RunOutcome, get_engine
from mlip_autopipec.dft.espresso.recovery import next_rung
from mlip_autopipec.dft.labeller import dft_hash, label_structure
from mlip_autopipec.dft.runner import mpi_prefix
from mlip_autopipec.errors import EnvironmentFailure, LabelBatchFailed

pytestmark = [pytest.mark.dft, pytest.mark.usefixtures("pw_available")]


def _config(tmp_path: Path, dft: dict | None = None, label: dict | None = None) -> FullConfig:
    return expand_config(
        {
            "composition": "Si",
            "dft": {**FAST_SI_DFT, **(dft or {})},
            "label": {"cache_dir": str(tmp_path / "cache"), **(label or {})},
        }
    )


def _fails_at_once(full: FullConfig, workdir: Path) -> tuple[str, float]:
    """Label one structure that must fail as an environment failure; the message and the seconds it took."""
    atoms = small_si_structures(1)[0]
    start = time.monotonic()
    with pytest.raises(EnvironmentFailure) as caught:
        label_structure(atoms, full.dft, full.label, workdir)
    seconds = time.monotonic() - start
    message = str(caught.value)
    assert "\n" not in message and "never started" in message and "label." in message
    assert caught.value.exit_code == 3
    assert sorted(p.name for p in workdir.glob("attempt_*")) == ["attempt_1"]  # no ladder rung after it
    assert LabelCache(full.label.cache_dir).get(structure_id(atoms), dft_hash(full.dft)) is None
    assert not list(Path(full.label.cache_dir).rglob("*.json"))  # nothing cached
    return message, seconds


def _path_with_real_pw(tmp_path: Path) -> Path:
    """A folder with only the real pw.x in it: on PATH alone, no MPI launcher can be found."""
    folder = tmp_path / "pwbin"
    folder.mkdir()
    real = shutil.which("pw.x")
    assert real is not None
    (folder / "pw.x").symlink_to(real)
    return folder


@pytest.fixture
def real_mpirun() -> None:
    if shutil.which("mpirun") is None:
        pytest.fail("mpirun is not installed; run 'bash envs/install.sh' (Debian's quantum-espresso brings OpenMPI)")


@pytest.mark.usefixtures("real_mpirun")
def test_mpirun_in_a_half_dropped_slurm_environment_stops_at_once_then_labels_with_the_named_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cluster's failure, reproduced with the real OpenMPI: a SLURM job id without SLURM_NODELIST."""
    full = _config(tmp_path, label={"mpi": {"launcher": "mpirun", "ntasks": 2}})
    monkeypatch.setenv("SLURM_JOBID", "1")
    monkeypatch.setenv("SLURM_JOB_ID", "1")
    monkeypatch.delenv("SLURM_NODELIST", raising=False)
    message, seconds = _fails_at_once(full, tmp_path / "broken")
    assert "pw.x never started under 'mpirun" in message and "-np 2" in message
    assert "SLURM_NODELIST" in message and "label.mpi.mpirun_args: '--mca ras ^slurm --mca plm ^slurm'" in message
    assert seconds < 10.0

    # The fix the line names, in the same half-dropped environment: pw.x runs on 2 ranks and converges.
    fixed = _config(
        tmp_path, label={"mpi": {"launcher": "mpirun", "ntasks": 2, "mpirun_args": "--mca ras ^slurm --mca plm ^slurm"}}
    )
    record = label_structure(small_si_structures(1)[0], fixed.dft, fixed.label, tmp_path / "fixed")
    assert record.state == "labelled" and not record.cache_hit
    assert [a.status for a in record.attempts] == ["converged"]


@pytest.mark.usefixtures("real_mpirun")
def test_a_missing_pw_under_real_mpirun_names_label_command(tmp_path: Path) -> None:
    full = _config(tmp_path, label={"command": "pw_not_installed.x", "mpi": {"launcher": "mpirun", "ntasks": 2}})
    message, seconds = _fails_at_once(full, tmp_path / "work")
    assert "pw_not_installed.x never started under 'mpirun" in message
    assert "unable to find the specified executable" in message and "label.command" in message
    assert seconds < 10.0


def test_a_missing_program_without_launcher_is_exit_127_not_a_traceback(tmp_path: Path) -> None:
    full = _config(tmp_path, label={"command": str(tmp_path / "nowhere" / "pw.x"), "mpi": {"launcher": "none"}})
    message, seconds = _fails_at_once(full, tmp_path / "work")
    assert "without an MPI launcher (exit code 127" in message and "No such file or directory" in message
    assert "label.command" in message and seconds < 5.0


def test_a_launcher_that_is_not_installed_names_label_mpi_launcher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(_path_with_real_pw(tmp_path)))
    full = _config(tmp_path, label={"mpi": {"launcher": "srun", "ntasks": 2}})
    message, _ = _fails_at_once(full, tmp_path / "work")
    assert "pw.x never started under 'srun --ntasks 2' (exit code 127: srun:" in message
    assert "set label.mpi.launcher" in message


# What the cluster printed (../shared/DEPENDENCIES.md), for the failures this machine cannot produce for real.
_SRUN_WITHOUT_PMI = """#!/bin/sh
for rank in 0 1; do cat >&2 <<'EOF'
--------------------------------------------------------------------------
The application appears to have been direct launched using "srun",
but OMPI was not built with SLURM's PMI support and therefore cannot
execute. There are several options for building PMI support under
SLURM, depending upon the SLURM version you are using:
--------------------------------------------------------------------------
EOF
done
echo "srun: error: node1: tasks 0-1: Exited with exit code 1" >&2
exit 1
"""
_SRUN_WITHOUT_PMIX = """#!/bin/sh
echo "srun: error: (null) [0] mpi_pmix.c:118 [init] mpi/pmix: ERROR: pmixp_lib_init: can not load PMIx library" >&2
echo "srun: error: Couldn't load specified plugin name for mpi/pmix: Plugin init() callback failed" >&2
echo "srun: error: cannot create mpi context for mpi/pmix" >&2
exit 1
"""
_PW_WITHOUT_LIBRARY = """#!/bin/sh
echo "pw.x: error while loading shared libraries: libmpi_usempif08.so.40: cannot open shared object file: \
No such file or directory" >&2
exit 127
"""


@pytest.mark.parametrize(
    ("name", "script", "mpi", "expected"),
    [
        ("srun", _SRUN_WITHOUT_PMI, {"launcher": "auto", "ntasks": 2}, ("under 'srun --ntasks 2'", "SLURM's PMI", "mpirun")),
        ("srun", _SRUN_WITHOUT_PMIX, {"launcher": "srun", "ntasks": 2, "srun_args": "--mpi=pmix"}, ("PMIx library",)),
        ("pw.x", _PW_WITHOUT_LIBRARY, {"launcher": "none"}, ("exit code 127", "libmpi_usempif08", "shared library")),
    ],
    ids=["srun-without-pmi", "srun-without-pmix", "missing-shared-library"],
)
def test_cluster_launch_failures_stop_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, script: str, mpi: dict, expected: tuple[str, ...]
) -> None:
    """A wrapper script on PATH prints the real message; everything else is the real label job."""
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / name).write_text(script)
    (fake / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_JOB_ID", "1")  # launcher auto inside a SLURM job picks srun
    message, seconds = _fails_at_once(_config(tmp_path, label={"mpi": mpi}), tmp_path / "work")
    for words in expected:
        assert words in message
    assert seconds < 5.0


def test_the_ladder_never_retries_a_launch_failure() -> None:
    assert next_rung(0, RunOutcome(LAUNCH_FAILED, "pw.x never started")) is None


def test_the_label_job_prints_one_line_and_writes_no_label(tmp_path: Path) -> None:
    """scripts/label_structure.py as Snakemake runs it: exit code 3, one line on stderr, no label file for ingest."""
    full = _config(tmp_path, label={"command": "pw_not_installed.x", "mpi": {"launcher": "none"}})
    structure = tmp_path / "s.extxyz"
    small_si_structures(1)[0].write(structure)
    driver = f"""
import runpy, types
snakemake = types.SimpleNamespace(
    log=[{str(tmp_path / "label.log")!r}],
    input=types.SimpleNamespace(structure={str(structure)!r}),
    output=types.SimpleNamespace(label={str(tmp_path / "label.json")!r}),
    params=types.SimpleNamespace(dft={full.dft.model_dump(mode="json")!r}, label={full.label.model_dump(mode="json")!r},
                                 workdir={str(tmp_path / "work")!r}),
    wildcards=types.SimpleNamespace(iteration="0"), resources={{}}, threads=1, rule="label", config={{}})
runpy.run_path({str(REPO / "scripts" / "label_structure.py")!r}, init_globals={{"snakemake": snakemake}})
"""
    done = subprocess.run([PYTHON, "-c", driver], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pw_not_installed.x never started" in lines[0] and "label.command" in lines[0]
    assert not (tmp_path / "label.json").exists()
    assert "never started" in (tmp_path / "label.log").read_text()


def test_a_launch_failure_cached_by_an_older_version_is_labelled_again(tmp_path: Path) -> None:
    """Before launch failures were told apart, srun without PMI left 4 'crashed' attempts of 0.2 s in the cache."""
    full = _config(tmp_path, label={"mpi": {"ntasks": 1}})
    atoms = small_si_structures(1)[0]
    engine = get_engine()
    cache = LabelCache(full.label.cache_dir)
    fields = dict(
        structure_id=structure_id(atoms),
        dft_hash=dft_hash(full.dft),
        dft_parameters=engine.dft_parameters(full.dft),
        pseudo_family=full.dft.pseudo_family,
        pseudo_md5=dict(full.dft.pseudo_md5),
        **LabelRecord.structure_fields(atoms),
    )
    crashed = "pw.x exited with code 1 without an error message"
    attempts = [Attempt(number=k, rung="base", status="crashed", reason=crashed, wall_time_s=0.2) for k in range(1, 5)]
    cache.put(LabelRecord(state="failed", reason=f"crashed: {crashed} (after 4 attempts)", attempts=attempts, **fields))
    record = label_structure(atoms, full.dft, full.label, tmp_path / "work")
    assert record.state == "labelled" and not record.cache_hit

    # A real DFT failure (an error stop) stays cached: it is not labelled again.
    error = "pw.x error in routine check_atoms (1): atoms 1 and 2 overlap"
    other = small_si_structures(2)[1]
    fields.update(structure_id=structure_id(other), **LabelRecord.structure_fields(other))
    failed = [Attempt(number=1, rung="base", status="crashed", reason=error, wall_time_s=0.2)]
    cache.put(LabelRecord(state="failed", reason=f"crashed: {error} (after 1 attempt)", attempts=failed, **fields))
    again = label_structure(other, full.dft, full.label, tmp_path / "work2")
    assert again.cache_hit and again.state == "failed" and not (tmp_path / "work2").exists()


def _label_files(tmp_path: Path, full: FullConfig, structures: list, folder: str) -> list[Path]:
    paths = []
    for k, atoms in enumerate(structures):
        record = label_structure(atoms, full.dft, full.label, tmp_path / folder / f"work{k}")
        paths.append(record.write(tmp_path / folder / f"{record.structure_id}.json"))
    return paths


def test_an_iteration_whose_labels_mostly_fail_for_one_reason_stops_ingest(tmp_path: Path) -> None:
    """Real pw.x: 3 of 4 labels fail (one SCF step allowed) -> ingest stops with one line, the database untouched;
    with the threshold raised above 3/4 the same labels are ingested."""
    structures = small_si_structures(4)
    broken = _config(tmp_path / "broken", dft={"electron_maxstep": 1}, label={"max_attempts": 1, "mpi": {"ntasks": 1}})
    good = _config(tmp_path / "good", label={"mpi": {"ntasks": 1}})
    labels = [*_label_files(tmp_path, broken, structures[:3], "failed"), *_label_files(tmp_path, good, structures[3:], "good")]
    database = tmp_path / "database.db"

    with pytest.raises(LabelBatchFailed) as caught:
        ingest_iteration(database, 0, [], labels)
    message = str(caught.value)
    assert "\n" not in message and caught.value.exit_code == 4
    assert message.startswith("3 of 4 labels of iteration 0 failed for one reason (scf_not_converged")
    assert "label.retry_failed: true" in message and "label.stop_failed_fraction 0.5" in message
    assert not database.exists() or not StructureIndex(database).counts()

    summary = ingest_iteration(database, 0, [], labels, stop_fraction=0.8)
    assert summary.labels == {"failed": 3, "labelled": 1}
    assert StructureIndex(database).counts() == {"failed": 3, "labelled": 1}
    records = [LabelRecord.read(p) for p in labels]
    assert common_failure(records[1:], 0) is None  # 2 of 3 failed, but 3 labels are under the minimum of 4
    assert common_failure(records[1:], 0, min_labels=3) is not None


# --- the same through Snakemake: the run stops (non-zero) with the line, instead of exiting 0 ------------------------


@pytest.mark.workflow
@pytest.mark.usefixtures("real_mpirun")
def test_snakemake_stops_on_a_launch_failure_and_caches_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small_si_structures(2)[0].write(tmp_path / "si.extxyz")
    write_config(tmp_path, label={"mpi": {"launcher": "mpirun", "ntasks": 2}})
    monkeypatch.setenv("SLURM_JOBID", "1")  # the job step of the cluster: a SLURM job without SLURM_NODELIST
    monkeypatch.setenv("SLURM_JOB_ID", "1")
    monkeypatch.delenv("SLURM_NODELIST", raising=False)
    result = snakemake(tmp_path, check=False)
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "never started" in line]
    assert lines and "under 'mpirun" in lines[0] and "SLURM_NODELIST" in lines[0] and "label.mpi.launcher" in lines[0]
    assert not list((tmp_path / "label_cache").rglob("*.json"))
    assert not list(tmp_path.glob("results/iter_0/labels/*.json")) and not (tmp_path / "results/database.db").exists()


@pytest.mark.workflow
def test_snakemake_stops_when_most_labels_fail_for_one_reason(tmp_path: Path) -> None:
    ase.io.write(tmp_path / "si.extxyz", small_si_structures(4))
    write_config(
        tmp_path,
        dft={**FAST_SI_DFT, "electron_maxstep": 1},
        label={"mpi": {"ntasks": 1}, "max_attempts": 1},
    )
    result = snakemake(tmp_path, check=False)
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "failed for one reason" in line]
    assert lines and "4 of 4 labels of iteration 0 failed for one reason (scf_not_converged" in lines[0]
    assert len(list(tmp_path.glob("results/iter_0/labels/*.json"))) == 4  # the failures are kept for inspection
    assert not (tmp_path / "results/iter_0/ingested.json").exists()
    assert not (tmp_path / "results/database.db").exists()


def test_a_converged_output_without_forces_stops_with_one_line_and_caches_nothing(tmp_path: Path) -> None:
    """pw.x converges, but its output loses the forces block (what a full disk or a foreign version leaves): the
    job stops with one line, exit 3, and nothing is cached as the structure's. The wrapper runs the real pw.x."""
    real = shutil.which("pw.x")
    assert real is not None
    wrapper = tmp_path / "pw_without_forces.sh"
    wrapper.write_text(f"#!/bin/sh\n{real} \"$@\" | sed '/Forces acting/,/Total force/d'\n")
    wrapper.chmod(0o755)
    full = _config(tmp_path, label={"command": str(wrapper), "mpi": {"launcher": "none"}})
    atoms = small_si_structures(1)[0]
    with pytest.raises(EnvironmentFailure) as caught:
        label_structure(atoms, full.dft, full.label, tmp_path / "work")
    message = str(caught.value)
    assert "\n" not in message and "printed no forces" in message and "nothing was cached" in message
    assert caught.value.exit_code == 3
    assert not list(Path(full.label.cache_dir).rglob("*.json"))


def test_launcher_specific_words_go_only_to_their_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    """srun_args reach srun and never mpirun, so one config runs on the cluster and on a workstation."""
    mpi = MPIConfig(ntasks=2, srun_args="--mpi=pmix", mpirun_args="--bind-to none", extra_args="-x FOO")
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    assert mpi_prefix(mpi)[:3] == ["srun", "--ntasks", "2"] and mpi_prefix(mpi)[3:] == ["-x", "FOO", "--mpi=pmix"]
    monkeypatch.delenv("SLURM_JOB_ID")
    local = mpi_prefix(mpi)
    assert local[0] == "mpirun" and "--mpi=pmix" not in local and local[-3:] == ["FOO", "--bind-to", "none"]
