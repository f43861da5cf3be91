"""Settings of the ingest services (``FOREWARN_GATEWAY_*``): validation limits, MQTT session, Kafka
producer tuning, the spool and metrics. Broker addresses and passwords stay in the shared
``MqttSettings``/``KafkaSettings``/``InfluxSettings``.
"""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field, PositiveFloat, PositiveInt, field_validator
from pydantic_settings import SettingsConfigDict

from forewarn.settings import ForewarnSettings
from ingest.assets import UnknownAssetPolicy
from ingest.contract import ContractPolicy, UnknownSensorPolicy

COMPRESSION_TYPES = ("gzip", "snappy", "lz4", "zstd", "none")


def gateway_client_id(gateway_id: str) -> str:
    """The MQTT client id of gateway ``gateway_id`` (its broker session's name)."""
    return f"forewarn-gateway-{gateway_id}"


def _default_gateway_id() -> str:
    return f"gw-{socket.gethostname()}"


class GatewaySettings(ForewarnSettings):
    """One MQTT → Kafka gateway (``forewarn gateway run``)."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_GATEWAY_")

    gateway_id: str = Field(
        default_factory=_default_gateway_id, description="Header value and client id part."
    )
    share_group: str = Field(
        "forewarn", description="Shared-subscription group: gateways in one group split load."
    )
    topic_filters: list[str] = Field(
        default=["forewarn/+/+/telemetry"], description="MQTT filters (JSON list)."
    )
    session_expiry_s: PositiveInt = Field(
        86_400, description="How long the broker keeps the session while away."
    )
    receive_maximum: PositiveInt = Field(1000, description="Unacknowledged MQTT messages in flight at most.")
    max_payload_bytes: PositiveInt = 1_048_576
    max_age_s: PositiveFloat = 7 * 24 * 3600.0
    max_future_skew_s: PositiveFloat = 300.0
    known_sensors: list[str] = Field(
        default_factory=list, description="Sensor names in use; empty = all known."
    )
    unknown_sensors: UnknownSensorPolicy = UnknownSensorPolicy.ACCEPT
    coalesce_max_messages: PositiveInt = Field(
        500, description="Messages taken at once; their readings become one Kafka record per asset."
    )
    max_in_flight_batches: PositiveInt = Field(
        2,
        description="Groups of messages awaiting Kafka at once; fewer means larger groups, fewer records.",
    )
    max_record_bytes: PositiveInt = Field(
        524_288, description="A coalesced run is split into Kafka records of at most this size."
    )
    max_request_bytes: PositiveInt = Field(
        16 * 1024 * 1024,
        description="Largest Kafka request: a dead letter of the largest accepted payload must fit.",
    )
    spool_dir: Path | None = Field(None, description="Store-and-forward folder; None = <state>/ingest/spool.")
    spool_max_records: PositiveInt = Field(200_000, description="Spool bound; when full, MQTT is not acked.")
    forward_batch_records: PositiveInt = 500
    retry_interval_s: PositiveFloat = Field(5.0, description="Pause between attempts to reach Kafka again.")
    compression_type: str = Field(
        "lz4",
        description="Kafka batch compression. lz4: the gateway took 4.6-4.7 s of CPU for 200,000 readings "
        "against 7.3 s with gzip (bench.ingest, 4 Dec 2026), and Kafka and Spark decompress it cheaper too.",
    )
    linger_ms: int = Field(5, ge=0)
    batch_size_bytes: PositiveInt = 262_144
    max_block_s: PositiveFloat = Field(5.0, description="How long send() waits for Kafka metadata.")
    request_timeout_s: PositiveFloat = 10.0
    delivery_timeout_s: PositiveFloat = Field(
        30.0, description="After this a record counts as not delivered."
    )
    kafka_api_version: str = Field("3.9", description="'auto' probes the broker (needs it up at start).")
    shutdown_timeout_s: PositiveFloat = Field(
        10.0, description="SIGTERM: how long to wait for Kafka's answers before spooling the rest."
    )
    metrics_interval_s: PositiveFloat = 10.0
    metrics_to_influx: bool = True
    unknown_assets: UnknownAssetPolicy = Field(
        UnknownAssetPolicy.REGISTER,
        description="Unregistered asset: 'register' it to the publishing site, or 'dead_letter' it.",
    )
    assets_refresh_s: PositiveFloat = Field(
        30.0, description="How often the in-memory asset register is reloaded (moves, removals)."
    )

    @field_validator("compression_type")
    @classmethod
    def _compression(cls, value: str) -> str:
        if value not in COMPRESSION_TYPES:
            raise ValueError(f"must be one of {', '.join(COMPRESSION_TYPES)}")
        from kafka import codec

        available = getattr(codec, f"has_{value}", lambda: True)()
        if not available:
            raise ValueError(f"{value} needs its Python library (e.g. pip install {value}); gzip needs none")
        return value

    @field_validator("kafka_api_version")
    @classmethod
    def _api_version(cls, value: str) -> str:
        if value != "auto" and not all(p.isdigit() for p in value.split(".")):
            raise ValueError("must be 'auto' or a version such as 3.9")
        return value

    @field_validator("gateway_id", "share_group")
    @classmethod
    def _topic_level(cls, value: str) -> str:
        if not value or any(ch in value for ch in "/+#$ "):
            raise ValueError("must be non-empty without / + # $ or spaces")
        return value

    def policy(self) -> ContractPolicy:
        """The validation limits of the contract."""
        return ContractPolicy(
            max_payload_bytes=self.max_payload_bytes,
            max_age_s=self.max_age_s,
            max_future_skew_s=self.max_future_skew_s,
            known_sensors=frozenset(self.known_sensors),
            unknown_sensors=self.unknown_sensors,
        )

    def api_version(self) -> tuple[int, ...] | None:
        """kafka-python's ``api_version``: None means probe the broker at start."""
        return (
            None
            if self.kafka_api_version == "auto"
            else tuple(int(p) for p in self.kafka_api_version.split("."))
        )

    def subscriptions(self) -> list[str]:
        """The shared-subscription filters: ``$share/<group>/<filter>``."""
        return [f"$share/{self.share_group}/{f}" for f in self.topic_filters]

    def client_id(self) -> str:
        """The MQTT client id; stable per gateway so the broker keeps its session across restarts."""
        return gateway_client_id(self.gateway_id)

    def spool_path(self, state_dir: Path) -> Path:
        """The spool database file of this gateway."""
        return (self.spool_dir or state_dir / "ingest" / "spool") / f"{self.gateway_id}.sqlite"


class AssetSettings(ForewarnSettings):
    """The asset register (``FOREWARN_ASSETS_*``): shared by the gateways, the simulator, the replay,
    ``forewarn assets`` and the API's ``/assets``."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_ASSETS_")

    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the register; None = sqlite:///<state>/ingest/assets.sqlite."
    )

    def url(self, state_dir: Path) -> str:
        """The register's database URL."""
        return self.database_url or f"sqlite:///{state_dir / 'ingest' / 'assets.sqlite'}"
