"""``forewarn dlq list|show`` against real Kafka: letters written with the contract's encoder, listed
one line each, counted, filtered and shown in full, as a person runs the command."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from kafka import KafkaProducer

from forewarn.contracts.dead_letter import DeadLetter, GatewayReason, Stage, encode, headers
from forewarn.contracts.risk import RiskRejectReason
from infra.stack.service import StackContext
from tests.integration.ingest.conftest import FOREWARN

pytestmark = pytest.mark.integration

GATEWAY = DeadLetter(
    Stage.GATEWAY,
    GatewayReason.MALFORMED_JSON,
    "expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    "forewarn/site-1/pump-7/telemetry",
    b"{'asset_id': 'pump-7'}",
    datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC),
)
ALERTS = DeadLetter(
    Stage.ALERTS,
    RiskRejectReason.NOT_JSON,
    "not JSON",
    "kafka:risk/0/41",
    b"\x00\xff\xfe binary",
    datetime(2026, 3, 1, 12, 0, 2, tzinfo=UTC),
)


def forewarn(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FOREWARN, "dlq", *args], env=dict(os.environ), capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_list_and_show_letters_of_two_stages(stack: StackContext, new_topic: Callable[..., str]) -> None:
    telemetry_dlq, risk_dlq = new_topic("telemetry.dlq"), new_topic("risk.dlq")
    producer = KafkaProducer(**stack.kafka.client_config(), acks="all")
    for topic, letter in ((telemetry_dlq, GATEWAY), (risk_dlq, ALERTS)):
        producer.send(topic, key=letter.source.encode(), value=encode(letter), headers=headers(letter))
    producer.send(telemetry_dlq, value=b"not a letter")
    producer.flush(30)
    producer.close()
    topics = ["--topic", telemetry_dlq, "--topic", risk_dlq]

    listed = forewarn("list", *topics, "--json")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert document["total"] == 2
    assert [(x["where"], x["stage"], x["reason"], x["source"]) for x in document["letters"]] == [
        (f"kafka:{telemetry_dlq}/0/0", "gateway", "malformed_json", GATEWAY.source),
        (f"kafka:{risk_dlq}/0/0", "alerts", "not_json", ALERTS.source),
    ]
    assert document["unreadable"] == [f"kafka:{telemetry_dlq}/0/1"]

    text = forewarn("list", *topics)
    assert text.returncode == 0, text.stderr
    header, *rows = text.stdout.splitlines()
    assert header.split() == ["WHERE", "STAGE", "REASON", "RECEIVED", "SOURCE", "DETAIL"]
    assert rows[0].split()[:5] == [f"kafka:{telemetry_dlq}/0/0", "gateway", "malformed_json",
                                   "2026-03-01T12:00:01Z", GATEWAY.source]  # fmt: skip
    assert "2 dead letters in" in text.stderr
    assert "1 records are not dead letters" in text.stderr

    only = json.loads(forewarn("list", *topics, "--stage", "alerts", "--json").stdout)
    assert [x["reason"] for x in only["letters"]] == ["not_json"]
    summary = json.loads(forewarn("list", *topics, "--summary", "--json").stdout)
    assert summary["by_stage"] == {"alerts": {"not_json": 1}, "gateway": {"malformed_json": 1}}

    shown = json.loads(forewarn("show", f"kafka:{telemetry_dlq}/0/0", "--json").stdout)
    assert (shown["payload_encoding"], shown["payload"]) == ("utf-8", GATEWAY.payload.decode())
    assert shown["detail"] == GATEWAY.detail
    binary = json.loads(forewarn("show", f"kafka:{risk_dlq}/0/0", "--json").stdout)
    assert (binary["payload_encoding"], base64.b64decode(binary["payload"])) == ("base64", ALERTS.payload)
    described = forewarn("show", f"kafka:{telemetry_dlq}/0/0")
    assert described.stdout.endswith("payload:\n{'asset_id': 'pump-7'}\n")

    for where, says in (
        (f"kafka:{telemetry_dlq}/0/9", "holds no record (the partition holds offsets 0 to 1)"),
        (f"kafka:{telemetry_dlq}/3/0", "has no partition 3"),
        (f"kafka:{telemetry_dlq}/0/1", "is not a dead letter"),
    ):
        refused = forewarn("show", where)
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr.count("\n") == 1
        assert says in refused.stderr


def test_a_missing_topic_is_named(stack: StackContext) -> None:
    done = forewarn("list", "--topic", "no-such-topic-here")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: topic 'no-such-topic-here' does not exist (choose the dead-letter topics with --topic)"
    )
