"""The console's time-series shaping (windows, buckets, counters → increases and rates, chart JSON)
and the pipeline page's reading of ``pipeline`` series: pure functions, no service.

The same shaping runs against the real InfluxDB in tests/integration/alerts/test_console_influx.py.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.console import pipeline_view as pv
from alerts.console import timeseries as ts
from alerts.console.web import templates
from alerts.report import Window
from forewarn.influx import Series

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
HOUR = Window(NOW - timedelta(hours=1), NOW)
T = int(HOUR.since.timestamp())


# -- windows and buckets ----------------------------------------------------------------------------


def test_window_back_defaults_parses_and_bounds() -> None:
    week, longest = timedelta(days=7), timedelta(days=90)
    assert ts.window_back("", NOW, default=week, longest=longest) == Window(NOW - week, NOW)
    assert ts.window_back("36h", NOW, default=week, longest=longest).since == NOW - timedelta(hours=36)
    with pytest.raises(ts.WindowError, match="longer than the 90 days"):
        ts.window_back("91d", NOW, default=week, longest=longest)
    with pytest.raises(ts.WindowError, match="not a duration"):
        ts.window_back("7 days; DROP", NOW, default=week, longest=longest)


def test_parse_instant_reads_dates_and_times_as_utc() -> None:
    assert ts.parse_instant("2026-01-31") == datetime(2026, 1, 31, tzinfo=UTC)
    assert ts.parse_instant("2026-01-31", end_of_day=True) == datetime(2026, 2, 1, tzinfo=UTC)
    assert ts.parse_instant("2026-01-31T08:00+02:00") == datetime(2026, 1, 31, 6, tzinfo=UTC)
    assert ts.parse_instant("2026-01-31T08:00", end_of_day=True) == datetime(2026, 1, 31, 8, tzinfo=UTC)
    with pytest.raises(ts.WindowError):
        ts.parse_instant("2026-13-01")


def test_window_params_keep_the_milliseconds_of_now() -> None:
    window = Window(NOW - timedelta(hours=1), NOW + timedelta(milliseconds=250))
    assert ts.window_params(window) == {
        "since": "2026-03-01T11:00:00.000Z",
        "until": "2026-03-01T12:00:00.250Z",
    }


@given(st.integers(min_value=1, max_value=400 * 86400))
def test_bucket_is_the_smallest_nice_one_that_fits(span_s: int) -> None:
    window = Window(NOW - timedelta(seconds=span_s), NOW)
    size = ts.bucket_s(window)
    assert span_s / size <= ts.CHART_POINTS
    smaller = [b for b in ts.NICE_BUCKETS_S if b < size]
    if smaller and size in ts.NICE_BUCKETS_S:
        assert span_s / smaller[-1] > ts.CHART_POINTS


# -- counters --------------------------------------------------------------------------------------

# A counter's life: each step either adds a non-negative amount or restarts the producer, which then
# reports a value below the last one (counting again from zero).
steps = st.lists(
    st.tuples(st.booleans(), st.integers(min_value=0, max_value=10_000)), min_size=1, max_size=200
)


def _counter(life: list[tuple[bool, int]], start: int) -> tuple[list[float], float]:
    """Values of a counter starting at ``start`` and what it truly rose by."""
    values, rise, current = [], 0.0, start
    for restart, amount in life:
        if restart and current > 0:
            current = amount % current  # below the last value: a restart, counting from zero
            rise += current
        else:
            current += amount
            rise += amount
        values.append(float(current))
    return values, rise


@given(steps, st.integers(min_value=0, max_value=10**6))
def test_increase_counts_every_rise_and_every_restart(life: list[tuple[bool, int]], base: int) -> None:
    values, rise = _counter(life, base)
    assert ts.increase(values, float(base)) == rise


def test_increase_without_a_base_counts_from_zero() -> None:
    assert ts.increase([3.0, 5.0, 1.0, 4.0]) == 3 + 2 + 1 + 3
    assert ts.increase([], 7.0) == 0


@given(steps, st.lists(st.integers(min_value=1, max_value=600), min_size=200, max_size=200))
def test_rates_times_their_intervals_add_up_to_the_increase(
    life: list[tuple[bool, int]], gaps: list[int]
) -> None:
    values, _ = _counter(life, 0)
    times = [T + sum(gaps[: i + 1]) for i in range(len(values))]
    rates = ts.rates(times, values)
    assert rates[0] is None
    assert all(r is None or r >= 0 for r in rates)
    summed = sum((r or 0.0) * (t - p) for r, t, p in zip(rates[1:], times[1:], times[:-1], strict=True))
    assert math.isclose(summed, ts.increase(values[1:], values[0]), rel_tol=1e-9, abs_tol=1e-6)


# -- chart JSON ------------------------------------------------------------------------------------


@given(st.lists(st.dictionaries(st.integers(0, 10_000), st.floats(allow_nan=False), max_size=50), max_size=6))
def test_align_puts_every_series_on_one_sorted_axis(series: list[dict[int, float]]) -> None:
    xs, ys = ts.align(series)
    assert xs == sorted({t for s in series for t in s})
    for s, values in zip(series, ys, strict=True):
        assert len(values) == len(xs)
        assert {t: v for t, v in zip(xs, values, strict=True) if v is not None} == s


def test_chart_drops_empty_lines_and_turns_non_finite_values_into_gaps() -> None:
    lines = [
        ts.Line("a", {10: 0.5, 20: math.nan}, "risk"),
        ts.Line("empty", {}),
        ts.Line("b", {20: math.inf}),
    ]
    data = ts.chart("Risk", lines, {"risk": "P"}, {"risk": (0.0, 1.0)})
    assert data["x"] == [10, 20]
    assert [s["label"] for s in data["series"]] == ["a", "b"]
    assert data["series"][0]["values"] == [0.5, None]
    assert data["series"][1]["values"] == [None, None]
    assert data["axes"] == [{"scale": "risk", "label": "P", "range": [0.0, 1.0]}]
    json.dumps(data, allow_nan=False)  # what the page embeds is strict JSON
    rates = ts.chart("Rates", [ts.Line("in", {10: 1.6})], {"rate": "per s"}, zero={"rate"})
    assert rates["axes"] == [{"scale": "rate", "label": "per s", "zero": True}]


def test_chart_json_cannot_close_its_script_element() -> None:
    hostile = '</script><script>alert("x")</script><!--'
    data = ts.chart(hostile, [ts.Line(hostile, {1: 1.0})], {"y": hostile})
    macros = templates.env.get_template("chart_macros.html").module
    html = str(macros.chart(data, "c1"))  # type: ignore[attr-defined]
    body = html.split('<script type="application/json" id="c1">', 1)[1].rsplit("</script>", 1)[0]
    assert "<" not in body
    assert ">" not in body
    assert json.loads(body)["series"][0]["label"] == hostile
    assert "<figcaption>&lt;/script&gt;" in html


# -- the pipeline page ------------------------------------------------------------------------------


def _series(tags: dict[str, str], columns: list[str], rows: list[list[object]]) -> Series:
    return Series("pipeline", tags, ("time", *columns), tuple(tuple(r) for r in rows))


GW = {"component": "gateway", "gateway_id": "gw-1"}
BUCKET_COLUMNS = [*pv.COUNTERS, *pv.GAUGES]


def _bucket_row(t_s: int, readings_in: int, lag: int | None = None) -> list[object]:
    values: dict[str, object] = {"readings_in": readings_in, "readings_out": readings_in, "consumer_lag": lag}
    return [t_s * 1000, *(values.get(c) for c in BUCKET_COLUMNS)]


def test_split_tells_the_four_statements_apart() -> None:
    counters = _series(GW, BUCKET_COLUMNS, [_bucket_row(T, 10)])
    base = _series(GW, [pv.BASE + c for c in pv.COUNTERS], [[0, 5, 5, 5, 5, 5, 5]])
    reason = _series({**GW, "reason": "too_old"}, ["dead_letters"], [[T * 1000, 3]])
    reason_base = _series({**GW, "reason": "too_old"}, [pv.BASE + "dead_letters"], [[0, 1]])
    assert pv.split([reason_base, counters, reason, base]) == ([counters], [base], [reason], [reason_base])
    assert pv.statements(10).count("SELECT") == 4


def test_a_hop_counts_from_its_value_before_the_window_and_through_a_restart() -> None:
    rows = [_bucket_row(T + 10, 110, lag=4), _bucket_row(T + 20, 130), _bucket_row(T + 30, 20, lag=9)]
    found = pv.samples([_series(GW, BUCKET_COLUMNS, rows)], ("component", "gateway_id"))
    before = pv.bases([_series(GW, [pv.BASE + "readings_in"], [[0, 100]])], ("component", "gateway_id"))
    [hop] = pv.hops(found, before, HOUR)
    assert hop.label == "gateway gw-1"
    assert hop.totals["readings_in"] == 10 + 20 + 20  # 100 → 110 → 130, restart → 20
    assert hop.per_s["readings_in"] == pytest.approx(50 / 30)  # from the window's start
    assert hop.totals["readings_out"] == 110 + 20 + 20  # no value before: counted from zero
    assert hop.per_s["readings_out"] == pytest.approx(150 / 20)  # from its first report
    assert hop.now_per_s["readings_in"] == pytest.approx(2.0)
    assert hop.gauges == {"consumer_lag": 9.0, "spool_depth": None}
    assert hop.last_seen_s == T + 30
    charts = pv.throughput_charts([hop])
    assert [c["title"] for c in charts] == ["Readings per second", "Consumer lag and spool depth"]
    assert charts[0]["series"][0]["values"] == [None, 2.0, 2.0]


def test_dead_letters_count_per_reason_including_a_reason_new_in_the_window() -> None:
    keys = ("component", "gateway_id", "reason")
    found = pv.samples(
        [
            _series({**GW, "reason": "too_old"}, ["dead_letters"],
                    [[(T + 10) * 1000, 7], [(T + 20) * 1000, 9]]),
            _series({**GW, "reason": "malformed_json"}, ["dead_letters"], [[(T + 20) * 1000, 2]]),
            _series({"component": "streaming", "gateway_id": "", "reason": "too_old"}, ["dead_letters"],
                    [[(T + 20) * 1000, 4]]),
            _series({**GW, "reason": "unknown_asset"}, ["dead_letters"], [[(T + 20) * 1000, 5]]),
        ],
        keys,
    )  # fmt: skip
    before = pv.bases(
        [
            _series({**GW, "reason": "too_old"}, [pv.BASE + "dead_letters"], [[0, 6]]),
            _series({**GW, "reason": "unknown_asset"}, [pv.BASE + "dead_letters"], [[0, 5]]),
        ],
        keys,
    )
    letters = pv.dead_letters(found, before)
    assert [(d.component, d.reason, d.count) for d in letters] == [
        ("streaming", "too_old", 4),
        ("gateway", "too_old", 3),
        ("gateway", "malformed_json", 2),
    ]  # most first; unknown_asset did not rise in the window: not listed
    assert pv.by_reason(letters) == [("too_old", 7), ("malformed_json", 2)]
