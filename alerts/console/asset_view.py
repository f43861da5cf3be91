"""The asset page's data: risk, RUL and the most trending sensors over a window, each sensor's
latest value, the model versions behind the scores, and the asset's alerts and work orders.

::

    one InfluxDB request (statements):  score_query   ─▶ score_charts ─┐
                                        sensor_query  ─▶ sensor_charts ┤
                                        MODELS_QUERY  ─▶ model_uses ───┼─▶ AssetInflux ─┐
                                        NOW_QUERY     ─▶ now_view ─────┘                ├─▶ asset.html
    the store (two queries): the asset's alerts, work orders ─▶ alert_rows, work_order_rows ┘

Charts are bucketed in InfluxDB (``timeseries.bucket_s``: at most a few hundred points a chart,
whatever the window): the highest risk and the lowest RUL of each bucket (an operator looks for
the worst), the mean of each sensor. Every statement binds the asset and the window as parameters.
"""

# InfluxQL here is built from the contract's names and integers this module computes, never from
# input (the asset id and the window are bound parameters): S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.console import timeseries as ts
from alerts.console.respond import number, utc_minutes
from alerts.report import Curve, Window, pick_sensors
from alerts.store.tables import AlertRow, WorkOrderRow
from forewarn.contracts.alert import AlertState
from forewarn.contracts.influx_schema import RISK, SENSOR_FIELD_REGEX, SENSOR_PREFIX, TELEMETRY
from forewarn.contracts.risk import UNSPECIFIED_FAILURE_MODE
from forewarn.contracts.work_order import OPEN_STATUSES
from forewarn.influx import Series, query
from forewarn.settings import InfluxSettings

MAX_ASSET_ID = 200  # the store's column: a longer id names no asset
MAX_ROWS = 200
"""Alerts and work orders listed (the newest): a page, not an export."""

_R, _T = RISK.name, TELEMETRY.name
_WINDOW = "time >= $since AND time <= $until"


def score_query(bucket_s: int) -> str:
    """Worst risk and RUL per bucket, one series per model version and failure mode."""
    return (
        f'SELECT max("risk") AS "risk", min("rul_cycles") AS "rul_cycles" FROM "{_R}" '
        f'WHERE "asset_id" = $asset AND {_WINDOW} '
        f'GROUP BY time({int(bucket_s)}s), "model_name", "model_version", "failure_mode" fill(none)'
    )


def sensor_query(bucket_s: int) -> str:
    """Every sensor's mean per bucket (columns ``mean_sensor.<name>``)."""
    return (
        f'SELECT mean({SENSOR_FIELD_REGEX}) FROM "{_T}" WHERE "asset_id" = $asset AND {_WINDOW} '
        f"GROUP BY time({int(bucket_s)}s) fill(none)"
    )


# Per model version in the window: how many scores, the first and the last (their times).
MODELS_QUERY = ";".join(
    f'SELECT {fn}("risk") AS "{alias}" FROM "{_R}" WHERE "asset_id" = $asset AND {_WINDOW} '
    'GROUP BY "model_name", "model_version"'
    for fn, alias in (("count", "scores"), ("first", "first"), ("last", "last"))
)
# Now, whatever the window: each sensor's last value, the last reading's time, each failure mode's
# last score (with its RUL and model). Also what tells an asset InfluxDB has never seen.
NOW_QUERY = ";".join(
    (
        f'SELECT last({SENSOR_FIELD_REGEX}) FROM "{_T}" WHERE "asset_id" = $asset GROUP BY "site"',
        f'SELECT last("seq") AS "last_reading" FROM "{_T}" WHERE "asset_id" = $asset GROUP BY "site"',
        f'SELECT last("risk") AS "risk_now", "rul_cycles", "model_name", "model_version" FROM "{_R}" '
        'WHERE "asset_id" = $asset GROUP BY "site", "failure_mode"',
    )
)


@dataclass(frozen=True)
class ModelUse:
    """One model version that scored the asset in the window."""

    model: str
    first: str
    last: str
    scores: int


@dataclass(frozen=True)
class SensorNow:
    """A sensor's latest value, and whether the page charts it (it trends most)."""

    name: str
    value: str
    charted: bool


@dataclass(frozen=True)
class ScoreNow:
    """The latest score of one failure mode."""

    failure_mode: str
    risk: str
    rul: str
    model: str
    at: str
    risk_value: float | None


@dataclass(frozen=True)
class AssetInflux:
    """What InfluxDB says about the asset (empty when it says nothing)."""

    site: str = ""
    score_charts: list[dict[str, Any]] = field(default_factory=list)  # risk, RUL
    sensor_charts: list[dict[str, Any]] = field(default_factory=list)  # one per trending sensor
    sensors: list[SensorNow] = field(default_factory=list)
    scores_now: list[ScoreNow] = field(default_factory=list)
    models: list[ModelUse] = field(default_factory=list)
    last_reading: str = "-"
    seen: bool = False  # any reading or score of this asset, ever


def _label(model_name: str, version: str, failure_mode: str = "") -> str:
    mode = "" if failure_mode in ("", UNSPECIFIED_FAILURE_MODE) else f" · {failure_mode}"
    return f"{model_name or '?'} v{version or '?'}{mode}"


def _series_label(s: Series) -> str:
    tags = s.tags
    return _label(tags.get("model_name", ""), tags.get("model_version", ""), tags.get("failure_mode", ""))


def score_charts(series: Iterable[Series]) -> list[dict[str, Any]]:
    """The risk chart and the RUL chart: one line per model version and failure mode."""
    risk: list[ts.Line] = []
    rul: list[ts.Line] = []
    for s in sorted(series, key=_series_label):
        rows = s.rows()
        label = _series_label(s)
        risk.append(ts.Line(label, {ts.epoch_s(r["time"]): _num(r.get("risk")) for r in rows}, "risk"))
        rul.append(ts.Line(label, {ts.epoch_s(r["time"]): _num(r.get("rul_cycles")) for r in rows}, "rul"))
    out = []
    if any(line.points for line in risk):
        out.append(ts.chart("Risk (worst per bucket)", risk, {"risk": "P(failure)"}, {"risk": (0.0, 1.0)}))
    if any(any(v is not None for v in line.points.values()) for line in rul):
        out.append(ts.chart("RUL (lowest per bucket)", rul, {"rul": "cycles"}, zero={"rul"}))
    return out


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def bucket_curves(series: Iterable[Series], prefix: str = "mean_") -> list[Curve]:
    """Bucketed ``telemetry`` series (columns ``mean_sensor.<name>``) → one curve per sensor."""
    points: dict[str, list[tuple[int, float]]] = {}
    for s in series:
        for row in s.values:
            values = dict(zip(s.columns, row, strict=True))
            for column, value in values.items():
                name = _sensor_name(column, prefix)
                if name is None or _num(value) is None:
                    continue
                points.setdefault(name, []).append((int(values["time"]), float(value)))
    return [
        Curve(name, tuple(t for t, _ in sorted(pairs)), tuple(v for _, v in sorted(pairs)))
        for name, pairs in sorted(points.items())
    ]


def _sensor_name(column: str, prefix: str) -> str | None:
    head = prefix + SENSOR_PREFIX
    return column[len(head) :] if column.startswith(head) and len(column) > len(head) else None


def sensor_charts(curves: Sequence[Curve]) -> tuple[list[dict[str, Any]], set[str]]:
    """One small chart per sensor that trends most (:func:`alerts.report.pick_sensors`), and their names."""
    picked = pick_sensors(curves)
    charts = [
        ts.chart(
            c.name,
            [ts.Line(c.name, dict(zip((ts.epoch_s(t) for t in c.times_ms), c.values, strict=True)))],
            {"y": ""},
        )
        for c in picked
    ]
    return charts, {c.name for c in picked}


def model_uses(series: Iterable[Series]) -> list[ModelUse]:
    """The model versions behind the scores in the window, oldest first: from the ``count``,
    ``first`` and ``last`` statements of :data:`MODELS_QUERY` (told apart by their column)."""
    found: dict[tuple[str, str], dict[str, int]] = {}
    for s in series:
        key = (s.tags.get("model_name", ""), s.tags.get("model_version", ""))
        for row in s.rows():
            entry = found.setdefault(key, {})
            if "scores" in row:
                entry["scores"] = int(row["scores"] or 0)
            elif "first" in row:
                entry["first"] = int(row["time"])
            elif "last" in row:
                entry["last"] = int(row["time"])
    uses = [
        (entry.get("first", 0), ModelUse(
            _label(*key), utc_minutes(ts.at_ms(entry["first"])) if "first" in entry else "-",
            utc_minutes(ts.at_ms(entry["last"])) if "last" in entry else "-", entry.get("scores", 0),
        ))
        for key, entry in found.items()
    ]  # fmt: skip
    return [use for _, use in sorted(uses, key=lambda u: (u[0], u[1].model))]


def now_view(series: Iterable[Series], charted: set[str]) -> tuple[list[SensorNow], list[ScoreNow], str, str]:
    """From :data:`NOW_QUERY`'s answer: each sensor's last value, each failure mode's last score
    (riskiest first), the last reading's time and the asset's site ("" when none)."""
    sensors: dict[str, float] = {}
    scores: list[ScoreNow] = []
    last_reading = "-"
    site = ""
    for s in series:
        site = site or s.tags.get("site", "")
        for row in s.rows():
            if "last_reading" in row:
                last_reading = utc_minutes(ts.at_ms(int(row["time"])))
            elif "risk_now" in row:
                risk = _num(row["risk_now"])
                model = _label(str(row.get("model_name") or ""), str(row.get("model_version") or ""))
                rul = number(_num(row.get("rul_cycles")), 0)
                at = utc_minutes(ts.at_ms(int(row["time"])))
                scores.append(ScoreNow(s.tags.get("failure_mode", ""), number(risk, 2), rul, model, at, risk))
            else:
                for column, value in row.items():
                    name = _sensor_name(column, "last_")
                    if name is not None and _num(value) is not None:
                        sensors[name] = float(value)
    shown = [SensorNow(name, f"{value:.4g}", name in charted) for name, value in sorted(sensors.items())]
    scores.sort(key=lambda s: (-(s.risk_value if s.risk_value is not None else -1.0), s.failure_mode))
    return shown, scores, last_reading, site


def statements(bucket_s: int) -> str:
    """Every statement the page needs, as one request: InfluxDB answers each in turn and
    :func:`kind_of` tells their series apart by their columns (each statement names its own)."""
    return ";".join((score_query(bucket_s), sensor_query(bucket_s), MODELS_QUERY, NOW_QUERY))


def kind_of(series: Series) -> str:
    """Which statement of :func:`statements` answered ``series``: score, sensor, model or now."""
    columns = set(series.columns)
    if "risk" in columns:
        return "score"
    if columns & {"scores", "first", "last"}:
        return "model"
    if any(c.startswith("mean_" + SENSOR_PREFIX) for c in columns):
        return "sensor"
    return "now"  # last_sensor.*, last_reading, risk_now


def shape(series: Iterable[Series]) -> AssetInflux:
    """The answer of :func:`statements` → what the page shows."""
    kinds: dict[str, list[Series]] = {"score": [], "sensor": [], "model": [], "now": []}
    for s in series:
        kinds[kind_of(s)].append(s)
    charts, charted = sensor_charts(bucket_curves(kinds["sensor"]))
    sensors, scores_now, last_reading, site = now_view(kinds["now"], charted)
    return AssetInflux(
        site=site,
        score_charts=score_charts(kinds["score"]),
        sensor_charts=charts,
        sensors=sensors,
        scores_now=scores_now,
        models=model_uses(kinds["model"]),
        last_reading=last_reading,
        seen=bool(kinds["now"]),
    )


def read_influx(settings: InfluxSettings, asset_id: str, window: Window) -> AssetInflux:
    """Everything InfluxDB has on the asset, in one request whatever the window or its history.

    Raises:
        forewarn.influx.InfluxQueryError: InfluxDB unreachable or refusing a statement.
    """
    params = {"asset": asset_id, **ts.window_params(window)}
    return shape(query(settings, statements(ts.bucket_s(window)), params=params))


# -- the store ------------------------------------------------------------------------------------


def alert_rows(alerts: Iterable[AlertRow]) -> list[dict[str, Any]]:
    """The asset's alerts as the page's table shows them, newest first."""
    return [
        {
            "alert_id": a.alert_id,
            "severity": a.severity,
            "state": a.state,
            "failure_mode": a.failure_mode,
            "raised": utc_minutes(a.raised_at),
            "first_reading": utc_minutes(a.first_seen),
            "risk": number(a.trigger_risk, 2),
            "rul": number(a.trigger_rul_cycles, 0),
            "model": _label(a.model_name or "", a.model_version or ""),
            "work_order_id": a.work_order_id,
            "open": a.state != AlertState.CLEARED.value,
        }
        for a in sorted(alerts, key=lambda a: a.raised_at, reverse=True)
    ]


def work_order_rows(orders: Iterable[WorkOrderRow], now: datetime) -> list[dict[str, Any]]:
    """The asset's work orders as the page's table shows them, newest first."""
    open_statuses = {s.value for s in OPEN_STATUSES}
    return [
        {
            "id": w.id,
            "status": w.status,
            "priority": w.priority,
            "failure_mode": w.failure_mode,
            "opened": utc_minutes(w.created_at),
            "due": utc_minutes(w.due_by),
            "overdue": w.status in open_statuses and w.due_by < now,
            "technician_id": w.technician_id,
            "fault_found": "-" if w.fault_found is None else ("yes" if w.fault_found else "no"),
            "model": _label(w.model_name or "", w.model_version or "") if w.model_version else "-",
        }
        for w in sorted(orders, key=lambda w: w.created_at, reverse=True)
    ]


@dataclass(frozen=True)
class AssetStore:
    """What the store has on the asset."""

    site: str
    alerts: list[dict[str, Any]]
    work_orders: list[dict[str, Any]]

    @property
    def seen(self) -> bool:
        return bool(self.alerts or self.work_orders)


def read_store(session: Session, asset_id: str, now: datetime) -> AssetStore:
    """The asset's newest alerts and work orders (two queries)."""
    alerts = list(
        session.scalars(
            select(AlertRow)
            .where(AlertRow.asset_id == asset_id)
            .order_by(AlertRow.raised_at.desc())
            .limit(MAX_ROWS)
        )
    )
    orders = list(
        session.scalars(
            select(WorkOrderRow)
            .where(WorkOrderRow.asset_id == asset_id)
            .order_by(WorkOrderRow.created_at.desc())
            .limit(MAX_ROWS)
        )
    )
    sites = [a.site for a in alerts] + [w.site for w in orders]
    return AssetStore(sites[0] if sites else "", alert_rows(alerts), work_order_rows(orders, now))
