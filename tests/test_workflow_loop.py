"""The whole loop through Snakemake on a tiny Si case, uninterrupted and killed at four points.

Real everything: CHGNet exploration, DIRECT, pw.x labels, pacemaker members, committee MD; scaled down
(8-atom cells, 20 BFGS steps) so that one loop runs in a couple of minutes on 2 cores. The threshold is
forced low so that iteration 1 always finds uncertain structures, labels them and trains again.

pw.x is called through a small counting wrapper (``label.command``), which logs every start and every
completed run with its folder, so the tests can count DFT calls across a kill and a resume.

Kill-and-resume: the run is started with the user's command (``mlip-pipe run``), and at a chosen moment
every process of the run (Snakemake, job scripts, mpirun, pw.x, pacemaker) is frozen and SIGKILLed at
once, as a node failure would. ``snakemake -n`` must still plan the rest; the same command (after
``--unlock`` where Snakemake asks for it) must finish the run, with no pw.x run completed twice.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import ase.db
import numpy as np
import pytest
import yaml
from ase.build import bulk
from browser import broken_links, distinct_colours, rendered_dom, screenshot

from conftest import PYTHON, REPO, SNAKEFILE, copy_run
from mlip_autopipec.data.records import ValidationReport
from mlip_autopipec.data.run_summary import run_summary
from mlip_autopipec.report import SECTION_IDS

pytestmark = [pytest.mark.workflow, pytest.mark.usefixtures("pw_available")]

MLIP_PIPE = str(Path(PYTHON).parent / "mlip-pipe")
SHORT_LOOP = REPO / "config" / "examples" / "si_short_loop.yaml"
COUNTER = "pw_calls.log"
WRAPPER = """#!/bin/sh
# Counts pw.x runs for the tests (MPI rank 0 writes; $PW_COUNTER overrides the log, for copies of a run),
# then runs the real pw.x with the same arguments.
rank="${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}"
[ "$rank" = 0 ] && echo "start $PWD" >> "${PW_COUNTER:-@COUNTER@}"
pw.x "$@"
rc=$?
[ "$rank" = 0 ] && echo "end $rc $PWD" >> "${PW_COUNTER:-@COUNTER@}"
exit $rc
"""


def write_loop_config(workdir: Path) -> None:
    wrapper = workdir / "pw_counting.sh"
    wrapper.write_text(WRAPPER.replace("@COUNTER@", str(workdir / COUNTER)))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    config = yaml.safe_load(SHORT_LOOP.read_text())
    config["max_iterations"] = 1
    config["label"]["command"] = str(wrapper)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def pw_runs(workdir: Path) -> tuple[list[str], list[str]]:
    """(folders of pw.x runs started, folders of pw.x runs completed) from the wrapper's log."""
    path = workdir / COUNTER
    lines = path.read_text().splitlines() if path.is_file() else []
    started = [line.split(" ", 1)[1] for line in lines if line.startswith("start ")]
    completed = [line.split(" ", 2)[2] for line in lines if line.startswith("end ")]
    return started, completed


def run_pipeline(workdir: Path, **popen: object) -> subprocess.Popen:
    """The user's command, in its own session so that the test can kill all of it."""
    log = open(workdir / "run.log", "a")
    return subprocess.Popen(
        [MLIP_PIPE, "run", "--config", "config.yaml", "--cores", "2"],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        **popen,
    )


# ---------------------------------------------------------------- processes


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def descendants(root: int) -> list[int]:
    tree, found, stack = _children(), [], [root]
    while stack:
        for child in tree.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def argv(pid: int) -> list[str]:
    try:
        return [part for part in (Path("/proc") / str(pid) / "cmdline").read_text().split("\0") if part]
    except OSError:
        return []


def processes_in(folder: Path) -> list[int]:
    """Live processes whose working directory is inside ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")).is_relative_to(folder):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def kill_everything(root: int) -> None:
    """A node failure: freeze every process of the run (so none can react or fork), then SIGKILL them all."""
    frozen: set[int] = set()
    for _ in range(10):
        new = [pid for pid in [root, *descendants(root)] if pid not in frozen]
        if not new:
            break
        for pid in new:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        frozen.update(new)
    for pid in frozen:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop_run(process: subprocess.Popen, folder: Path) -> None:
    """Kill what is left of a run: its process tree, and any orphan still working in its folder."""
    kill_everything(process.pid)
    for pid in processes_in(folder):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def kill_when(process: subprocess.Popen, matches: object, settle_s: float, timeout_s: float = 600) -> list[str]:
    """Wait until a process of the run satisfies ``matches(pid, argv)``, let it work ``settle_s``, then kill the run.

    Returns the matching command line. Fails when the run ends first.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the run ended (rc {process.returncode}) before the moment to kill it came")
        for pid in descendants(process.pid):
            command = argv(pid)
            if command and matches(pid, command):  # type: ignore[operator]
                time.sleep(settle_s)
                kill_everything(process.pid)
                process.wait()
                return command
        time.sleep(0.1)
    pytest.fail("timed out waiting for the moment to kill the run")


def resume(workdir: Path) -> subprocess.CompletedProcess[str]:
    """The same command again; ``snakemake --unlock`` first only when Snakemake asks for it."""
    command = [MLIP_PIPE, "run", "--config", "config.yaml", "--cores", "2"]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=900)
    if result.returncode != 0 and "--unlock" in result.stdout + result.stderr:
        subprocess.run([*command, "--unlock"], cwd=workdir, capture_output=True, text=True, timeout=120, check=True)
        result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"resumed run failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def dry_run(workdir: Path) -> str:
    result = subprocess.run(
        [PYTHON, "-m", "snakemake", "-s", str(SNAKEFILE), "--configfile", "config.yaml", "-n", "--rerun-incomplete"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"dry run failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


# ---------------------------------------------------------------- the uninterrupted loop


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("loop")
    write_loop_config(workdir)
    started = time.monotonic()
    process = run_pipeline(workdir)
    try:
        assert process.wait(timeout=1200) == 0, (workdir / "run.log").read_text()[-3000:]
    finally:
        stop_run(process, workdir)  # nothing of a failed or timed-out run keeps running
    (workdir / "wall_time_s.txt").write_text(f"{time.monotonic() - started:.1f}")
    return workdir


def test_short_loop_delivers_a_versioned_committee(uninterrupted: Path) -> None:
    workdir = uninterrupted
    for iteration in (0, 1):
        models = workdir / f"results/iter_{iteration}/models"
        manifest = json.loads((models / "committee.json").read_text())
        assert len(manifest["members"]) == 2 and manifest["baseline"]["name"] == "zbl"
        assert set(manifest["reference_energies"]) == {"Si"} and manifest["training_ids"]
        metrics = json.loads((models / "metrics.json").read_text())
        assert metrics["committee"]["train"]["force_rmse"] > 0 and len(metrics["members"]) == 2
        assert (models / "parity.png").stat().st_size > 1000 and (models / "learning_curve.png").stat().st_size > 1000
    threshold = json.loads((workdir / "results/iter_0/models/threshold.json").read_text())
    assert threshold["value"] == 1e-4 and "fixed" in threshold["reason"]
    status = json.loads((workdir / "results/iter_1/status.json").read_text())
    assert status["status"] == "continue"
    evidence = status["evidence"]
    assert evidence["checks"] > 0 and evidence["uncertain_checks"] > 0 and evidence["labels_so_far"] == 12
    assert 1 <= evidence["selected"] <= 3
    ingested = json.loads((workdir / "results/iter_1/ingested.json").read_text())
    assert sum(ingested["labels"].values()) == evidence["selected"]
    # iteration 1 trained on more data than iteration 0; the delivered committee is iteration 1's
    first = json.loads((workdir / "results/iter_0/models/committee.json").read_text())
    second = json.loads((workdir / "results/iter_1/models/committee.json").read_text())
    assert len(second["training_ids"]) + len(second["test_ids"]) > len(first["training_ids"]) + len(first["test_ids"])
    final = json.loads((workdir / "results/final/committee.json").read_text())
    assert final["config_hash"] == second["config_hash"]
    # the new structures went through the states: selected by the simulation, then labelled
    with ase.db.connect(str(workdir / "results/database.db")) as db:
        new = [row for row in db.select(origin="active_learning")]
    assert len(new) == evidence["selected"]
    for row in new:
        assert row.state in ("labelled", "failed") and row.iteration == 1
        assert [step["state"] for step in row.data["history"]][:2] == ["selected_for_labelling", row.state]
    started, completed = pw_runs(workdir)
    assert len(started) == len(completed) == len(set(completed)) >= 12 + evidence["selected"]
    # the per-iteration summary (mlip-pipe status) counts the same pw.x runs as the wrapper did
    summary = run_summary(workdir / "results")
    assert [it["iteration"] for it in summary] == [0, 1] and sum(it["pw_runs"] for it in summary) == len(completed)
    assert summary[1]["status"] == "continue" and summary[0]["test_force_rmse"] > 0 and summary[1]["pw_seconds"] > 0
    shown = subprocess.run([MLIP_PIPE, "status"], cwd=workdir, capture_output=True, text=True, timeout=120, check=True).stdout
    assert "Iterations" in shown and "continue" in shown
    # the user's command ends with how the run ended: the short loop is cut by max_iterations while still learning
    told = (workdir / "run.log").read_text()
    assert "loop: stopped after iteration 1: max_iterations reached" in told and "targets unmet" in told
    assert "Nothing to be done" in dry_run(workdir)


# ---------------------------------------------------------------- validation of the delivered committee

CHEAP_VALIDATION = {
    "enabled": True,
    "every_iteration": False,  # the delivered committee only: test_per_iteration_validation_* covers the other
    "stability_ps": 0.5,
    "set_per_temperature": 2,
    "set_md_snapshots": 1,
}


def run_copy(workdir: Path) -> dict[str, str]:
    """`mlip-pipe run` in a copy of a run, its pw.x runs counted in the copy's own log (not the original's, which
    the killed-run tests compare against); returns that environment."""
    counting = {**os.environ, "PW_COUNTER": str(workdir / COUNTER)}
    run = subprocess.run(
        [MLIP_PIPE, "run", "--config", "config.yaml", "--cores", "2"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=1800,
        env=counting,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return counting


@dataclass(frozen=True)
class ValidatedRun:
    """A copy of the loop validated by its `validate` rule (cheap settings), shared by the validation and report tests."""

    workdir: Path
    planned: str  # `snakemake -n` before validation was enabled
    pw_started_before: int  # pw.x runs the copy had started before the validation
    env: dict[str, str]  # counts this copy's pw.x runs in its own log


@pytest.fixture(scope="module")
def validated(uninterrupted: Path, tmp_path_factory: pytest.TempPathFactory) -> ValidatedRun:
    """The `validate` rule (and the report rule after it) run once on a copy of the loop with validation enabled."""
    workdir = copy_run(uninterrupted, tmp_path_factory.mktemp("validated") / "run")
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["validation"] = CHEAP_VALIDATION
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    planned = dry_run(workdir)
    started, _ = pw_runs(workdir)
    counting = run_copy(workdir)
    return ValidatedRun(workdir, planned, len(started), counting)


def test_validate_rule_then_command_reuse_every_dft_label(validated: ValidatedRun) -> None:
    """The `validate` rule runs on the delivered committee after the loop; `mlip-pipe validate` on the same committee
    then computes no DFT (label cache) and gives the same DFT column; `mlip-pipe status` shows the table."""
    workdir, counting = validated.workdir, validated.env
    assert "validate" in validated.planned and "train_member" not in validated.planned  # only the new stages are planned
    report = ValidationReport.read(workdir / "results/validation/validation.json")
    groups = {row.group for row in report.rows}
    for group in (
        "equation of state",
        "elastic constants",
        "phonons",
        "point defects",
        "validation set",
        "uncertainty calibration",
        "stability",
    ):
        assert group in groups, f"no {group} rows in {sorted(groups)}"
    after_rule, _ = pw_runs(workdir)
    spent = len(after_rule) - validated.pw_started_before
    assert spent >= report.dft_runs > 0  # each label one pw.x run, more when the ladder retried
    compared = [row for row in report.rows if row.dft is not None]
    assert len(compared) >= 8 and all(row.error == pytest.approx(row.potential - row.dft) for row in compared)
    lattice = next(row for row in report.rows if row.quantity.startswith("lattice constant"))
    assert 5.3 < lattice.dft < 5.6 and lattice.n_samples  # DFT Si with the cheap settings, on one k-point mesh
    assert {row.mark for row in report.rows} <= {"pass", "warn", "fail", "info"} and report.judged
    for figure in report.figures.values():
        assert (workdir / "results/validation" / figure).read_bytes()[:4] == b"\x89PNG"
    again = subprocess.run(
        [MLIP_PIPE, "validate", "--config", "config.yaml", "--output", "results/validation_again"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=1800,
        env=counting,
    )
    assert again.returncode == (0 if report.passed else 1), again.stdout[-3000:] + again.stderr[-3000:]
    second = ValidationReport.read(workdir / "results/validation_again/validation.json")
    assert second.dft_runs == 0 and len(pw_runs(workdir)[0]) == len(after_rule)  # every DFT number from the label cache
    assert [row.dft for row in second.rows] == pytest.approx([row.dft for row in report.rows], nan_ok=True)
    assert "Validation of" in again.stdout and ("validation:" in again.stderr) == (not report.passed)
    shown = subprocess.run([MLIP_PIPE, "status"], cwd=workdir, capture_output=True, text=True, timeout=120, check=True).stdout
    assert "Validation of" in shown and "lattice constant" in shown


def test_the_accuracy_yardstick_reads_the_validated_run(validated: ValidatedRun, tmp_path: Path) -> None:
    """benchmarks/demo_validation.py keeps a finished run's validation rows and compares them with an earlier one:
    against itself every judged row has the ratio 1 and none is counted as closer to DFT."""
    script = REPO / "benchmarks" / "demo_validation.py"
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    run = [PYTHON, str(script), "--run", str(validated.workdir)]
    made = subprocess.run(
        [*run, "--reference", str(tmp_path / "none.json"), "--json", str(first)], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr[-2000:]
    written = json.loads(first.read_text())
    report = ValidationReport.read(validated.workdir / "results/validation/validation.json")
    assert len(written["delivered"]["rows"]) == len(report.rows) and written["reference"] is None
    assert written["delivered"]["passed"] == report.passed and written["dft"]["ecutwfc"] > 0
    again = subprocess.run([*run, "--reference", str(first), "--json", str(second)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    compared = json.loads(second.read_text())["reference"]
    assert compared["compared"] == len(compared["rows"]) > 0 and compared["closer_to_dft"] == 0
    assert all(row["ratio"] == pytest.approx(1.0) for row in compared["rows"] if row["ratio"] is not None)
    missing = subprocess.run([PYTHON, str(script), "--run", str(tmp_path)], capture_output=True, text=True)
    assert missing.returncode != 0 and "give --run a finished run folder" in missing.stderr


def test_per_iteration_validation_is_the_stopping_rule(uninterrupted: Path, tmp_path: Path) -> None:
    """With validation.every_iteration the table decides: the finished loop, validated each iteration (equation of
    state only, tolerances that iteration 0's committee meets), stops at iteration 1 and delivers committee 0."""
    workdir = copy_run(uninterrupted, tmp_path / "run")
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["validation"] = {
        "enabled": True,
        "every_iteration": True,
        "checks": ["equation of state"],
        "lattice_tolerance": 0.5,
        "bulk_modulus_tolerance": 20.0,
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    planned = dry_run(workdir)
    assert re.search(r"validate_iteration\s+1", planned), planned[-2000:]
    run_copy(workdir)
    table = ValidationReport.read(workdir / "results/iter_0/validation/validation.json")
    assert [row.quantity for row in table.judged] == ["lattice constant a (conventional cubic)", "bulk modulus B"]
    assert all(row.mark == "pass" for row in table.judged)
    status = json.loads((workdir / "results/iter_1/status.json").read_text())
    assert status["status"] == "converged" and "every one of the 2 rows of the validation table" in status["reason"]
    assert status["evidence"]["validation_rows"] == 2 and status["evidence"]["validation_outside"] == []
    delivered = (workdir / "results/final/committee.json").read_text()
    assert delivered == (workdir / "results/iter_0/models/committee.json").read_text()  # the committee that passed
    final = ValidationReport.read(workdir / "results/validation/validation.json")
    assert final.dft_runs == 0  # the delivered committee's validation read every DFT value from the label cache


# ---------------------------------------------------------------- precise reruns after a config edit


def planned_jobs(dry_run_output: str) -> dict[str, int]:
    """Rule -> job count from a dry run's 'Job stats' table; empty when Snakemake has nothing to do."""
    if "Nothing to be done" in dry_run_output:
        return {}
    table = dry_run_output.split("Job stats:", 1)[1]
    jobs = {}
    for line in table.splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        jobs[parts[0]] = int(parts[1])
    jobs.pop("total", None)
    return jobs


def test_a_config_edit_replans_only_the_jobs_that_read_it(uninterrupted: Path, tmp_path: Path) -> None:
    """Each rule's params hold only the keys its job reads (and the tests run every job in strict mode, so a job
    reading an undeclared key fails): editing one number replans the jobs that use it and what follows them."""
    workdir = copy_run(uninterrupted, tmp_path / "run")
    original = yaml.safe_load((workdir / "config.yaml").read_text())

    def plan_with(**edits: dict) -> dict[str, int]:
        config = json.loads(json.dumps(original))
        for section, values in edits.items():
            config.setdefault(section, {}).update(values)
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
        return planned_jobs(dry_run(workdir))

    assert plan_with() == {}, "a finished run with its own config has nothing to do"
    labels = len(list(workdir.glob("results/iter_*/labels/*.json")))
    cutoff = plan_with(dft={"ecutwfc": original["dft"]["ecutwfc"] + 2.0})
    assert cutoff.get("label") == labels, cutoff  # every label (pw.x only where the cache lacks the new hash)
    assert not {"generate", "explore", "select"} & set(cutoff), cutoff
    stopping = plan_with(active_learning={"converged_uncertain_fraction": 0.5})
    assert "simulate" in stopping and not {"simulate_md", "train_committee", "train_member", "label"} & set(stopping), stopping
    temperatures = [*original["temperatures"], 700.0]
    hotter = plan_with(explore={"temperatures": temperatures})
    assert hotter.get("explore") == 1 and "generate" not in hotter, hotter  # only the new temperature's trajectory


# ---------------------------------------------------------------- the HTML report of the validated run


def test_report_of_the_validated_run_renders_in_a_browser(validated: ValidatedRun, uninterrupted: Path, tmp_path: Path) -> None:
    """`mlip-pipe report` on the validated run: every section drawn (none says its input is missing), every image
    rendered by a real headless chromium, no broken link, a screenshot that is not blank, and the Snakemake report."""
    # the report rule ran at the end of the unvalidated loop too; its validation section says there is none
    unvalidated = (uninterrupted / "results/report/index.html").read_text()
    assert "No validation: results/validation/validation.json is absent" in unvalidated
    workdir = copy_run(validated.workdir, tmp_path / "run")
    assert "No Snakemake report" in (workdir / "results/report/index.html").read_text()  # the rule's page, before the command
    done = subprocess.run(
        [MLIP_PIPE, "report", "--config", "config.yaml"], cwd=workdir, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    index, provenance = workdir / "results/report/index.html", workdir / "results/report/snakemake_report.html"
    page = index.read_text()
    assert re.findall(r'<h2 id="([^"]+)"', page) == list(SECTION_IDS) and 'class="missing"' not in page
    for figure in ("equation-of-state", "phonons", "stability-rdf"):
        assert f'id="validation-{figure}"' in page
    assert '<span class="mark mark-' in page and '<a href="snakemake_report.html">' in page
    assert broken_links(index) == []
    assert provenance.stat().st_size > 1_000_000  # Snakemake's report: its scripts, the rule graph, the embedded results
    snakemake_report = provenance.read_text(errors="replace")
    assert "train_committee" in snakemake_report and "results/report/index.html" in snakemake_report
    dom = rendered_dom(index, tmp_path / "profile")
    images = page.count("<img ")
    assert images >= 2 + 1 + 1 + 3 + 1  # parity of iterations 0 and 1, learning curve, uncertainty, validation, timing
    assert f'data-images="{images}"' in dom and 'data-broken-images="0"' in dom, dom[-2000:]
    assert re.findall(r'<h2 id="([^"]+)"', dom) == list(SECTION_IDS)  # the browser's own DOM
    shot = screenshot(index, tmp_path / "report.png", tmp_path / "profile-shot")
    assert distinct_colours(shot) > 1000, "the screenshot of the report is (nearly) blank"
    # a committee that cannot be evaluated any more: its training job's parity plot instead, and the page says why
    shutil.rmtree(workdir / "results/iter_0/models/member_00")
    again = subprocess.run(
        [MLIP_PIPE, "report", "--no-snakemake-report"], cwd=workdir, capture_output=True, text=True, timeout=900
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    page = index.read_text()
    assert "iteration 0: the committee could not be evaluated here" in page and page.count("<img ") == images
    assert broken_links(index) == [] and '<a href="snakemake_report.html">' in page


# ---------------------------------------------------------------- kill and resume


def _cwd_text(pid: int, name: str) -> str:
    try:
        return (Path(os.readlink(f"/proc/{pid}/cwd")) / name).read_text(errors="replace")
    except OSError:
        return ""


def is_pw_mid_scf(pid: int, command: list[str]) -> bool:
    """pw.x running and already in its SCF loop: a half-written output and scratch lie on disk."""
    return Path(command[0]).name == "pw.x" and "iteration #" in _cwd_text(pid, "espresso.pwo")


def is_member_mid_export(pid: int, command: list[str]) -> bool:
    """A member past its fit, in pacemaker's export or active-set tool: its potential file is on disk, its
    member.json (what marks the member finished) is not."""
    return any(Path(part).name in ("pace_yaml2yace", "pace_activeset") for part in command[:2])


def is_committee_md(pid: int, command: list[str]) -> bool:
    return any(part.endswith("simulate_md.py") for part in command)


def is_ingesting(pid: int, command: list[str]) -> bool:
    return any(part.endswith("ingest.py") for part in command)


# The moments of a node failure, in the order the run reaches them: a pw.x run mid-SCF (iteration 0), a member of
# iteration 0's committee in pacemaker's export, a committee MD job, then an ingest of labels into the database (the
# ingests run after the committee MD checkpoint, not before the first training).
KILL_MOMENTS = [
    ("label", is_pw_mid_scf, 0.0),
    ("training", is_member_mid_export, 0.0),
    ("simulate", is_committee_md, 1.0),
    ("ingest", is_ingesting, 1.0),
]


def unlock(workdir: Path) -> None:
    """What a user does after a node failure when Snakemake says the folder is locked."""
    command = [MLIP_PIPE, "run", "--config", "config.yaml", "--cores", "2", "--unlock"]
    subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=120, check=True)


def test_run_killed_at_four_moments_resumes_without_repeating_dft(uninterrupted: Path, tmp_path: Path) -> None:
    """One run killed four times (each a node failure: every process frozen, then SIGKILLed), each time started again
    with the same command until the next moment comes, then finished: no pw.x run completed twice, as many as
    without the kills, and the same labels and committee as the uninterrupted run."""
    write_loop_config(tmp_path)
    killed_in = {}
    for moment, matches, settle_s in KILL_MOMENTS:
        process = run_pipeline(tmp_path)
        try:
            killed_in[moment] = kill_when(process, matches, settle_s)
            deadline = time.monotonic() + 10  # SIGKILL is delivered asynchronously
            while (survivors := {pid: " ".join(argv(pid)) for pid in processes_in(tmp_path)}) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            stop_run(process, tmp_path)
        assert not survivors, f"processes survived the kill during {moment} (no node failure simulated): {survivors}"
        plan = dry_run(tmp_path)  # a dry run still plans the rest of the run
        assert "Job stats" in plan or "jobs" in plan, plan[-2000:]
        _, completed = pw_runs(tmp_path)
        assert len(completed) == len(set(completed)), f"a pw.x run was repeated after the kill during {moment}"
        unlock(tmp_path)
    resume(tmp_path)
    assert (tmp_path / "results/final/committee.json").is_file() and (tmp_path / "results/iter_1/models/committee.json").is_file()
    _, completed = pw_runs(tmp_path)
    _, reference = pw_runs(uninterrupted)
    assert len(completed) == len(set(completed)), f"a pw.x run was repeated after the kills ({killed_in})"
    assert len(completed) == len(reference), f"{len(completed)} pw.x runs with the kills, {len(reference)} without"
    assert "Nothing to be done" in dry_run(tmp_path)
    assert_same_run(uninterrupted, tmp_path)


def labelled_energies(workdir: Path) -> dict[str, float]:
    """Structure id -> DFT energy (eV) of every labelled structure in the run's index."""
    with ase.db.connect(str(workdir / "results/database.db")) as db:
        return {row.structure_id: float(row.energy) for row in db.select(state="labelled")}


def committee_prediction(workdir: Path) -> tuple[float, np.ndarray]:
    """The delivered committee's energy and forces on one fixed rattled Si cell."""
    from mlip_autopipec.potentials.committee import CommitteeCalculator

    probe = bulk("Si", "diamond", a=5.45, cubic=True)
    probe.rattle(0.05, seed=11)
    probe.calc = CommitteeCalculator(workdir / "results/final/committee.json", extrapolation_grade=False)
    return float(probe.get_potential_energy()), probe.get_forces()


def assert_same_run(first: Path, second: Path) -> None:
    """Same config, same seed: the same structures labelled with the same DFT energies, and the same committee
    (issue 12: a run is reproducible, whatever interrupted it)."""
    labels, again = labelled_energies(first), labelled_energies(second)
    assert sorted(labels) == sorted(again), f"different structures labelled: {sorted(set(labels) ^ set(again))}"
    assert all(abs(labels[sid] - again[sid]) < 1e-6 for sid in labels), "the same structures got different DFT energies"
    one = json.loads((first / "results/final/committee.json").read_text())
    two = json.loads((second / "results/final/committee.json").read_text())
    assert one["training_ids"] == two["training_ids"] and one["test_ids"] == two["test_ids"]
    energy, forces = committee_prediction(first)
    energy_again, forces_again = committee_prediction(second)
    assert abs(energy - energy_again) < 1e-5 and np.abs(forces - forces_again).max() < 1e-5
