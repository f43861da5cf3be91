"""Names and settings of one whole-system run, as the environment every component process gets.

A run owns its topics, checkpoint, spool, work-order database and MQTT share group, so runs never
see each other's data and a run can be judged from its topics alone. Components read everything
from ``FOREWARN_*`` variables, so the plan is just those variables.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from chain.settings import DemoSettings
from forewarn.settings import ForewarnSettings, InfluxSettings, KafkaSettings, load

S = TypeVar("S", bound=ForewarnSettings)

RULES_FILE = Path(__file__).resolve().parents[1] / "alerts" / "rules.demo.toml"


@dataclass(frozen=True)
class RunPlan:
    """One run: its id, folder, settings and the environment of its processes."""

    run_id: str
    run_dir: Path
    demo: DemoSettings
    env: dict[str, str]
    asset_prefix: str = "pump"

    @property
    def kafka(self) -> KafkaSettings:
        # the run's topics, the stack's credentials (<state>/forewarn.env; the run is <state>/runs/<run>)
        return load(KafkaSettings, self.run_dir.parents[1], **_kafka_overrides(self.run_id))

    @property
    def influx(self) -> InfluxSettings:
        # the run's database, the stack's credentials (as for kafka above)
        return load(InfluxSettings, self.run_dir.parents[1], database=self.env["FOREWARN_INFLUX_DATABASE"])

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.demo.api_port}"

    @property
    def credentials_file(self) -> Path:
        """The console users' names, roles and generated passwords (mode 600)."""
        return self.run_dir / "credentials.txt"

    @property
    def api_token_file(self) -> Path:
        """The API token of the run's own dispatcher (mode 600)."""
        return self.run_dir / "api-token"

    @property
    def model_name(self) -> str:
        return self.env["FOREWARN_MODELS_REGISTERED_MODEL"]

    @property
    def engine_group(self) -> str:
        return self.env["FOREWARN_ALERTS_GROUP_ID"]

    def env_file(self) -> str:
        """``export`` lines to explore the run with the ``forewarn`` CLI."""
        return "".join(f"export {k}={_quoted(v)}\n" for k, v in sorted(self.env.items()))


def read_run_env(run_dir: Path) -> dict[str, str]:
    """The ``FOREWARN_*`` environment a run's processes got (its ``run.env``); empty if it has none."""
    path = run_dir / "run.env"
    if not path.is_file():
        return {}
    env = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            key, _, value = words[1].partition("=")
            env[key] = value
    return env


def run_settings(cls: type[S], env: dict[str, str], state_dir: Path) -> S:
    """``cls`` as the run's processes see it: the run's variables over this process's settings."""
    overrides = {f: env[cls.env_name(f)] for f in cls.model_fields if cls.env_name(f) in env}
    return load(cls, state_dir, **overrides)


def _quoted(value: str) -> str:
    return value if re.fullmatch(r"[\w./:@+,=-]*", value) else "'" + value.replace("'", "'\\''") + "'"


def _real_seconds_per_reading(demo: DemoSettings) -> float:
    """Real seconds between an asset's readings (``speed`` "max": as if real time, the most cautious)."""
    try:
        speed = float(demo.speed)
    except ValueError:
        return demo.interval_s
    return demo.interval_s / speed if speed > 0 else demo.interval_s


def _kafka_overrides(run_id: str) -> dict[str, str]:
    return {
        "telemetry_topic": f"{run_id}.telemetry",
        "dlq_topic": f"{run_id}.telemetry.dlq",
        "risk_topic": f"{run_id}.risk",
        "alerts_topic": f"{run_id}.alerts",
    }


def plan(
    state_dir: Path, demo: DemoSettings, run_id: str, influx_database: str | None, model_name: str | None
) -> RunPlan:
    """The run's names and environment.

    Args:
        state_dir: the project's state folder; the run lives in ``<state>/runs/<run_id>``.
        demo: fleet, model and pipeline settings.
        run_id: letters, digits, dots and dashes (it names topics and a consumer group).
        influx_database: where points go (None: the default database, what the boards show).
        model_name: the registered model to train and score with (None: ``demo.model_name``).
    """
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{0,60}", run_id):
        raise ValueError(f"run id {run_id!r}: use lower-case letters, digits, dots and dashes")
    run_dir = state_dir / "runs" / run_id
    database = f"sqlite:///{run_dir / 'work_orders.db'}"
    model = model_name or demo.model_name
    env = {
        **{f"FOREWARN_KAFKA_{k.upper()}": v for k, v in _kafka_overrides(run_id).items()},
        "FOREWARN_INFLUX_DATABASE": influx_database or load(InfluxSettings, state_dir).database,
        # the run's own asset register, like its work orders: runs deal the same pump ids to sites
        "FOREWARN_ASSETS_DATABASE_URL": f"sqlite:///{run_dir / 'assets.sqlite'}",
        "FOREWARN_MODELS_REGISTERED_MODEL": model,
        "FOREWARN_STREAM_MODEL_NAME": model,
        "FOREWARN_STREAM_CHECKPOINT_DIR": str(run_dir / "checkpoints"),
        "FOREWARN_STREAM_QUERY_NAME": f"scoring-{run_id}",
        # two cores: two partitions, and the next micro-batch as soon as the last one commits
        "FOREWARN_SPARK_SHUFFLE_PARTITIONS": "2",
        "FOREWARN_STREAM_TRIGGER_INTERVAL_S": "0",
        "FOREWARN_GATEWAY_GATEWAY_ID": f"gw-{run_id}".replace(".", "-"),
        "FOREWARN_GATEWAY_SHARE_GROUP": run_id.replace(".", "-"),
        "FOREWARN_GATEWAY_SPOOL_DIR": str(run_dir / "spool"),
        # the run's sites only: other fleets may publish on the same broker
        "FOREWARN_GATEWAY_TOPIC_FILTERS": json.dumps([f"forewarn/{site}/+/telemetry" for site in demo.sites]),
        # long enough for a restart to find its queued messages, short enough not to pile up per run
        "FOREWARN_GATEWAY_SESSION_EXPIRY_S": "900",
        "FOREWARN_ALERTS_GROUP_ID": f"alerts-{run_id}",
        "FOREWARN_ALERTS_DATABASE_URL": database,
        "FOREWARN_ALERTS_RULES_FILE": str(RULES_FILE),
        "FOREWARN_ALERTS_WRITE_INFLUX": "true",
        "FOREWARN_API_DATABASE_URL": database,
        "FOREWARN_API_WRITE_INFLUX": "true",
        # the crew planner: one RUL cycle is one reading, which arrives every interval_s / speed real
        # seconds (the work-order clock is real time); a short solver budget, the fleet is small
        "FOREWARN_PLAN_RUL_STEP_S": str(_real_seconds_per_reading(demo)),
        "FOREWARN_PLAN_TIME_LIMIT_S": "5",
        "FOREWARN_API_PORT": str(demo.api_port),
        # the model lifecycle (`forewarn models watch`): a drift check every 10 s over the last
        # drift_window_readings readings per pump; retrains at most once a minute
        "FOREWARN_DRIFT_WINDOW_S": str(demo.drift_window_readings * demo.interval_s),
        "FOREWARN_LIFECYCLE_DRIFT_INTERVAL_S": "10",
        "FOREWARN_LIFECYCLE_COOLDOWN_S": "60",
        "FOREWARN_STATE_DIR": str(state_dir),
    }
    return RunPlan(run_id, run_dir, demo, env)
