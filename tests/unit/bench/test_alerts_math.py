"""The benchmark's percentile and synthetic fleet (the benchmark itself runs by `forewarn alerts bench`)."""

from __future__ import annotations

from bench import alerts as bench
from tests.unit.alerts.helpers import T0


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert bench.percentile(values, 50) == 50.0
    assert bench.percentile(values, 99) == 99.0
    assert bench.percentile([5.0], 99) == 5.0


def test_fleet_stream_has_incidents_on_every_tenth_asset() -> None:
    stream = bench.fleet_stream(records=3000, assets=30, start=T0)
    assert len(stream) == 3000
    hot = {r.asset_id for r in stream if r.risk >= 0.8}
    assert hot == {"asset-0", "asset-10", "asset-20"}
