"""The READMEs never document a command that does not exist or an option it does not take.

Every ``forewarn …`` line of a ```bash block in README.md and each folder's README is parsed by the
real command tree (click's ``make_context``: options and arguments are checked, nothing runs); every
inline `` `forewarn …` `` span must name an existing command.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer import _click
from typer.core import TyperGroup
from typer.main import get_command

from chain.cli import app
from forewarn.paths import project_root

ROOT = project_root()
READMES = [ROOT / "README.md", *sorted(ROOT.glob("*/README.md"))]
TOP = get_command(app)


def bash_commands(text: str) -> list[str]:
    """``forewarn …`` commands in ```bash blocks (comments dropped, ``&&``/``;``/``|`` chains split)."""
    found = []
    for block in re.findall(r"^```(?:bash|sh|shell|console)\n(.*?)^```", text, re.S | re.M):
        for line in block.splitlines():
            code = re.split(r"\s+#", line, maxsplit=1)[0].strip().removeprefix("$ ")
            for part in re.split(r"&&|\|\||;|\|", code):
                if part.strip().startswith("forewarn "):
                    found.append(part.strip())
    return found


def inline_commands(text: str) -> list[str]:
    """Inline `` `forewarn …` `` spans outside code blocks, without placeholders (``a|b``, ``NAME``)."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    spans = re.findall(r"`(forewarn [^`]+)`", prose)
    return [s for s in spans if not re.search(r"[|…<\[]|\b[A-Z][A-Z_]+\b", s)]


CASES = [(path.relative_to(ROOT), cmd) for path in READMES for cmd in bash_commands(path.read_text())]
SPANS = sorted(
    {(path.relative_to(ROOT), cmd) for path in READMES for cmd in inline_commands(path.read_text())}
)


def resolve(words: list[str]) -> tuple[list[str], _click.Command, list[str]]:
    """The command ``words`` name and the words left for it (options and arguments)."""
    path: list[str] = []
    command: _click.Command = TOP
    rest = list(words)
    while isinstance(command, TyperGroup) and rest and rest[0] in command.commands:
        path.append(rest[0])
        command = command.commands[rest.pop(0)]
    return path, command, rest


def test_the_readmes_document_commands() -> None:
    assert len(CASES) >= 10  # the walk finds the pipeline block; guards the parser itself
    assert any(cmd.startswith("forewarn status") for _, cmd in CASES + SPANS)


@pytest.mark.parametrize(("readme", "line"), CASES, ids=[f"{r}: {c}" for r, c in CASES])
def test_a_documented_command_parses(readme: Path, line: str) -> None:
    words = shlex.split(line)[1:]
    path, command, rest = resolve(words)
    if isinstance(command, TyperGroup) and not command.invoke_without_command:
        pytest.fail(f"{readme}: `{line}`: `forewarn {' '.join(path)}` has no command {rest[:1]}")
    try:
        command.make_context(" ".join(["forewarn", *path]), rest)
    except _click.exceptions.UsageError as exc:
        pytest.fail(f"{readme}: `{line}` does not parse: {exc.format_message()}")


@pytest.mark.parametrize(("readme", "span"), SPANS, ids=[f"{r}: {c}" for r, c in SPANS])
def test_a_command_named_in_the_text_exists(readme: Path, span: str) -> None:
    path, command, rest = resolve(shlex.split(span)[1:])
    words = [w for w in rest if not w.startswith("-")]
    if isinstance(command, TyperGroup) and not command.invoke_without_command and words:
        pytest.fail(f"{readme}: `{span}`: `forewarn {' '.join(path)}` has no command {words[0]!r}")
    assert path or not words, f"{readme}: `{span}` names no command"
