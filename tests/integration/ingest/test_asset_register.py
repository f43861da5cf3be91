"""The asset register at the front door: real Mosquitto (each site its own MQTT user), a gateway
process, real Kafka. A site cannot speak for another site's asset; unknown assets follow the policy."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest

from ingest.asset_store import AssetStore
from ingest.assets import FIRST_SIGHT, Asset
from tests.integration.ingest.conftest import (
    IngestEnv,
    Publisher,
    read_readings,
    read_topic,
    reading,
    telemetry_readings,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def register(ingest_env: IngestEnv) -> Iterator[AssetStore]:
    store = AssetStore(f"sqlite:///{ingest_env.tmp / 'assets.sqlite'}")
    yield store
    store.close()


@pytest.fixture
def site_2(ingest_env: IngestEnv) -> Iterator[Publisher]:
    pub = Publisher(ingest_env.stack, ingest_env.stack.stack.sites[1])
    yield pub
    pub.close()


def _gateway_env(env: IngestEnv, store: AssetStore, **more: str) -> dict[str, str]:
    """Every site may publish the test's assets; the register is the test's own file."""
    filters = [f"forewarn/+/{asset}/telemetry" for asset in env.assets]
    return {"gateway_topic_filters": json.dumps(filters), "assets_database_url": store.url, **more}


def _letters(env: IngestEnv, expected: int) -> list[tuple[str, str, int | None, list[int]]]:
    """(reason, source, index, seqs of the payload) of each dead letter."""
    import base64

    out = []
    for record in read_topic(env.stack, env.dlq, expected=expected):
        letter = orjson.loads(record.value)
        payload = orjson.loads(base64.b64decode(letter["payload_b64"]))
        items = payload if isinstance(payload, list) else [payload]
        out.append((letter["reason"], letter["source"], letter["index"], [i["seq"] for i in items]))
    return out


def test_a_site_cannot_speak_for_another_sites_asset(
    ingest_env: IngestEnv, publisher: Publisher, site_2: Publisher, register: AssetStore
) -> None:
    site_1 = publisher
    ours, first_seen, _ = ingest_env.assets
    register.add(Asset(ours, site_1.site, "pump", None, datetime.now(UTC), "test"))
    gateway = ingest_env.gateway(**_gateway_env(ingest_env, register))

    site_2.publish(ours, reading(ours, 1_000_000))  # a high seq would make the real readings duplicates
    for seq in (1, 2, 3):
        site_1.publish(ours, reading(ours, seq))
    site_2.publish(first_seen, [reading(first_seen, 1), reading(first_seen, 2)])  # unknown: now site-2's
    site_1.publish(first_seen, reading(first_seen, 3))

    telemetry = telemetry_readings(read_readings(ingest_env.stack, ingest_env.telemetry, expected=5))
    letters = _letters(ingest_env, expected=2)
    assert gateway.terminate() == 0

    forwarded = sorted((r["asset_id"], r["site"], r["seq"]) for r in telemetry)
    assert forwarded == sorted(
        [(ours, site_1.site, s) for s in (1, 2, 3)] + [(first_seen, site_2.site, s) for s in (1, 2)]
    )
    assert sorted(letters) == sorted([
        ("foreign_asset", f"forewarn/{site_2.site}/{ours}/telemetry", None, [1_000_000]),
        ("foreign_asset", f"forewarn/{site_1.site}/{first_seen}/telemetry", None, [3]),
    ])  # fmt: skip
    registered = register.get(first_seen)
    assert (registered.site, registered.created_by) == (site_2.site, FIRST_SIGHT)
    assert register.get(ours).site == site_1.site  # the foreign reading changed nothing


def test_under_dead_letter_unknown_assets_wait_for_their_registration(
    ingest_env: IngestEnv, publisher: Publisher, register: AssetStore
) -> None:
    unknown, registered_late, _ = ingest_env.assets
    env = _gateway_env(ingest_env, register, gateway_unknown_assets="dead_letter",
                       gateway_assets_refresh_s="1")  # fmt: skip
    gateway = ingest_env.gateway(**env)
    publisher.publish(unknown, [reading(unknown, 1), reading(unknown, 2)])
    # registered after the gateway started, before its first reading (what the simulator does)
    register.add(Asset(registered_late, publisher.site, "pump", None, datetime.now(UTC), "simulator"))
    publisher.publish(registered_late, reading(registered_late, 1))
    letters = _letters(ingest_env, expected=2)
    assert sorted(letters) == [
        ("unknown_asset", f"forewarn/{publisher.site}/{unknown}/telemetry", 0, [1, 2]),
        ("unknown_asset", f"forewarn/{publisher.site}/{unknown}/telemetry", 1, [1, 2]),
    ]
    assert register.owners() == {registered_late: publisher.site}  # nothing registered on sight

    register.add(Asset(unknown, publisher.site, "pump", None, datetime.now(UTC), "cli:test"))
    time.sleep(1.5)  # the gateway reloads its map every second here
    publisher.publish(unknown, reading(unknown, 3))
    telemetry = telemetry_readings(read_readings(ingest_env.stack, ingest_env.telemetry, expected=2))
    assert gateway.terminate() == 0
    assert sorted((r["asset_id"], r["seq"]) for r in telemetry) == sorted(
        [(registered_late, 1), (unknown, 3)]
    )
    assert "unknown_asset" in gateway.text()
