"""`mlip-pipe run`: validate the config, then hand over to Snakemake with the packaged workflow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

from mlip_autopipec.active_learning.outcome import run_outcome
from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.errors import ConfigError


def find_snakefile() -> Path:
    """The workflow's Snakefile: $MLIP_AUTOPIPE_WORKFLOW, else the source tree this package was installed from."""
    candidates = []
    if os.environ.get("MLIP_AUTOPIPE_WORKFLOW"):
        candidates.append(Path(os.environ["MLIP_AUTOPIPE_WORKFLOW"]))
    candidates.append(Path(__file__).resolve().parents[3] / "workflow" / "Snakefile")
    candidates.append(Path.cwd() / "workflow" / "Snakefile")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        "workflow: cannot find workflow/Snakefile; install the package from its source tree (pip install -e .) "
        "or set MLIP_AUTOPIPE_WORKFLOW to the Snakefile"
    )


def snakemake_command(config_path: Path, cores: int, profile: str | None, dry_run: bool, extra: tuple[str, ...]) -> list[str]:
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(find_snakefile()), "--configfile", str(config_path)]
    # Without a profile, the settings profiles/local gives: a killed run resumes with the same command.
    command += ["--profile", profile] if profile else ["--cores", str(cores), "--rerun-incomplete", "--keep-going"]
    if dry_run:
        command.append("--dry-run")
    return command + list(extra)


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--config", "config_path", default="config/config.yaml", show_default=True, type=click.Path(dir_okay=False))
@click.option("--cores", "-c", default=2, show_default=True, help="Cores for local runs (ignored with --profile).")
@click.option("--profile", default=None, help="Snakemake profile, e.g. profiles/slurm.")
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
