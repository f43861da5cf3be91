"""A small fleet's story for the console's browser tests, written the way the running chain writes it.

The store: the default catalogue (technicians, kits, stock) for two sites, four risk alerts raised
through ``alerts.effects.store_changes`` as the engine raises them (each opens its work order), and
one user per role plus a second technician. InfluxDB: an hour of telemetry and risk for the alerted
assets and two healthy ones, and the pipeline's counters (gateway dead letters by reason, the
scoring job's lag).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from alerts.catalog import load_catalog, seed
from alerts.effects import store_changes
from alerts.identity.roles import Role
from alerts.identity.users import add_user
from alerts.state import Alert, AlertChange, alert_id_for
from alerts.store.db import make_engine, migrate, session_factory, transaction
from alerts.workorders.service import suggestions
from forewarn.contracts.alert import AlertKind, AlertState, ChangeKind, Severity
from forewarn.contracts.influx_schema import PIPELINE, RISK, telemetry_point
from forewarn.influx import InfluxWriter
from forewarn.settings import InfluxSettings

SITES = ("site-1", "site-2")
MODEL = "forewarn-pumps"
# (asset, site, failure mode, severity, risk, RUL): the alerts the engine raised
ALERTS = (
    ("pump-101", "site-1", "bearing_wear", Severity.CRITICAL, 0.93, 12.0),
    ("pump-102", "site-1", "cavitation", Severity.MAJOR, 0.81, 40.0),
    ("pump-201", "site-2", "winding_insulation", Severity.MINOR, 0.62, 90.0),
    ("pump-202", "site-2", "seal_leak", Severity.MINOR, 0.58, 110.0),
)
HEALTHY = (("pump-103", "site-1"), ("pump-203", "site-2"))
MINUTES = 60


@dataclass(frozen=True)
class Users:
    """Names and the one password every seeded user has (generated per store)."""

    password: str
    dispatcher: str = "dana.dispatch"
    viewer: str = "victor.viewer"
    admin: str = "ada.admin"
    technician: str = "tom.tech"  # linked to the first alert's suggested technician
    other_technician: str = "tess.tech"  # linked to another technician


@dataclass(frozen=True)
class Story:
    """What was seeded: the users, the first alert and its work order, and the technicians."""

    users: Users
    alert_id: str
    work_order_id: int
    technician_id: int  # the suggested technician of that work order (tom's)
    technician_name: str
    other_technician_id: int
    alert_ids: tuple[str, ...]
    work_order_ids: tuple[int, ...]


def _raise(session: Session, asset: str, site: str, mode: str, severity: Severity, risk: float,
           rul: float, at: datetime) -> AlertChange:  # fmt: skip
    alert = Alert(
        alert_id=alert_id_for(asset, mode, at), asset_id=asset, site=site, failure_mode=mode,
        kind=AlertKind.RISK, severity=severity, state=AlertState.ACTIVE, first_seen=at, last_seen=at,
        occurrence_count=3, trigger_risk=risk, trigger_rul_cycles=rul, model_name=MODEL,
        model_version="4", raised_at=at, last_notified_at=at,
    )  # fmt: skip
    raised = AlertChange(ChangeKind.RAISED, alert, at)
    (stored,) = store_changes(session, [raised], actor="alert-engine", now=at)
    return stored


def seed_store(database_url: str, now: datetime) -> Story:
    """Migrate a fresh store and write the story into it."""
    engine = make_engine(database_url)
    migrate(engine)
    sessions: sessionmaker[Session] = session_factory(engine)
    users = Users(password=secrets.token_urlsafe(18))
    with transaction(sessions) as session:
        seed(session, load_catalog(), SITES, actor="seed", now=now - timedelta(days=1))
    changes = []
    with transaction(sessions) as session:
        for i, (asset, site, mode, severity, risk, rul) in enumerate(ALERTS):
            at = now - timedelta(minutes=30 - 5 * i)
            changes.append(_raise(session, asset, site, mode, severity, risk, rul, at))
    first = changes[0].alert
    assert first.work_order_id is not None
    with transaction(sessions) as session:
        ranked = suggestions(session, first.work_order_id)
        best, other = ranked[0], ranked[1]
        for name, role, tech in (
            (users.dispatcher, Role.DISPATCHER, None),
            (users.viewer, Role.VIEWER, None),
            (users.admin, Role.ADMIN, None),
            (users.technician, Role.TECHNICIAN, best.technician_id),
            (users.other_technician, Role.TECHNICIAN, other.technician_id),
        ):
            add_user(session, name, role, users.password, technician_id=tech, actor="seed", now=now)
    engine.dispose()
    return Story(
        users=users,
        alert_id=first.alert_id,
        work_order_id=first.work_order_id,
        technician_id=best.technician_id,
        technician_name=best.name,
        other_technician_id=other.technician_id,
        alert_ids=tuple(c.alert.alert_id for c in changes),
        work_order_ids=tuple(c.alert.work_order_id for c in changes if c.alert.work_order_id is not None),
    )


def influx_lines(now: datetime) -> list[str | None]:
    """An hour of readings and scores per asset, and the pipeline's counters, ending at ``now``."""
    start = now - timedelta(minutes=MINUTES)
    lines: list[str | None] = []
    assets = [(a, s, mode, risk, rul) for a, s, mode, _sev, risk, rul in ALERTS]
    assets += [(a, s, "bearing_wear", 0.05, 400.0) for a, s in HEALTHY]
    for asset, site, mode, risk, rul in assets:
        for i in range(MINUTES):
            ts_ms = int((start + timedelta(minutes=i)).timestamp() * 1000)
            progress = i / (MINUTES - 1)
            wear = risk * progress
            sensors = {"temp_c": 40.0 + 25 * wear, "vibration_mm_s": 2.0 + 6 * wear,
                       "pressure_bar": 6.0 - wear, "current_a": 30.0 + 3 * wear}  # fmt: skip
            lines.append(telemetry_point(site, asset, ts_ms, i, {"load_frac": 0.8}, sensors))
            tags = {"site": site, "asset_id": asset, "model_name": MODEL, "model_version": "4",
                    "model_alias": "champion", "failure_mode": mode}  # fmt: skip
            fields = {"risk": risk * progress, "rul_cycles": rul + (MINUTES - i), "horizon_cycles": 50.0,
                      "seq": i}  # fmt: skip
            lines.append(RISK.point(tags, fields, ts_ms))
    for i in range(0, MINUTES, 5):
        ts_ms = int((start + timedelta(minutes=i)).timestamp() * 1000)
        n = (i + 5) * 600
        gateway = {"component": "gateway", "gateway_id": "gw-1"}
        lines.append(PIPELINE.point(gateway, {"messages_in": n // 10, "readings_in": n,
                                              "readings_out": n - i, "dead_letters": i}, ts_ms))  # fmt: skip
        lines.append(PIPELINE.point({**gateway, "reason": "malformed_json"}, {"dead_letters": i}, ts_ms))
        scored = {"readings_in": n - i, "readings_out": n - i, "consumer_lag": 40 + i}
        lines.append(PIPELINE.point({"component": "streaming"}, scored, ts_ms))
    return lines


def seed_influx(influx: InfluxSettings, now: datetime) -> int:
    """Write :func:`influx_lines` into ``influx.database``; how many points."""
    lines = [line for line in influx_lines(now) if line is not None]
    with InfluxWriter(influx, retry_budget_s=5) as writer:
        written = writer.write(lines)
    assert written == len(lines), f"InfluxDB took {written} of {len(lines)} points"
    return written


def utc_now() -> datetime:
    """Now, to the second (what the pages show)."""
    return datetime.now(UTC).replace(microsecond=0)
