"""`mlip-pipe status`: how many structures are in each state, and why labels failed."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from mlip_autopipec.data.database import STATES, StructureIndex
from mlip_autopipec.errors import UserInputError


@click.command()
@click.option("--database", default="results/database.db", show_default=True, type=click.Path(dir_okay=False))
def status(database: str) -> None:
    """Summarise the structure index of a run."""
    if not Path(database).is_file():
        raise UserInputError(f"database: '{database}' does not exist; run 'mlip-pipe run' first or give --database")
    index = StructureIndex(database)
    counts = index.counts()
    table = Table(title=f"Structures in {database}")
    table.add_column("state")
    table.add_column("count", justify="right")
    for state in STATES:
        table.add_row(state, str(counts.get(state, 0)))
    console = Console()
    console.print(table)
    for row in index.rows("failed"):
        console.print(f"[red]failed[/red] {row.structure_id}: {row.get('reason', '')}")
