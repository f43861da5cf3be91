"""The click group behind ``forewarn``: help that reads well and errors as one line with an exit status.

Typer builds the click tree from every component's commands; this group then tidies it once for
all of them, so a command another package adds gets the same treatment:

- help texts lose the Sphinx markup of docstrings (````x```` and ``:func:`x``` become `` `x` ``);
- a group run without a subcommand prints its help;
- a usage error (unknown option, bad value, missing argument) is one line on stderr, exit 2;
- an expected failure (:func:`chain.failures.expected`: a bad setting, a service that does not
  answer) is one line on stderr with its exit status; anything else keeps its traceback.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer import _click  # typer vendors click (0.2x): its tree and exceptions are these classes
from typer.core import TyperGroup

from chain.failures import expected, one_line
from forewarn.exits import ExitCode

_SPHINX_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|obj|exc):`~?([^`]+)`")
_DOUBLE_BACKTICKS = re.compile(r"``([^`]+)``")


def plain(text: str | None) -> str | None:
    """``text`` without reStructuredText markup: ````x```` and ``:func:`x``` read `` `x` `` in a terminal."""
    if not text:
        return text
    return _DOUBLE_BACKTICKS.sub(r"`\1`", _SPHINX_ROLE.sub(r"`\1`", text))


def walk(command: _click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], _click.Command]]:
    """Every command under ``command`` (itself first) with its path of names below the top."""
    found = [(path, command)]
    if isinstance(command, TyperGroup):
        for name, sub in sorted(command.commands.items()):
            found += walk(sub, (*path, name))
    return found


def tidy(top: _click.Command) -> None:
    """Plain help texts everywhere; every group without its own action shows its help when run bare."""
    for _, command in walk(top):
        command.help = plain(command.help)
        command.short_help = plain(command.short_help)
        for param in command.params:
            if hasattr(param, "help"):
                param.help = plain(param.help)
        if isinstance(command, TyperGroup) and not command.invoke_without_command:
            command.no_args_is_help = True


def _usage_line(exc: _click.exceptions.UsageError) -> str:
    where = exc.ctx.command_path if exc.ctx is not None else "forewarn"
    return f"{one_line(exc.format_message())} (`{where} --help` shows the options)"


class ForewarnGroup(TyperGroup):
    """The top ``forewarn`` group (``typer.Typer(cls=ForewarnGroup)``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tidy(self)

    def list_commands(self, ctx: _click.Context) -> list[str]:
        """Alphabetical, as a person scans a list (Typer would put single commands before groups)."""
        return sorted(self.commands)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run like click's ``main``, but every error a person can act on ends as one line and a status."""
        try:
            result = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
            code = result if isinstance(result, int) else ExitCode.OK
        except _click.exceptions.NoArgsIsHelpError as exc:
            if exc.format_message():  # rich help is already on stdout; plain help still is to show
                exc.show()
            code = exc.exit_code
        except _click.exceptions.UsageError as exc:
            typer.echo(f"error: {_usage_line(exc)}", err=True)
            code = ExitCode.USAGE
        except _click.exceptions.ClickException as exc:
            typer.echo(f"error: {one_line(exc.format_message())}", err=True)
            code = exc.exit_code
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            code = ExitCode.FAILED
        except Exception as exc:
            failure = expected(exc)
            if failure is None:
                raise
            typer.echo(f"error: {failure.message}", err=True)
            code = failure.code
        if not standalone_mode:
            return code
        sys.exit(int(code))
