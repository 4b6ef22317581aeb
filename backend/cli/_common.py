"""What every command module shares: the one error channel, settings loading, output helpers and the console.

Nothing here imports a command module, so the command modules depend on this one and never on each other.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Concatenate

import click

from backend.config import Settings, load_settings
from backend.errors import CsvDropError

if TYPE_CHECKING:
    from rich.console import Console

LOG = logging.getLogger("csvdrop")
PROG_NAME = "csvdrop"
DEBUG_VARIABLE = "CSVDROP_DEBUG"
LOG_LEVEL_VARIABLE = "CSVDROP_LOG_LEVEL"

# The exit codes of errors. A command that ends by itself returns its own: 0 done, 1 a file or a step failed
# (the same 1 as an unexpected error, as before), 3 `stack status` found a service down.
EXIT_UNEXPECTED = 1
EXIT_USER_ERROR = 2  # a CsvDropError or a usage error (click's code for those, as it was argparse's)
EXIT_INTERRUPTED = 130  # what shells report for a process ended by SIGINT


class CommandLineError(CsvDropError):
    """A command cannot do what it was asked (no files found, a record that does not exist, a missing --yes)."""


# ------------------------------------------------------------------------------------------ errors
def report_error(message: str) -> None:
    click.echo(f"{PROG_NAME}: {message}", err=True)


def _debugging() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def _show_usage_error(error: click.UsageError) -> None:
    """click's usage and help hint, then the message through the one channel (click would say "Error:")."""
    context = error.ctx
    if context is not None:
        hint = ""
        help_names = context.command.get_help_option_names(context)
        if context.command.get_help_option(context) is not None and help_names:
            hint = f"Try '{context.command_path} {max(help_names, key=len)}' for help.\n"
        click.echo(f"{context.get_usage()}\n{hint}", err=True)
    report_error(error.format_message())


class OrderedGroup(click.Group):
    """A command group whose help lists its commands in the order they were added, not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


class CsvDropGroup(OrderedGroup):
    """The root command. Whatever a command raises leaves here as `csvdrop: <message>` on stderr and an exit
    code, never as a traceback (set CSVDROP_DEBUG=1 to get the traceback instead): a CsvDropError or a usage
    error exits 2, Ctrl-C 130, anything else 1. A command's own return value is the exit code otherwise.

    The channel sits in ``main`` rather than around ``main`` so that click's CliRunner, which calls ``main``,
    sees exactly what a user sees."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        code = self._run_reporting_errors(args, prog_name or PROG_NAME, complete_var, windows_expand_args, extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run_reporting_errors(
        self,
        args: Sequence[str] | None,
        prog_name: str,
        complete_var: str | None,
        windows_expand_args: bool,
        extra: dict[str, Any],
    ) -> int:
        try:
            outcome = super().main(
                args, prog_name, complete_var, standalone_mode=False, windows_expand_args=windows_expand_args, **extra
            )
        except click.exceptions.NoArgsIsHelpError as error:
            error.show()  # a bare `csvdrop` or `csvdrop stack`: the help itself, not an error message
            return error.exit_code
        except click.UsageError as error:
            _show_usage_error(error)
            return error.exit_code
        except click.ClickException as error:
            report_error(error.format_message())
            return error.exit_code
        except (click.Abort, KeyboardInterrupt):
            report_error("interrupted")
            return EXIT_INTERRUPTED
        except CsvDropError as error:
            if _debugging():
                raise
            LOG.debug("user-facing error", exc_info=True)
            report_error(str(error))
            return EXIT_USER_ERROR
        except Exception as error:
            if _debugging():
                raise
            LOG.debug("unexpected error", exc_info=True)
            report_error(str(error) or type(error).__name__)
            return EXIT_UNEXPECTED
        return outcome if isinstance(outcome, int) else 0


def configure_logging() -> None:
    level = os.environ.get(LOG_LEVEL_VARIABLE, "WARNING").strip().upper() or "WARNING"
    if not isinstance(logging.getLevelName(level), int):
        level = "WARNING"  # a misspelt level must not stop the command
    logging.basicConfig(level=level, format="%(levelname)s %(message)s")


# ------------------------------------------------------------------------------------------ settings
def with_settings[**P](command: Callable[Concatenate[Settings, P], int]) -> Callable[P, int]:
    """Hands the command the effective settings as its first argument. They are loaded when the command runs,
    not when the CLI is built, so `--help` and shell completion work even with a broken config file."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        return command(load_settings(), *args, **kwargs)

    return run


# ------------------------------------------------------------------------------------------ output
def say(message: str) -> None:
    click.echo(message)


def print_json(document: Any, *, indent: int | None = 2) -> None:
    """One JSON document, nothing else on the line: what scripts parse (never coloured, never wrapped)."""
    click.echo(json.dumps(document, ensure_ascii=False, indent=indent, default=str))


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def terminal_console() -> Console | None:
    """A rich console when stdout is a terminal (tables, colour, live progress); None for a pipe or a file,
    where every command prints plain lines that scripts can read.

    Markup and highlighting are off: keys, paths and messages are data, and "[x].csv" must print as it is."""
    if not stdout_is_terminal():
        return None
    from rich.console import Console

    return Console(markup=False, highlight=False, emoji=False, force_terminal=True)
