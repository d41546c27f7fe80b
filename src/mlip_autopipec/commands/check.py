"""`mlip-pipe check`: validate and expand a config, write the expanded config, show the choices."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from mlip_autopipec.config.expander import expand_config, write_exec_config
from mlip_autopipec.config.models import FullConfig


def show_dft_choices(full: FullConfig, console: Console) -> None:
    table = Table(title=f"DFT parameters for {full.composition}", show_lines=False)
    table.add_column("key")
    table.add_column("value")
    table.add_column("why", overflow="fold")
    dft = full.dft
    for key in ("pseudo_family", "ecutwfc", "ecutrho", "kpoint_spacing", "smearing", "degauss", "nspin"):
        table.add_row(key, str(getattr(dft, key)), dft.why.get(key, ""))
    console.print(table)


@click.command()
@click.option("--config", "config_path", default="config/config.yaml", show_default=True, type=click.Path(dir_okay=False))
@click.option("--output", default="results/exec_config_dump.yaml", show_default=True, type=click.Path(dir_okay=False))
def check(config_path: str, output: str) -> None:
    """Validate CONFIG, expand it and write the full config (nothing is computed)."""
    full = expand_config(Path(config_path))
    write_exec_config(full, output)
    console = Console(stderr=True)
    show_dft_choices(full, console)
    console.print(f"[green]ok[/green]: {config_path} is valid; expanded config written to {output}")
