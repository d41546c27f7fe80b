"""`mlip-pipe`: the command line. Each command lives in its own module under ``commands/``.

Bad input never ends in a traceback: a ``UserInputError``, a usage error and a file the system refuses each become
one line on stderr and exit code 2.
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


def click_error_line(error: click.ClickException) -> str:
    """Click prints usage, a hint and the error on three lines; one line with the command's help is enough."""
    message = " ".join(error.format_message().split()).rstrip(".")
    context = getattr(error, "ctx", None)
    command = context.command_path if context is not None else "mlip-pipe"
    if command.endswith(" init") and message.startswith("Got unexpected extra argument"):
        return f"error: {message}; write the formula as one word (e.g. 'FePt', not 'Fe Pt') or quote it"
    return f"error: {message}; see '{command} --help'"


def os_error_line(error: OSError) -> str:
    """A path the system refuses (a file where a folder should be, no permission, disk full) is the user's to fix."""
    where = f" '{error.filename}'" if error.filename else ""
    return f"error: cannot use{where}: {error.strerror or error}; check the path and its permissions"


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
        click.echo(click_error_line(error), err=True)
        sys.exit(error.exit_code)
    except OSError as error:
        click.echo(os_error_line(error), err=True)
        sys.exit(2)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)


if __name__ == "__main__":
    main()
