"""What every service of the local stack provides, and the context they share."""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from forewarn.settings import (
    InfluxSettings,
    KafkaSettings,
    MlflowSettings,
    MqttSettings,
    SparkSettings,
    StackSettings,
    load,
)
from infra.stack.process import Daemon

INFRA_DIR = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class StackContext:
    """All settings the stack needs, loaded once at the CLI edge."""

    stack: StackSettings
    mqtt: MqttSettings
    kafka: KafkaSettings
    influx: InfluxSettings
    mlflow: MlflowSettings
    spark: SparkSettings

    @classmethod
    def from_env(cls) -> StackContext:
        stack = load(StackSettings)
        return cls(
            stack=stack,
            mqtt=load(MqttSettings, stack.state_dir),
            kafka=load(KafkaSettings, stack.state_dir),
            influx=load(InfluxSettings, stack.state_dir),
            mlflow=load(MlflowSettings, stack.state_dir),
            spark=load(SparkSettings, stack.state_dir),
        )

    @classmethod
    def prepared(cls) -> StackContext:
        """Like :meth:`from_env`, after generating any missing local credentials (first `up`)."""
        from infra.stack.credentials import ensure_credentials

        ensure_credentials(load(StackSettings))
        return cls.from_env()

    @property
    def state(self) -> Path:
        return self.stack.state_dir

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def python(self) -> str:
        """The interpreter of this virtual environment, for services that are Python programs."""
        return sys.executable


@dataclass(frozen=True)
class Health:
    """One probe's verdict."""

    ok: bool
    detail: str


class Service(ABC):
    """A real program of the stack: configured, started, probed and stopped by the project."""

    name: str

    def __init__(self, ctx: StackContext) -> None:
        self.ctx = ctx

    @abstractmethod
    def listen(self) -> tuple[str, int]:
        """Host and port the service listens on (taken from the client settings)."""

    def address(self) -> str:
        host, port = self.listen()
        return f"{host}:{port}"

    @abstractmethod
    def prepare(self) -> None:
        """Write config files and do first-start initialisation; idempotent."""

    @abstractmethod
    def argv(self) -> list[str]:
        """The command line that runs the service in the foreground."""

    @abstractmethod
    def check(self) -> Health:
        """A quick probe through the service's own protocol."""

    def auth(self) -> str:
        """How clients authenticate to this service and what limits them (``forewarn stack status``)."""
        return "none"

    def after_start(self) -> None:  # noqa: B027 - optional hook
        """Provision what the project needs in the running service (topics, databases)."""

    def env(self) -> dict[str, str]:
        return {}

    def daemon(self) -> Daemon:
        return Daemon(
            name=self.name,
            argv=self.argv(),
            pid_file=self.ctx.run / f"{self.name}.pid",
            log_file=self.ctx.logs / f"{self.name}.log",
            cwd=self.ctx.state,
            env=self.env(),
        )

    def data_dir(self) -> Path:
        path = self.ctx.state / self.name
        path.mkdir(parents=True, exist_ok=True)
        return path


def render(template: Path, target: Path, **values: object) -> Path:
    """Fill ``{name}`` placeholders of a config template and write it (only when it changed)."""
    text = template.read_text().format(**values)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or target.read_text() != text:
        target.write_text(text)
    return target
