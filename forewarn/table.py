"""Plain-text tables for the command line: aligned columns a person reads and ``awk`` can split.

Every listing command prints one of these by default and JSON with ``--json``; a table has no
borders and no colours, so it reads the same in a terminal, a log and a pipe.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

GAP = "  "


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """``header`` and ``rows`` as left-aligned columns two spaces apart (no trailing spaces).

    Raises:
        ValueError: a row has not as many cells as the header.
    """
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row has {len(row)} cells, the header {len(header)}: {list(row)!r}")
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [GAP.join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in (header, *rows)]  # fmt: skip
    return "\n".join(lines)


def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with ``…`` when longer."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "…"


def utc_text(at: datetime | None) -> str:
    """A time as ``2026-01-01T00:00:00Z`` (UTC, seconds), ``-`` for none."""
    if at is None:
        return "-"
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
