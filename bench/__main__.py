"""``python -m bench``: every hop's benchmark and the end-to-end one, into one JSON (``make bench``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from bench.suite import run_bench
from forewarn.settings import StackSettings, load


def _progress(text: str) -> None:
    """Progress goes to stderr: stdout is the JSON result."""
    typer.echo(text, err=True)
    sys.stderr.flush()


def bench(
    out: Annotated[Path, typer.Option(help="The combined JSON.")] = Path(".state/bench/forewarn.json"),
    quick: Annotated[bool, typer.Option(help="Smaller sizes (a few minutes).")] = False,
) -> None:
    """Ingest, stream (both shapes and the knob sweep), alerts and InfluxDB-sink hops, then end to end."""
    result = run_bench(load(StackSettings).state_dir, out, _progress, quick)
    typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    typer.echo(f"written to {out}", err=True)


typer.run(bench)
