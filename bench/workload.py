"""The scoring job's workload as the product runs it, in two shapes: C-MAPSS engines and the pump fleet.

Each shape says how its model is trained (the ``forewarn train`` command the product runs for that
source, so the family is the one that command's selection picks, not an easier one) and makes
readings of its shape for any number of assets:

* ``cmapss``: 3 operating settings, 21 sensors; values of the test_FD001 engines, cycled over the
  bench's assets; the model is ``forewarn train --data-dir … --subset FD001`` with the families
  ``forewarn train`` compares by default (``FOREWARN_MODELS_FAMILIES``: ridge, extra trees,
  gradient boosting; cross-validation picks gradient boosting on FD001);
* ``pump``: 3 settings, 6 sensors of the simulated pump fleet (``ingest.fleet``); values of the
  demo's fleet (seed and pace of ``FOREWARN_DEMO_*``), cycled over the bench's assets; the model
  is trained exactly as ``make demo`` trains it (``chain.fleetrun.FleetRun.train``: 200 simulated
  pumps of another seed, the fleet source's families).

Readings per Kafka record: the gateway takes at most ``coalesce_max_messages`` (500) MQTT messages
at once and writes the readings of one asset among them as one record. Publishers send one asset's
readings per message (``forewarn simulate --batch``: 10 by default), in turn over the fleet; with
more assets than a group's 500 messages, a group never holds two messages of one asset, so a
record carries one message's readings: :data:`READINGS_PER_MESSAGE`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forewarn.contracts.telemetry import Reading

READINGS_PER_MESSAGE = 10
"""``forewarn simulate``'s default ``--batch``: one asset's readings per MQTT message."""

SHAPES = ("cmapss", "pump")

Values = tuple[dict[str, float], dict[str, float]]  # (settings, sensors) of one reading


def coalesce_max_messages() -> int:
    """The gateway's default group size (``FOREWARN_GATEWAY_COALESCE_MAX_MESSAGES``' default)."""
    from ingest.settings import GatewaySettings

    return int(GatewaySettings.model_fields["coalesce_max_messages"].default)


def readings_per_record(assets: int, per_message: int = READINGS_PER_MESSAGE) -> dict[str, Any]:
    """Readings per Kafka record the gateway writes for ``assets`` publishing in turn, and why.

    A full group of ``coalesce_max_messages`` messages holds ``ceil(group / assets)`` messages of
    an asset at most: one when the fleet is larger than a group (the product's case, 2,000
    assets), more for a small fleet whose gateway is behind.
    """
    group = coalesce_max_messages()
    messages = max(1, -(-group // max(1, assets)))
    return {
        "readings_per_record": per_message * messages,
        "readings_per_message": per_message,
        "messages_per_record": messages,
        "gateway_coalesce_max_messages": group,
        "why": f"{assets} assets publish {per_message} readings per MQTT message in turn; the gateway "
        f"groups at most {group} messages and writes one record per asset of a group, so a full "
        f"group holds {messages} message(s) per asset",
    }


@dataclass(frozen=True)
class Shape:
    """One workload: how its model is trained and the readings it cycles over."""

    name: str
    site: str
    templates: list[list[Values]]  # per template asset, its readings in order

    def reading(self, asset_id: str, asset: int, index: int, ts_ms: int) -> Reading:
        """The ``index``-th reading (``seq`` = index + 1) of bench asset number ``asset``."""
        template = self.templates[asset % len(self.templates)]
        settings, sensors = template[index % len(template)]
        return Reading(asset_id, self.site, ts_ms, index + 1, settings, sensors)


def cmapss_shape(data_dir: Path) -> Shape:
    """test_FD001's 100 engines (3 settings, 21 sensors)."""
    from ingest.cmapss import SENSOR_COLUMNS, SETTING_COLUMNS, read_run

    frame = read_run(data_dir / "test_FD001.txt.gz")
    templates = [
        [
            ({c: float(row[c]) for c in SETTING_COLUMNS}, {c: float(row[c]) for c in SENSOR_COLUMNS})
            for row in group.to_dict("records")
        ]
        for _, group in frame.groupby("unit", sort=True)
    ]
    return Shape("cmapss", "cmapss", templates)


def pump_shape(state_dir: Path, pumps: int = 100) -> Shape:
    """``pumps`` pumps of the demo's fleet (its seed, interval and steps; 3 settings, 6 sensors)."""
    from chain.settings import DemoSettings
    from forewarn.settings import load
    from ingest.fleet import Fleet, FleetConfig
    from models.fleet_source import DEFAULT_START

    demo = load(DemoSettings, state_dir)
    config = FleetConfig(
        pumps, tuple(demo.sites), demo.seed, DEFAULT_START, demo.interval_s, demo.steps, demo.failing_share
    )
    templates: dict[str, list[Values]] = {}
    for _, reading in Fleet(config).readings():
        templates.setdefault(reading["asset_id"], []).append((reading["settings"], reading["sensors"]))
    return Shape("pump", demo.sites[0], list(templates.values()))


def make_shape(name: str, data_dir: Path, state_dir: Path) -> Shape:
    return cmapss_shape(data_dir) if name == "cmapss" else pump_shape(state_dir)


def train_args(shape: str, data_dir: Path, state_dir: Path, families: str | None) -> list[str]:
    """The ``forewarn train`` arguments the product uses for ``shape`` (``families`` overrides)."""
    from chain.settings import DemoSettings
    from forewarn.settings import load

    if shape == "cmapss":
        args = ["train", "--data-dir", str(data_dir), "--subset", "FD001"]
    else:
        d = load(DemoSettings, state_dir)  # what chain.fleetrun.FleetRun.train runs for the demo
        args = ["train", "--source", "fleet", "--assets", str(d.train_assets), "--steps", str(d.steps),
                "--interval-s", str(d.interval_s), "--seed", str(d.train_seed),
                "--failing-share", "0.8"]  # fmt: skip
    return args + (["--families", families] if families else [])


def default_families(shape: str) -> Sequence[str]:
    """The families ``forewarn train`` compares for the shape's source when none are given."""
    from forewarn.settings import load
    from models.settings import ModelsSettings
    from models.sources import SOURCE_DEFAULTS, Source

    source = Source.CMAPSS if shape == "cmapss" else Source.FLEET
    return tuple(SOURCE_DEFAULTS[source].get("families", load(ModelsSettings).families))


def _client(tracking_uri: str) -> Any:
    """An authenticating MLflow client of ``tracking_uri`` (the stack's credentials from settings)."""
    from forewarn.settings import MlflowSettings, load
    from models.tracking import client

    return client(
        load(MlflowSettings).model_copy(update={"tracking_uri": tracking_uri, "registry_uri": None})
    )


def registered(name: str, tracking_uri: str) -> dict[str, Any]:
    """An already registered model's champion (``--model``): its version and family, kept afterwards."""
    import mlflow

    version = str(_client(tracking_uri).get_model_version_by_alias(name, "champion").version)
    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model().model
    return {"name": name, "version": version, "family": getattr(model, "family", None), "given": True}


def train(
    shape: str, name: str, data_dir: Path, state_dir: Path, tracking_uri: str, families: str | None
) -> dict[str, Any]:
    """Train and register ``name`` as the product would, alias it ``champion``; what ``train`` printed.

    The alias is set directly (no promotion gate against another champion: the bench's model is
    alone under its name).
    """
    args = train_args(shape, data_dir, state_dir, families)
    env = {
        **os.environ,
        "FOREWARN_MLFLOW_TRACKING_URI": tracking_uri,
        "FOREWARN_MODELS_REGISTERED_MODEL": name,
    }
    out = subprocess.run(
        [sys.executable, "-m", "chain", *args, "--name", name], env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"forewarn {' '.join(args)} failed: {out.stderr.strip()[-2000:]}")
    summary: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    _client(tracking_uri).set_registered_model_alias(name, "champion", str(summary["version"]))
    return {
        "name": name,
        "version": str(summary["version"]),
        "family": summary.get("family"),
        "families_compared": families.split(",") if families else list(default_families(shape)),
        "train_command": "forewarn " + " ".join(args),
        "train_seconds": summary.get("train_seconds"),
    }
