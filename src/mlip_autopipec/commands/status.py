"""`mlip-pipe status`: how many structures are in each state, why labels failed, and what each iteration did."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from mlip_autopipec.active_learning.outcome import run_outcome
from mlip_autopipec.commands.validate import validation_table, validation_verdict
from mlip_autopipec.data.database import STATES, StructureIndex, structure_id_of
from mlip_autopipec.data.records import ValidationReport
from mlip_autopipec.data.run_summary import run_summary
from mlip_autopipec.errors import UserInputError

SQLITE_HEADER = b"SQLite format 3\x00"


STATUS_WAIT_S = 5.0  # a status is read by a person: a few seconds for a writer's lock, then the line that names it


def check_database_file(database: Path) -> None:
    """Why read the header first: ASE would write a fresh schema into an empty file and trace back on any other."""
    with database.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if not header:
        raise UserInputError(f"database: '{database}' is empty, not a structure index; give the run's database with --database")
    if header != SQLITE_HEADER:
        raise UserInputError(
            f"database: '{database}' is not an SQLite database; give the run's results/database.db with --database"
        )


@click.command()
@click.option("--database", default="results/database.db", show_default=True, type=click.Path(dir_okay=False))
def status(database: str) -> None:
    """Summarise a run: the structure index, failures, and per iteration its DFT work, errors and decision."""
    console = Console(width=None if sys.stdout.isatty() else 160)
    iterations = run_summary(Path(database).parent)
    if Path(database).is_file():
        check_database_file(Path(database))
        index = StructureIndex(database, wait_s=STATUS_WAIT_S)
        with index.transaction():  # a lock held by another program: one line naming it, not a traceback
            counts, failed = index.counts(), index.rows("failed")
        table = Table(title=f"Structures in {database}")
        table.add_column("state")
        table.add_column("count", justify="right")
        for state in STATES:
            table.add_row(state, str(counts.get(state, 0)))
        console.print(table)
        for row in failed:
            console.print(f"[red]failed[/red] {structure_id_of(row)}: {row.get('reason', '')}")
    elif iterations:
        console.print(f"{database} is written when the first iteration's labels are in; labels so far:")
    else:
        raise UserInputError(f"database: '{database}' does not exist; run 'mlip-pipe run' first or give --database")
    if iterations:
        console.print(iteration_table(iterations))
        for it in iterations:
            if it["reason"]:
                console.print(f"iteration {it['iteration']}: {it['status']}: {it['reason']}")
    validation = Path(database).parent / "validation" / "validation.json"
    if validation.is_file():
        report = ValidationReport.read(validation)
        console.print(validation_table(report))
        console.print(f"validation: {validation_verdict(report)} (tolerances in the config's 'validation' section)")
    outcome = run_outcome(Path(database).parent)
    for line in outcome.lines():
        if line.startswith(("warning", "targets unmet")):
            console.print(f"[yellow]{line}[/yellow]", markup=True, highlight=False)


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def iteration_table(iterations: list[dict]) -> Table:
    """One row per active-learning iteration: DFT work, held-out errors and the loop's decision."""
    table = Table(
        title="Iterations",
        caption="pw.x s: time in pw.x (cache hits excluded); F, E: held-out force (eV/A) and energy (meV/atom) RMSE, dimer/trimer scans left out",
    )
    for column in ("iter", "labelled", "failed", "pw.x runs", "pw.x s", "F RMSE", "E RMSE", "decision"):
        table.add_column(column, justify="left" if column == "decision" else "right")
    for it in iterations:
        energy = it["test_energy_rmse_per_atom"]
        decision = it["status"] or ""
        table.add_row(
            str(it["iteration"]),
            str(it["labelled"]),
            str(it["failed"]),
            str(it["pw_runs"]),
            _number(it["pw_seconds"], 1),
            _number(it["test_force_rmse"], 3),
            _number(None if energy is None else 1e3 * energy, 1),
            decision,
        )
    return table
