"""`mlip-pipe validate`: the potential's properties next to DFT from the same engine, as a table with a verdict.

Exits 1 when a row fails, so that scripts can gate on it (warnings do not fail); the numbers are in
``validation.json`` beside the figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.config.models import FullConfig
from mlip_autopipec.data.records import ValidationReport
from mlip_autopipec.errors import UserInputError

MARK_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "info": "dim", "incomplete": "bold magenta"}


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def validation_table(report: ValidationReport) -> Table:
    """The validation table as people read it: DFT, potential, error, verdict, sample size."""
    table = Table(
        title=f"Validation of {report.potential}",
        caption=f"{report.dft_runs} DFT runs ({report.dft_seconds:.0f} s) for this validation; cache hits excluded",
    )
    for column in ("check", "quantity", "unit", "DFT", "potential", "error", "tolerance", "mark", "n"):
        table.add_column(column, justify="left" if column in ("check", "quantity", "unit", "mark") else "right")
    for row in report.rows:
        error = row.relative_error if row.compared == "relative" else row.error
        shown_error = "-" if error is None else (f"{100 * error:+.2f} %" if row.compared == "relative" else f"{error:+.4g}")
        tolerance = (
            "-"
            if row.tolerance is None
            else (f"{100 * row.tolerance:.3g} %" if row.compared == "relative" else f"{row.tolerance:.3g}")
        )
        style = MARK_STYLE[row.mark]
        table.add_row(
            row.group,
            row.quantity,
            row.unit,
            _number(row.dft),
            _number(row.potential),
            shown_error,
            tolerance,
            f"[{style}]{row.mark}[/{style}]",
            "-" if row.n_samples is None else str(row.n_samples),
        )
    return table


def validation_verdict(report: ValidationReport) -> str:
    """One line: passes, or what fails, what could not be computed, or that nothing was judged."""
    if not report.judged:
        notes = "; ".join(row.note for row in report.rows)
        return f"nothing was validated (no row could be judged against a tolerance: {notes[:300]})"
    parts = []
    if report.failed:
        parts.append(f"{len(report.failed)} of {len(report.rows)} rows fail ({', '.join(r.quantity for r in report.failed)})")
    if report.incomplete:
        groups = ", ".join(r.group for r in report.incomplete)
        parts.append(f"{len(report.incomplete)} checks incomplete ({groups}: a DFT label failed)")
    return "; ".join(parts) if parts else f"passes ({len(report.judged)} rows judged)"


def default_output(potential: Path) -> Path:
    """``results/validation`` for the delivered ``results/final``; else a ``validation`` folder inside the potential's."""
    folder = potential if potential.is_dir() else potential.parent
    return folder.parent / "validation" if folder.name == "final" else folder / "validation"


def check_same_dft(manifest: Path, full: FullConfig, config_path: str) -> None:
    """Refuse to compare a committee with DFT at other parameters than its labels': the table would measure the
    difference between two DFT settings, not the potential's error."""
    from mlip_autopipec.dft.labeller import dft_hash
    from mlip_autopipec.potentials.committee_plan import dft_hashes, load_committee

    trained_on = dft_hashes(load_committee(manifest))
    wanted = dft_hash(full.dft)
    if trained_on and wanted not in trained_on:
        raise UserInputError(
            f"config: the DFT parameters of '{config_path}' (hash {wanted}) are not those the committee was trained on "
            f"({', '.join(trained_on)}); validate with the run's own config"
        )


@click.command()
@click.option(
    "--potential", default="results/final", show_default=True, type=click.Path(), help="Committee folder (or its committee.json)."
)
@click.option(
    "--config",
    "config_path",
    default="config/config.yaml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The run's config: DFT parameters, temperatures, tolerances.",
)
@click.option(
    "--output",
    default=None,
    type=click.Path(file_okay=False),
    help="Folder for validation.json and figures [default: results/validation for results/final].",
)
@click.option("--ntasks", default=None, type=int, help="MPI tasks per DFT run [default: label.mpi.ntasks].")
@click.option(
    "--generated",
    default="results/iter_0/generated.extxyz",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The run's generated structures: the crystal checks use its surrogate-ranked crystal (when the file exists).",
)
def validate(potential: str, config_path: str, output: str | None, ntasks: int | None, generated: str) -> None:
    """Compute the potential's properties and the same with DFT (label cache first); exit 1 if a row fails."""
    from mlip_autopipec.validation.validate import ValidationSetup, validate_committee

    path = Path(potential)
    manifest = path / "committee.json" if path.is_dir() else path
    if not manifest.is_file():
        raise UserInputError(
            f"potential: no committee at '{potential}'; give --potential the folder of a committee.json (e.g. results/final)"
        )
    full = expand_config(Path(config_path))
    check_same_dft(manifest, full, config_path)
    outdir = Path(output) if output else default_output(path)
    setup = ValidationSetup.from_config(full)
    report = validate_committee(
        manifest,
        setup,
        outdir,
        ntasks=ntasks or full.label.mpi.ntasks,
        progress=sys.stderr.isatty(),
        generated=generated if Path(generated).is_file() else None,
    )
    Console(width=None if sys.stdout.isatty() else 160).print(validation_table(report))
    if not report.passed:
        click.echo(f"validation: {validation_verdict(report)}; see {outdir / 'validation.json'}", err=True)
        sys.exit(1)
