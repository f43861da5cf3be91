"""Plain-text tables: columns aligned on the widest cell, nothing trailing, times in UTC."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from forewarn.table import shorten, table, utc_text


def test_columns_align_on_the_widest_cell_without_trailing_spaces() -> None:
    text = table(("A", "LONG HEADER", "C"), [("wide cell", "x", ""), ("y", "z", "last")])
    assert text.splitlines() == [
        "A          LONG HEADER  C",
        "wide cell  x",
        "y          z            last",
    ]
    assert table(("ONLY",), []) == "ONLY"


def test_a_row_of_the_wrong_width_is_an_error() -> None:
    with pytest.raises(ValueError, match="a row has 1 cells, the header 2"):
        table(("A", "B"), [("1",)])


def test_shorten_and_utc_text() -> None:
    assert shorten("a  b\nc", 10) == "a b c"
    assert shorten("abcdefghij", 5) == "abcd…"
    plus_two = timezone(timedelta(hours=2))
    assert utc_text(datetime(2026, 1, 1, 2, 0, 0, 999, tzinfo=plus_two)) == "2026-01-01T00:00:00Z"
    assert utc_text(None) == "-"
