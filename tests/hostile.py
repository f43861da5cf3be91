"""Hostile telemetry for property tests: what a site could publish, the nastier the better.

Shared by the contract's unit tests (``tests/unit/contracts/test_hostile_names.py``) and the
end-to-end one (``tests/integration/streaming/test_hostile_readings.py``). Documents are built as
Python values and written by :func:`dumps`, which, unlike orjson, writes what JSON parsers meet in
the wild: ``NaN``/``Infinity`` tokens and integers of any size (``10**400``).
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from hypothesis import strategies as st

SETTING_NAMES = ("setting_1", "setting_2", "setting_3")
"""C-MAPSS's operating settings (``ingest.cmapss.SETTING_COLUMNS``)."""
SENSOR_NAMES = tuple(f"sensor_{i}" for i in range(1, 22))
"""C-MAPSS's 21 sensors: a reading with all of them is scorable by a C-MAPSS champion."""
NASTY_NAMES = (
    "a\nb",  # the one InfluxDB 1.x refuses a whole batch for
    "\n",
    "a\r\nb",
    "\x00",
    "tab\there",
    "del\x7f",
    "nel\x85",
    "line\u2028sep",
    "para\u2029sep",
    "non\ufffe",
    "ends with\\",
    "\\",
    "",
    "x" * 129,
    "x" * 128,
    "time",
    "_x",
    "back\\slash",
    '"quoted"',
    "a=b",
    "with space",
    "a,b",
    " ",
    "sensor.x",
    "🔥",
    "👩\u200d🔧",
    "é",
    "#comment",
)
"""Names written out because a random text rarely hits them; some pass, some are ``bad_name``."""
EXTREME_FLOATS = (
    1.7976931348623157e308,
    -1.7976931348623157e308,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    0.0,
    -0.0,
    1e16,
    math.nan,
    math.inf,
    -math.inf,
)
HUGE_INTEGERS = (2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**400, -(10**400))

names = st.one_of(st.sampled_from(NASTY_NAMES), st.text(max_size=12), st.text(min_size=120, max_size=140))
leaves = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(),
    st.sampled_from(EXTREME_FLOATS),
    st.integers(),
    st.sampled_from(HUGE_INTEGERS),
    st.booleans(),
    st.none(),
    st.text(max_size=8),
)
values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),  # most values are fine: the rest of a reading is tested
    st.floats(allow_nan=False, allow_infinity=False),
    st.recursive(leaves, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(names, kids, max_size=3),
                 max_leaves=6),
)  # fmt: skip


def numbers(min_size: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """A settings or sensors object: hostile names and values, sometimes thousands of them."""
    finite = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(EXTREME_FLOATS[:8]))
    return st.one_of(
        st.dictionaries(names, finite, min_size=min_size, max_size=4),  # hostile names only
        st.dictionaries(names, values, min_size=min_size, max_size=6),
        st.integers(1000, 4000).map(lambda n: {f"s{i}": float(i) for i in range(n)}),
    )


def scorable(seq: int, ts_ms: int) -> dict[str, Any]:
    """A good C-MAPSS-shaped reading (3 settings, 21 sensors) at ``seq``/``ts_ms``, without its asset."""
    return {
        "schema": 1,
        "ts": ts_ms,
        "seq": seq,
        "settings": {name: 0.001 * (i + 1) for i, name in enumerate(SETTING_NAMES)},
        "sensors": {name: 500.0 + seq * 0.01 + i for i, name in enumerate(SENSOR_NAMES)},
    }


def readings(asset_id: str, now_ms: int) -> st.SearchStrategy[dict[str, Any]]:
    """One hostile reading of ``asset_id``: every field may be off, or only its names and values.

    Half are C-MAPSS-shaped with hostile extra settings or sensors, so they pass the gateway's types,
    reach the scoring job and, with names that pass, InfluxDB too.
    """
    seqs = st.one_of(st.integers(0, 50), st.just(2**63 - 1), st.sampled_from(HUGE_INTEGERS), leaves)
    ts = st.one_of(
        st.integers(now_ms - 60_000, now_ms),
        st.sampled_from([0, -1, 9_223_372_036_855, 10**18, "2262-04-12T00:00:00Z", "1969-01-01T00:00:00Z",
                         "2026-02-30T00:00:00Z", "now", ""]),
        leaves,
    )  # fmt: skip
    shaped = st.builds(
        lambda seq, ts_ms, settings, sensors: {
            **scorable(seq, ts_ms),
            "asset_id": asset_id,
            "settings": {**scorable(seq, ts_ms)["settings"], **settings},
            "sensors": {**scorable(seq, ts_ms)["sensors"], **sensors},
        },
        st.integers(0, 50),
        st.integers(now_ms - 60_000, now_ms),
        numbers(),
        numbers(),
    )
    anything = st.fixed_dictionaries(
        {"schema": st.one_of(st.just(1), st.just(1), leaves), "asset_id": st.just(asset_id), "ts": ts,
         "seq": seqs},
        optional={"settings": numbers(), "sensors": numbers(min_size=1), "extra": leaves},
    )  # fmt: skip
    return st.one_of(shaped, anything)


def dumps(value: Any) -> bytes:
    """JSON text of ``value`` as a careless producer writes it: NaN and infinities as the tokens
    ``NaN``/``Infinity`` (not JSON), integers of any size in full."""
    match value:
        case None:
            return b"null"
        case bool():
            return b"true" if value else b"false"
        case int():
            return str(value).encode()
        case float():
            if math.isnan(value):
                return b"NaN"
            if math.isinf(value):
                return b"Infinity" if value > 0 else b"-Infinity"
            return repr(value).encode()
        case str():
            return orjson.dumps(value)
        case list():
            return b"[" + b",".join(dumps(v) for v in value) + b"]"
        case dict():
            return b"{" + b",".join(orjson.dumps(k) + b":" + dumps(v) for k, v in value.items()) + b"}"
    raise TypeError(type(value))
