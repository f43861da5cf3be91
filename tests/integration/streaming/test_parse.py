"""The job reads what the gateway writes and dead-letters the rest, through Spark's real plan.

Kafka-shaped rows (binary key and value, topic, partition, offset, timestamp) are written to Parquet
and read back as a stream, and ``streaming.job.transform`` runs on them: the JVM moves the bytes,
the Python step parses them with the telemetry contract's rules (``streaming.runs``). What it
cannot read is a ``not_canonical`` letter keeping the record's bytes, its Kafka coordinate and
time; a reading it cannot score or that came too late is a letter holding its canonical run.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from forewarn.contracts import dead_letter
from forewarn.contracts.dead_letter import FIELD_NAMES, ScoringReason, Stage
from forewarn.contracts.risk import RISK_FIELDS, RiskRecord, decode_risk
from forewarn.contracts.telemetry import Reading, decode_run, encode_run
from infra.stack.service import StackContext
from streaming.job import transform
from streaming.scoring import ModelRef
from streaming.step import StepConfig
from tests.integration.streaming.conftest import TrainedModel, cmapss_dir
from tests.integration.streaming.test_scoring_job import fd001_test_readings
from tests.integration.streaming.test_transform_static import collect

pytestmark = [pytest.mark.integration, pytest.mark.spark]

RECEIVED = datetime(2026, 11, 23, 4, 30, 12, 345000, tzinfo=UTC)
KAFKA_ROW = "topic string, partition int, offset long, timestamp timestamp, key binary, value binary"


Records = list[tuple[bytes | None, bytes | None]]


def kafka_rows(spark: Any, batches: list[Records], folder: Path) -> Any:
    """A stream of Kafka source rows on partition 2 from offset 100, all received at ``RECEIVED``:
    one Parquet file, and so one micro-batch, per batch."""
    offset = 100
    for batch in batches:
        rows = [("telemetry", 2, offset + i, RECEIVED, key, value) for i, (key, value) in enumerate(batch)]
        offset += len(batch)
        spark.createDataFrame(rows, KAFKA_ROW).coalesce(1).write.mode("append").parquet(str(folder))
    return spark.readStream.schema(KAFKA_ROW).option("maxFilesPerTrigger", 1).parquet(str(folder))


def step_config(stack: StackContext, model: TrainedModel) -> StepConfig:
    # the job's own user, as streaming.job gives it: without it, the worker's lookups passed only when
    # an earlier test in the session had left MLflow's user in the environment
    ref = ModelRef(stack.mlflow.tracking_uri, stack.mlflow.registry_uri or stack.mlflow.tracking_uri,
                   model.name, "champion", 3600.0,
                   client_env=tuple(sorted(stack.mlflow.client_env().items())))  # fmt: skip
    return StepConfig(ref=ref, risk_topic="risk", dlq_topic="telemetry.dlq", top_k=2)


def run(
    spark: Any, stack: StackContext, model: TrainedModel, batches: list[Records], folder: Path
) -> pd.DataFrame:
    # the labels streaming.buckets picks for 4 buckets on 2 partitions
    labels = (2, 0, 4, 1)
    rows = transform(kafka_rows(spark, batches, folder / "in"), step_config(stack, model), labels)
    return collect(spark, rows, folder / "checkpoint")


def test_canonical_runs_are_read_and_everything_else_is_a_dead_letter(
    stack: StackContext, spark: Any, champion_model: TrainedModel, tmp_path: Path
) -> None:
    sent = [r for r in fd001_test_readings() if r.asset_id.endswith("-001")][:12]
    asset = sent[0].asset_id.encode()
    good = [(asset, encode_run(sent[:5])), (asset, encode_run(sent[5:]))]
    bad: Records = [
        (b"k", b"not json"),
        (b"k", b"[]"),
        (b"pump-7", b'{"asset_id": "pump-7"}'),
        (
            b"a",
            orjson.dumps(
                [{"schema": 2, "asset_id": "a", "site": "s", "ts": 1, "seq": 1, "sensors": {"x": 1.0}}]
            ),
        ),
        (b"a", orjson.dumps([{"schema": 1, "asset_id": "a", "site": "s", "ts": 1, "sensors": {"x": 1.0}}])),
        (b"another", encode_run(sent[:1])),  # keyed by another asset
        (None, encode_run(sent[:1])),
        (asset, None),
    ]
    out = run(spark, stack, champion_model, [[*good, *bad]], tmp_path)

    risk = out[out["kind"] == "risk"]
    records = [decode_risk(bytes(v)) for v in risk["value"]]
    assert all(isinstance(r, RiskRecord) for r in records)
    assert all(list(orjson.loads(bytes(v))) == list(RISK_FIELDS) for v in risk["value"])
    assert sorted((r.asset_id, r.seq, r.site) for r in records if isinstance(r, RiskRecord)) == [
        (r.asset_id, r.seq, r.site) for r in sent
    ]
    dead = out[out["kind"] == "dead"].sort_values("key")
    assert len(dead) == len(bad)
    values = [bytes(v) for v in dead["value"]]
    assert all(list(orjson.loads(v)) == list(FIELD_NAMES) for v in values), "the contract's fields, in order"
    letters = [dead_letter.decode(v) for v in values]
    assert {(x.stage, x.reason) for x in letters} == {(Stage.SCORING, ScoringReason.NOT_CANONICAL)}
    assert set(dead["reason"]) == {"not_canonical"}
    offsets = {100 + len(good) + i: value for i, (_, value) in enumerate(bad)}
    assert sorted(x.source for x in letters) == sorted(
        dead_letter.kafka_source("telemetry", 2, o) for o in offsets
    )
    assert dead["key"].tolist() == [x.source for x in letters]
    for x in letters:
        assert x.payload == (offsets[dead_letter.parse_kafka_source(x.source)[2]] or b"")
        assert x.received_at == RECEIVED, "the record's Kafka timestamp, whenever the batch runs"
    assert {orjson.loads(v)["payload_b64"] for v in values} == {
        base64.b64encode(v or b"").decode() for _, v in bad
    }
    stats = out[out["kind"] == "stats"]
    assert int(stats["records"].sum()) == len(good) + len(bad)
    assert int(stats["not_canonical"].sum()) == len(bad)
    assert int(stats["scored"].sum()) == len(sent)


def longest_fd001_test_engine() -> list[Reading]:
    """The readings of FD001's longest test engine (303 cycles), as the replay publishes them."""
    from ingest.cmapss import read_run
    from ingest.replay import ReplayConfig, readings

    frame = read_run(cmapss_dir() / "test_FD001.txt.gz")
    frame = frame[frame["unit"] == frame.groupby("unit").size().idxmax()]
    config = ReplayConfig(subset="FD001", split="test", site="cmapss", start=datetime(2026, 1, 1, tzinfo=UTC))
    return [
        Reading(r["asset_id"], site, r["ts"], r["seq"], r["settings"], r["sensors"])
        for site, r in readings(frame, config)
    ]


def test_a_late_or_unscorable_reading_is_a_letter_holding_its_canonical_run(
    stack: StackContext, spark: Any, champion_model: TrainedModel, tmp_path: Path
) -> None:
    """What ``forewarn dlq replay`` revives: the contract decodes the letter, and its payload is a
    canonical run the telemetry contract reads back as the very reading."""
    from models.settings import ModelsSettings

    kept = max(ModelsSettings().windows)  # the champion's windows are the defaults: its state keeps this many
    sent = longest_fd001_test_engine()
    asset = sent[0].asset_id
    assert len(sent) > kept + 10, (asset, len(sent))
    first = sent[1 : kept + 10]  # seq 1 comes later
    late = sent[0]  # arrives after more later readings than the state keeps: older than every one kept
    unscorable: Reading = replace(sent[kept + 10], sensors={"sensor_2": 1.0})
    records: Records = [(asset.encode(), encode_run(first[i : i + 10])) for i in range(0, len(first), 10)]
    late_batch: Records = [(asset.encode(), encode_run([late])), (asset.encode(), encode_run([unscorable]))]
    out = run(spark, stack, champion_model, [records, late_batch], tmp_path)

    dead = out[out["kind"] == "dead"]
    letters = {x.reason: x for x in (dead_letter.decode(bytes(v)) for v in dead["value"])}
    assert set(letters) == {ScoringReason.LATE_FOR_STATE, ScoringReason.UNSCORABLE}
    assert decode_run(letters[ScoringReason.LATE_FOR_STATE].payload) == [late]
    assert decode_run(letters[ScoringReason.UNSCORABLE].payload) == [unscorable]
    assert letters[ScoringReason.LATE_FOR_STATE].source == dead_letter.reading_source(
        "telemetry", asset, late.seq
    )
    assert letters[ScoringReason.UNSCORABLE].source == dead_letter.reading_source(
        "telemetry", asset, unscorable.seq
    )
    assert all(x.stage == Stage.SCORING and x.received_at == RECEIVED for x in letters.values())
    assert sorted(dead["key"]) == sorted(x.source for x in letters.values())
    assert int((out["kind"] == "risk").sum()) == len(first)
