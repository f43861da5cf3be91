"""An asset's report: its sensors, risk and RUL over time with its alerts and work orders marked.

For people without Grafana (``forewarn report asset``) and linked from each work order
(``GET /work-orders/{id}/report``). The data come from InfluxDB (``telemetry``, ``risk``), the alert
and work-order store, and the model registry (the unit the model's RUL counts in)::

    read_influx ─▶ sensor_curves, score_curves ─┐
    read_store  ─▶ alert_markers, work_order_markers ─▶ ReportData ─▶ alerts.report_render (PNG, HTML)
    unit_of(model name, version) ─────────────────┘

The shaping functions in the middle are pure; the readers at the edges take settings and a session.
The time axis is event time (the readings'): an alert is marked at the event time of its first
reading, a work order at its source alert's (processing time when it was opened by hand).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache

import httpx
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.store.tables import AlertRow, WorkOrderRow
from forewarn.contracts.influx_schema import RISK, SENSOR_FIELD_REGEX, TELEMETRY, ValueKind, parse_value_field
from forewarn.contracts.risk import UNSPECIFIED_FAILURE_MODE
from forewarn.influx import InfluxQueryError, Series, query
from forewarn.settings import InfluxSettings, MlflowSettings
from models.units import RulUnit, Unit, unit_from_tags

DEFAULT_LOOKBACK = timedelta(days=30)
MAX_POINTS = 5000
"""Points per series read from InfluxDB (the newest ones): a page, not an export."""
MAX_SENSORS = 8
"""Sensors drawn: those that trend most over the window (a flat sensor tells nothing)."""
UnitOf = Callable[[str, str], Unit]


class ReportError(RuntimeError):
    """No report can be made; the message says why and what to do."""


class SourceUnreachableError(ReportError):
    """InfluxDB (or the registry) did not answer or refused the report's queries."""


class MarkerKind(StrEnum):
    """What a vertical line on the report marks."""

    ALERT = "alert"
    WORK_ORDER = "work order"


@dataclass(frozen=True)
class Window:
    """The event-time range of a report (timezone-aware, ``since`` before ``until``)."""

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise ValueError("a report window needs timezone-aware times")
        if self.since >= self.until:
            raise ValueError(
                f"since ({self.since.isoformat()}) must be before until ({self.until.isoformat()})"
            )

    def contains(self, at: datetime) -> bool:
        return self.since <= at <= self.until

    def params(self) -> dict[str, str]:
        """The window as InfluxQL bound parameters ``$since`` and ``$until``."""
        return {"since": _rfc3339(self.since), "until": _rfc3339(self.until)}


@dataclass(frozen=True)
class Curve:
    """One sensor over time (epoch milliseconds)."""

    name: str
    times_ms: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class ScoreCurve:
    """The scores of one model version (and failure mode) over time."""

    model_name: str
    model_version: str
    failure_mode: str
    times_ms: tuple[int, ...]
    risk: tuple[float | None, ...]
    rul: tuple[float | None, ...]
    horizon: float | None

    @property
    def label(self) -> str:
        mode = "" if self.failure_mode in ("", UNSPECIFIED_FAILURE_MODE) else f" {self.failure_mode}"
        return f"{self.model_name} v{self.model_version}{mode}"


@dataclass(frozen=True)
class Marker:
    """An alert or a work order on the time axis, with the row shown in the page's table."""

    at: datetime
    kind: MarkerKind
    label: str
    row: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportData:
    """Everything one report shows."""

    asset_id: str
    site: str
    window: Window
    sensors: list[Curve]
    scores: list[ScoreCurve]
    markers: list[Marker]
    unit: Unit
    unit_note: str = ""

    def models(self) -> list[dict[str, str]]:
        """The model versions behind the scores: which, from when to when, how many scores."""
        out = []
        for s in sorted(self.scores, key=lambda s: (s.times_ms[0] if s.times_ms else 0, s.label)):
            if not s.times_ms:
                continue
            out.append(
                {
                    "model": s.label,
                    "first score": _rfc3339(_at(s.times_ms[0])),
                    "last score": _rfc3339(_at(s.times_ms[-1])),
                    "scores": f"{len(s.times_ms):,}",
                    "horizon": "-" if s.horizon is None else f"{s.horizon:g} {self.unit.label()}",
                }
            )
        return out

    def is_empty(self) -> bool:
        return not (self.sensors or self.scores or self.markers)


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


# -- InfluxDB -------------------------------------------------------------------------------------

# Names from the InfluxDB contract, values as bound parameters ($asset, $since, $until): no injection.
TELEMETRY_QUERY = (
    f'SELECT {SENSOR_FIELD_REGEX} FROM "{TELEMETRY.name}" WHERE "asset_id" = $asset '  # noqa: S608
    f'AND time >= $since AND time <= $until GROUP BY "site" ORDER BY time DESC LIMIT {MAX_POINTS}'
)
RISK_QUERY = (
    f'SELECT "risk", "rul_cycles", "horizon_cycles" FROM "{RISK.name}" WHERE "asset_id" = $asset '  # noqa: S608
    'AND time >= $since AND time <= $until GROUP BY "site", "model_name", "model_version", "failure_mode" '
    f"ORDER BY time DESC LIMIT {MAX_POINTS}"
)


def sensor_curves(series: Iterable[Series]) -> list[Curve]:
    """``telemetry`` series (``sensor.<name>`` columns) → one curve per sensor, oldest first; a
    reading without the sensor leaves no point."""
    points: dict[str, list[tuple[int, float]]] = {}
    for s in series:
        for row in s.values:
            values = dict(zip(s.columns, row, strict=True))
            for column, value in values.items():
                parsed = parse_value_field(column)
                if parsed is None or parsed[0] is not ValueKind.SENSOR or not isinstance(value, int | float):
                    continue
                points.setdefault(parsed[1], []).append((int(values["time"]), float(value)))
    curves = []
    for name, pairs in sorted(points.items()):
        pairs.sort()
        curves.append(Curve(name, tuple(t for t, _ in pairs), tuple(v for _, v in pairs)))
    return curves


def pick_sensors(curves: Sequence[Curve], limit: int = MAX_SENSORS) -> list[Curve]:
    """The ``limit`` sensors that trend most over the window (by |correlation with time|), flat ones
    left out, in name order."""
    scored: list[tuple[float, Curve]] = []
    for c in curves:
        values = np.asarray(c.values, dtype=np.float64)
        if len(values) < 2 or float(np.ptp(values)) == 0.0:
            continue
        times = np.asarray(c.times_ms, dtype=np.float64)
        trend = abs(float(np.corrcoef(times, values)[0, 1])) if np.ptp(times) > 0 else 0.0
        scored.append((0.0 if np.isnan(trend) else trend, c))
    best = sorted(scored, key=lambda tc: (-tc[0], tc[1].name))[:limit]
    return sorted((c for _, c in best), key=lambda c: c.name)


def scaled(values: Sequence[float]) -> list[float]:
    """Values mapped onto 0..1 over their own range (sensors of any scale share one axis)."""
    if not values:
        return []
    low, high = min(values), max(values)
    span = high - low
    return [0.5 if span == 0 else (v - low) / span for v in values]


def score_curves(series: Iterable[Series]) -> list[ScoreCurve]:
    """``risk`` series grouped by model version and failure mode → one curve each, oldest first."""
    out = []
    for s in series:
        rows = sorted(s.rows(), key=lambda r: int(r["time"]))
        horizons = [r["horizon_cycles"] for r in rows if r.get("horizon_cycles") is not None]
        out.append(
            ScoreCurve(
                s.tags.get("model_name", ""),
                s.tags.get("model_version", ""),
                s.tags.get("failure_mode", ""),
                tuple(int(r["time"]) for r in rows),
                tuple(r.get("risk") for r in rows),
                tuple(r.get("rul_cycles") for r in rows),
                float(horizons[-1]) if horizons else None,
            )
        )
    return sorted(out, key=lambda c: (c.times_ms[0] if c.times_ms else 0, c.label))


def latest_model(scores: Sequence[ScoreCurve]) -> tuple[str, str] | None:
    """(name, version) of the model behind the newest score."""
    scored = [s for s in scores if s.times_ms]
    if not scored:
        return None
    newest = max(scored, key=lambda s: s.times_ms[-1])
    return newest.model_name, newest.model_version


def read_influx(
    settings: InfluxSettings, asset_id: str, window: Window
) -> tuple[list[Curve], list[ScoreCurve], str]:
    """The asset's sensors and scores in the window, and its site ("" when InfluxDB has neither).

    Raises:
        ReportError: InfluxDB unreachable or refusing the queries.
    """
    params = {"asset": asset_id, **window.params()}
    try:
        telemetry = query(settings, TELEMETRY_QUERY, params=params)
        risk = query(settings, RISK_QUERY, params=params)
    except InfluxQueryError as exc:
        raise SourceUnreachableError(
            f"{exc}; check FOREWARN_INFLUX_URL and that `forewarn stack status` shows InfluxDB"
        ) from None
    sites = [s.tags.get("site", "") for s in (*telemetry, *risk) if s.tags.get("site")]
    return sensor_curves(telemetry), score_curves(risk), sites[0] if sites else ""


# -- the store ------------------------------------------------------------------------------------


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def alert_markers(alerts: Iterable[AlertRow], window: Window) -> list[Marker]:
    """An asset's alerts whose first reading falls in the window, at that reading's event time."""
    out = []
    for a in alerts:
        if not window.contains(a.first_seen):
            continue
        row = {
            "first reading": _rfc3339(a.first_seen),
            "raised at": _rfc3339(a.raised_at),
            "severity": a.severity,
            "failure mode": a.failure_mode,
            "state": a.state,
            "risk": _num(a.trigger_risk, ".2f"),
            "RUL": _num(a.trigger_rul_cycles, ".0f"),
            "model": f"{a.model_name or '-'} v{a.model_version or '-'}",
            "work order": "-" if a.work_order_id is None else str(a.work_order_id),
        }
        out.append(Marker(a.first_seen, MarkerKind.ALERT, f"{a.severity} {a.failure_mode}", row))
    return sorted(out, key=lambda m: m.at)


def work_order_markers(
    work_orders: Iterable[WorkOrderRow], alerts_by_id: dict[str, AlertRow], window: Window
) -> list[Marker]:
    """An asset's work orders in the window: at their source alert's first reading (event time), or
    when they were opened by hand."""
    out = []
    for w in work_orders:
        source = alerts_by_id.get(w.source_alert_id or "")
        at = source.first_seen if source is not None else w.created_at
        if not window.contains(at):
            continue
        row = {
            "work order": str(w.id),
            "opened at": _rfc3339(w.created_at),
            "status": w.status,
            "priority": w.priority,
            "failure mode": w.failure_mode,
            "technician": "-" if w.technician_id is None else str(w.technician_id),
            "fault found": "-" if w.fault_found is None else ("yes" if w.fault_found else "no"),
            "model": f"{w.model_name or '-'} v{w.model_version or '-'}",
        }
        out.append(Marker(at, MarkerKind.WORK_ORDER, f"WO {w.id} {w.status}", row))
    return sorted(out, key=lambda m: m.at)


def read_store(session: Session, asset_id: str, window: Window) -> tuple[list[Marker], str]:
    """The asset's alerts and work orders in the window, as markers, and the asset's site ("" if none)."""
    alerts = list(session.scalars(select(AlertRow).where(AlertRow.asset_id == asset_id)))
    work_orders = list(session.scalars(select(WorkOrderRow).where(WorkOrderRow.asset_id == asset_id)))
    by_id = {a.alert_id: a for a in alerts}
    markers = alert_markers(alerts, window) + work_order_markers(work_orders, by_id, window)
    sites = [a.site for a in alerts] + [w.site for w in work_orders]
    return markers, sites[0] if sites else ""


def work_order_window(work_order: WorkOrderRow, source: AlertRow | None, now: datetime) -> Window:
    """The window of a work order's report: a week of history before its source alert's first
    reading (or its opening), up to its close (or now)."""
    anchor = source.first_seen if source is not None else work_order.created_at
    end = max(work_order.closed_at or now, anchor + timedelta(hours=1))
    if source is not None:
        end = max(end, source.last_seen)
    return Window(anchor - timedelta(days=7), end)


# -- the model's unit -----------------------------------------------------------------------------


def mlflow_unit_of(settings: MlflowSettings, timeout_s: float = 5.0) -> UnitOf:
    """The unit of a registered model version, from its registry tags (:func:`models.units.unit_from_tags`).

    Over MLflow's REST API with a short timeout (a page must not wait minutes on MLflow's own
    retries); raises ReportError when the registry does not answer.
    """
    base = (settings.registry_uri or settings.tracking_uri).rstrip("/")

    @lru_cache(maxsize=64)
    def unit_of(name: str, version: str) -> Unit:
        if not base.startswith(("http://", "https://")):
            return _unit_by_client(settings, name, version)
        url = f"{base}/api/2.0/mlflow/model-versions/get"
        try:
            params = {"name": name, "version": version}
            response = httpx.get(url, params=params, timeout=timeout_s, headers=settings.auth_headers())
        except httpx.HTTPError as exc:
            raise SourceUnreachableError(f"MLflow at {base} did not answer ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise ReportError(f"MLflow has no version {version} of {name!r} (HTTP {response.status_code})")
        tags = response.json().get("model_version", {}).get("tags", [])
        return unit_from_tags({t["key"]: t["value"] for t in tags})

    return unit_of


def _unit_by_client(settings: MlflowSettings, name: str, version: str) -> Unit:
    from mlflow import MlflowClient

    client = MlflowClient(settings.tracking_uri, settings.registry_uri or settings.tracking_uri)
    try:
        return unit_from_tags(dict(client.get_model_version(name, version).tags))
    except Exception as exc:  # MLflow raises many types for an unreachable or unknown registry
        raise ReportError(f"MLflow registry: {exc}") from None


def resolve_unit(scores: Sequence[ScoreCurve], unit_of: UnitOf) -> tuple[Unit, str]:
    """The unit of the model behind the newest score, and a note when it could not be known."""
    model = latest_model(scores)
    if model is None:
        return Unit(RulUnit.UNKNOWN), "no scores in this window"
    try:
        return unit_of(*model), ""
    except ReportError as exc:
        return Unit(RulUnit.UNKNOWN), f"the RUL unit of {model[0]} v{model[1]} is unknown: {exc}"


@dataclass(frozen=True)
class ReportSources:
    """Where the API's reports read from: InfluxDB, and the registry's unit lookup (None: unknown unit)."""

    influx: InfluxSettings
    unit_of: UnitOf | None


def _unknown_unit(name: str, version: str) -> Unit:
    raise ReportError("no model registry configured")


def build(
    asset_id: str,
    window: Window,
    influx: InfluxSettings,
    session: Session,
    unit_of: UnitOf | None,
) -> ReportData:
    """Read everything the asset's report shows.

    Raises:
        ReportError: InfluxDB unreachable, or nothing at all about the asset in the window.
    """
    sensors, scores, site = read_influx(influx, asset_id, window)
    markers, stored_site = read_store(session, asset_id, window)
    unit, note = resolve_unit(scores, unit_of or _unknown_unit)
    data = ReportData(
        asset_id, site or stored_site, window, pick_sensors(sensors), scores, markers, unit, note
    )
    if data.is_empty():
        raise ReportError(
            f"nothing about asset {asset_id!r} between {_rfc3339(window.since)} and "
            f"{_rfc3339(window.until)}: no telemetry, scores, alerts or work orders; "
            "check the asset id or widen --since/--until"
        )
    return data
