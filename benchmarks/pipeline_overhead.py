"""The pipeline's own overhead in a finished run: the share of the work that is neither pw.x nor training.

Why: the workflow (Snakemake, job start-up, the Python around each stage, exploration, committee MD, ingest,
reports) should cost little next to the two things that cannot be avoided, DFT and fitting the potentials.
Goal: the overhead share below 10 %.

    .venv/bin/python benchmarks/pipeline_overhead.py --run /tmp/demo3 [--json PATH] [--goal 0.10]

Definition (core-seconds, because jobs run side by side: with ``--cores 2`` two jobs overlap, so wall times
of jobs cannot simply be added to the run's wall time):

- job core-seconds = sum over every job Snakemake finished of (end - start) x its threads. Start, end and rule come
  from Snakemake's job records (``.snakemake/metadata/``, as in ``report/stage_times.py``); the threads Snakemake
  gave each job come from its logs (``.snakemake/log/*.snakemake.log``, ``threads:`` of the job that wrote the
  output; 1 when the log names none).
- pw.x core-seconds = sum of the pw.x attempts' wall times (``results/iter_*/labels/*.json``: ``attempts[].wall_time_s``,
  label-cache hits excluded: they ran no pw.x in this run) x the MPI ranks of a label (``label.mpi.ntasks`` of
  ``results/exec_config_dump.yaml``), plus the validation stages' DFT seconds
  (``results/validation/validation.json`` and ``results/iter_*/validation/validation.json``: ``dft_seconds``, cache
  hits excluded there too) x the same ranks.
- training core-seconds = sum of the committee members' fit times (``results/iter_*/models/member_*/member.json``:
  ``wall_time_s``) x the threads of their ``train_member`` job, plus the ``train_plan`` jobs' core-seconds: planning
  chooses the model (the linear ACE basis, loss weights and ridge by cross-validated fits, each candidate's stability
  probe MD), which is the fit's own model selection; the few seconds of start-up of those jobs count with it.
- overhead share = (job core-seconds - pw.x - training) / job core-seconds.

Also printed, not judged: the span (first job start to last job end), the busy wall time (the union of the jobs'
intervals), the cores Snakemake was given, the idle core-seconds (cores x busy wall - job core-seconds: cores that
had no job to run, from the DAG's serial stretches and Snakemake's scheduling) and the share with that idle time
counted as overhead too; and the overhead per rule. Limits: Snakemake keeps the last record per output, so a job
that failed and was rerun counts once (its last run), and time between runs (a killed and resumed run) is not
counted; nominal threads are counted even when the machine was oversubscribed.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

GOAL = 0.10
DFT_RULES = ("label", "validate", "validate_iteration")
SELECTION_RULES = ("train_plan",)  # cross-validated basis selection and the stability probe: the fit's model selection


@dataclass(frozen=True)
class Job:
    """One finished Snakemake job: its rule, one output that names it, its start and end, its threads."""

    rule: str
    output: str
    start: float
    end: float
    threads: int

    @property
    def core_seconds(self) -> float:
        return (self.end - self.start) * self.threads


def _decode(relative: Path) -> str | None:
    """The output path a metadata file stands for (base64 of the path; long names are split into folders)."""
    name = "".join(part.lstrip("@") for part in relative.parts)
    try:
        return base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def job_threads(run: Path) -> dict[str, int]:
    """Output path -> threads of the job that wrote it, from every Snakemake log of the run (the latest wins)."""
    threads: dict[str, int] = {}
    for log in sorted((run / ".snakemake" / "log").glob("*.snakemake.log")):
        outputs: list[str] = []
        count = 1
        for line in log.read_text(errors="replace").splitlines() + [""]:
            if re.match(r"^(local)?rule \w+:$", line) or not line.startswith("    "):
                threads.update(dict.fromkeys(outputs, count))
                outputs, count = [], 1
            elif line.startswith("    output: "):
                outputs = [item.strip() for item in line.removeprefix("    output: ").split(",")]
            elif line.startswith("    threads: "):
                count = int(line.split(":")[1])
    return threads


def provided_cores(run: Path) -> int | None:
    """The cores Snakemake was given in the run's latest log (``Provided cores: N``)."""
    found = None
    for log in sorted((run / ".snakemake" / "log").glob("*.snakemake.log")):
        for match in re.finditer(r"^Provided cores: (\d+)", log.read_text(errors="replace"), re.MULTILINE):
            found = int(match.group(1))
    return found


def job_records(run: Path) -> dict[str, dict[str, Any]]:
    """Output path -> Snakemake's record of the finished job that wrote it (incomplete ones left out)."""
    metadata = run / ".snakemake" / "metadata"
    records = {}
    for path in sorted(p for p in metadata.rglob("*") if p.is_file()):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        output = _decode(path.relative_to(metadata))
        rule, start, end = record.get("rule"), record.get("starttime"), record.get("endtime")
        if output and not record.get("incomplete") and isinstance(rule, str) and start is not None and end is not None:
            records[output] = record
    return records


def snakemake_jobs(records: dict[str, dict[str, Any]], threads: dict[str, int]) -> list[Job]:
    """Every finished job of the run, once (outputs of one job share rule, job hash and end time)."""
    jobs: dict[tuple[str, object, float], Job] = {}
    for output, record in records.items():
        rule, start, end = record["rule"], float(record["starttime"]), float(record["endtime"])
        key = (rule, record.get("job_hash"), end)
        job = Job(rule, output, start, end, threads.get(output, 1))
        if key not in jobs or job.start < jobs[key].start:  # the earliest start of its outputs is the job's
            jobs[key] = job
    return sorted(jobs.values(), key=lambda job: job.start)


def label_ranks(run: Path) -> int:
    """MPI ranks of one pw.x run: ``label.mpi.ntasks`` of the run's expanded config (1 when absent)."""
    dump = run / "results" / "exec_config_dump.yaml"
    config = yaml.safe_load(dump.read_text()) if dump.is_file() else {}
    try:
        return int(config["label"]["mpi"]["ntasks"])
    except (TypeError, KeyError, ValueError):
        return 1


def pw_seconds(run: Path, recorded: set[str]) -> tuple[dict[str, float], int]:
    """(wall seconds of pw.x per rule that ran it, pw.x runs): labels (cache misses, every attempt) and validation DFT.

    Only outputs of jobs in ``recorded`` count: a job Snakemake did not record as finished has no time to subtract from.
    """
    results = run / "results"
    seconds = {"label": 0.0, "validate": 0.0, "validate_iteration": 0.0}
    runs = 0
    for path in results.glob("iter_*/labels/*.json"):
        record = json.loads(path.read_text())
        if record.get("cache_hit") or str(path.relative_to(run)) not in recorded:
            continue
        attempts = record.get("attempts") or []
        runs += len(attempts) or 1
        times = [float(a.get("wall_time_s") or 0.0) for a in attempts] or [float(record.get("wall_time_s") or 0.0)]
        seconds["label"] += sum(times)
    reports = [("validate", results / "validation" / "validation.json")]
    reports += [("validate_iteration", path) for path in results.glob("iter_*/validation/validation.json")]
    for rule, path in reports:
        if path.is_file() and str(path.relative_to(run)) in recorded:
            report = json.loads(path.read_text())
            seconds[rule] += float(report.get("dft_seconds") or 0.0)
            runs += int(report.get("dft_runs") or 0)
    return seconds, runs


def training_core_seconds(run: Path, threads: dict[str, int], recorded: set[str]) -> tuple[float, int]:
    """(fit core-seconds, members) of every committee member trained in the run (``results/final`` holds copies)."""
    total, members = 0.0, 0
    for path in (run / "results").glob("iter_*/models/member_*/member.json"):
        wall = json.loads(path.read_text()).get("wall_time_s")
        output = str(path.relative_to(run))
        if wall is not None and output in recorded:
            total += float(wall) * threads.get(output, 1)
            members += 1
    return total, members


def busy_wall(jobs: list[Job]) -> float:
    """Seconds during which at least one job ran (the union of the jobs' intervals)."""
    total, reach = 0.0, float("-inf")
    for job in sorted(jobs, key=lambda j: j.start):
        if job.end > reach:
            total += job.end - max(job.start, reach)
            reach = job.end
    return total


def per_rule(jobs: list[Job], work: dict[str, float]) -> list[dict[str, Any]]:
    """Core-seconds per rule, with the pw.x or training inside it (``work``) and the remainder (that rule's overhead)."""
    by_rule: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        by_rule[job.rule].append(job)
    rows = []
    for rule, group in by_rule.items():
        core = sum(job.core_seconds for job in group)
        inside = work.get(rule, 0.0)
        rows.append(
            {
                "rule": rule,
                "jobs": len(group),
                "core_seconds": core,
                "work_core_seconds": inside,
                "overhead_core_seconds": core - inside,
            }
        )
    return sorted(rows, key=lambda row: -row["overhead_core_seconds"])


def overhead(run: Path, goal: float = GOAL) -> dict[str, Any]:
    """Every number of the measurement for the run folder ``run`` (see the module's docstring)."""
    records = job_records(run)
    threads = job_threads(run)
    jobs = snakemake_jobs(records, threads)
    if not jobs:
        raise SystemExit(f"{run}: no finished Snakemake job recorded (.snakemake/metadata); is it a run folder?")
    ranks = label_ranks(run)
    pw, pw_runs = pw_seconds(run, set(records))
    train_core, members = training_core_seconds(run, threads, set(records))
    unrecorded = [name for name in ("results/validation/validation.json",) if (run / name).is_file() and name not in records]
    selection_core = sum(job.core_seconds for job in jobs if job.rule in SELECTION_RULES)
    work = {rule: seconds * ranks for rule, seconds in pw.items()} | {"train_member": train_core}
    work |= {rule: sum(job.core_seconds for job in jobs if job.rule == rule) for rule in SELECTION_RULES}
    pw_core = sum(pw.values()) * ranks
    job_core = sum(job.core_seconds for job in jobs)
    other = job_core - pw_core - train_core - selection_core
    busy = busy_wall(jobs)
    cores = provided_cores(run)
    idle = max(0.0, (cores or 0) * busy - job_core) if cores else None
    share = other / job_core
    return {
        "run": str(run),
        "definition": "overhead share = (job core-seconds - pw.x core-seconds - training core-seconds) / job core-seconds",
        "jobs": len(jobs),
        "cores": cores,
        "span_s": max(job.end for job in jobs) - min(job.start for job in jobs),
        "busy_wall_s": busy,
        "job_core_seconds": job_core,
        "pw_ranks": ranks,
        "pw_runs": pw_runs,
        "pw_wall_s": sum(pw.values()),
        "pw_core_seconds": pw_core,
        "training_members": members,
        "training_core_seconds": train_core + selection_core,
        "member_fit_core_seconds": train_core,
        "model_selection_core_seconds": selection_core,
        "overhead_core_seconds": other,
        "overhead_share": share,
        "idle_core_seconds": idle,
        "overhead_share_with_idle": (other + idle) / (cores * busy) if cores and idle is not None else None,
        "goal": goal,
        "met": share < goal,
        "per_rule": per_rule(jobs, work),
        "not_counted": [f"{name}: written, but no finished job recorded by Snakemake" for name in unrecorded],
    }


def print_report(numbers: dict[str, Any]) -> None:
    """The measurement as a few lines and a per-rule table (rich)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    n = numbers
    console.print(
        f"run {n['run']}: {n['jobs']} jobs on {n['cores']} cores; span {n['span_s']:.0f} s, busy wall {n['busy_wall_s']:.0f} s"
    )
    console.print(
        f"job core-seconds {n['job_core_seconds']:.0f}: pw.x {n['pw_core_seconds']:.0f} ({n['pw_runs']} runs, {n['pw_wall_s']:.0f} s x "
        f"{n['pw_ranks']} ranks), training {n['training_core_seconds']:.0f} ({n['training_members']} members' fits "
        f"{n['member_fit_core_seconds']:.0f}, model selection in train_plan {n['model_selection_core_seconds']:.0f}), "
        f"everything else {n['overhead_core_seconds']:.0f}"
    )
    console.print(f"definition: {n['definition']}")
    verdict = "[green]met[/green]" if n["met"] else "[red]unmet[/red]"
    console.print(f"overhead share {n['overhead_share']:.1%} (goal < {n['goal']:.0%}: {verdict})")
    if n["overhead_share_with_idle"] is not None:
        console.print(
            f"not judged: idle core-seconds {n['idle_core_seconds']:.0f}; counting them too, the share is {n['overhead_share_with_idle']:.1%}"
        )
    table = Table(title="core-seconds per rule, by overhead")
    for column in ("rule", "jobs", "core-s", "pw.x / training core-s", "overhead core-s"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for row in n["per_rule"]:
        table.add_row(
            row["rule"],
            str(row["jobs"]),
            f"{row['core_seconds']:.0f}",
            f"{row['work_core_seconds']:.0f}",
            f"{row['overhead_core_seconds']:.0f}",
        )
    console.print(table)
    for line in n["not_counted"]:
        console.print(f"not counted: {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a finished run folder (holds .snakemake and results)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument("--goal", type=float, default=GOAL, help="largest acceptable overhead share (default 0.10)")
    args = parser.parse_args(argv)
    numbers = overhead(args.run.resolve(), args.goal)
    print_report(numbers)
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
