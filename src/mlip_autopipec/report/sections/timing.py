"""Section `timing`: time per stage (rule), from the start and end times Snakemake recorded for each job."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mlip_autopipec.report.figures import timing_figure
from mlip_autopipec.report.page import Section, missing, paragraph, table
from mlip_autopipec.report.stage_times import stage_times


def _clock(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def section(workdir: Path) -> Section:
    part = Section("timing", "Time per stage")
    stages = stage_times(workdir)
    if not stages:
        return part.add(
            missing(f"No job times: {workdir / '.snakemake' / 'metadata'} is absent or empty (the run's Snakemake records).")
        )
    total = sum(stage.job_seconds for stage in stages)
    span = max(s.last_end for s in stages) - min(s.first_start for s in stages)
    part.add(
        paragraph(
            "Start and end of every job as Snakemake recorded them (.snakemake/metadata, the source of the runtime "
            f"statistics in the Snakemake report): {total / 60:.1f} min of job time in all, over {span / 60:.1f} min from the "
            "first start to the last end (jobs run in parallel; a resumed run's pause counts in the span)."
        )
    )
    part.figure("stage_times", timing_figure(stages), "summed job time per rule")
    rows = [
        (s.rule, s.jobs, f"{s.job_seconds:.1f}", f"{s.job_seconds / s.jobs:.1f}", _clock(s.first_start), _clock(s.last_end))
        for s in stages
    ]
    headers = ("rule", "jobs", "job time (s)", "per job (s)", "first start (UTC)", "last end (UTC)")
    return part.add(table(headers, rows, text_columns=(0, 4, 5)))
