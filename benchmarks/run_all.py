"""Every benchmark in benchmarks/, each ours against its named reference in the same run, as one table of ratios.

Why: the benchmarks answer "is it fast / good enough" one script at a time; the report needs them side by side,
each ratio with its goal, in one JSON. Each benchmark runs as a subprocess (in its own process group) with its own
timeout and writes its own JSON (``--json``), so one that fails, times out or is skipped is a row saying so in one
line, not a crash of the suite. The pipeline's own overhead (``pipeline_overhead.py``: the share of a finished Si
run's core-seconds outside pw.x and training, goal < 10 %) is a row too, measured on ``--overhead-run DIR`` or,
without it, on the short-loop run that ``loop_profile`` kept in this suite's workdir.

    nice -n 15 benchmarks/run_all --quick                       # every benchmark at its smallest meaningful size
    nice -n 15 benchmarks/run_all --only descriptor_throughput --quick
    benchmarks/run_all --quick --overhead-run /tmp/demo3 --json benchmarks/run_all.json

Options: ``--quick`` (small sizes, short timeouts; the cost is in README.md), ``--only NAME`` (repeatable;
``--list`` prints the names), ``--workdir DIR`` (each benchmark's JSON and log, default /tmp/run_all[_quick]),
``--json PATH`` (the table, default benchmarks/run_all.json, rewritten after each benchmark), ``--overhead-run DIR``,
``--timeout-scale X``, ``--skip NAME`` (a skipped row), ``--resume`` (benchmarks that finished in this workdir in an
earlier run of the suite are not run again: their rows are reused).

Table columns: benchmark; compared (ours vs the reference, and on what); ratio (ours over the reference, in the
direction of the goal); goal; met (met / unmet / n/a when the script states no goal; failed, timeout or skipped with
its reason when there is no number). The JSON holds the same rows plus each benchmark's command, exit status,
seconds, log and raw JSON path.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYTHON = sys.executable
ACCURACY_QUICK_RUN = Path("/tmp/accuracy_si_quick")


@dataclass
class Row:
    """One line of the table: what is compared, the ratio and its goal, and how the benchmark ended."""

    benchmark: str
    compared: str
    ratio: float | None = None
    goal: str = "none stated"
    met: bool | None = None
    status: str = "ok"  # ok | failed | timeout | skipped
    reason: str = ""
    raw_json: str | None = None
    log: str | None = None
    seconds: float | None = None
    command: list[list[str]] = field(default_factory=list)
    returncode: int | None = None

    @property
    def verdict(self) -> str:
        if self.status != "ok":
            return f"{self.status}: {self.reason}"
        return "n/a" if self.met is None else ("met" if self.met else "unmet")


def judged(benchmark: str, compared: str, ratio: float | None, op: str | None, target: float | None, note: str = "") -> Row:
    """A row whose goal is ``ratio op target`` (op one of <=, <, >=, ==); no goal when ``op`` is None."""
    if op is None or target is None:
        return Row(benchmark, compared, ratio, reason=note)
    met = (
        None if ratio is None else {"<=": ratio <= target, "<": ratio < target, ">=": ratio >= target, "==": ratio == target}[op]
    )
    return Row(benchmark, compared, ratio, f"{op} {target:g}", False if ratio is None else met, reason=note)


# ---------------------------------------------------------------- how each benchmark's JSON becomes rows


def descriptor_rows(data: dict[str, Any]) -> list[Row]:
    frames = data["frames"]
    return [
        judged(
            "descriptor_throughput",
            f"ours (Numba power spectrum) vs dscribe SOAP, frames/s, {name} {frames}x{s['atoms']} atoms",
            s["ratio"],
            ">=",
            3.0,
        )
        for name, s in data["systems"].items()
    ]


def scaling_rows(data: dict[str, Any]) -> list[Row]:
    first, last = data["mixture"][0], data["mixture"][-1]
    decades = math.log10(last["n"] / first["n"])
    growth = ((last["wall"] - last["source"]) / (first["wall"] - first["source"])) ** (1.0 / decades)
    exponent = max(1.0, math.log(last["wall"] / first["wall"]) / math.log(last["n"] / first["n"]))
    million = last["wall"] * (1_000_000 / last["n"]) ** exponent
    how = "measured" if last["n"] >= 1_000_000 else f"extrapolated from {last['n']:,} as n^{exponent:.2f}"
    coverage = f"DIRECT vs random picks, coverage of {last['n']:,} frames ({last['n_selected']} picked)"
    return [
        judged(
            "direct_scaling",
            f"DIRECT-only time growth per 10x frames ({first['n']:,} -> {last['n']:,}) vs linear (x10)",
            growth / 10,
            "<=",
            1.2,
        ),
        judged("direct_scaling", f"DIRECT on 1M frames incl. feature source ({how}) vs 20 min", million / 1200, "<=", 1.0),
        judged("direct_scaling", coverage, last["coverage"] / last["random_coverage"], None, None),
    ]


def efficiency_rows(data: dict[str, Any]) -> list[Row]:
    largest = max(data["sizes"])
    rows = []
    for name, model in data["models"].items():
        crossing = model["crossing"]
        ratio = None if crossing is None else crossing / largest
        note = "" if crossing is not None else f"DIRECT never reached random's error at N = {largest}"
        rows.append(
            judged(
                "direct_data_efficiency",
                f"DIRECT vs random frames for random's force RMSE at N={largest} ({name} model, pool {data['pool']})",
                ratio,
                "<=",
                0.5,
                note,
            )
        )
    return rows


def ace_rows(data: dict[str, Any]) -> list[Row]:
    return [
        judged(
            "ace_md_speed",
            f"ACE member (+ZBL) vs {data['surrogate']}, MD atom-steps/s, 64-atom Si, {data['steps']} steps",
            data["ratio"],
            ">=",
            50.0,
        )
    ]


def training_rows(data: dict[str, Any]) -> list[Row]:
    compared = (
        f"MACE member ({data['mace_epochs']} epochs) vs pacemaker ACE member (maxiter {data['ace_maxiter']}), training wall time"
    )
    return [judged("training_time", compared, data["ratio"], None, None)]


def label_rows(data: dict[str, Any]) -> list[Row]:
    compared = f"Snakemake (one job per label) vs plain library loop, wall time of {data['structures']} 2-atom Si labels"
    return [judged("label_throughput", compared, data["ratio"], None, None)]


def profile_rows(data: dict[str, Any]) -> list[Row]:
    compared = f"pw.x vs whole wall time of the Si short loop ({len(data['iterations'])} iterations, {data['wall_s']:.0f} s)"
    return [judged("loop_profile", compared, data["pw_share"], None, None)]


def fingerprint_rows(data: dict[str, Any]) -> list[Row]:
    compared = (
        f"fresh Si short loop vs committed fingerprint: differences ({data['labels']} labels, {data['committees']} committees)"
    )
    first = data["differences"][0] if data["differences"] else ""
    return [judged("loop_fingerprint", compared, float(len(data["differences"])), "==", 0.0, first)]


def generation_rows(data: dict[str, Any]) -> list[Row]:
    return [
        Row(
            "generation_report",
            f"{name}: {d['structures']} structures generated in {d['wall_s']:.0f} s (no reference in the script)",
            reason="",
        )
        for name, d in data.items()
    ]


def accuracy_rows(data: dict[str, Any]) -> list[Row]:
    tag = " (quick: smoke scale)" if data.get("quick") else ""
    rows = [
        judged(
            "accuracy_si",
            f"pipeline vs random picks: DFT calls to reach random's force RMSE at its largest N{tag}",
            data.get("calls_ratio_vs_random"),
            "<=",
            0.5,
        ),
        judged(
            "accuracy_si", f"DIRECT alone vs random picks: the same{tag}", data.get("calls_ratio_direct_vs_random"), None, None
        ),
    ]
    for goal in data.get("goals", [])[:2]:
        rows.append(Row("accuracy_si", f"{goal['goal']}{tag}: {goal['value']}", goal="as stated", met=bool(goal["met"])))
    return rows


def gpu_rows(data: dict[str, Any]) -> list[Row]:
    ratios = data.get("ratio_cpu_over_cuda") or {}
    rows = [judged("gpu_speed", f"CUDA vs CPU, {key} wall time (CPU/CUDA)", value, None, None) for key, value in ratios.items()]
    checks = data.get("checks") or []
    passed = sum(bool(check.get("passed")) for check in checks)
    rows.append(
        judged(
            "gpu_speed",
            "CUDA vs CPU results within tolerance: checks passed / all",
            passed / len(checks) if checks else None,
            "==",
            1.0,
        )
    )
    return rows


def overhead_rows(data: dict[str, Any]) -> list[Row]:
    compared = (
        f"outside pw.x and training vs all job core-seconds, run {data['run']} "
        f"({data['job_core_seconds']:.0f} core-s, {data['pw_runs']} pw.x runs, {data['training_members']} members)"
    )
    return [judged("pipeline_overhead", compared, data["overhead_share"], "<", data["goal"])]


# ---------------------------------------------------------------- the benchmarks and their commands


@dataclass(frozen=True)
class Benchmark:
    """A benchmark script: its commands (quick and full), timeouts, and how its JSON becomes rows."""

    name: str
    what: str  # ours vs the reference, for the rows of a benchmark that gave no numbers
    commands: Callable[[Path, Path, argparse.Namespace], list[list[str]]]  # (its JSON, workdir, options)
    rows: Callable[[dict[str, Any]], list[Row]]
    timeout_s: tuple[int, int]  # quick, full
    skip: Callable[[argparse.Namespace], str | None] = lambda options: None
    fresh: tuple[str, ...] = ()  # its run folders in the workdir, removed first: a rerun must not find them done


def script(name: str, *args: str) -> list[str]:
    return [PYTHON, str(HERE / f"{name}.py"), *args]


def _accuracy_skip(options: argparse.Namespace) -> str | None:
    if options.quick and not (ACCURACY_QUICK_RUN / "results" / "validation" / "validation.json").is_file():
        return (
            f"its quick run is ~2.5 h of pw.x; run it alone first (nice -n 10 .venv/bin/python benchmarks/accuracy_si.py --quick), "
            f"then the suite reuses {ACCURACY_QUICK_RUN}"
        )
    return None


def _overhead_run(workdir: Path, options: argparse.Namespace) -> Path:
    return options.overhead_run.resolve() if options.overhead_run else workdir / "loop_profile_run"


BENCHMARKS: list[Benchmark] = [
    Benchmark(
        "descriptor_throughput",
        "ours (Numba power spectrum) vs dscribe SOAP, frames/s",
        lambda out, wd, o: [
            script("descriptor_throughput", *(["--frames", "25", "--repeats", "1"] if o.quick else []), "--json", str(out))
        ],
        descriptor_rows,
        (240, 1800),
    ),
    Benchmark(
        "direct_scaling",
        "DIRECT time growth and 1M-frame time vs linear and 20 min",
        lambda out, wd, o: [
            script("direct_scaling", *(["--sizes", "10000,100000", "--n-select", "200"] if o.quick else []), "--json", str(out))
        ],
        scaling_rows,
        (600, 3600),
    ),
    Benchmark(
        "label_throughput",
        "Snakemake (one job per label) vs plain library loop, wall time",
        lambda out, wd, o: [script("label_throughput", *(["--structures", "2"] if o.quick else []), "--json", str(out))],
        label_rows,
        (600, 1800),
    ),
    Benchmark(
        "training_time",
        "MACE member vs pacemaker ACE member, training wall time",
        lambda out, wd, o: [
            script(
                "training_time",
                *(["--ace-maxiter", "10", "--mace-epochs", "2"] if o.quick else []),
                "--workdir",
                str(wd / "training_time"),
                "--json",
                str(out),
            )
        ],
        training_rows,
        (900, 3600),
        fresh=("training_time",),
    ),
    Benchmark(
        "ace_md_speed",
        "ACE member (+ZBL) vs CHGNet, MD atom-steps/s",
        lambda out, wd, o: [
            script("ace_md_speed", *(["--steps", "50", "--probe-steps", "5"] if o.quick else []), "--json", str(out))
        ],
        ace_rows,
        (900, 3600),
    ),
    Benchmark(
        "generation_report",
        "structure generation (no reference in the script)",
        lambda out, wd, o: [script("generation_report", *(["Si"] if o.quick else []), "--json", str(out))],
        generation_rows,
        (600, 3600),
    ),
    Benchmark(
        "direct_data_efficiency",
        "DIRECT vs random frames for random's force RMSE at the largest N",
        lambda out, wd, o: [
            script(
                "direct_data_efficiency",
                *(
                    ["--pool", "240", "--test", "60", "--seeds", "2", "--sizes", "10,20,40", "--grid", "10,15,20,30,40"]
                    if o.quick
                    else []
                ),
                "--json",
                str(out),
            )
        ],
        efficiency_rows,
        (1200, 7200),
    ),
    Benchmark(
        "loop_profile",
        "pw.x vs whole wall time of the Si short loop",
        lambda out, wd, o: [script("loop_profile", "--keep", str(wd / "loop_profile_run"), "--json", str(out))],
        profile_rows,
        (1200, 2400),
        fresh=("loop_profile_run",),
    ),
    Benchmark(
        "loop_fingerprint",
        "fresh Si short loop vs committed fingerprint: differences",
        lambda out, wd, o: [
            script("loop_fingerprint", "run", str(wd / "loop_fingerprint_run")),
            script(
                "loop_fingerprint",
                "compare",
                str(wd / "loop_fingerprint_run" / "fingerprint.json"),
                str(HERE / "loop_fingerprint.json"),
                "--json",
                str(out),
            ),
        ],
        fingerprint_rows,
        (1200, 2400),
        fresh=("loop_fingerprint_run",),
    ),
    Benchmark(
        "accuracy_si",
        "pipeline vs random picks: DFT calls to reach random's force RMSE",
        lambda out, wd, o: [script("accuracy_si", *(["--quick", "--reuse-run"] if o.quick else []), "--json", str(out))],
        accuracy_rows,
        (900, 12 * 3600),
        _accuracy_skip,
    ),
    Benchmark(
        "gpu_speed",
        "CUDA vs CPU, wall time and agreement",
        lambda out, wd, o: [
            script("gpu_speed", *(["--quick"] if o.quick else []), "--workdir", str(wd / "gpu_speed"), "--json", str(out))
        ],
        gpu_rows,
        (600, 1200),
    ),
    Benchmark(
        "pipeline_overhead",
        "outside pw.x and training vs all job core-seconds of a finished run",
        lambda out, wd, o: [script("pipeline_overhead", "--run", str(_overhead_run(wd, o)), "--json", str(out))],
        overhead_rows,
        (120, 600),
    ),
]
NAMES = [benchmark.name for benchmark in BENCHMARKS]


# ---------------------------------------------------------------- running them


def _interruptible() -> None:
    """In the benchmark's process: SIGINT back to its default, so the SIGINT of ``stop_group`` reaches every process
    of the group (a shell's background job, e.g. ``nohup ... &``, inherits SIGINT ignored, and so would they)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_command(command: list[str], log: Path, timeout_s: float) -> int | None:
    """Run one command in its own process group, output appended to ``log``; its exit status, None on timeout."""
    with open(log, "a") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        handle.flush()
        process = subprocess.Popen(
            command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_interruptible
        )
        try:
            return process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stop_group(process)
            return None


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the benchmark's process group (pw.x, Snakemake and all): SIGINT first, so that Python cleans its temporary
    folders and Snakemake its jobs, then SIGTERM after 15 s and SIGKILL after 5 more. Once the leader is gone, what
    is left of its group is SIGKILLed: a child forked just as the SIGINT went out never received it."""
    for sig, wait_s in ((signal.SIGINT, 15.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def last_line(log: Path) -> str:
    """The most telling line of a failed benchmark's log: its last non-empty line that is not a traceback frame."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(("File ", "^", "~", "$ ", "Traceback ", "KeyboardInterrupt"))]
    return lines[-1][:200] if lines else "no output"


def skipped_line(log: Path) -> str | None:
    """A benchmark that skipped itself says so in a line with SKIPPED (gpu_speed without CUDA)."""
    for line in log.read_text(errors="replace").splitlines():
        if "SKIPPED" in line:
            return line.strip()[:200]
    return None


def run_benchmark(benchmark: Benchmark, workdir: Path, options: argparse.Namespace) -> list[Row]:
    """Run one benchmark's commands and turn its JSON into rows; any failure is one row with its reason."""
    out, log = workdir / f"{benchmark.name}.json", workdir / f"{benchmark.name}.log"
    out.unlink(missing_ok=True)
    log.write_text("")
    commands = benchmark.commands(out, workdir, options)
    base = Row(benchmark.name, benchmark.what, raw_json=str(out), log=str(log), command=commands)
    reason = benchmark.skip(options)
    if reason:
        return [Row(**{**asdict(base), "status": "skipped", "reason": reason, "raw_json": None})]
    for folder in benchmark.fresh:
        shutil.rmtree(workdir / folder, ignore_errors=True)
    timeout_s = benchmark.timeout_s[0 if options.quick else 1] * options.timeout_scale
    started = time.monotonic()
    code: int | None = 0
    for command in commands:
        code = run_command(command, log, timeout_s - (time.monotonic() - started))
        if code is None or (code != 0 and not out.is_file()):
            break
    seconds = round(time.monotonic() - started, 1)
    common = {"seconds": seconds, "returncode": code}
    if code is None:
        return [Row(**{**asdict(base), **common, "status": "timeout", "reason": f"past {timeout_s:.0f} s; {last_line(log)}"})]
    if not out.is_file():
        skipped = skipped_line(log)
        status = "skipped" if skipped and code == 0 else "failed"
        return [
            Row(
                **{
                    **asdict(base),
                    **common,
                    "status": status,
                    "reason": skipped or f"exit {code}: {last_line(log)}",
                    "raw_json": None,
                }
            )
        ]
    try:
        rows = benchmark.rows(json.loads(out.read_text()))
    except (ValueError, KeyError, TypeError, IndexError, ZeroDivisionError) as error:
        return [
            Row(**{**asdict(base), **common, "status": "failed", "reason": f"unreadable JSON: {type(error).__name__}: {error}"})
        ]
    for row in rows:
        row.raw_json, row.log, row.command, row.seconds, row.returncode = str(out), str(log), commands, seconds, code
    return rows


def print_table(rows: list[Row], quick: bool) -> None:
    """The one table: benchmark, compared, ratio, goal, met (rich)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Benchmarks{' (--quick: smallest sizes)' if quick else ''}: ours against the named reference, same run")
    for column in ("benchmark", "compared (ours vs reference)", "ratio", "goal", "met", "s"):
        table.add_column(column, justify="right" if column in ("ratio", "s") else "left")
    colour = {"met": "green", "unmet": "red", "n/a": "dim"}
    for row in rows:
        ratio = "-" if row.ratio is None else f"{row.ratio:.3g}"
        verdict = row.verdict if row.status == "ok" else f"{row.status}: {row.reason}"
        style = colour.get(verdict, "yellow")
        if row.status == "ok" and row.reason:
            verdict += f" ({row.reason})"
        seconds = "-" if row.seconds is None else f"{row.seconds:.0f}"
        table.add_row(row.benchmark, row.compared, ratio, row.goal, f"[{style}]{verdict}[/{style}]", seconds)
    Console(width=max(160, Console().width)).print(table)


def resumed(benchmark: Benchmark, workdir: Path) -> list[Row] | None:
    """``--resume``: the rows of a benchmark that finished in an earlier run of the suite in this workdir, else None."""
    saved, raw = workdir / f"{benchmark.name}.rows.json", workdir / f"{benchmark.name}.json"
    if saved.is_file():
        rows = [Row(**row) for row in json.loads(saved.read_text())]
        return rows if all(row.status == "ok" for row in rows) else None
    if raw.is_file():  # written by a suite that kept no rows file: the numbers, without the seconds
        rows = benchmark.rows(json.loads(raw.read_text()))
        for row in rows:
            row.raw_json, row.log = str(raw), str(workdir / f"{benchmark.name}.log")
        return rows
    return None


def write_report(rows: list[Row], options: argparse.Namespace, workdir: Path, began: float) -> dict[str, Any]:
    """The suite's JSON, rewritten after every benchmark so that an interrupted suite leaves what it measured."""
    report = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": options.quick,
        "command": sys.argv,
        "workdir": str(workdir),
        "wall_s": round(time.monotonic() - began, 1),
        "machine": {"cores": os.cpu_count(), "load": os.getloadavg(), "python": platform.python_version()},
        "rows": [asdict(row) | {"verdict": row.verdict} for row in rows],
    }
    options.json.parent.mkdir(parents=True, exist_ok=True)
    options.json.write_text(json.dumps(report, indent=1))
    return report


def one_benchmark(benchmark: Benchmark, workdir: Path, options: argparse.Namespace) -> list[Row]:
    """Its rows: skipped on --skip, from the earlier run on --resume, else run now (rows kept beside its JSON)."""
    if options.skip and benchmark.name in options.skip:
        return [Row(benchmark.name, benchmark.what, status="skipped", reason="--skip")]
    earlier = resumed(benchmark, workdir) if options.resume else None
    if earlier is not None:
        print(f"[run_all] {benchmark.name}: from the earlier run in {workdir} (--resume)", flush=True)
        return earlier
    print(f"[run_all] {benchmark.name} ...", flush=True)
    (workdir / f"{benchmark.name}.rows.json").unlink(missing_ok=True)
    rows = run_benchmark(benchmark, workdir, options)
    (workdir / f"{benchmark.name}.rows.json").write_text(json.dumps([asdict(row) for row in rows], indent=1))
    print(f"[run_all] {benchmark.name}: {', '.join(row.verdict for row in rows)} ({rows[0].seconds or 0:.0f} s)", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every benchmark at its smallest meaningful size")
    parser.add_argument("--only", action="append", choices=NAMES, metavar="NAME", help="run only this benchmark (repeatable)")
    parser.add_argument("--skip", action="append", choices=NAMES, metavar="NAME", help="do not run this one (a skipped row)")
    parser.add_argument("--resume", action="store_true", help="reuse the rows of benchmarks that finished in this workdir")
    parser.add_argument("--list", action="store_true", help="print the benchmarks' names and exit")
    parser.add_argument("--workdir", type=Path, default=None, help="each benchmark's JSON and log (default /tmp/run_all[_quick])")
    parser.add_argument(
        "--json", type=Path, default=HERE / "run_all.json", help="where the table goes (default benchmarks/run_all.json)"
    )
    parser.add_argument("--overhead-run", type=Path, default=None, help="finished run folder for pipeline_overhead")
    parser.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every benchmark's timeout")
    options = parser.parse_args(argv)
    if options.list:
        print("\n".join(NAMES))
        return 0
    workdir = (options.workdir or Path("/tmp/run_all_quick" if options.quick else "/tmp/run_all")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    rows: list[Row] = []
    for benchmark in BENCHMARKS:
        if not options.only or benchmark.name in options.only:
            rows += one_benchmark(benchmark, workdir, options)
            write_report(rows, options, workdir, began)
    print_table(rows, options.quick)
    report = write_report(rows, options, workdir, began)
    print(f"[run_all] {len(rows)} rows in {report['wall_s']:.0f} s; JSON: {options.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
