"""Seed an InfluxDB database with a small fleet's history, built through ``forewarn.contracts.influx_schema``.

The integration tests run every panel against this data, and the demo can fill an empty Grafana
with it until the real producers run. The story is deterministic for a given ``now`` and seed:
per site, asset 0 degrades to critical risk (alert, P1 work order, fault found — except at the
first site, where the repair is still open and past its SLA), asset 1 rises into the minor band
(alert, work order, no fault found: a false alarm), the rest stay healthy. The last asset of the
last site stops reporting 40 minutes before ``now`` and gets a stale alert. Model version 4
replaces version 3 half way through.

Every point is built by the schema's own point builders, in the one line protocol the producers
write (``forewarn.influx.line``, millisecond time), so a name the producers may not write cannot be
seeded either. ``seed_lines`` is pure (line protocol text); ``write_lines`` is the only I/O.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import product

from forewarn.contracts.alert import AlertKind
from forewarn.contracts.dead_letter import GatewayReason, ScoringReason
from forewarn.contracts.influx_schema import (
    ALERT_COUNTS,
    ALERT_KINDS,
    ALERTS,
    FEATURE_DRIFT,
    MODEL_EVENTS,
    MODEL_QUALITY,
    OPEN_ALERT_STATES,
    OPEN_WORK_ORDER_STATUSES,
    PARTS_PLAN,
    PIPELINE,
    PRIORITIES,
    RISK,
    SERVICE_KPIS,
    SEVERITIES,
    WORK_ORDER_COUNTS,
    WORK_ORDERS,
    Measurement,
    telemetry_point,
)
from forewarn.influx import FieldValue, InfluxWriter
from forewarn.settings import InfluxSettings

# C-MAPSS names (the demo's model is trained on them); written as ``sensor.sensor_1``… by the schema
SENSORS: tuple[str, ...] = tuple(f"sensor_{i}" for i in range(1, 22))
SETTINGS: tuple[str, ...] = ("setting_1", "setting_2", "setting_3")
DRIFT_FEATURES: tuple[str, ...] = ("sensor_2", "sensor_3", "sensor_4", "sensor_7", "sensor_11")
DEAD_LETTER_REASONS: tuple[str, ...] = (
    GatewayReason.MALFORMED_JSON,
    GatewayReason.UNKNOWN_SENSOR,
    GatewayReason.TOO_OLD,
)
STREAMING_DEAD_LETTER_REASONS: tuple[str, ...] = (ScoringReason.LATE_FOR_STATE, ScoringReason.UNSCORABLE)
SLA_H: Mapping[str, float] = {"P1": 1.0, "P2": 4.0, "P3": 24.0, "P4": 72.0}
MODEL_NAME = "forewarn-rul"
FAILURE_MODE = "hpc_degradation"
MODEL_VERSIONS: tuple[str, ...] = ("3", "4")
PARTS_SKUS: tuple[str, ...] = ("BRG-6309-2RS", "MSL-CART-45")  # a few of the demo catalogue's parts


@dataclass(frozen=True)
class Fleet:
    """Which sites and assets the seeded history covers."""

    sites: Mapping[str, tuple[str, ...]]

    @classmethod
    def small(cls, sites: int = 3, assets_per_site: int = 4) -> Fleet:
        return cls(
            {
                f"site-{s}": tuple(f"site-{s}-engine-{a:02d}" for a in range(1, assets_per_site + 1))
                for s in range(1, sites + 1)
            }
        )

    @property
    def assets(self) -> list[tuple[str, str]]:
        return [(site, asset) for site, assets in self.sites.items() for asset in assets]


@dataclass(frozen=True)
class SeedSummary:
    """What was seeded, for tests and the demo to check against."""

    start: datetime
    end: datetime
    fleet: Fleet
    model_versions: tuple[str, ...]
    stale_asset: tuple[str, str]
    lines: int = 0
    measurements: dict[str, int] = field(default_factory=dict)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _point(
    measurement: Measurement, tags: Mapping[str, str], fields: Mapping[str, FieldValue], at: datetime
) -> str:
    """One point of ``measurement`` at ``at`` through the schema's builder (millisecond time).

    Raises:
        ValueError: a tag or field the schema does not declare, or no writable field.
    """
    point = measurement.point(tags, fields, _ms(at))
    if point is None:
        raise ValueError(f"a seeded {measurement.name!r} point holds no writable field: {dict(fields)}")
    return point


def _telemetry(
    site: str, asset: str, seq: int, settings: Mapping[str, float], sensors: Mapping[str, float], at: datetime
) -> str:
    """A reading's point, as the scoring job writes it (settings and sensors apart by prefix)."""
    point = telemetry_point(site, asset, _ms(at), seq, settings, sensors)
    if point is None:
        raise ValueError(f"a seeded reading of {asset} holds no writable value")
    return point


def _alert_point(
    alert: _Alert, state: str, change: str, fields: Mapping[str, FieldValue], at: datetime
) -> str:
    """An ``alerts`` point of one change of ``alert``, as the alert engine writes it."""
    tags = {
        "site": alert.site,
        "asset_id": alert.asset,
        # the engine's failure mode of a stale-data alert is its kind
        "failure_mode": alert.kind if alert.kind == AlertKind.STALE else FAILURE_MODE,
        "severity": alert.severity,
        "state": state,
        "kind": alert.kind,
        "change": change,
        "model_version": alert.model_version,
    }
    return _point(ALERTS, tags, {"alert_id": alert.alert_id, **fields}, at)


def _risk_at(kind: int, progress: float, rng: random.Random) -> float:
    """Risk of an asset of story ``kind`` (0 critical, 1 minor, 2 healthy) at ``progress`` 0..1."""
    if kind == 0:
        base = 1 / (1 + math.exp(-10 * (progress - 0.25)))
        peak = 0.92
    elif kind == 1:
        base = 1 / (1 + math.exp(-10 * (progress - 0.5)))
        peak = 0.6
    else:
        base, peak = 0.5, 0.25
    return min(0.99, max(0.01, peak * base + rng.uniform(-0.02, 0.02)))


def _severity(risk: float) -> str:
    if risk >= 0.8:
        return "CRITICAL"
    if risk >= 0.65:
        return "MAJOR"
    return "MINOR"


@dataclass
class _Alert:
    site: str
    asset: str
    alert_id: str
    severity: str
    kind: str
    raised: datetime
    acknowledged: datetime | None
    model_version: str


@dataclass
class _WorkOrder:
    site: str
    asset: str
    work_order_id: str
    priority: str
    created: datetime
    changes: list[tuple[datetime, str]]
    fault_found: int
    model_version: str


def _steps(start: datetime, end: datetime, step: timedelta) -> Iterator[datetime]:
    at = start
    while at <= end:
        yield at
        at += step


def seed_lines(
    now: datetime,
    fleet: Fleet | None = None,
    *,
    hours: float = 6.0,
    step_s: int = 300,
    pipeline_step_s: int = 60,
    seed: int = 7,
) -> tuple[list[str], SeedSummary]:
    """Line protocol for ``hours`` of history ending at ``now``, and a summary of what it holds."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    fleet = fleet or Fleet.small()
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    start = now - timedelta(hours=hours)
    promotion = start + (now - start) / 2
    step = timedelta(seconds=step_s)
    stale_site = list(fleet.sites)[-1]
    stale = (stale_site, fleet.sites[stale_site][-1])
    silent_from = now - timedelta(minutes=40)
    out: list[str] = []

    out.append(
        _point(
            MODEL_EVENTS,
            {"model_name": MODEL_NAME, "model_version": "3", "action": "promoted"},
            {"note": "v3 promoted to champion"},
            start,
        )
    )
    out.append(
        _point(
            MODEL_EVENTS,
            {"model_name": MODEL_NAME, "model_version": "4", "action": "promoted"},
            {"note": "v4 promoted to champion: gate passed"},
            promotion,
        )
    )

    alerts: list[_Alert] = []
    work_orders: list[_WorkOrder] = []
    for site_index, (site, assets) in enumerate(fleet.sites.items()):
        for asset_index, asset in enumerate(assets):
            kind = min(asset_index, 2)
            raised: _Alert | None = None
            for seq, at in enumerate(_steps(start, now, step), start=1):
                if (site, asset) == stale and at >= silent_from:
                    break
                progress = (at - start) / (now - start)
                risk = _risk_at(kind, progress, rng)
                version = "3" if at < promotion else "4"
                sensors = {
                    name: 500.0 + 10 * i + 30 * risk + rng.gauss(0, 1) for i, name in enumerate(SENSORS)
                }
                settings = {name: round(rng.uniform(0, 1), 4) for name in SETTINGS}
                out.append(_telemetry(site, asset, seq, settings, sensors, at))
                rul = max(0.0, 220.0 * (1 - risk) + rng.uniform(-5, 5))
                out.append(
                    _point(
                        RISK,
                        {
                            "site": site,
                            "asset_id": asset,
                            "model_name": MODEL_NAME,
                            "model_version": version,
                            "model_alias": "champion",
                            "failure_mode": FAILURE_MODE,
                        },
                        {"risk": risk, "rul_cycles": rul, "horizon_cycles": 30.0, "seq": seq},
                        at,
                    )
                )
                if raised is None and kind < 2 and risk >= (0.8 if kind == 0 else 0.5):
                    raised = _Alert(
                        site,
                        asset,
                        f"al-{site}-{asset_index}",
                        _severity(risk),
                        "risk",
                        at,
                        at + timedelta(minutes=15) if kind == 0 else None,
                        version,
                    )
                    alerts.append(raised)
                    trigger = {"risk": risk, "rul_cycles": rul}
                    out.append(_alert_point(raised, "ACTIVE", "raised", {**trigger, "occurrences": 3}, at))
                    if raised.acknowledged is not None and raised.acknowledged <= now:
                        fields = {**trigger, "occurrences": 4}
                        out.append(
                            _alert_point(raised, "ACKNOWLEDGED", "acknowledged", fields, raised.acknowledged)
                        )
                    work_orders.append(_work_order(raised, site_index, kind, now))
    stale_alert = _Alert(
        stale[0],
        stale[1],
        f"al-{stale[0]}-stale",
        "WARNING",
        "stale",
        silent_from + timedelta(minutes=10),
        None,
        "4",
    )
    alerts.append(stale_alert)
    out.append(_alert_point(stale_alert, "ACTIVE", "raised", {"occurrences": 1}, stale_alert.raised))
    out += _work_order_lines(work_orders, now)
    for at in _steps(start, now, step):
        out += _snapshots(at, fleet, alerts, work_orders, promotion, rng)
    out += _pipeline_lines(start, now, timedelta(seconds=pipeline_step_s), fleet, rng)

    counts: dict[str, int] = {}
    for text in out:
        name = text.split(",", 1)[0].split(" ", 1)[0]
        counts[name] = counts.get(name, 0) + 1
    summary = SeedSummary(start, now, fleet, MODEL_VERSIONS, stale, len(out), counts)
    return out, summary


def _work_order(alert: _Alert, site_index: int, kind: int, now: datetime) -> _WorkOrder:
    priority = {"CRITICAL": "P1", "MAJOR": "P2", "MINOR": "P3"}.get(alert.severity, "P4")
    created = alert.raised + timedelta(minutes=5)
    plan = [(10, "approved"), (30, "scheduled"), (125, "in_progress"), (185, "completed")]
    if kind == 0 and site_index == 0:
        plan = plan[:-1]  # still being repaired, past its SLA
    if kind == 1:
        plan = [(10, "approved"), (20, "scheduled"), (40, "in_progress"), (70, "completed")]
    changes = [(created, "requested")] + [(created + timedelta(minutes=m), s) for m, s in plan]
    return _WorkOrder(
        alert.site,
        alert.asset,
        f"wo-{alert.alert_id}",
        priority,
        created,
        [(at, status) for at, status in changes if at <= now],
        1 if kind == 0 else 0,
        alert.model_version,
    )


def _work_order_lines(work_orders: Iterable[_WorkOrder], now: datetime) -> list[str]:
    out = []
    for wo in work_orders:
        due = wo.created + timedelta(hours=SLA_H[wo.priority])
        for at, status in wo.changes:
            fields: dict[str, FieldValue] = {"work_order_id": wo.work_order_id, "sla_breached": int(at > due)}
            if status == "completed":
                fields["fault_found"] = wo.fault_found
            if status == "in_progress":
                fields["response_s"] = (at - wo.created).total_seconds() + 300.0
            out.append(
                _point(
                    WORK_ORDERS,
                    {
                        "site": wo.site,
                        "asset_id": wo.asset,
                        "status": status,
                        "priority": wo.priority,
                        "failure_mode": FAILURE_MODE,
                        "model_version": wo.model_version,
                    },
                    fields,
                    at,
                )
            )
    return out


def _snapshots(
    at: datetime,
    fleet: Fleet,
    alerts: Sequence[_Alert],
    work_orders: Sequence[_WorkOrder],
    promotion: datetime,
    rng: random.Random,
) -> list[str]:
    """The services' periodic gauges at ``at``: open counts, KPIs, model quality, drift."""
    out = []
    alert_counts: dict[tuple[str, str, str, str], int] = {}
    for alert in alerts:
        if alert.raised > at:
            continue
        state = "ACKNOWLEDGED" if alert.acknowledged is not None and alert.acknowledged <= at else "ACTIVE"
        key = (alert.site, alert.severity, state, alert.kind)
        alert_counts[key] = alert_counts.get(key, 0) + 1
    # Gauges are written for every combination, zeros included: last() must never see a stale count.
    for site, severity, state, kind in product(fleet.sites, SEVERITIES, OPEN_ALERT_STATES, ALERT_KINDS):
        n = alert_counts.get((site, severity, state, kind), 0)
        tags = {"site": site, "severity": severity, "state": state, "kind": kind}
        out.append(_point(ALERT_COUNTS, tags, {"open_alerts": n}, at))
    wo_counts: dict[tuple[str, str, str], list[int]] = {}
    for wo in work_orders:
        current = [status for changed, status in wo.changes if changed <= at]
        if not current or current[-1] in {"completed", "closed", "cancelled"}:
            continue
        entry = wo_counts.setdefault((wo.site, current[-1], wo.priority), [0, 0])
        entry[0] += 1
        entry[1] += int(at > wo.created + timedelta(hours=SLA_H[wo.priority]))
    for site, status, priority in product(fleet.sites, OPEN_WORK_ORDER_STATUSES, PRIORITIES):
        n, breached = wo_counts.get((site, status, priority), [0, 0])
        tags = {"site": site, "status": status, "priority": priority}
        out.append(_point(WORK_ORDER_COUNTS, tags, {"open_work_orders": n, "sla_breached": breached}, at))
    for site in fleet.sites:
        out.append(
            _point(
                SERVICE_KPIS,
                {"site": site},
                {
                    "mtbf_h": 420.0 + rng.uniform(-20, 20),
                    "mttr_h": 3.0 + rng.uniform(-0.5, 0.5),
                    "first_time_fix_rate": 0.85 + rng.uniform(-0.05, 0.05),
                    "alert_to_work_order_s": 300.0 + rng.uniform(-60, 60),
                    "alert_to_on_site_s": 7200.0 + rng.uniform(-900, 900),
                    "parts_availability": 0.92 + rng.uniform(-0.04, 0.04),
                    "work_orders_open": sum(n for (s, _, _), (n, _) in wo_counts.items() if s == site),
                    "alerts_open": sum(n for (s, _, _, _), n in alert_counts.items() if s == site),
                },
                at,
            )
        )
    for site, sku in product(fleet.sites, PARTS_SKUS):
        demand = 1.5 + rng.uniform(-0.5, 0.5)
        free = rng.randint(0, 4)
        fields: dict[str, FieldValue] = {"expected_demand": demand, "demand_sd": 1.0, "safety_stock": 1.645,
                                         "free_stock": free, "lead_time_days": 14.0}  # fmt: skip
        fields["suggested_qty"] = max(0, math.ceil(demand + 1.645 - free))
        out.append(_point(PARTS_PLAN, {"site": site, "sku": sku}, fields, at))
    versions = ["3"] if at < promotion else ["3", "4"]
    for version in versions:
        with_outcome = 10 + int(version) * 3
        found = round(with_outcome * (0.7 if version == "3" else 0.8))
        out.append(
            _point(
                MODEL_QUALITY,
                {"model_name": MODEL_NAME, "model_version": version},
                {
                    "alerts_with_outcome": with_outcome,
                    "faults_found": found,
                    "precision": found / with_outcome,
                    "false_alarm_rate": 1 - found / with_outcome,
                },
                at,
            )
        )
        for feature in DRIFT_FEATURES:
            out.append(
                _point(
                    FEATURE_DRIFT,
                    {"model_name": MODEL_NAME, "model_version": version, "feature": feature, "site": "all"},
                    {"psi": rng.uniform(0.01, 0.3), "mean_shift_sd": rng.uniform(-1, 1), "rows": 1000},
                    at,
                )
            )
    return out


def _pipeline_lines(
    start: datetime, now: datetime, step: timedelta, fleet: Fleet, rng: random.Random
) -> list[str]:
    """Cumulative counters per hop, shaped as ``ingest.metrics.pipeline_lines`` (gateway) and
    ``streaming.sinks.PipelineCounters`` (scoring job) write them: one point with the counters, one
    per dead-letter reason. ``consumer_lag`` and the ``alerts`` hop are seeded ahead of a producer."""
    out = []
    gateways = [f"gw-{site}" for site in fleet.sites]
    totals = {
        gw: {
            "messages_in": 0,
            "readings_in": 0,
            "readings_out": 0,
            "records_out": 0,
            "dead_letters": 0,
            "produce_failures": 0,
        }
        for gw in gateways
    }
    reasons = {gw: dict.fromkeys(DEAD_LETTER_REASONS, 0) for gw in gateways}
    streamed = {"streaming": 0, "alerts": 0}
    late = dict.fromkeys(STREAMING_DEAD_LETTER_REASONS, 0)
    for at in _steps(start, now, step):
        for gw in gateways:
            t = totals[gw]
            readings = rng.randint(900, 1100)
            t["messages_in"] += readings // 10
            t["readings_in"] += readings
            for reason in DEAD_LETTER_REASONS:
                bad = rng.randint(0, 3)
                reasons[gw][reason] += bad
                t["dead_letters"] += bad
            t["readings_out"] = t["readings_in"] - t["dead_letters"]
            t["records_out"] += readings // 10
            t["produce_failures"] += int(rng.random() < 0.05)
            fields: dict[str, FieldValue] = dict(t)
            fields["spool_depth"] = max(0, int(rng.gauss(5, 10)))
            fields["produce_latency_ms_avg"] = rng.uniform(2, 8)
            fields["produce_latency_ms_p99"] = rng.uniform(10, 40)
            tags = {"component": "gateway", "gateway_id": gw}
            out.append(_point(PIPELINE, tags, fields, at))
            for reason, count in sorted(reasons[gw].items()):
                out.append(_point(PIPELINE, {**tags, "reason": reason}, {"dead_letters": count}, at))
        for component in ("streaming", "alerts"):
            per_step = 2900 if component == "streaming" else 60
            streamed[component] += per_step + rng.randint(-50, 50)
            out.append(
                _point(
                    PIPELINE,
                    {"component": component},
                    {
                        "readings_in": streamed[component],
                        "readings_out": streamed[component],
                        "consumer_lag": rng.randint(0, 400),
                    },
                    at,
                )
            )
        for reason in STREAMING_DEAD_LETTER_REASONS:
            late[reason] += int(rng.random() < 0.1)
            tags = {"component": "streaming", "reason": reason}
            out.append(_point(PIPELINE, tags, {"dead_letters": late[reason]}, at))
    return out


def write_lines(settings: InfluxSettings, database: str, lines: Sequence[str], batch: int = 5000) -> int:
    """Write the lines into ``database`` with the producers' writer (millisecond precision).

    Raises:
        forewarn.influx.InfluxWriteError: InfluxDB refused a batch or stayed unreachable.
    """
    with InfluxWriter(settings, database=database, batch_lines=batch, retry_budget_s=10.0) as writer:
        return writer.write(lines)


def seed(
    settings: InfluxSettings, database: str, now: datetime, fleet: Fleet | None = None, *, hours: float = 6.0
) -> SeedSummary:
    """Write the seeded history into ``database`` (which must exist) and say what it holds."""
    lines, summary = seed_lines(now, fleet, hours=hours)
    write_lines(settings, database, lines)
    return summary
