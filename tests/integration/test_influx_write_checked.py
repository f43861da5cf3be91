"""``InfluxWriter.write_checked`` (and ``write_checked_chunks``, the lines joined in chunks as the
scoring job sends them) against the real InfluxDB: three bad lines among 1,000 (a parse error, a
field type conflict, a trailing backslash InfluxDB 1.x cannot read) are refused alone with
InfluxDB's error; the 997 others are written and read back."""

from __future__ import annotations

import pytest

from forewarn.influx import InfluxWriter, query
from infra.stack.service import StackContext

pytestmark = pytest.mark.integration

T0_MS = 1_767_225_600_000  # every point in one shard (autogen's shard groups are 7 days)


@pytest.mark.parametrize("chunks", [False, True], ids=["lines", "chunks"])
def test_three_bad_lines_among_a_thousand_are_refused_alone(
    stack: StackContext, influx_database: str, chunks: bool
) -> None:
    settings = stack.influx.model_copy(update={"database": influx_database})
    with InfluxWriter(settings) as writer:
        assert writer.write([f"m,asset_id=seed v=0.5 {T0_MS}"]) == 1  # m.v is a float from now on
        lines = [f"m,asset_id=a{i} v={i}.25 {T0_MS + i}" for i in range(1000)]
        bad = {
            17: f"m,asset_id=parse v= {T0_MS}",  # no value: "unable to parse"
            400: f"m,asset_id=conflict v=7i {T0_MS + 1}",  # an integer where floats are: type conflict
            901: f"m,asset_id=escape\\\\ v=1.0 {T0_MS + 2}",  # a tag value ending with a backslash
        }
        for index, entry in bad.items():
            lines[index] = entry
        if chunks:
            outcome = writer.write_checked_chunks("\n".join(lines[i : i + 300]) for i in range(0, 1000, 300))
        else:
            outcome = writer.write_checked(lines)

    assert outcome.written == 997
    assert [(r.index, r.line) for r in outcome.refused] == sorted(bad.items())
    errors = {r.index: r.error for r in outcome.refused}
    assert "unable to parse" in errors[17]
    assert "field type conflict" in errors[400]
    assert "unable to parse" in errors[901]
    assert all(error.startswith("HTTP 400: ") for error in errors.values())

    (series,) = query(settings, 'SELECT count("v") FROM "m" WHERE "asset_id" != \'seed\'')
    assert series.values[0][1] == 997
    assets = query(settings, 'SHOW TAG VALUES FROM "m" WITH KEY = "asset_id"')
    stored = {row["value"] for row in assets[0].rows()}
    expected = {f"a{i}" for i in range(1000) if i not in bad} | {"seed"}
    # InfluxDB 1.x writes a refused batch's parsable lines, so "conflict"'s tag may exist without a point
    assert stored - {"conflict", "parse", "escape\\\\"} == expected
