"""Settings of the work-order API (``FOREWARN_API_*``) and the alert engine (``FOREWARN_ALERTS_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from alerts.workorders.lifecycle import DEFAULT_SLA_H, Priority
from forewarn import paths
from forewarn.settings import ForewarnSettings


def default_database_url() -> str:
    """SQLite in the state folder: ``<state>/alerts/work_orders.db``."""
    return f"sqlite:///{paths.default_state_dir() / 'alerts' / 'work_orders.db'}"


def _check_url(value: str) -> str:
    if not value.startswith(("sqlite:///", "postgresql")):
        raise ValueError(f"must be sqlite:///path or postgresql+psycopg://user@host/db, got {value!r}")
    return value


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite database file (the state folder may be fresh)."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


class ApiSettings(ForewarnSettings):
    """The work-order REST service (``forewarn api serve``)."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_API_")

    database_url: str = Field(default_factory=default_database_url)
    token: SecretStr = SecretStr("")
    host: str = "127.0.0.1"
    port: PositiveInt = 8900
    max_page_size: PositiveInt = 500
    sla_hours: dict[Priority, PositiveFloat] = Field(default_factory=lambda: dict(DEFAULT_SLA_H))

    _url = field_validator("database_url")(_check_url)

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be set to a bearer token of at least 16 characters")
        return value


class EngineSettings(ForewarnSettings):
    """The alert engine (``forewarn alerts run``); Kafka itself comes from ``KafkaSettings``."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_ALERTS_")

    database_url: str = Field(default_factory=default_database_url)
    rules_file: Path | None = None
    group_id: str = "forewarn-alerts"
    risk_topic: str | None = None  # None: FOREWARN_KAFKA_RISK_TOPIC
    alerts_topic: str | None = None  # None: FOREWARN_KAFKA_ALERTS_TOPIC
    poll_timeout_ms: PositiveInt = 500
    max_batch: PositiveInt = 500
    tick_interval_s: PositiveFloat = 5.0
    webhook_url: str | None = None  # default target when a tier names none
    webhook_min_interval_s: float = Field(default=60.0, ge=0.0)
    webhook_timeout_s: PositiveFloat = 5.0
    actor: str = "alert-engine"
    write_influx: bool = False  # alert changes → InfluxDB ``alerts`` (FOREWARN_INFLUX_* says where)
    sla_hours: dict[Priority, PositiveFloat] = Field(default_factory=lambda: dict(DEFAULT_SLA_H))

    _url = field_validator("database_url")(_check_url)
