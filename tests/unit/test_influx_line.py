"""Line protocol: what every forewarn sink writes to InfluxDB."""

from __future__ import annotations

import math

import numpy as np

from forewarn.influx import escape_tag, line


def test_fields_by_type_tags_sorted_and_escaped() -> None:
    point = line(
        "telemetry",
        {"site": "plant 1", "asset_id": "a,b=c", "empty": ""},
        {"temp": 21.5, "seq": 7, "ok": True, "note": 'say "hi"\\'},
        1_767_225_600_000,
    )
    assert point == (
        "telemetry,asset_id=a\\,b\\=c,site=plant\\ 1"
        ' temp=21.5,seq=7i,ok=true,note="say \\"hi\\"\\\\" 1767225600000'
    )


def test_values_line_protocol_cannot_hold_are_left_out() -> None:
    """A payload with a null, a list or an object where a number belongs must not crash a sink."""
    point = line("t", {"a": "b"}, {"x": None, "y": [1, 2], "z": {"k": 1}, "n": math.nan, "v": 2.0}, 1)
    assert point == "t,a=b v=2.0 1"
    assert line("t", {"a": "b"}, {"x": None, "n": math.inf}, 1) is None


def test_escape_tag_is_the_same_cached_or_not() -> None:
    for value in ("plain", "with space", "a,b", "k=v", "back\\slash", "with space"):
        expected = value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")
        assert escape_tag(value) == expected


def test_numpy_values_are_written_as_their_python_kind() -> None:
    """What pandas hands a sink: numpy's repr (``np.float64(1.5)``) is no line protocol."""
    fields = {"a": np.float64(1.5), "b": np.float64("nan"), "c": np.int64(2), "d": np.float32(0.5)}
    assert line("t", {}, fields, 1) == "t a=1.5,c=2i,d=0.5 1"
