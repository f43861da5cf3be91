"""The fleet simulator: deterministic, physical, degrading, and its injected faults are what the
contract says they are."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from ingest.contract import ContractPolicy, decode, telemetry_topic
from ingest.fleet import SENSORS, FailureMode, Fleet, FleetConfig
from ingest.messages import FaultRates, batches
from ingest.simulate import SimulationRun, default_start

START = datetime(2026, 3, 1, tzinfo=UTC)


def config(**changes: object) -> FleetConfig:
    base: dict[str, object] = {"assets": 6, "sites": ("site-1", "site-2"), "seed": 7, "start": START,
                               "interval_s": 60.0, "steps": 200}  # fmt: skip
    return FleetConfig(**(base | changes))  # type: ignore[arg-type]


def all_payloads(run: SimulationRun) -> list[bytes]:
    return [m.payload for m in run.messages()]


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not() -> None:
    one = all_payloads(SimulationRun(config(), 5, FaultRates(0.05, 0.05, 0.05)))
    two = all_payloads(SimulationRun(config(), 5, FaultRates(0.05, 0.05, 0.05)))
    other = all_payloads(SimulationRun(config(seed=8), 5, FaultRates(0.05, 0.05, 0.05)))
    assert one == two
    assert one != other


def test_an_assets_readings_do_not_depend_on_fleet_size() -> None:
    small = [r for a, r in Fleet(config(assets=2)).readings() if a.asset_id == "pump-0001"]
    large = [r for a, r in Fleet(config(assets=9)).readings() if a.asset_id == "pump-0001"]
    assert small == large


def test_readings_pass_the_contract_with_units_in_names_and_rising_seq() -> None:
    run = SimulationRun(config(), 4, FaultRates())
    seqs: dict[str, list[int]] = {}
    for message in run.messages():
        decoded = decode(message.payload, telemetry_topic(message.site, message.asset_id),
                         START + timedelta(days=1), ContractPolicy(max_age_s=30 * 86400))  # fmt: skip
        assert decoded.dead_letters == []
        assert len(decoded.readings) == message.readings
        for reading in decoded.readings:
            assert set(reading.sensors) == set(SENSORS)
            seqs.setdefault(reading.asset_id, []).append(reading.seq)
    assert sorted(seqs) == [f"pump-{i:04d}" for i in range(1, 7)]
    assert all(s == list(range(200)) for s in seqs.values())


def test_batching_changes_messages_not_readings() -> None:
    def readings(batch: int) -> list[tuple[str, int]]:
        out = []
        for message in SimulationRun(config(), batch, FaultRates()).messages():
            document = orjson.loads(message.payload)
            out += [
                (r["asset_id"], r["seq"]) for r in (document if isinstance(document, list) else [document])
            ]
        return sorted(out)

    assert readings(1) == readings(7) == readings(50)
    assert len(list(batches([("s", {"asset_id": "a", "ts": 1})] * 5, 2))) == 3


def test_failures_are_in_the_truth_and_visible_in_the_sensors() -> None:
    cfg = config(assets=40, steps=400, failing_share=1.0)
    fleet = Fleet(cfg)
    by_asset: dict[str, list[dict[str, float]]] = {}
    for asset, reading in fleet.readings():
        by_asset.setdefault(asset.asset_id, []).append(reading["sensors"])
    failures = [e for e in fleet.truth if e.event == "failure"]
    assert len(failures) >= 20
    assert {e.mode for e in failures} == set(FailureMode)
    for event in failures:
        assert event.onset_ts_ms < event.failure_ts_ms
    bearing = [e for e in failures if e.mode is FailureMode.BEARING_WEAR]
    for event in bearing:
        step = (event.failure_ts_ms - int(START.timestamp() * 1000)) // 60_000
        series = by_asset[event.asset_id]
        healthy = sum(s["vibration_mm_s"] for s in series[:10]) / 10
        worn = sum(s["vibration_mm_s"] for s in series[step - 5 : step]) / 5
        assert worn > healthy + 3.0, (event, healthy, worn)
    assert {e.asset_id for e in fleet.truth if e.event == "censored"} == set(by_asset)


def test_injected_faults_get_the_reasons_the_truth_announces_and_lose_no_reading() -> None:
    run = SimulationRun(
        config(assets=5, steps=300), 3, FaultRates(malformed=0.1, duplicate=0.05, out_of_order=0.05)
    )
    clean = {
        (m.asset_id, m.payload)
        for m in SimulationRun(config(assets=5, steps=300), 3, FaultRates()).messages()
    }
    received_at = START + timedelta(hours=6)
    reasons: Counter[str] = Counter()
    seen: Counter[tuple[str, bytes]] = Counter()
    last_seq: dict[str, int] = {}
    late = 0
    for message in run.messages():
        decoded = decode(message.payload, telemetry_topic(message.site, message.asset_id), received_at,
                         ContractPolicy(max_age_s=30 * 86400))  # fmt: skip
        if message.kind.startswith("malformed:"):
            (letter,) = decoded.dead_letters
            reasons[f"malformed:{letter.reason.value}"] += 1
            assert message.kind == f"malformed:{letter.reason.value}"
            continue
        assert decoded.dead_letters == []
        seen[(message.asset_id, message.payload)] += 1
        is_late = decoded.readings[0].seq < last_seq.get(message.asset_id, -1)
        if message.kind == "ok":
            assert not is_late
        late += message.kind == "out_of_order" and is_late
        last_seq[message.asset_id] = max(last_seq.get(message.asset_id, -1), decoded.readings[-1].seq)
    out = io.BytesIO()
    run.write_truth(out)
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    injected = lines[-1]["counts"]
    assert {k: v for k, v in injected.items() if k.startswith("malformed:")} == dict(reasons)
    assert set(seen) == clean  # every clean message went out
    assert sum(seen.values()) - len(seen) == injected["duplicate"]
    assert 0 < late <= injected["out_of_order"]  # held messages of an asset's last turn go out last
    assert lines[0]["event"] == "run"
    assert lines[0]["seed"] == 7


@pytest.mark.parametrize(("speed", "lead_s"), [(None, 3600.0), (1.0, 0.0), (4.0, 2700.0)])
def test_default_start_keeps_event_times_behind_publish_times(speed: float | None, lead_s: float) -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert default_start(now, steps=60, interval_s=60, speed=speed) == now - timedelta(seconds=lead_s)
