"""The soak's arithmetic: slopes per hour, first/last/peak, max lag, the printed table."""

from __future__ import annotations

import pytest

from bench.soak_report import Sample, slope_per_hour, summarize, table


def test_slope_per_hour_is_least_squares_over_every_sample() -> None:
    times = [0.0, 60.0, 120.0, 180.0]
    assert slope_per_hour(times, [100.0, 101.0, 102.0, 103.0]) == pytest.approx(60.0)
    assert slope_per_hour(times, [100.0, 104.0, 96.0, 100.0]) == pytest.approx(-48.0)  # -240/18000 per s
    assert slope_per_hour([0.0], [1.0]) is None
    assert slope_per_hour([5.0, 5.0], [1.0, 2.0]) is None


def test_summary_per_process_and_lag() -> None:
    samples = [
        Sample(0.0, {"gateway": (50.0, 10), "stream/jvm": (900.0, 300)}, {"risk→engine": None}),
        Sample(1800.0, {"gateway": (60.0, 12), "stream/jvm": (950.0, 300)}, {"risk→engine": 40}),
        Sample(3600.0, {"gateway": (70.0, 14)}, {"risk→engine": 5}),
    ]
    summary = summarize(samples)
    gateway = summary["processes"]["gateway"]
    assert (gateway["rss_mb_first"], gateway["rss_mb_last"], gateway["rss_mb_peak"]) == (50.0, 70.0, 70.0)
    assert gateway["rss_mb_per_h"] == pytest.approx(20.0)
    assert gateway["fds_per_h"] == pytest.approx(4.0)
    jvm = summary["processes"]["stream/jvm"]  # gone from the last sample: its own two points
    assert (jvm["samples"], jvm["rss_mb_peak"], jvm["rss_mb_per_h"]) == (2, 950.0, pytest.approx(100.0))
    assert summary["lags"] == {"risk→engine": {"max": 40, "last": 5}}
    text = table(summary)
    assert "gateway" in text
    assert "stream/jvm" in text
    assert "risk→engine" in text
    assert "20.0" in text
