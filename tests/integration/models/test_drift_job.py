"""The drift check against the real InfluxDB and MLflow: a registered version's reference, live
telemetry and risk points in a fresh database, ``feature_drift`` points read back.

Telemetry is written with the scoring job's own line builder (``streaming.sinks.telemetry_lines``)
and risk points with the ``risk`` contract, so the check reads what the scoring job writes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from chain.cli import app
from forewarn.contracts.influx_schema import RISK
from forewarn.influx import InfluxWriter, query
from forewarn.settings import InfluxSettings
from infra.stack.service import StackContext
from ingest.fleet import SENSORS, SETTINGS, ChangeKind, FleetChange, FleetConfig
from models import drift_job, tracking
from models.drift import REFERENCE_TAG
from models.drift_job import DriftSettings, DriftUnavailableError, check_drift
from models.fleet_source import simulate
from streaming.sinks import telemetry_lines
from tests.conftest import unique

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STEPS = 120
START = datetime(2026, 3, 1, tzinfo=UTC)


def store(
    influx: InfluxSettings, readings: pd.DataFrame, risk: pd.DataFrame, name: str, version: str
) -> None:
    rows = [
        {"site": r["site"], "asset_id": r["asset_id"], "ts": int(r["ts_ms"]), "seq": int(r["seq"]),
         "settings": orjson.dumps({k: float(r[k]) for k in SETTINGS}).decode(),
         "sensors": orjson.dumps({k: float(r[k]) for k in SENSORS}).decode()}
        for _, r in readings.iterrows()
    ]  # fmt: skip
    risk_lines = [
        RISK.point(
            {
                "site": site,
                "asset_id": asset,
                "model_name": name,
                "model_version": version,
                "model_alias": "champion",
                "failure_mode": "unspecified",
            },
            {"risk": float(value), "seq": int(seq)},
            int(ts),
        )
        for site, asset, value, seq, ts in zip(
            readings["site"],
            readings["asset_id"],
            risk["risk"],
            readings["seq"],
            readings["ts_ms"],
            strict=True,
        )
    ]
    with InfluxWriter(influx) as writer:
        writer.write([*telemetry_lines(rows, None), *risk_lines])  # type: ignore[arg-type]  # dicts as Rows


def test_a_recalibrated_site_raises_the_alarm_against_the_registered_champion(
    stack: StackContext, influx_database: str, mlflow_tracking: str
) -> None:
    name = mlflow_tracking
    result = CliRunner().invoke(
        app,
        ["train", "--source", "fleet", "--assets", "30", "--steps", str(STEPS), "--interval-s", "60",
         "--seed", "5", "--families", "ridge", "--cv-folds", "2", "--name", name],
        env={"FOREWARN_MLFLOW_TRACKING_URI": stack.mlflow.tracking_uri},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    version = str(json.loads(result.stdout.strip())["version"])
    client = MlflowClient()
    assert client.get_model_version(name, version).tags[REFERENCE_TAG] == "drift_reference.json"
    client.set_registered_model_alias(name, "champion", version)

    # a live fleet of another seed whose site-2 sensors read +6 °C / +0.8 mm/s from the start
    change = FleetChange("site-2", 0, ChangeKind.RECALIBRATION)
    readings, _ = simulate(FleetConfig(20, ("site-1", "site-2"), 77, START, 60.0, STEPS, 0.5, change=change))
    model = tracking.load_fitted(name, version)
    influx = stack.influx.model_copy(update={"database": influx_database})
    store(influx, readings, model.predict(readings, top_k=0), name, version)
    last_ms = int(readings["ts_ms"].max())

    settings = DriftSettings(window_s=STEPS * 60.0, min_rows=400)
    report = check_drift(name, influx, settings, now_ms=last_ms)
    assert report.skipped is None
    assert report.model_version == version
    assert report.window_end_ms == last_ms
    assert report.rows == len(readings)
    assert report.alarm
    assert report.worst is not None
    assert report.worst.site == "site-2"
    assert report.worst.feature in {"bearing_temp_c", "vibration_mm_s"}
    by_key = {(r.site, r.feature): r for r in report.results}
    assert by_key[("site-1", "bearing_temp_c")].psi < settings.psi_threshold
    assert by_key[("site-2", "risk")].rows == (readings["site"] == "site-2").sum()

    back = query(
        influx,
        'SELECT "psi", "rows" FROM "feature_drift" WHERE "model_version" = $v GROUP BY "site", "feature"',
        params={"v": version},
    )
    stored = {(s.tags["site"], s.tags["feature"]): s.rows()[0] for s in back}
    assert set(stored) == set(by_key)
    assert stored[("site-2", report.worst.feature)]["psi"] == pytest.approx(report.worst.psi)
    assert stored[("all", "risk")]["rows"] == len(readings)
    assert all(row["time"] == last_ms for row in stored.values())

    # at most max_readings of the window are judged: its latest ones (every pump's last steps)
    capped = check_drift(name, influx, settings.model_copy(update={"max_readings": 1000}), now_ms=last_ms)
    assert capped.rows == 1000
    assert capped.alarm
    assert capped.worst is not None
    assert capped.worst.site == "site-2"
    assert {r.rows for r in capped.results if (r.site, r.feature) == ("all", "risk")} == {1000}
    inputs = ["bearing_temp_c"]
    latest = drift_job._telemetry(influx, last_ms - STEPS * 60_000, last_ms, inputs, limit=40)
    last_two = readings[readings["ts_ms"] >= sorted(set(readings["ts_ms"]))[-2]]
    assert sorted(zip(latest["site"], latest["bearing_temp_c"], strict=True)) == sorted(
        zip(last_two["site"], last_two["bearing_temp_c"].astype(float), strict=True)
    )

    # a window shorter than the clock skew allowed (a real-time fleet) still ends at the latest reading
    short = check_drift(name, influx, DriftSettings(window_s=120.0, min_rows=10), now_ms=last_ms)
    assert short.skipped is None, short.skipped
    assert short.window_end_ms == last_ms

    # a version registered before drift references: skipped with its reason, nothing written
    client.delete_model_version_tag(name, version, REFERENCE_TAG)
    drift_job.load_version.cache_clear()
    skipped = check_drift(name, influx, settings, now_ms=last_ms, version=version)
    assert skipped.skipped is not None
    assert "no drift reference" in skipped.skipped
    assert not skipped.alarm


def test_influxdb_down_is_an_error_the_loop_can_catch(stack: StackContext, mlflow_tracking: str) -> None:
    from models.drift import DriftReference, feature_reference
    from models.drift_job import LoadedVersion

    reference = DriftReference((feature_reference("x", pd.Series(range(10)).to_numpy(float)),), None)
    down = InfluxSettings(url="http://127.0.0.1:9", timeout_s=1.0)
    with pytest.raises(DriftUnavailableError, match="did not answer"):
        check_drift(
            unique("m"), down, DriftSettings(), now_ms=0, version="1",
            load=lambda _name, _version: LoadedVersion(None, reference),
        )  # fmt: skip
