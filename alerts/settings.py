"""Settings of the work-order API (``FOREWARN_API_*``) and the alert engine (``FOREWARN_ALERTS_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from alerts.workorders.lifecycle import DEFAULT_MAX_SNOOZE_H, DEFAULT_SLA_H
from forewarn import paths
from forewarn.contracts.alert import Severity
from forewarn.contracts.work_order import Priority
from forewarn.settings import ForewarnSettings


def default_database_url() -> str:
    """SQLite in the state folder: ``<state>/alerts/work_orders.db``."""
    return f"sqlite:///{paths.default_state_dir() / 'alerts' / 'work_orders.db'}"


def _check_url(value: str) -> str:
    if not value.startswith(("sqlite:///", "postgresql")):
        raise ValueError(f"must be sqlite:///path or postgresql+psycopg://user@host/db, got {value!r}")
    return value


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL; None for another database or an in-memory one."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        return Path(url.removeprefix("sqlite:///"))
    return None


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite database file (the state folder may be fresh)."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


class SnoozeSettings(ForewarnSettings):
    """The longest snooze per alert severity (``FOREWARN_API_MAX_SNOOZE_H``, JSON, hours).

    Part of :class:`ApiSettings`; ``forewarn alerts snooze`` reads it alone (it needs none of the
    API's other settings) and enforces the same maximum through ``alerts.effects.snooze_alert``.
    A severity left out keeps its default.
    """

    model_config = SettingsConfigDict(env_prefix="FOREWARN_API_")

    max_snooze_h: dict[Severity, PositiveFloat] = Field(default_factory=lambda: dict(DEFAULT_MAX_SNOOZE_H))

    @field_validator("max_snooze_h")
    @classmethod
    def _every_severity(cls, value: dict[Severity, float]) -> dict[Severity, float]:
        return {**DEFAULT_MAX_SNOOZE_H, **value}


class ApiSettings(SnoozeSettings):
    """The work-order REST service (``forewarn api serve``)."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_API_")

    database_url: str = Field(default_factory=default_database_url)
    host: str = "127.0.0.1"
    port: PositiveInt = 8900
    max_page_size: PositiveInt = 500
    max_body_bytes: PositiveInt = 1 << 20  # larger request bodies are refused (413), read or not
    sla_hours: dict[Priority, PositiveFloat] = Field(default_factory=lambda: dict(DEFAULT_SLA_H))
    write_influx: bool = False  # outbox → InfluxDB ``alerts``, ``work_orders`` (FOREWARN_INFLUX_*)
    influx_flush_interval_s: PositiveFloat = 2.0
    influx_retry_budget_s: float = Field(default=1.0, ge=0.0)  # per flush; then back off, keep queued
    # Identity: named users (`forewarn users add`) with per-user tokens; no shared token exists.
    session_ttl_h: PositiveFloat = 12.0  # a console login lasts this long
    cookie_secure: bool = False  # True behind HTTPS: the session cookie is then never sent in clear
    login_max_failures: PositiveInt = 10  # wrong passwords in a row before the account locks
    login_lockout_s: PositiveFloat = 300.0  # how long it stays locked

    _url = field_validator("database_url")(_check_url)


class EngineSettings(ForewarnSettings):
    """The alert engine (``forewarn alerts run``); Kafka itself comes from ``KafkaSettings``."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_ALERTS_")

    database_url: str = Field(default_factory=default_database_url)
    rules_file: Path | None = None
    group_id: str = "forewarn-alerts"
    risk_topic: str | None = None  # None: FOREWARN_KAFKA_RISK_TOPIC
    alerts_topic: str | None = None  # None: FOREWARN_KAFKA_ALERTS_TOPIC
    dlq_topic: str | None = None  # None: "<risk topic>.dlq" (records that fail the risk contract)
    poll_timeout_ms: PositiveInt = 500
    # records a poll hands one batch (one transaction): bench.alerts, 2,000 assets, 4 Dec 2026:
    # 500 -> 5,935 records/s, 2,000 -> 8,804, 5,000 -> 8,667 (a batch's reads, writes and commit
    # are paid once); a quiet stream's batches stay small, so an alert does not wait for them
    max_batch: PositiveInt = 2000
    # its nice value (and its session's): under more load than the cores take, the engine yields to
    # the path to `risk` and catches up from the backlog on `risk` (forewarn/cpu_share.py); 0: an
    # equal share
    nice: int = Field(default=5, ge=0, le=19)
    tick_interval_s: PositiveFloat = 5.0
    webhook_url: str | None = None  # default target when a tier names none
    webhook_min_interval_s: float = Field(default=60.0, ge=0.0)
    webhook_timeout_s: PositiveFloat = 5.0
    actor: str = "alert-engine"
    # Of several engines on one store, only the holder of the tick lease ticks; None: 3 x tick interval.
    tick_lease_s: PositiveFloat | None = None
    write_influx: bool = False  # outbox → InfluxDB ``alerts``, ``work_orders`` (FOREWARN_INFLUX_*)
    influx_flush_interval_s: PositiveFloat = 2.0
    influx_retry_budget_s: float = Field(default=1.0, ge=0.0)  # per flush; then back off, keep queued
    # Gauges for the boards (alert_counts, work_order_counts; service_kpis, model_quality), written
    # by the tick-lease holder with write_influx.
    gauge_interval_s: PositiveFloat = 60.0
    kpi_interval_s: PositiveFloat = 300.0
    sla_hours: dict[Priority, PositiveFloat] = Field(default_factory=lambda: dict(DEFAULT_SLA_H))

    _url = field_validator("database_url")(_check_url)

    @model_validator(mode="after")
    def _lease_outlives_tick(self) -> EngineSettings:
        if self.tick_lease_s is not None and self.tick_lease_s <= self.tick_interval_s:
            raise ValueError(
                f"tick_lease_s ({self.tick_lease_s}) must exceed tick_interval_s ({self.tick_interval_s}) "
                "so the holder renews the lease before it runs out"
            )
        return self

    def lease_s(self) -> float:
        """How long a tick lease lasts (renewed at every tick of its holder)."""
        return self.tick_lease_s or 3 * self.tick_interval_s
