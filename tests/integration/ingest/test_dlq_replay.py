"""``forewarn dlq replay`` against real Kafka: dead letters from a strict gateway revived by a
fixed policy or a rewrite hook, the rest reported as still dead, per reason."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.ingest.conftest import (
    FOREWARN,
    IngestEnv,
    Publisher,
    read_topic,
    reading,
    telemetry_readings,
)

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def replay_cli(env: IngestEnv, *args: str, **settings: str) -> tuple[int, dict[str, Any], str]:
    variables = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FOREWARN_KAFKA_TELEMETRY_TOPIC": env.telemetry,
        "FOREWARN_KAFKA_DLQ_TOPIC": env.dlq,
        **{f"FOREWARN_{k.upper()}": v for k, v in settings.items()},
    }
    command = [FOREWARN, "dlq", "replay", "--topic", env.dlq, *args]  # not the shared risk.dlq
    done = subprocess.run(command, env=variables, capture_output=True, timeout=120)
    report = json.loads(done.stdout) if done.returncode == 0 else {}
    return done.returncode, report, done.stderr.decode()


def test_dlq_replay_revives_what_passes_now_and_reports_the_rest(
    ingest_env: IngestEnv, publisher: Publisher
) -> None:
    strict = {"gateway_known_sensors": '["vibration_mm_s"]', "gateway_unknown_sensors": "reject"}
    gateway = ingest_env.gateway(**strict)
    asset = ingest_env.assets[0]
    publisher.publish(asset, reading(asset, 1, vibration_mm_s=1.0, oil_temp_c=40.0))  # unknown_sensor
    quoted = orjson.dumps(reading(asset, 2)).replace(b'"', b"'")
    publisher.publish(asset, quoted)  # malformed_json, fixable by the hook
    publisher.publish(asset, b"\x00\x01 not even close")  # malformed_json for good
    read_topic(ingest_env.stack, ingest_env.dlq, expected=3)
    assert gateway.terminate() == 0

    code, report, err = replay_cli(ingest_env, "--dry-run", **strict)
    assert code == 0, err
    assert (report["selected"], report["revived"], report["records_sent"]) == (3, 0, 0)
    assert report["by_reason"] == {
        "gateway/malformed_json": {"selected": 2, "revived": 0, "still_dead": {"malformed_json": 2}},
        "gateway/unknown_sensor": {"selected": 1, "revived": 0, "still_dead": {"unknown_sensor": 1}},
    }

    code, report, err = replay_cli(ingest_env, "--reason", "unknown_sensor")  # today's policy: accept
    assert code == 0, err
    assert (report["selected"], report["revived"], report["readings_sent"]) == (1, 1, 1)

    code, report, err = replay_cli(
        ingest_env,
        "--reason",
        "malformed_json",
        "--rewrite",
        "tests.integration.ingest.fixups:single_to_double_quotes",
    )
    assert code == 0, err
    assert (report["selected"], report["revived"], report["still_dead"]) == (2, 1, 1)
    assert report["still_dead_by_reason"] == {"malformed_json": 1}

    revived = telemetry_readings(read_topic(ingest_env.stack, ingest_env.telemetry, expected=2))
    assert [(r["seq"], sorted(r["sensors"])) for r in revived] == [
        (1, ["oil_temp_c", "vibration_mm_s"]),
        (2, ["vibration_mm_s"]),
    ]
    assert len(read_topic(ingest_env.stack, ingest_env.dlq, expected=3)) == 3  # the audit trail stays


def test_dlq_replay_rejects_bad_options_with_a_clear_message(ingest_env: IngestEnv) -> None:
    code, _, err = replay_cli(ingest_env, "--reason", "bogus")
    assert code == 2
    assert "--reason must be among" in err
    code, _, err = replay_cli(ingest_env, "--since", "2026-01-01T00:00:00")
    assert code == 2
    assert "UTC offset" in err
    code, _, err = replay_cli(ingest_env, "--stage", "mqtt")
    assert code == 2
    assert "--stage must be among: gateway, scoring, alerts" in err
