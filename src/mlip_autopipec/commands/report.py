"""`mlip-pipe report`: the run's HTML page (results/report/index.html) and Snakemake's provenance report next to it.

Why both: the page shows what the run achieved (parity, learning curve, uncertainty, validation, structures, DFT
failures, time per stage) and links to the Snakemake report, which shows how (every job with its code, parameters,
inputs and runtime). The page is written first: the Snakemake report embeds it (rule `report` marks it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.errors import UserInputError
from mlip_autopipec.report import SNAKEMAKE_REPORT, build_report, report_folder
from mlip_autopipec.workflow_files import find_snakefile


def snakemake_report_command(config_path: Path, target: Path) -> list[str]:
    """``snakemake --report`` on the packaged workflow with the run's config (run in the run's folder)."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(find_snakefile()),
        "--configfile",
        str(config_path.resolve()),
        "--report",
        str(target.resolve()),
    ]


@click.command()
@click.option("--config", "config_path", default="config/config.yaml", show_default=True, type=click.Path(dir_okay=False))
@click.option(
    "--results", default="results", show_default=True, type=click.Path(file_okay=False), help="The run's results folder."
)
@click.option(
    "--snakemake-report/--no-snakemake-report",
    default=True,
    show_default=True,
    help="Also write Snakemake's provenance report (snakemake --report) next to the page.",
)
def report(config_path: str, results: str, snakemake_report: bool) -> None:
    """Write results/report/index.html (one self-contained page) and results/report/snakemake_report.html."""
    folder = Path(results)
    if not folder.is_dir():
        raise UserInputError(f"results: '{results}' does not exist; run 'mlip-pipe run' first or give --results")
    provenance = report_folder(folder) / SNAKEMAKE_REPORT
    if not snakemake_report:
        page = build_report(folder, snakemake_report=provenance if provenance.is_file() else None)
        click.echo(f"report: {page}")
        return
    expand_config(Path(config_path))  # a bad config fails here in one line, not inside Snakemake
    page = build_report(folder, snakemake_report=provenance)
    command = snakemake_report_command(Path(config_path), provenance)
    done = subprocess.run(command, cwd=folder.resolve().parent, capture_output=True, text=True)
    if done.returncode != 0 or not provenance.is_file():
        build_report(folder, snakemake_report=None)  # no link to a report that is not there
        click.echo(done.stdout[-3000:] + done.stderr[-3000:], err=True)
        click.echo(f"report: {page} written; snakemake --report failed (exit {done.returncode}), no provenance report", err=True)
        sys.exit(1)
    click.echo(f"report: {page}\nprovenance: {provenance}")
