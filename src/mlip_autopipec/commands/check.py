"""`mlip-pipe check`: validate and expand a config, write the expanded config, show the choices."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from mlip_autopipec.config.expander import expand_config, write_exec_config
from mlip_autopipec.config.models import DFTConfig, FullConfig
from mlip_autopipec.dft.espresso.pseudopotentials import cutoff_shortfall, family_of


def show_dft_choices(full: FullConfig, console: Console) -> None:
    table = Table(title=f"DFT parameters for {full.composition}", show_lines=False)
    table.add_column("key")
    table.add_column("value")
    table.add_column("why", overflow="fold")
    dft = full.dft
    for key in ("pseudo_family", "ecutwfc", "ecutrho", "kpoint_spacing", "smearing", "degauss", "nspin"):
        table.add_row(key, str(getattr(dft, key)), dft.why.get(key, ""))
    console.print(table)


def cutoff_warnings(dft: DFTConfig) -> list[str]:
    """A line for each cutoff the user set below what a pseudopotential of the run recommends.

    Only keys the user set: the expander fills the others from the same table (and says so in ``why``).
    """
    family = family_of(dft.pseudo_family, dft.pseudo_dir, sorted(dft.pseudopotentials))
    lines = []
    for key in ("ecutwfc", "ecutrho"):
        line = None if key in dft.why else cutoff_shortfall(key, getattr(dft, key), family)
        if line is not None:
            lines.append(f"warning: {line}")
    return lines


@click.command()
@click.option("--config", "config_path", default="config/config.yaml", show_default=True, type=click.Path(dir_okay=False))
@click.option("--output", default="results/exec_config_dump.yaml", show_default=True, type=click.Path(dir_okay=False))
def check(config_path: str, output: str) -> None:
    """Validate CONFIG, expand it and write the full config (nothing is computed)."""
    full = expand_config(Path(config_path))
    write_exec_config(full, output)
    console = Console(stderr=True)
    show_dft_choices(full, console)
    for line in cutoff_warnings(full.dft):
        click.echo(line, err=True)
    console.print(f"[green]ok[/green]: {config_path} is valid; expanded config written to {output}")
