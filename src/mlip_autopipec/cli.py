"""`mlip-pipe`: the command line. Each command lives in its own module under ``commands/``.

Bad input never ends in a traceback: a ``UserInputError`` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys

import click

from mlip_autopipec import __version__
from mlip_autopipec.commands.check import check
from mlip_autopipec.commands.init import init
from mlip_autopipec.commands.report import report
from mlip_autopipec.commands.run import run
from mlip_autopipec.commands.status import status
from mlip_autopipec.commands.validate import validate
from mlip_autopipec.errors import UserInputError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlip-pipe")
def cli() -> None:
    """From a composition to a validated machine-learning interatomic potential."""


cli.add_command(init)
cli.add_command(check)
cli.add_command(run)
cli.add_command(status)
cli.add_command(validate)
cli.add_command(report)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the click group, turning user errors into one line and exit code 2."""
    try:
        cli.main(args=argv, prog_name="mlip-pipe", standalone_mode=False)
    except UserInputError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)


if __name__ == "__main__":
    main()
