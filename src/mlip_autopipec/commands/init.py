"""`mlip-pipe init`: start a project in the working directory: a minimal config and a SLURM profile to edit.

Why the profile copy: an installed package ships profiles/slurm read-only inside site-packages, and its partition
and account must be the user's; `mlip-pipe run --profile slurm` then finds this folder's copy first.
"""

from __future__ import annotations

from pathlib import Path

import click

from mlip_autopipec.errors import ConfigError
from mlip_autopipec.structures.composition import parse_composition
from mlip_autopipec.workflow_files import copy_slurm_profile

TEMPLATE = """\
# Minimal input of MLIP-AutoPipe; every key is explained in config/README.md of the project.
composition: {composition}
seed: 42
# structures: my_structures.extxyz   # structures to label, relative to this working directory
# temperatures: [300, 900]           # K
# dft_budget: 500                    # most DFT labels of the whole run
label:
  mpi:
    ntasks: 2   # MPI ranks per pw.x run
"""


def check_config_folder(path: Path) -> None:
    """A file where the config's folder should be makes mkdir fail with a bare 'File exists'; name it instead."""
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise ConfigError(f"config file: '{parent}' in '{path}' is a file, not a folder; choose another --config")


@click.command()
@click.argument("composition")
@click.option("--config", "config_path", default="config/config.yaml", show_default=True, type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing config.")
def init(composition: str, config_path: str, force: bool) -> None:
    """Write a minimal config for COMPOSITION (e.g. Si, FePt, NaCl, H2O) and profiles/slurm here (kept if present)."""
    parse_composition(composition)
    path = Path(config_path)
    if path.exists() and not force:
        raise ConfigError(f"config file: '{path}' exists; pass --force to overwrite it or choose another --config")
    check_config_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TEMPLATE.format(composition=composition.strip()))
    click.echo(f"wrote {path}")
    profile, written = copy_slurm_profile(Path.cwd())
    shown = profile.relative_to(Path.cwd())
    if written:
        click.echo(f"wrote {shown} (SLURM: set slurm_partition and slurm_account, then 'mlip-pipe run --profile slurm')")
    else:
        click.echo(f"kept {shown} (exists; 'mlip-pipe run --profile slurm' uses it)")
