"""Every command of `forewarn`, found in its command tree (so a command added tomorrow is covered too), as
a person meets it: `--help` reads well, a bad option or value is one line on stderr and exit 2, no traceback.
"""

from __future__ import annotations

import pytest
from typer import _click
from typer.core import TyperGroup
from typer.main import get_command
from typer.testing import CliRunner, Result

from chain.cli import app
from chain.command import walk

COMMANDS = walk(get_command(app))
PATHS = [path for path, _ in COMMANDS]
LEAVES = [(path, cmd) for path, cmd in COMMANDS if not isinstance(cmd, TyperGroup)]


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(app, args)


def one_error_line(result: Result) -> str:
    """The single line a failed command put on stderr (asserting it is one, and no traceback anywhere)."""
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def test_the_tree_holds_the_documented_groups_and_leaves() -> None:
    names = {" ".join(p) for p in PATHS}
    assert {"status", "settings", "stack status", "stack logs", "simulate", "train", "drill", "demo show",
            "models list", "stream lag", "benchmark cmapss", "gateway run"} <= names  # fmt: skip
    leaves = {" ".join(p) for p, _ in LEAVES}
    assert {"simulate", "train", "drill", "status", "settings"} <= leaves


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "forewarn")
def test_help_reads_well(path: tuple[str, ...]) -> None:
    result = invoke([*path, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: forewarn {' '.join(path)}".rstrip() in result.stdout
    assert "``" not in result.stdout
    assert ":func:`" not in result.stdout
    assert "--install-completion" not in result.stdout


@pytest.mark.parametrize("path", [p for p, _ in LEAVES], ids=" ".join)
def test_a_single_command_does_not_pretend_to_take_a_subcommand(path: tuple[str, ...]) -> None:
    usage = next(line for line in invoke([*path, "--help"]).stdout.splitlines() if "Usage:" in line)
    assert "COMMAND [ARGS]" not in usage, usage


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "forewarn")
def test_an_unknown_option_is_one_line_and_exit_2(path: tuple[str, ...]) -> None:
    result = invoke([*path, "--no-such-option"])
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert "--no-such-option" in line
    assert "--help" in line  # says where the options are


NUMERIC = [
    (path, option.opts[0])
    for path, cmd in COMMANDS
    for option in cmd.params
    if option.param_type_name == "option"
    and option.type_descriptor.annotation in (int, float)  # type: ignore[attr-defined]
    and option.opts[0].startswith("--")
]


@pytest.mark.parametrize(
    ("path", "option"), NUMERIC, ids=lambda v: " ".join(v) if isinstance(v, tuple) else v
)
def test_a_bad_number_is_one_line_and_exit_2(path: tuple[str, ...], option: str) -> None:
    result = invoke([*path, option, "not-a-number"])
    assert result.exit_code == 2, result.output
    assert option in one_error_line(result)


REQUIRED = [
    (path, [p for p in cmd.params if p.required])
    for path, cmd in LEAVES
    if any(p.required for p in cmd.params)
]


@pytest.mark.parametrize(
    ("path", "required"), REQUIRED, ids=lambda v: " ".join(v) if isinstance(v, tuple) else ""
)
def test_a_missing_required_value_is_one_line_and_exit_2(
    path: tuple[str, ...], required: list[_click.core.Parameter]
) -> None:
    result = invoke(list(path))
    assert result.exit_code == 2, result.output
    assert "Missing" in one_error_line(result)


def test_a_group_run_bare_shows_its_help() -> None:
    result = invoke(["stack"])
    assert result.exit_code == 2  # click's convention: a group needs its command
    assert "up" in result.stdout
    assert "status" in result.stdout
    assert "Traceback" not in result.output


def test_the_number_cases_cover_every_command_family() -> None:
    # the walk must find options inside groups, not only on the top: guards the parametrisation itself
    assert {p[0] for p, _ in NUMERIC} >= {"simulate", "train", "stack", "demo", "benchmark"}


SHOWING = {"list", "show", "status", "lag", "settings"}


@pytest.mark.parametrize("path", [p for p, _ in LEAVES if p[-1] in SHOWING], ids=" ".join)
def test_a_command_that_lists_or_shows_offers_json(path: tuple[str, ...]) -> None:
    command = dict(COMMANDS)[path]
    assert any("--json" in getattr(p, "opts", []) for p in command.params), (
        f"`forewarn {' '.join(path)}` has no --json"
    )
