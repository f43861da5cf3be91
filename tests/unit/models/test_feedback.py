"""The feedback source's pure parts: the label file, stored telemetry as readings, thinning."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forewarn.contracts.labels import NO_FAILURE, Label, LabelSource, write_label_file
from models.feedback import (
    json_lines,
    read_label_file,
    reading_step_s,
    telemetry_columns,
    telemetry_readings,
)
from models.sources import SourceError
from models.training import thin_healthy

HEADER = "asset_id,ts,failure_mode,source\n"


def test_an_exported_label_file_becomes_the_label_table(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(
        HEADER + "pump-1,2026-01-01T00:05:00+00:00,seal_leak,work_order\n"
        "pump-2,2026-01-01T00:07:00+00:00,none,false_alarm\n"
    )
    table = read_label_file(path)
    assert table["asset_id"].tolist() == ["pump-1", "pump-2"]
    assert table["failure_mode"].tolist() == ["seal_leak", "none"]
    assert table["time"].iloc[0] == pd.Timestamp("2026-01-01T00:05:00Z")
    assert table["cycle"].isna().all()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_label_file_written_through_the_contract_is_read_back(tmp_path: Path, suffix: str) -> None:
    seen = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    labels = [
        Label(asset_id="pump-1", ts=seen, failure_mode="seal_leak", source=LabelSource.WORK_ORDER),
        Label(asset_id="pump-2", ts=seen, failure_mode=NO_FAILURE, source=LabelSource.FALSE_ALARM),
    ]
    path = tmp_path / f"labels{suffix}"
    write_label_file(labels, path)
    table = read_label_file(path)
    assert table["asset_id"].tolist() == ["pump-1", "pump-2"]
    assert table["failure_mode"].tolist() == ["seal_leak", NO_FAILURE]
    assert table["source"].tolist() == [LabelSource.WORK_ORDER, LabelSource.FALSE_ALARM]
    assert (table["time"] == pd.Timestamp(seen)).all()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("asset_id,ts,source\npump-1,2026-01-01T00:00:00Z,work_order\n", "lacks columns ['failure_mode']"),
        (HEADER, "holds no labels"),
        (HEADER + "pump-1,last tuesday,seal_leak,work_order\n", "ISO 8601"),
        (HEADER + "pump-1,2026-01-01T00:00:00Z,seal_leak,rumour\n", "unknown label source"),
        (HEADER + "pump-1,2026-01-01T00:00:00Z, ,work_order\n", "empty failure_mode"),
    ],
)
def test_bad_label_files_are_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(text)
    with pytest.raises(SourceError, match=re.escape(message)):
        read_label_file(path)


def test_a_missing_label_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        read_label_file(tmp_path / "nope.csv")


def points() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": [2000, 1000, 3000, 3000, 1000],
            "asset_id": ["a", "a", "a", "a", "b"],
            "site": "s1",
            "seq": [1, 0, 2, 2, 0],
            "setting.load_frac": [0.7, 0.7, 0.7, 0.7, 0.3],
            "sensor.vibration_mm_s": [2.0, 2.1, 2.2, 2.2, 1.5],
            "sensor.flow_m3_h": [30.0, 30.5, 29.0, 29.0, 10.0],
            "sensor.sensor_2": None,  # another fleet's field: SELECT * returns it, empty here
        }
    )


def test_stored_points_become_ordered_readings_once_each() -> None:
    readings = telemetry_readings(points())
    assert readings[["asset_id", "seq", "cycle", "ts_ms"]].to_numpy().tolist() == [
        ["a", 0, 0, 1000], ["a", 1, 1, 2000], ["a", 2, 2, 3000], ["b", 0, 0, 1000],
    ]  # fmt: skip
    assert reading_step_s(readings) == 1.0
    assert list(readings.columns) == [
        "ts_ms", "cycle", "asset_id", "site", "seq", "load_frac", "vibration_mm_s", "flow_m3_h",
    ]  # fmt: skip
    columns = telemetry_columns(points())
    assert columns.settings == ("load_frac",)
    assert columns.sensors == ("vibration_mm_s", "flow_m3_h")
    assert columns.setting_decimals == (1,)  # the simulated fleet's own rounding
    assert not columns.cycle_is_age


def test_any_fleets_settings_are_settings_by_the_contracts_prefix() -> None:
    """Not only the simulator's: a setting is what the scoring job wrote under ``setting.``."""
    frame = points().rename(columns={"setting.load_frac": "setting.valve_open_pct"})
    frame["sensor.valve_open_pct"] = 5.0  # a sensor of the same name wins, as in the scoring job
    frame["setting.inlet_bar"] = 2.0
    columns = telemetry_columns(frame)
    assert columns.settings == ("inlet_bar",)
    assert columns.sensors == ("vibration_mm_s", "flow_m3_h", "valve_open_pct")
    assert columns.setting_decimals == (2,)  # a source forewarn does not know
    readings = telemetry_readings(frame)
    assert readings["valve_open_pct"].tolist() == [5.0] * 4
    with pytest.raises(SourceError, match=r"no sensor fields \(named sensor\.<name>"):
        telemetry_columns(points().rename(columns=lambda c: c.replace("sensor.", "")))


def test_one_reading_per_asset_gives_no_interval() -> None:
    with pytest.raises(SourceError, match="reading interval"):
        reading_step_s(telemetry_readings(points().iloc[[1, 4]]))


def test_thinning_keeps_the_run_up_and_every_nth_healthy_row() -> None:
    rul = np.array([300, 200, 150, 130, 125, 124, 60, 0, 500, 400, 300])
    keep = thin_healthy(rul, 125, 2)
    assert keep[5:8].all()  # below the cap: all kept
    assert keep[rul >= 125].sum() == 4  # 8 healthy rows, every second
    assert thin_healthy(rul, 125, 1).all()


@given(
    documents=st.lists(
        st.dictionaries(
            st.text(min_size=1), st.one_of(st.text(), st.integers(-(2**63), 2**63 - 1), st.none()), max_size=5
        ),
        min_size=1,
        max_size=5,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
)
def test_chunked_answers_split_into_their_documents_whatever_the_names_hold(
    documents: list[dict[str, object]], cuts: list[int]
) -> None:
    # field names may hold U+2028, U+0085, \x1c...: a text line splitter would cut a document there
    body = b"".join(orjson.dumps(d) + b"\n" for d in documents)
    edges = sorted({0, len(body), *(c % (len(body) + 1) for c in cuts)})
    chunks = [body[a:b] for a, b in itertools.pairwise(edges)]
    assert [orjson.loads(line) for line in json_lines(chunks)] == documents


def test_a_name_with_a_unicode_line_separator_stays_in_its_document() -> None:
    columns = ["time", "sensor.a\u2028b\x1cc\x85"]
    document = {"results": [{"series": [{"columns": columns, "values": [[1, 2]]}]}]}
    chunks = [orjson.dumps(document) + b"\n"]
    assert [orjson.loads(line) for line in json_lines(chunks)] == [document]
