"""The report's pure pieces: InfluxDB series → curves, markers, units, the page. The same against the real
InfluxDB and the served API: tests/integration/alerts/test_report.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer

from alerts.report import (
    RISK_QUERY,
    TELEMETRY_QUERY,
    Curve,
    Marker,
    MarkerKind,
    ReportData,
    ReportError,
    Window,
    alert_markers,
    latest_model,
    pick_sensors,
    resolve_unit,
    scaled,
    score_curves,
    sensor_curves,
    work_order_markers,
    work_order_window,
)
from alerts.report_cli import parse_time
from alerts.report_render import PNG_MAGIC, ReportFormat, render_html, render_png
from alerts.store.tables import AlertRow, WorkOrderRow
from forewarn.contracts.influx_schema import undeclared_names
from forewarn.influx import Series
from models.units import CYCLES, RulUnit, Unit

T0 = datetime(2026, 12, 1, tzinfo=UTC)
MS0 = int(T0.timestamp() * 1000)
WINDOW = Window(T0 - timedelta(days=1), T0 + timedelta(days=1))


def test_the_queries_name_only_what_the_influx_contract_declares() -> None:
    assert undeclared_names(TELEMETRY_QUERY) == []
    assert undeclared_names(RISK_QUERY) == []
    assert "$asset" in TELEMETRY_QUERY  # a bound parameter, never the asset id pasted in


def test_window_refuses_naive_or_reversed_times() -> None:
    with pytest.raises(ValueError, match="timezone"):
        Window(datetime(2026, 1, 1), datetime(2026, 1, 2))  # noqa: DTZ001
    with pytest.raises(ValueError, match="before"):
        Window(T0, T0)
    assert WINDOW.params() == {"since": "2026-11-30T00:00:00Z", "until": "2026-12-02T00:00:00Z"}


def test_sensor_curves_from_telemetry_series_oldest_first_without_gaps() -> None:
    series = Series(
        "telemetry",
        {"site": "site-1"},
        ("time", "sensor.temp_c", "sensor.vibration_mm_s"),
        ((MS0 + 60_000, 41.0, None), (MS0, 40.0, 2.5)),  # newest first, as the query orders them
    )
    assert sensor_curves([series]) == [
        Curve("temp_c", (MS0, MS0 + 60_000), (40.0, 41.0)),
        Curve("vibration_mm_s", (MS0,), (2.5,)),
    ]


def test_pick_sensors_drops_flat_ones_and_keeps_those_that_trend() -> None:
    times = tuple(MS0 + i * 60_000 for i in range(10))
    flat = Curve("flat", times, (1.0,) * 10)
    rising = Curve("rising", times, tuple(float(i) for i in range(10)))
    noisy = Curve("noisy", times, (1.0, 3.0) * 5)
    assert [c.name for c in pick_sensors([flat, noisy, rising], limit=1)] == ["rising"]
    assert [c.name for c in pick_sensors([flat, rising, noisy])] == ["noisy", "rising"]


def test_scaled_maps_onto_zero_one() -> None:
    assert scaled([10.0, 15.0, 20.0]) == [0.0, 0.5, 1.0]
    assert scaled([3.0, 3.0]) == [0.5, 0.5]
    assert scaled([]) == []


def test_score_curves_per_model_version_and_the_latest_model() -> None:
    columns = ("time", "risk", "rul_cycles", "horizon_cycles")
    tags = {"model_name": "pumps", "model_version": "1", "failure_mode": "unspecified"}
    v1 = Series("risk", tags, columns, ((MS0 + 60_000, 0.2, 90.0, 50.0), (MS0, 0.1, 100.0, 50.0)))
    tags = {"model_name": "pumps", "model_version": "2", "failure_mode": "bearing_wear"}
    v2 = Series("risk", tags, columns, ((MS0 + 120_000, 0.7, None, 50.0),))
    curves = score_curves([v2, v1])
    assert [c.label for c in curves] == ["pumps v1", "pumps v2 bearing_wear"]
    assert curves[0].times_ms == (MS0, MS0 + 60_000)
    assert curves[0].risk == (0.1, 0.2)
    assert curves[1].rul == (None,)
    assert curves[0].horizon == 50.0
    assert latest_model(curves) == ("pumps", "2")
    assert latest_model([]) is None


def _alert(first_seen: datetime, **kw: object) -> AlertRow:
    values: dict[str, object] = {
        "alert_id": "a-1", "asset_id": "pump-7", "site": "site-1", "failure_mode": "bearing_wear",
        "kind": "predictive", "severity": "CRITICAL", "state": "open", "first_seen": first_seen,
        "last_seen": first_seen + timedelta(minutes=5), "occurrence_count": 3, "trigger_risk": 0.91,
        "trigger_rul_cycles": 12.0, "model_name": "pumps", "model_version": "2",
        "raised_at": T0 + timedelta(hours=5), "work_order_id": 4,
    }  # fmt: skip
    return AlertRow(**{**values, **kw})


def _work_order(id_: int, created_at: datetime, alert_id: str | None) -> WorkOrderRow:
    return WorkOrderRow(
        id=id_, asset_id="pump-7", site="site-1", failure_mode="bearing_wear", status="scheduled",
        severity="CRITICAL", priority="P1", due_by=created_at + timedelta(hours=4), source_alert_id=alert_id,
        model_name="pumps", model_version="2", technician_id=3, created_by="alert-engine",
        created_at=created_at, updated_at=created_at, fault_found=None,
    )  # fmt: skip


def test_markers_at_event_time_work_orders_at_their_alerts() -> None:
    alert = _alert(T0 + timedelta(minutes=30))
    too_early = _alert(T0 - timedelta(days=3), alert_id="a-0")
    markers = alert_markers([too_early, alert], WINDOW)
    assert [(m.at, m.kind, m.label) for m in markers] == [
        (alert.first_seen, MarkerKind.ALERT, "CRITICAL bearing_wear")
    ]
    assert markers[0].row["risk"] == "0.91"
    assert markers[0].row["work order"] == "4"
    # opened at processing time hours later, marked at its alert's first reading; one by hand at its opening
    orders = [_work_order(4, T0 + timedelta(hours=5), "a-1"), _work_order(5, T0 + timedelta(hours=6), None)]
    wo = work_order_markers(orders, {"a-1": alert}, WINDOW)
    assert [(m.at, m.label) for m in wo] == [
        (alert.first_seen, "WO 4 scheduled"),
        (T0 + timedelta(hours=6), "WO 5 scheduled"),
    ]


def test_work_order_window_runs_from_a_week_before_its_alert_to_now() -> None:
    alert = _alert(T0)
    now = T0 + timedelta(days=2)
    window = work_order_window(_work_order(4, T0 + timedelta(hours=5), "a-1"), alert, now)
    assert (window.since, window.until) == (T0 - timedelta(days=7), now)
    by_hand = work_order_window(_work_order(5, T0, None), None, T0 + timedelta(minutes=1))
    assert by_hand.until == T0 + timedelta(hours=1)


def test_resolve_unit_says_why_when_the_registry_cannot_tell() -> None:
    curves = score_curves(
        [Series("risk", {"model_name": "p", "model_version": "1"}, ("time", "risk"), ((MS0, 0.1),))]
    )

    def down(name: str, version: str) -> Unit:
        raise ReportError("MLflow at http://127.0.0.1:1 did not answer")

    assert resolve_unit(curves, lambda n, v: CYCLES) == (CYCLES, "")
    unit, note = resolve_unit(curves, down)
    assert unit.unit is RulUnit.UNKNOWN
    assert "p v1" in note
    assert "did not answer" in note


def _data(**kw: object) -> ReportData:
    times = tuple(MS0 + i * 60_000 for i in range(20))
    sensors = [Curve("temp_c", times, tuple(40.0 + i for i in range(20)))]
    columns = ("time", "risk", "rul_cycles", "horizon_cycles")
    rows = tuple((t, i / 20, 100.0 - i, 50.0) for i, t in enumerate(times))
    scores = score_curves([Series("risk", {"model_name": "pumps", "model_version": "2"}, columns, rows)])
    markers = [
        Marker(
            T0 + timedelta(minutes=10), MarkerKind.ALERT, "CRITICAL bearing_wear", {"severity": "CRITICAL"}
        )
    ]
    values: dict[str, object] = {
        "asset_id": "pump-7", "site": "site-1", "window": Window(T0, T0 + timedelta(minutes=20)),
        "sensors": sensors, "scores": scores, "markers": markers, "unit": Unit(RulUnit.STEPS, 60.0),
    }  # fmt: skip
    return ReportData(**{**values, **kw})  # type: ignore[arg-type]


def test_the_page_embeds_the_figure_names_the_asset_models_and_unit() -> None:
    data = _data()
    png = render_png(data)
    assert png.startswith(PNG_MAGIC)
    page = render_html(data, png)
    assert "pump-7 (site-1)" in page
    assert "data:image/png;base64," in page
    assert "pumps v2" in page
    assert "reading steps of 1 min" in page
    assert "<td>CRITICAL</td>" in page
    assert data.models()[0]["scores"] == "20"


def test_an_empty_report_still_draws_and_says_what_is_missing() -> None:
    data = _data(sensors=[], scores=[], unit_note="no scores in this window")
    assert render_png(data).startswith(PNG_MAGIC)
    assert "no scores in this window" in render_html(data, b"")
    assert not data.is_empty()  # the marker remains
    assert _data(sensors=[], scores=[], markers=[]).is_empty()


def test_report_format_by_suffix() -> None:
    assert ReportFormat.of(Path("r.HTML")) is ReportFormat.HTML
    assert ReportFormat.of(Path("r.png")) is ReportFormat.PNG
    with pytest.raises(ValueError, match=r"\.html or \.png"):
        ReportFormat.of(Path("r.pdf"))


def test_times_on_the_command_line() -> None:
    now = T0
    assert parse_time("7d", "--since", now) == T0 - timedelta(days=7)
    assert parse_time("90m", "--since", now) == T0 - timedelta(minutes=90)
    assert parse_time("2026-11-30T12:00:00+01:00", "--since", now) == datetime(2026, 11, 30, 11, tzinfo=UTC)
    with pytest.raises(typer.BadParameter, match="UTC offset"):
        parse_time("2026-11-30T12:00:00", "--since", now)
    with pytest.raises(typer.BadParameter):
        parse_time("last week", "--since", now)


def test_the_command_fails_in_one_line_without_its_store_or_influxdb(tmp_path: Path) -> None:
    import socket

    from typer.testing import CliRunner

    from alerts.store.db import make_engine, migrate
    from chain.cli import app

    runner = CliRunner()
    missing = {"FOREWARN_ALERTS_DATABASE_URL": f"sqlite:///{tmp_path / 'nowhere.db'}"}
    result = runner.invoke(app, ["report", "asset", "pump-7", "--out", str(tmp_path / "r.html")], env=missing)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no alert store at ")
    assert not (tmp_path / "nowhere.db").exists()  # never created by a report

    engine = make_engine(f"sqlite:///{tmp_path / 'wo.db'}")
    migrate(engine)
    engine.dispose()
    with socket.socket() as s:  # a loopback port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"FOREWARN_ALERTS_DATABASE_URL": f"sqlite:///{tmp_path / 'wo.db'}",
           "FOREWARN_INFLUX_URL": f"http://127.0.0.1:{port}", "FOREWARN_INFLUX_TIMEOUT_S": "2"}  # fmt: skip
    result = runner.invoke(app, ["report", "asset", "pump-7", "--out", str(tmp_path / "r.html")], env=env)
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1
    assert "InfluxDB at http://127.0.0.1:" in result.stderr
    assert "Traceback" not in result.output
