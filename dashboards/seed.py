"""Seed an InfluxDB database with a small fleet's history in the shape of ``influx_schema``.

The integration tests run every panel against this data, and the demo can fill an empty Grafana
with it until the real producers run. The story is deterministic for a given ``now`` and seed:
per site, asset 0 degrades to critical risk (alert, P1 work order, fault found — except at the
first site, where the repair is still open and past its SLA), asset 1 rises into the minor band
(alert, work order, no fault found: a false alarm), the rest stay healthy. The last asset of the
last site stops reporting 40 minutes before ``now`` and gets a stale alert. Model version 4
replaces version 3 half way through.

``seed_lines`` is pure (line protocol text); ``write_lines`` is the only I/O.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import product

import httpx

from dashboards.influx_schema import ALERT_KINDS, OPEN_WORK_ORDER_STATUSES, PRIORITIES, SEVERITIES
from forewarn.settings import InfluxSettings

OPEN_ALERT_STATES: tuple[str, ...] = ("ACTIVE", "ACKNOWLEDGED", "SNOOZED")

SENSORS: tuple[str, ...] = tuple(f"sensor_{i}" for i in range(1, 22))
SETTINGS: tuple[str, ...] = ("setting_1", "setting_2", "setting_3")
DRIFT_FEATURES: tuple[str, ...] = ("sensor_2", "sensor_3", "sensor_4", "sensor_7", "sensor_11")
DEAD_LETTER_REASONS: tuple[str, ...] = ("malformed_json", "unknown_sensor", "too_old")
SLA_H: Mapping[str, float] = {"P1": 1.0, "P2": 4.0, "P3": 24.0, "P4": 72.0}
MODEL_NAME = "forewarn-rul"
MODEL_VERSIONS: tuple[str, ...] = ("3", "4")

FieldValue = float | int | str


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


def _escape_tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _field(value: FieldValue) -> str:
    if isinstance(value, bool):
        raise TypeError("booleans are written as 0/1 integers")
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(round(value, 6))
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def line(measurement: str, tags: Mapping[str, str], fields: Mapping[str, FieldValue], at: datetime) -> str:
    """One point in line protocol, tags sorted (InfluxDB's preferred order), nanosecond time."""
    tag_text = "".join(f",{k}={_escape_tag(v)}" for k, v in sorted(tags.items()) if v)
    field_text = ",".join(f"{k}={_field(v)}" for k, v in fields.items())
    return f"{measurement}{tag_text} {field_text} {int(at.timestamp()) * 1_000_000_000}"


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
        line(
            "model_events",
            {"model_name": MODEL_NAME, "model_version": "3", "action": "promoted"},
            {"note": "v3 promoted to champion"},
            start,
        )
    )
    out.append(
        line(
            "model_events",
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
                sensors: dict[str, FieldValue] = {
                    name: 500.0 + 10 * i + 30 * risk + rng.gauss(0, 1) for i, name in enumerate(SENSORS)
                }
                sensors.update({name: round(rng.uniform(0, 1), 4) for name in SETTINGS})
                sensors["seq"] = seq
                out.append(line("telemetry", {"site": site, "asset_id": asset}, sensors, at))
                rul = max(0.0, 220.0 * (1 - risk) + rng.uniform(-5, 5))
                out.append(
                    line(
                        "risk",
                        {
                            "site": site,
                            "asset_id": asset,
                            "model_name": MODEL_NAME,
                            "model_version": version,
                            "model_alias": "champion",
                        },
                        {"risk": risk, "rul_cycles": rul, "horizon_cycles": 30.0},
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
                    out.append(
                        line(
                            "alerts",
                            {
                                "site": site,
                                "asset_id": asset,
                                "severity": raised.severity,
                                "state": "ACTIVE",
                                "kind": "risk",
                                "change": "raised",
                                "model_version": version,
                            },
                            {"alert_id": raised.alert_id, "risk": risk, "rul_cycles": rul, "occurrences": 3},
                            at,
                        )
                    )
                    if raised.acknowledged is not None and raised.acknowledged <= now:
                        out.append(
                            line(
                                "alerts",
                                {
                                    "site": site,
                                    "asset_id": asset,
                                    "severity": raised.severity,
                                    "state": "ACKNOWLEDGED",
                                    "kind": "risk",
                                    "change": "acknowledged",
                                    "model_version": version,
                                },
                                {
                                    "alert_id": raised.alert_id,
                                    "risk": risk,
                                    "rul_cycles": rul,
                                    "occurrences": 4,
                                },
                                raised.acknowledged,
                            )
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
    out.append(
        line(
            "alerts",
            {
                "site": stale[0],
                "asset_id": stale[1],
                "severity": "WARNING",
                "state": "ACTIVE",
                "kind": "stale",
                "change": "raised",
                "model_version": "4",
            },
            {"alert_id": stale_alert.alert_id, "occurrences": 1},
            stale_alert.raised,
        )
    )
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
                line(
                    "work_orders",
                    {
                        "site": wo.site,
                        "asset_id": wo.asset,
                        "status": status,
                        "priority": wo.priority,
                        "failure_mode": "hpc_degradation",
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
        out.append(line("alert_counts", tags, {"open_alerts": n}, at))
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
        out.append(line("work_order_counts", tags, {"open_work_orders": n, "sla_breached": breached}, at))
    for site in fleet.sites:
        out.append(
            line(
                "service_kpis",
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
    versions = ["3"] if at < promotion else ["3", "4"]
    for version in versions:
        with_outcome = 10 + int(version) * 3
        found = round(with_outcome * (0.7 if version == "3" else 0.8))
        out.append(
            line(
                "model_quality",
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
                line(
                    "feature_drift",
                    {"model_name": MODEL_NAME, "model_version": version, "feature": feature},
                    {"psi": rng.uniform(0.01, 0.3), "mean_shift_sd": rng.uniform(-1, 1)},
                    at,
                )
            )
    return out


def _pipeline_lines(
    start: datetime, now: datetime, step: timedelta, fleet: Fleet, rng: random.Random
) -> list[str]:
    """Cumulative counters per hop, as the gateway's ``ingest.metrics.line_protocol`` writes them."""
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
            out.append(line("pipeline", tags, fields, at))
            for reason, count in sorted(reasons[gw].items()):
                out.append(line("pipeline", {**tags, "reason": reason}, {"dead_letters": count}, at))
        for component in ("streaming", "alerts"):
            per_step = 2900 if component == "streaming" else 60
            streamed[component] += per_step + rng.randint(-50, 50)
            out.append(
                line(
                    "pipeline",
                    {"component": component},
                    {
                        "readings_in": streamed[component],
                        "readings_out": streamed[component],
                        "consumer_lag": rng.randint(0, 400),
                    },
                    at,
                )
            )
    return out


def write_lines(settings: InfluxSettings, database: str, lines: Sequence[str], batch: int = 5000) -> int:
    """POST the lines to InfluxDB's ``/write`` in batches; raises on any rejected batch."""
    params = {"db": database, "precision": "ns", **settings.auth_params()}
    with httpx.Client(timeout=settings.timeout_s, headers=settings.auth_headers()) as client:
        for i in range(0, len(lines), batch):
            response = client.post(
                f"{settings.url}/write", params=params, content="\n".join(lines[i : i + batch]).encode()
            )
            if response.status_code != 204:
                raise RuntimeError(f"InfluxDB refused the seed batch: {response.status_code} {response.text}")
    return len(lines)


def seed(
    settings: InfluxSettings, database: str, now: datetime, fleet: Fleet | None = None, *, hours: float = 6.0
) -> SeedSummary:
    """Write the seeded history into ``database`` (which must exist) and say what it holds."""
    lines, summary = seed_lines(now, fleet, hours=hours)
    write_lines(settings, database, lines)
    return summary
