"""Packing the step's records for the JVM loses, reorders and invents nothing (``streaming.packed``).

Spark's side (``unpack``) runs in every job test (``tests/integration/streaming``), which read the
unpacked rows the sinks write; ``stepping.unpacked`` is its pandas reading for the unit tests.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.sql.types import ArrayType

from streaming import packed
from streaming.step import OUTPUT, PACKED, _Out
from tests.unit.streaming.stepping import unpacked

TEXT = st.text(max_size=8)
ROW = st.one_of(
    st.tuples(st.just("risk"), st.sampled_from(["risk", "risk-b"]), TEXT, st.binary(max_size=8), st.none()),
    st.tuples(st.just("dead"), st.just("telemetry.dlq"), TEXT, st.binary(max_size=8), TEXT),
    st.tuples(st.just("stats"), st.none(), st.none(), st.none(), st.none()),
    st.tuples(st.just("points"), st.none(), st.none(), st.none(), st.none()),
)


def _frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    out = _Out()
    for n, (kind, topic, key, value, reason) in enumerate(rows):
        if kind in ("risk", "dead"):
            out.rows(1, kind=kind, topic=topic, key=[key], value=[value], reason=[reason])
        else:
            out.rows(1, kind=kind, lines=f"line {n}", readings_in=n + 1, score_ms=n / 2)
    return out.frame()


def _records(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    rows = frame[frame["kind"].isin(packed.RECORD_KINDS)]
    return list(zip(rows["kind"], rows["topic"], rows["key"], rows["value"], rows["reason"], strict=True))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(ROW, max_size=40), per_row=st.integers(1, 6))
def test_packed_records_unpack_to_the_same_rows_in_the_same_order(
    rows: list[tuple[Any, ...]], per_row: int
) -> None:
    frame = _frame(rows)
    out = packed.pack(frame, per_row)
    assert list(out.columns) == PACKED.names
    assert _records(unpacked(out)) == _records(frame)
    record_rows = out[out["kind"].isin(packed.RECORD_KINDS)]
    assert all(1 <= len(keys) <= per_row for keys in record_rows["keys"])
    assert (record_rows["readings_in"] == 0).all()
    assert record_rows["lines"].isna().all()
    # the other rows pass as they were, in their order, with no record columns
    others = out[~out["kind"].isin(packed.RECORD_KINDS)]
    before = frame[~frame["kind"].isin(packed.RECORD_KINDS)]
    assert others["lines"].tolist() == before["lines"].tolist()
    assert others["readings_in"].tolist() == before["readings_in"].tolist()
    assert others["score_ms"].tolist() == before["score_ms"].tolist()
    assert others[["keys", "values", "reasons"]].isna().all().all()


def test_a_run_is_cut_where_the_topic_changes_and_every_per_row_records() -> None:
    rows: list[tuple[str, str, str, bytes, str | None]] = [
        ("risk", "risk", f"a{i}", b"v", None) for i in range(5)
    ]
    rows += [("dead", "telemetry.dlq", "d", b"x", "late"), ("risk", "risk", "b", b"w", None)]
    out = packed.pack(_frame(rows), per_row=2)
    assert out["kind"].tolist() == ["risk", "risk", "risk", "dead", "risk"]
    assert [len(k) for k in out["keys"]] == [2, 2, 1, 1, 1]
    assert out["reasons"].tolist()[3] == ["late"]


def test_the_packed_schema_carries_each_record_column_as_an_array() -> None:
    step_types = {f.name: f.dataType for f in OUTPUT.fields}
    for name, array in packed.PACKED_AS.items():
        carried = PACKED[array].dataType
        assert isinstance(carried, ArrayType)
        assert carried.elementType == step_types[name]
    assert [f.name for f in PACKED.fields if f.name not in packed.PACKED_AS.values()] == [
        f.name for f in OUTPUT.fields if f.name not in packed.PACKED_AS
    ]
