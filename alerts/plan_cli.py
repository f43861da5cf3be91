"""``forewarn plan crew|parts`` and ``forewarn parts …``: the planning commands.

The commands live beside their code (``alerts/planning/*_commands.py``); each module registers its
commands on the groups below when imported here.
"""

from __future__ import annotations

import typer

plan_app = typer.Typer(
    help="Service planning: schedule the crews with a solver; plan parts from predicted failures.",
    no_args_is_help=True,
)
parts_app = typer.Typer(
    help="Parts inventory as movements (receipts, issues, returns, transfers), lead times, reorder points.",
    no_args_is_help=True,
)

from alerts.planning import crew_commands, parts_commands, stock_commands  # noqa: E402, F401
