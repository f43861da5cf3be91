"""`forewarn train --labels`: work-order labels plus telemetry in the real InfluxDB → a challenger.

Telemetry is written with the streaming job's own line builder (``streaming.sinks.telemetry_lines``)
and the label file with the writer ``forewarn labels export`` uses (the labels contract's
``write_label_file``), so the test holds the three components to one format.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from chain.cli import app
from forewarn.contracts.labels import NO_FAILURE, Label, LabelSource, write_label_file
from forewarn.influx import InfluxWriter
from forewarn.settings import InfluxSettings
from infra.stack.service import StackContext
from ingest.fleet import SENSORS, SETTINGS
from models.feedback import labels_source
from models.fleet_source import fleet_history
from streaming.sinks import telemetry_lines
from tests.conftest import unique

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def store_telemetry(settings: InfluxSettings, readings: pd.DataFrame) -> None:
    rows = [
        {"site": r["site"], "asset_id": r["asset_id"], "ts": int(r["ts_ms"]), "seq": int(r["seq"]),
         "settings": orjson.dumps({k: float(r[k]) for k in SETTINGS}).decode(),
         "sensors": orjson.dumps({k: float(r[k]) for k in SENSORS}).decode()}
        for _, r in readings.iterrows()
    ]  # fmt: skip
    with InfluxWriter(settings) as writer:
        assert writer.write(telemetry_lines(rows, None)) == len(rows)


def work_order_labels(labels: pd.DataFrame) -> list[Label]:
    """Each simulated failure as a confirmed fault; each asset's end of run as a false alarm."""
    return [
        Label(asset_id=r["asset_id"], ts=r["time"].to_pydatetime(), failure_mode=r["failure_mode"],
              source=LabelSource.FALSE_ALARM if r["failure_mode"] == NO_FAILURE else LabelSource.WORK_ORDER)
        for _, r in labels.iterrows()
    ]  # fmt: skip


def test_labels_and_stored_telemetry_train_a_registered_challenger(
    stack: StackContext, influx_database: str, tmp_path: Path
) -> None:
    history = fleet_history(
        assets=10, steps=240, interval_s=2.0, seed=31, failing_share=1.0, rul_cap_steps=60
    )
    influx = stack.influx.model_copy(update={"database": influx_database})
    store_telemetry(influx, history.readings)
    path = tmp_path / "labels.csv"
    write_label_file(work_order_labels(history.labels), path)

    # the RUL read back from InfluxDB and the label file is the simulator's truth
    data = labels_source(path, influx, rul_cap_steps=60)
    assert data.step_s == 2.0
    assert len(data.frame) == len(history.readings)
    back = data.frame.set_index(["asset_id", "seq"])["rul_cycles"]
    truth = history.readings.set_index(["asset_id", "seq"])["rul_cycles"]
    pd.testing.assert_series_equal(back.sort_index(), truth.sort_index(), check_names=False)
    assert set(data.columns.sensors) == set(SENSORS)
    assert set(data.columns.settings) == set(SETTINGS)  # told apart by the contract's field prefixes

    name = unique("test-feedback")
    result = CliRunner().invoke(
        app,
        ["train", "--labels", str(path), "--name", name, "--cv-folds", "2", "--families", "ridge",
         "--rul-cap", "60", "--horizon", "20"],
        env={"FOREWARN_MLFLOW_TRACKING_URI": stack.mlflow.tracking_uri, "FOREWARN_INFLUX_URL": influx.url,
             "FOREWARN_INFLUX_DATABASE": influx_database},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip())
    assert summary["source"] == "labels:labels.csv"
    assert summary["alias"] == "challenger"
    assert len(summary["failure_modes"]) >= 2
    client = MlflowClient(tracking_uri=stack.mlflow.tracking_uri)
    run = client.get_run(client.get_model_version(name, summary["version"]).run_id)
    assert run.data.params["influx_database"] == influx_database
    assert run.data.params["labels_faults"] == str((history.labels["failure_mode"] != "none").sum())
    client.delete_registered_model(name)


def test_labels_without_stored_telemetry_are_refused(
    stack: StackContext, influx_database: str, tmp_path: Path
) -> None:
    path = tmp_path / "labels.csv"
    seen = pd.Timestamp("2026-01-01T00:00:00Z").to_pydatetime()
    label = Label(asset_id="pump-nowhere", ts=seen, failure_mode="seal_leak", source=LabelSource.WORK_ORDER)
    write_label_file([label], path)
    result = CliRunner().invoke(
        app,
        ["train", "--labels", str(path), "--name", unique("test-feedback")],
        env={
            "FOREWARN_MLFLOW_TRACKING_URI": stack.mlflow.tracking_uri,
            "FOREWARN_INFLUX_URL": stack.influx.url,
            "FOREWARN_INFLUX_DATABASE": influx_database,
        },
    )
    assert result.exit_code == 1
    assert "no telemetry for the 1 labelled assets" in result.output


def test_another_fleets_thousand_sensors_do_not_widen_or_break_the_labelled_readings(
    stack: StackContext, influx_database: str, tmp_path: Path
) -> None:
    history = fleet_history(assets=4, steps=120, interval_s=2.0, seed=32, failing_share=1.0, rul_cap_steps=60)
    influx = stack.influx.model_copy(update={"database": influx_database})
    store_telemetry(influx, history.readings)
    # one odd gateway: a thousand sensor names, one holding line separators (U+2028, U+0085)
    odd = {f"s{i}": float(i) for i in range(1000)} | {"odd\u2028name\x85": 1.0}
    rows = [{"site": "site-9", "asset_id": "odd-1", "ts": int(history.readings["ts_ms"].min()) + i, "seq": i,
             "settings": "{}", "sensors": orjson.dumps(odd).decode()} for i in range(3)]  # fmt: skip
    with InfluxWriter(influx) as writer:
        assert writer.write(telemetry_lines(rows, None)) == len(rows)
    path = tmp_path / "labels.csv"
    write_label_file(work_order_labels(history.labels), path)

    data = labels_source(path, influx, rul_cap_steps=60)
    assert set(data.columns.sensors) == set(SENSORS)  # only what the labelled assets carry
    assert len(data.frame) == len(history.readings)
    back = data.frame.set_index(["asset_id", "seq"])["rul_cycles"]
    truth = history.readings.set_index(["asset_id", "seq"])["rul_cycles"]
    pd.testing.assert_series_equal(back.sort_index(), truth.sort_index(), check_names=False)
