"""Fixtures for ingest tests against the real Mosquitto and Kafka: a gateway process, a site
publisher and a Kafka reader."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from kafka import KafkaConsumer
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from infra.stack.kafka import grant_roles
from infra.stack.service import StackContext
from ingest.session import SessionError, end_session
from ingest.settings import gateway_client_id

FOREWARN = str(Path(sys.executable).with_name("forewarn"))


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def reading(asset: str, seq: int, **sensors: float) -> dict[str, Any]:
    return {
        "schema": 1,
        "asset_id": asset,
        "ts": now_ms(),
        "seq": seq,
        "settings": {"load": 0.5},
        "sensors": sensors or {"vibration_mm_s": 1.0 + seq / 100},
    }


def free_port() -> int:
    """A loopback port where nothing listens (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Publisher:
    """A site's MQTT 5 client publishing at QoS 1 and waiting for each PUBACK."""

    def __init__(self, stack: StackContext, site: str) -> None:
        self.site = site
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)  # fmt: skip
        self.client.username_pw_set(site, stack.mqtt.site_password(site))
        connected = threading.Event()
        self.reasons: dict[int, ReasonCode] = {}
        self.client.on_connect = lambda c, u, f, reason, p: connected.set()
        self.client.on_publish = lambda c, u, mid, reason, p: self.reasons.__setitem__(mid, reason)
        self.client.connect(stack.mqtt.host, stack.mqtt.port)
        self.client.loop_start()
        assert connected.wait(5)

    def publish(self, asset: str, payload: bytes | Any, site: str | None = None) -> ReasonCode:
        """Publish and return the broker's PUBACK reason; AssertionError if the broker refused."""
        reason = self.try_publish(asset, payload, site)
        assert not reason.is_failure, reason
        return reason

    def try_publish(self, asset: str, payload: bytes | Any, site: str | None = None) -> ReasonCode:
        raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        info = self.client.publish(f"forewarn/{site or self.site}/{asset}/telemetry", raw, qos=1)
        info.wait_for_publish(10)
        deadline = time.monotonic() + 5
        while info.mid not in self.reasons:
            assert time.monotonic() < deadline, "no PUBACK"
            time.sleep(0.001)
        return self.reasons.pop(info.mid)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class GatewayProcess:
    """A ``forewarn gateway run`` child process and its log."""

    proc: subprocess.Popen[bytes]
    log: Path
    client_id: str

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while needle not in self.text():
            assert self.proc.poll() is None, f"gateway exited {self.proc.returncode}:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {needle!r} in gateway log:\n{self.text()}"
            time.sleep(0.1)

    def terminate(self, timeout_s: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


@dataclass
class IngestEnv:
    """Everything one test's gateways share: unique topics, group, filters and spool folder."""

    stack: StackContext
    telemetry: str
    dlq: str
    tmp: Path
    assets: list[str]
    site: str
    group: str = field(default_factory=lambda: f"g{uuid.uuid4().hex[:8]}")
    started: list[GatewayProcess] = field(default_factory=list)

    def filters(self) -> list[str]:
        return [f"forewarn/{self.site}/{asset}/telemetry" for asset in self.assets]

    def gateway(self, gateway_id: str = "gw-a", **env: Any) -> GatewayProcess:
        variables = {
            **os.environ,
            "FOREWARN_GATEWAY_GATEWAY_ID": f"{self.group}-{gateway_id}",
            "FOREWARN_GATEWAY_SHARE_GROUP": self.group,
            "FOREWARN_GATEWAY_TOPIC_FILTERS": json.dumps(self.filters()),
            "FOREWARN_GATEWAY_SPOOL_DIR": str(self.tmp / "spool"),
            "FOREWARN_GATEWAY_SESSION_EXPIRY_S": "300",
            "FOREWARN_GATEWAY_METRICS_INTERVAL_S": "2",
            "FOREWARN_GATEWAY_METRICS_TO_INFLUX": "false",
            "FOREWARN_KAFKA_TELEMETRY_TOPIC": self.telemetry,
            "FOREWARN_KAFKA_DLQ_TOPIC": self.dlq,
        }
        variables.update(
            {f"FOREWARN_{k.upper()}": str(v) for k, v in env.items()}
        )  # gateway_x=1 → FOREWARN_GATEWAY_X
        # the gateway runs as forewarn-gateway: its ACLs on this test's topics, as on the stack's
        grant_roles(
            self.stack.kafka,
            self.stack.kafka.model_copy(update={"telemetry_topic": self.telemetry, "dlq_topic": self.dlq}),
        )
        log = self.tmp / f"{gateway_id}-{len(self.started)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([FOREWARN, "gateway", "run"], env=variables, stdout=out, stderr=out)
        gateway = GatewayProcess(proc, log, gateway_client_id(f"{self.group}-{gateway_id}"))
        self.started.append(gateway)
        gateway.wait_for_log("subscribed to")
        return gateway

    def spool_depth(self, gateway_id: str = "gw-a") -> int:
        """Records in the gateway's spool."""
        return len(self._spool_rows(gateway_id))

    def spooled(self, gateway_id: str = "gw-a") -> tuple[int, int]:
        """Readings and dead letters in the gateway's spool."""
        rows = self._spool_rows(gateway_id)
        return sum(len(orjson.loads(v)) for dlq, v in rows if not dlq), sum(dlq for dlq, _ in rows)

    def _spool_rows(self, gateway_id: str) -> list[tuple[int, bytes]]:
        path = self.tmp / "spool" / f"{self.group}-{gateway_id}.sqlite"
        if not path.exists():
            return []
        db = sqlite3.connect(path)
        try:
            return [(int(d), bytes(v)) for d, v in db.execute("SELECT dlq, value FROM spool ORDER BY id")]
        except sqlite3.OperationalError:  # the gateway has not created the table yet
            return []
        finally:
            db.close()


@pytest.fixture
def ingest_env(stack: StackContext, new_topic: Callable[..., str], tmp_path: Path) -> Iterator[IngestEnv]:
    env = IngestEnv(
        stack=stack,
        telemetry=new_topic("telemetry", partitions=6),
        dlq=new_topic("dlq"),
        tmp=tmp_path,
        assets=[f"asset-{uuid.uuid4().hex[:6]}" for _ in range(3)],
        site=stack.stack.sites[0],
    )
    yield env
    for gateway in env.started:
        if gateway.proc.poll() is None:
            gateway.kill()
    # a test's gateway never comes back: its session would queue every later message its filters
    # match until it expires. On 5 Dec 2026 three tests' sessions, 13 hours old despite their 300 s
    # expiry (one subscribed to every site), held 195 MB in mosquitto; the next bench.chain's broker
    # took 10.0 s of CPU, 1.4 s once they were ended.
    for client_id in sorted({gateway.client_id for gateway in env.started}):
        try:
            end_session(client_id, stack.mqtt)
        except SessionError as exc:  # a test that left the broker down says so itself
            warnings.warn(f"the broker session of {client_id} stays until it expires: {exc}", stacklevel=1)


@pytest.fixture
def publisher(stack: StackContext) -> Iterator[Publisher]:
    pub = Publisher(stack, stack.stack.sites[0])
    yield pub
    pub.close()


def read_topic(
    stack: StackContext,
    topic: str,
    expected: int,
    timeout_s: float = 30,
    settle_s: float = 1.0,
    count: Callable[[list[Any]], int] = len,
) -> list[Any]:
    """Every record of ``topic`` from the start: waits until ``count(records)`` reaches ``expected``,
    then ``settle_s`` more to catch any surplus (a test of "exactly N" must see extras if any)."""
    consumer = KafkaConsumer(
        topic,
        **stack.kafka.client_config(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=500,
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and count(records) < expected:
            records.extend(consumer)
        end = time.monotonic() + settle_s
        while time.monotonic() < end:
            records.extend(consumer)
    finally:
        consumer.close()
    return records


def read_readings(stack: StackContext, topic: str, expected: int, timeout_s: float = 30) -> list[Any]:
    """Telemetry records until they hold ``expected`` readings (records may carry runs of readings)."""
    return read_topic(
        stack, topic, expected, timeout_s, count=lambda records: len(telemetry_readings(records))
    )


def telemetry_readings(records: list[Any]) -> list[dict[str, Any]]:
    """Every reading of canonical telemetry records, in partition order."""
    return [item for record in records for item in orjson.loads(record.value)]
