"""Typed, frozen settings for every forewarn service, read from ``FOREWARN_*`` variables.

Each service gets one settings object, built at its edge (the CLI) and passed inward. Values
come from, in order: explicit arguments, the environment, then the generated
``<state>/forewarn.env`` (local development credentials written by ``forewarn stack
credentials``). A bad value fails at start with the variable's name in the message; secrets are
``SecretStr`` and print redacted.

Production points the same code at real clusters by setting, for example,
``FOREWARN_KAFKA_BOOTSTRAP_SERVERS``, ``FOREWARN_MQTT_HOST`` or ``FOREWARN_INFLUX_URL``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from forewarn import paths

T = TypeVar("T", bound="ForewarnSettings")


class KafkaRole(StrEnum):
    """Who a Kafka client is: each component authenticates as ``forewarn-<role>`` with its own ACLs."""

    ADMIN = "admin"  # the stack's scripts, operators' tools and tests: a super user
    GATEWAY = "gateway"  # writes telemetry and its dead letters
    SCORING = "scoring"  # reads telemetry; writes risk and the scoring dead letters
    ALERTS = "alerts"  # the alert engine and the API's outbox: read risk; write alerts and risk.dlq


class InfluxRole(StrEnum):
    """Who an InfluxDB client is (``forewarn-<role>``)."""

    ADMIN = "admin"  # creates databases and users
    WRITER = "writer"  # the pipeline: writes (and reads back) the project's database
    READER = "reader"  # dashboards and the console: read only


class MlflowRole(StrEnum):
    """Who an MLflow client is (``forewarn-<role>``; the admin is MLflow's own admin user)."""

    ADMIN = "admin"  # training, gating, promotion, rollback
    READER = "reader"  # the scoring job: reads versions and downloads artifacts


def role_user(role: str) -> str:
    """The user name a role authenticates as on every service of the local stack."""
    return f"forewarn-{role}"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable and what was wrong."""


class ForewarnSettings(BaseSettings):
    """Base for every settings class: frozen, typed, and loaded only through :func:`load`."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_file_encoding="utf-8")

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets ``field``."""
        info = cls.model_fields[field]
        alias = info.validation_alias
        if isinstance(alias, AliasChoices) and alias.choices:
            return str(alias.choices[0])
        if isinstance(alias, str):
            return alias
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()

    def redacted(self) -> dict[str, Any]:
        """The settings as plain data with every secret masked, for logs and ``forewarn settings``."""
        return {self.env_name(name): value for name, value in self.model_dump(mode="json").items()}


def _is_secret(cls: type[ForewarnSettings], field: str) -> bool:
    """Whether ``field`` holds a secret (``SecretStr``, alone or inside a container or union)."""
    info = cls.model_fields.get(field)

    def holds(annotation: Any) -> bool:
        return annotation is SecretStr or any(holds(arg) for arg in get_args(annotation))

    return info is not None and holds(info.annotation)


def load(cls: type[T], state_dir: Path | None = None, **overrides: Any) -> T:
    """Build ``cls`` from the environment and the state folder's env file, or raise SettingsError.

    Args:
        cls: the settings class to build.
        state_dir: where the generated ``forewarn.env`` lives; the default state folder if None.
        **overrides: explicit values (from CLI options), which win over the environment.
    """
    env_file = paths.env_file(state_dir)
    try:
        return cls(_env_file=env_file if env_file.is_file() else None, **overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            name = cls.env_name(field) if field in cls.model_fields else field
            got = err.get("input")
            hidden = isinstance(got, dict) or "password" in name.lower() or _is_secret(cls, field)
            shown = "" if hidden else f" (got {got!r})"
            problems.append(f"{name}: {err['msg']}{shown}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None


def http_url(value: str) -> str:
    """An http(s) URL with a host, without a trailing slash; ValueError otherwise (a field validator)."""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _host_port(value: str, what: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{what} must look like host:port, got {value!r}")
    return host.strip("[]"), int(port)


class StackSettings(ForewarnSettings):
    """The local stack of real services (``forewarn stack``): where it keeps state and how it runs."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_STACK_")

    state_dir: Path = Field(
        default_factory=paths.default_state_dir, validation_alias=AliasChoices("FOREWARN_STATE_DIR")
    )
    sites: list[str] = Field(
        default=["site-1", "site-2", "site-3", "site-4", "cmapss"],
        description="Sites that get an MQTT publishing user (JSON list).",
    )
    kafka_controller_port: PositiveInt = 9093
    # Generated: the broker's own password on the KRaft controller listener (SASL/PLAIN).
    kafka_controller_password: SecretStr | None = None
    kafka_heap_mb: PositiveInt = 1024
    influx_rpc_port: PositiveInt = 8088
    # influxd's Go garbage collector: collect when the heap has grown by this percentage (Go's
    # default 100). Writes allocate per point and field, and at 100 the collector took a sixth of
    # influxd's CPU in a C-MAPSS write load (streaming/README.md); the soft limit bounds what it buys.
    influx_gogc: PositiveInt = 400
    influx_memory_limit_mb: PositiveInt = 2048
    start_timeout_s: PositiveInt = 120
    stop_timeout_s: PositiveInt = 30

    @field_validator("sites")
    @classmethod
    def _site_names(cls, sites: list[str]) -> list[str]:
        for site in sites:
            if not site or any(ch in site for ch in "/+#$ ") or site.startswith("forewarn"):
                raise ValueError(
                    f"site {site!r} must be a non-empty MQTT topic level without / + # $ or spaces"
                )
        return sites


class MqttSettings(ForewarnSettings):
    """The MQTT broker the fleet publishes to and the gateway subscribes on."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_MQTT_")

    host: str = "127.0.0.1"
    port: PositiveInt = 1883
    username: str = "forewarn-gateway"
    password: SecretStr = SecretStr("")
    tls: bool = False
    keepalive_s: PositiveInt = 30
    # Local development only: one publishing user per site, generated by `forewarn stack credentials`.
    site_passwords: dict[str, SecretStr] = Field(default_factory=dict)

    def site_password(self, site: str) -> str:
        """The generated password of ``site``'s publishing user; SettingsError when there is none."""
        try:
            return self.site_passwords[site].get_secret_value()
        except KeyError:
            known = ", ".join(sorted(self.site_passwords)) or "none"
            raise SettingsError(
                f"FOREWARN_MQTT_SITE_PASSWORDS has no user for site {site!r} (known: {known}); add the site "
                "to FOREWARN_STACK_SITES and run `forewarn stack credentials`"
            ) from None


class KafkaSettings(ForewarnSettings):
    """The Kafka cluster and the project's topics."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_KAFKA_")

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # SSL/SASL_SSL: the CA (PEM) that signed the brokers' certificates; None = the system's trust store.
    ssl_cafile: Path | None = None
    # Local stack: each role's generated password ({"gateway": "...", ...}); the user is
    # "forewarn-<role>". Empty (a cluster run elsewhere): every component uses sasl_username.
    users: dict[str, SecretStr] = Field(default_factory=dict)
    telemetry_topic: str = "telemetry"
    dlq_topic: str = "telemetry.dlq"
    risk_topic: str = "risk"
    alerts_topic: str = "alerts"
    risk_dlq_topic: str | None = None  # None: "<risk topic>.dlq", where the alert engine writes
    telemetry_partitions: PositiveInt = 6
    dlq_partitions: PositiveInt = 1
    risk_partitions: PositiveInt = 3
    alerts_partitions: PositiveInt = 3
    risk_dlq_partitions: PositiveInt = 1
    # A dead letter keeps the original payload byte for byte (base64 in JSON: x4/3): the dead-letter
    # topics accept records up to this size, so the largest payload the broker lets through fits.
    dlq_max_message_bytes: PositiveInt = 16 * 1024 * 1024
    replication_factor: PositiveInt = 1
    # How long a client waits for its first broker answer before giving up (kafka-python's default);
    # a command that only reads says "cannot reach Kafka" after this long.
    bootstrap_timeout_s: PositiveFloat = 30.0

    @field_validator("bootstrap_servers")
    @classmethod
    def _servers(cls, value: str) -> str:
        for server in value.split(","):
            _host_port(server.strip(), "each bootstrap server")
        return value

    def topic_partitions(self) -> dict[str, int]:
        """Every project topic with the partition count it is created with."""
        return {
            self.telemetry_topic: self.telemetry_partitions,
            self.dlq_topic: self.dlq_partitions,
            self.risk_topic: self.risk_partitions,
            self.alerts_topic: self.alerts_partitions,
            self.risk_dlq(): self.risk_dlq_partitions,
        }

    def risk_dlq(self) -> str:
        """The risk dead-letter topic: ``risk_dlq_topic``, or ``<risk_topic>.dlq`` when unset."""
        return self.risk_dlq_topic or f"{self.risk_topic}.dlq"

    def topic_configs(self) -> dict[str, dict[str, str]]:
        """Topic-level configs the project topics are created (and kept) with."""
        big = {"max.message.bytes": str(self.dlq_max_message_bytes)}
        return {self.dlq_topic: big, self.risk_dlq(): big}

    def client_config(self) -> dict[str, Any]:
        """Keyword arguments shared by every kafka-python client."""
        config: dict[str, Any] = {
            "bootstrap_servers": [s.strip() for s in self.bootstrap_servers.split(",")],
            "security_protocol": self.security_protocol,
            "bootstrap_timeout_ms": int(self.bootstrap_timeout_s * 1000),
        }
        if self.ssl_cafile:
            config["ssl_cafile"] = str(self.ssl_cafile)
        if self.sasl_mechanism:
            config["sasl_mechanism"] = self.sasl_mechanism
            config["sasl_plain_username"] = self.sasl_username
            config["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return config

    def for_role(self, role: KafkaRole) -> KafkaSettings:
        """These settings authenticating as ``role``'s own user, when one was generated for it."""
        password = self.users.get(role.value)
        if password is None:
            return self
        return self.model_copy(update={"sasl_username": role_user(role), "sasl_password": password})

    def first_server(self) -> tuple[str, int]:
        """Host and port of the first bootstrap server (where the local stack listens)."""
        return _host_port(self.bootstrap_servers.split(",")[0].strip(), "bootstrap server")


class InfluxSettings(ForewarnSettings):
    """InfluxDB: line protocol on ``/write``, InfluxQL on ``/query`` (1.x, or 2.x/3.x v1 API)."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_INFLUX_")

    url: str = "http://127.0.0.1:8086"
    database: str = "forewarn"
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    timeout_s: float = 10.0
    # Local stack: each role's generated password (admin, writer, reader); the user is
    # "forewarn-<role>". Empty: every component uses username/password or the token.
    users: dict[str, SecretStr] = Field(default_factory=dict)

    def for_role(self, role: InfluxRole) -> InfluxSettings:
        """These settings authenticating as ``role``'s own user, when one was generated for it."""
        password = self.users.get(role.value)
        if password is None:
            return self
        return self.model_copy(update={"username": role_user(role), "password": password})

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)

    def host_port(self) -> tuple[str, int]:
        """Where the local stack's InfluxDB listens."""
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 8086)

    def auth_headers(self) -> dict[str, str]:
        """``Authorization``: a token (2.x/3.x), else 1.x user and password as HTTP basic auth.

        Never ``u``/``p`` in the query string: that is the part of a request servers and proxies log.
        """
        if self.token:
            return {"Authorization": f"Token {self.token.get_secret_value()}"}
        if self.username and self.password:
            pair = f"{self.username}:{self.password.get_secret_value()}".encode()
            return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
        return {}


def mlflow_auth_headers(env: Mapping[str, str]) -> dict[str, str]:
    """``Authorization`` for MLflow's REST API from the client's ``MLFLOW_TRACKING_*`` variables
    (:meth:`MlflowSettings.client_env`), as MLflow's own client sends it: basic auth when a user and
    password are set, else the token as a bearer."""
    user, password = env.get("MLFLOW_TRACKING_USERNAME"), env.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        return {"Authorization": f"Basic {base64.b64encode(f'{user}:{password}'.encode()).decode()}"}
    if token := env.get("MLFLOW_TRACKING_TOKEN"):
        return {"Authorization": f"Bearer {token}"}
    return {}


class MlflowSettings(ForewarnSettings):
    """The MLflow tracking server and model registry."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_MLFLOW_")

    tracking_uri: str = "http://127.0.0.1:5000"
    registry_uri: str | None = None
    workers: PositiveInt = 1
    # MLflow's client retries a failed request with a doubling back-off: its own default (7) rides out
    # minutes of rate limiting but makes a command wait 4 minutes when the server is down; 2 is ~4 s.
    http_max_retries: NonNegativeInt = 2
    http_timeout_s: PositiveInt = 120
    # Basic auth of the tracking server (MLflow's basic-auth app), or a bearer token (a server behind
    # an auth proxy, Databricks); None: no auth.
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    # Local stack: each role's generated password (admin, reader); the user is "forewarn-<role>".
    users: dict[str, SecretStr] = Field(default_factory=dict)

    def for_role(self, role: MlflowRole) -> MlflowSettings:
        """These settings authenticating as ``role``'s own user, when one was generated for it."""
        password = self.users.get(role.value)
        if password is None:
            return self
        return self.model_copy(update={"username": role_user(role), "password": password})

    def client_env(self) -> dict[str, str]:
        """The ``MLFLOW_*`` variables MLflow's client reads its retry budget, timeout and user from."""
        env = {
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(self.http_max_retries),
            "MLFLOW_HTTP_REQUEST_TIMEOUT": str(self.http_timeout_s),
        }
        if self.username and self.password:
            env["MLFLOW_TRACKING_USERNAME"] = self.username
            env["MLFLOW_TRACKING_PASSWORD"] = self.password.get_secret_value()
        if self.token:
            env["MLFLOW_TRACKING_TOKEN"] = self.token.get_secret_value()
        return env

    def auth_headers(self) -> dict[str, str]:
        """The registry user's ``Authorization`` for MLflow's REST API (:func:`mlflow_auth_headers`)."""
        return mlflow_auth_headers(self.client_env())

    @field_validator("tracking_uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        if urlsplit(value).scheme not in {"http", "https", "file", "sqlite", "databricks", "postgresql"}:
            raise ValueError(f"must be a tracking URI such as http://host:5000, got {value!r}")
        return value.rstrip("/")

    def host_port(self) -> tuple[str, int]:
        """Where the local stack's tracking server listens."""
        parts = urlsplit(self.tracking_uri)
        return parts.hostname or "127.0.0.1", parts.port or 5000


class SparkSettings(ForewarnSettings):
    """The Spark engine: ``local[*]`` here, any cluster through ``--master`` / spark-submit."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_SPARK_")

    master: str = "local[*]"
    driver_memory: str = "2g"
    # State partitions (tasks of the stateful step per micro-batch), fixed at a checkpoint's first
    # run: the machine's cores (2 measured best here; 4 and 8 were slower: streaming/README.md);
    # on a cluster, the cores the largest cluster the checkpoint will see has.
    shuffle_partitions: PositiveInt = 2
    # Where streaming state lives between micro-batches: "hdfs" is Spark's default provider (every
    # asset's state in JVM memory, a delta file per partition and batch); "rocksdb" keeps it in
    # RocksDB off the JVM heap with changelog checkpointing (only the changed rows are written per
    # batch). Fixed at a checkpoint's first run: Spark keeps the provider a checkpoint was started
    # with (recorded in its offset log), whatever this says later.
    state_store: Literal["hdfs", "rocksdb"] = "hdfs"
    # Where `make setup` resolved spark-sql-kafka-0-10 and its jars; None = <state>/jars/spark.
    jars_dir: Path | None = None
    # The JVM options of the driver and executors a forewarn job starts itself (under spark-submit,
    # the submit's own --driver-java-options and spark.executor.extraJavaOptions rule; empty: the
    # JVM's defaults). C1 alone (no C2): the job's JVM moves bytes (Kafka records, Arrow batches),
    # and C2 never finished compiling it: 0.4-1.4 s of compiler CPU per 200,000-reading drain and
    # 3.9-4.2 s in a live phase, and code still interpreted in the first large micro-batch. With C1
    # alone the first drain took 3.8-4.0 s of JVM CPU instead of 6.3-7.7 s and the live phase 18.3 s
    # instead of 22.8 s (streaming/README.md, "6 Dec 2026, later"). Tiered compilation was dearer
    # still ("4 Dec 2026, night"). The parallel collector: no concurrent marking threads beside
    # the tasks.
    java_options: str = "-XX:TieredStopAtLevel=1 -XX:+UseParallelGC"
    # Python workers forked from a daemon that has imported the scoring step, pandas, pyarrow and
    # scikit-learn once (streaming.daemon as spark.python.daemon.module): a new worker (job start,
    # after a failure, after a minute idle) skips about 1.7 s of imports. False: pyspark's own daemon.
    preload_workers: bool = True


class LogFormat(StrEnum):
    """How every process writes its log lines (``FOREWARN_LOG_FORMAT``)."""

    TEXT = "text"
    """One line per event in plain words: ``2026-12-02T07:00:00.123Z INFO gateway: MQTT connected``."""
    JSON = "json"
    """One JSON object per line (``ts``, ``level``, ``component``, ``logger``, ``message``): for shippers."""


class LogLevel(StrEnum):
    """The lowest level forewarn's own loggers write; other libraries stay at WARNING whatever this is."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class LogSettings(ForewarnSettings):
    """The logs of every forewarn process (``forewarn.logs.setup``, called by each command)."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_LOG_")

    format: LogFormat = LogFormat.TEXT
    level: LogLevel = LogLevel.INFO

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


ALL_SETTINGS: tuple[type[ForewarnSettings], ...] = (
    StackSettings,
    MqttSettings,
    KafkaSettings,
    InfluxSettings,
    MlflowSettings,
    SparkSettings,
    LogSettings,
)
