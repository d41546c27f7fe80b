"""`mlip-pipe run`: validate the config, then hand over to Snakemake with the packaged workflow (workflow_files.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from mlip_autopipec.active_learning.outcome import run_outcome
from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.workflow_files import BUNDLE, find_profile, find_snakefile


def snakemake_command(config_path: Path, cores: int, profile: str | None, dry_run: bool, extra: tuple[str, ...]) -> list[str]:
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(find_snakefile()), "--configfile", str(config_path)]
    # Without a profile, the settings profiles/local gives: a killed run resumes with the same command.
    if profile:  # 'slurm' or 'profiles/slurm': the project's copy, else the shipped one
        found = find_profile(profile, Path.cwd())
        if Path(found).is_relative_to(BUNDLE):
            click.echo(
                f"note: no profiles/{Path(found).name} here; using the shipped {found} (copy it here to edit it)", err=True
            )
        command += ["--profile", found]
    else:
        command += ["--cores", str(cores), "--rerun-incomplete", "--keep-going"]
    if dry_run:
        command.append("--dry-run")
    return command + list(extra)


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--config", "config_path", default="config/config.yaml", show_default=True, type=click.Path(dir_okay=False))
@click.option("--cores", "-c", default=2, show_default=True, help="Cores for local runs (ignored with --profile).")
@click.option(
    "--profile",
    default=None,
    help="Snakemake profile: slurm or local (this folder's profiles/NAME, else the shipped one), or a folder.",
)
@click.option("--dry-run", "-n", is_flag=True, help="Show the plan without running anything.")
@click.argument("snakemake_args", nargs=-1, type=click.UNPROCESSED)
def run(config_path: str, cores: int, profile: str | None, dry_run: bool, snakemake_args: tuple[str, ...]) -> None:
    """Run the pipeline (Snakemake) in the current directory; extra arguments go to Snakemake."""
    expand_config(Path(config_path))  # fail here, in one line, before Snakemake starts
    command = snakemake_command(Path(config_path), cores, profile, dry_run, snakemake_args)
    code = subprocess.call(command)
    if code == 0 and not dry_run:
        for line in run_outcome(Path("results")).lines():
            click.echo(line, err=line.startswith(("warning", "targets unmet")))
    sys.exit(code)
