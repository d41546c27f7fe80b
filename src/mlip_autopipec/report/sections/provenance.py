"""Section `provenance`: where the numbers come from: versions, the delivered committee, and the Snakemake report
(every job with its code, parameters, inputs and runtime)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import snakemake

import mlip_autopipec
from mlip_autopipec.report.page import Section, link, missing, paragraph, table
from mlip_autopipec.report.run_files import RunFiles


def _href(target: Path, page_folder: Path) -> str:
    """``target`` relative to the page, so that the link survives moving the whole run folder."""
    return os.path.relpath(target.resolve(), page_folder.resolve())


def section(run: RunFiles, page_folder: Path, snakemake_report: Path | None) -> Section:
    """``snakemake_report``: the provenance report the page links to, written or about to be written by the caller
    (None: there is none, the section says so)."""
    part = Section("provenance", "Provenance")
    if snakemake_report is not None:
        part.add(
            "<p>"
            + link(_href(snakemake_report, page_folder), "Snakemake report")
            + ": every job of the run with its rule, code, parameters, inputs, outputs and runtime, the rule graph, and the "
            "outputs marked for reporting (the validation figures, this page).</p>"
        )
    else:
        part.add(missing("No Snakemake report next to this page: 'mlip-pipe report' writes it (snakemake --report)."))
    facts: list[tuple[str, object]] = [
        ("page written", datetime.now(UTC).isoformat(timespec="seconds")),
        ("mlip_autopipec", mlip_autopipec.__version__),
        ("snakemake", snakemake.__version__),
        ("results folder", str(run.results.resolve())),
    ]
    if run.final is not None:
        facts += [
            ("delivered committee", f"iteration {run.delivered_iteration()}, config hash {run.final.config_hash}"),
            ("backend, members, baseline", f"{run.final.backend}, {len(run.final.members)}, {run.final.baseline.name}"),
            ("elements", ", ".join(run.final.elements)),
        ]
    part.add(table(("fact", "value"), facts, text_columns=(0, 1)))
    dump = run.results / "exec_config_dump.yaml"
    if dump.is_file():
        part.add(
            f"<p>Every parameter of the run, with the reason for each choice: {link(_href(dump, page_folder), dump.name)}.</p>"
        )
    else:
        part.add(paragraph("No expanded config (results/exec_config_dump.yaml) in this results folder."))
    return part
