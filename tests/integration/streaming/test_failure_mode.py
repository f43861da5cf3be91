"""A champion that names failure modes: the job carries each score's mode into the ``risk`` record
and the InfluxDB ``risk`` point's tag, equal to what the registered pyfunc says offline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from forewarn.contracts.risk import RiskRecord, decode_risk
from forewarn.contracts.telemetry import encode_run
from infra.stack.service import StackContext
from streaming.job import JobConfig, start
from streaming.settings import StreamSettings
from tests.conftest import unique
from tests.integration.streaming.test_scoring_job import consume_all, fd001_test_readings, produce, tag_values
from tests.unit.streaming.fitting import fit_with_two_modes

pytestmark = [pytest.mark.integration, pytest.mark.spark]


@pytest.fixture
def moded_champion(stack: StackContext, tmp_path: Path) -> Iterator[str]:
    """A two-mode model logged as a ForewarnPyfunc, registered and aliased champion; deleted after."""
    import mlflow
    from mlflow import MlflowClient

    from models.pyfunc import ARTIFACT, ForewarnPyfunc, save_model_file

    model = fit_with_two_modes(12)
    assert len(model.modes) == 2, "the models package trains a failure-mode classifier on two modes"
    name = unique("stream-modes")
    mlflow.set_tracking_uri(stack.mlflow.tracking_uri)
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=ForewarnPyfunc(),
            artifacts={ARTIFACT: str(save_model_file(model, tmp_path))},
            registered_model_name=name,
        )
    client = MlflowClient(tracking_uri=stack.mlflow.tracking_uri)
    client.set_registered_model_alias(name, "champion", str(info.registered_model_version))
    yield name
    client.delete_registered_model(name)


def test_failure_mode_reaches_kafka_and_influx(
    stack: StackContext,
    spark: Any,
    moded_champion: str,
    new_topic: Callable[..., str],
    influx_database: str,
    tmp_path: Path,
) -> None:
    telemetry, risk, dlq = new_topic("telemetry", 2), new_topic("risk", 1), new_topic("dlq", 1)
    sent = fd001_test_readings()
    produce(stack, telemetry, [(r.asset_id.encode(), encode_run([r])) for r in sent])
    config = JobConfig(
        stream=StreamSettings(model_name=moded_champion, alias_refresh_s=3600, telemetry_to_influx="off"),
        kafka=stack.kafka.model_copy(
            update={"telemetry_topic": telemetry, "risk_topic": risk, "dlq_topic": dlq}
        ),
        influx=stack.influx.model_copy(update={"database": influx_database}),
        mlflow=stack.mlflow,
        checkpoint_dir=tmp_path / "checkpoints",
    )
    for query in start(spark, config, once=True):
        query.awaitTermination(timeout=600)
        assert query.exception() is None, query.exception()

    records = [decode_risk(r.value) for r in consume_all(stack, risk)]
    assert all(isinstance(r, RiskRecord) for r in records)
    streamed = {(r.asset_id, r.seq): r.failure_mode for r in records if isinstance(r, RiskRecord)}
    assert len(streamed) == len(sent)

    import mlflow

    mlflow.set_tracking_uri(stack.mlflow.tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{moded_champion}@champion")
    frame = pd.DataFrame([{"asset_id": r.asset_id, "cycle": r.seq, **r.settings, **r.sensors} for r in sent])
    offline = pyfunc.predict(frame, params={"top_k": 0})
    expected = dict(
        zip(
            zip(offline["asset_id"], offline["cycle"].astype(int), strict=True),
            offline["failure_mode"],
            strict=True,
        )
    )
    assert streamed == expected
    assert set(expected.values()) == {"hpc_degradation", "fan_degradation"}, "both modes occur in this data"
    assert tag_values(stack, influx_database, "failure_mode") == set(expected.values())
    raw = orjson.loads(consume_all(stack, risk)[0].value)
    assert raw["failure_mode"] in {"hpc_degradation", "fan_degradation"}
