"""The I/O edges of the lifecycle commands: settings in, real checks, label exports, retrains and
events wired to :class:`models.lifecycle.watch.Watcher` and :func:`models.lifecycle.retrain.retrain`.

A retrain started by the watch runs as its own process (``forewarn models retrain``): training's
memory is returned when it ends (the service stays small however long it runs), and a stop
(SIGTERM/SIGINT) reaches it at once: the child is terminated, and the service ends within a
couple of seconds. A retrain cut short that way may leave a registered version without its
verdict (``forewarn.judged``): it is never promoted.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from forewarn.settings import InfluxSettings, MlflowSettings
from models.events import ModelEvent, record
from models.lifecycle.labels_feed import export_labels, tally_labels
from models.lifecycle.settings import LifecycleSettings
from models.lifecycle.watch import LabelTally, Watcher

log = logging.getLogger(__name__)

CHILD_STOP_S = 2.0


@contextmanager
def latest_labels(lifecycle: LifecycleSettings, database_url: str | None) -> Iterator[Path]:
    """The latest label file: the configured one, else a fresh export of the work-order store."""
    if lifecycle.labels_file is not None:
        yield lifecycle.labels_file
        return
    with tempfile.TemporaryDirectory(prefix="forewarn-labels-") as folder:
        yield export_labels(Path(folder) / "labels.csv", database_url)


def stop_event() -> threading.Event:
    """An event set by SIGTERM or SIGINT (the service's graceful stop)."""
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def drift_check(name: str, influx: InfluxSettings) -> Callable[[int], Any]:
    """``check(now_ms)`` over :func:`models.drift_job.check_drift` with ``FOREWARN_DRIFT_*`` settings."""
    from forewarn.settings import load
    from models.drift_job import DriftSettings, check_drift

    settings = load(DriftSettings)

    def check(now_ms: int) -> Any:
        return check_drift(name, influx, settings, now_ms)

    return check


def retrain_child(name: str, stop: threading.Event, env: dict[str, str]) -> Callable[[str], dict[str, Any]]:
    """``retrain(why)``: ``forewarn models retrain`` as a child process (this environment plus ``env``:
    the watch's own options); its JSON line back (or the error)."""

    def run(why: str) -> dict[str, Any]:
        command = [sys.executable, "-m", "chain", "models", "retrain", "--name", name, "--why", why,
                   "--by", "forewarn-watch"]  # fmt: skip
        child = subprocess.Popen(command, stdout=subprocess.PIPE, env={**os.environ, **env})
        while child.poll() is None:
            if stop.wait(0.5):
                child.terminate()
                try:
                    child.wait(CHILD_STOP_S)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
                return {"stopped": "the service is stopping: retrain cut short"}
        out = (child.stdout.read() if child.stdout else b"").decode(errors="replace").strip().splitlines()
        if child.returncode != 0:
            return {"failed": f"forewarn models retrain exited {child.returncode} (its log is above)"}
        try:
            return dict(json.loads(out[-1]))
        except (IndexError, ValueError):
            return {"failed": f"no JSON line from forewarn models retrain: {out[-3:]}"}

    return run


def watcher(
    name: str,
    lifecycle: LifecycleSettings,
    influx: InfluxSettings,
    mlflow: MlflowSettings,
    database_url: str | None,
    stop: threading.Event,
) -> Watcher:
    """The real watch service: drift checks in-process, retrains as children, events to both stores."""
    from mlflow import MlflowClient

    from models import registry, tracking
    from models.lifecycle.retrain import champion_seen, labels_seen

    tracking.connect(mlflow)
    client = MlflowClient()

    def count() -> LabelTally:
        seen = champion_seen(client, name, registry.version_by_alias(client, name, tracking.CHAMPION))
        with latest_labels(lifecycle, database_url) as path:
            return tally_labels(path, frozenset(seen))

    def seen() -> int:
        return labels_seen(client, name, registry.version_by_alias(client, name, tracking.CHAMPION))

    def write(event: ModelEvent) -> None:
        record(event, influx, client, retry_budget_s=lifecycle.event_retry_budget_s)

    child_env = {"FOREWARN_LIFECYCLE_POLICY": lifecycle.policy.value}
    if database_url:
        child_env["FOREWARN_ALERTS_DATABASE_URL"] = database_url
    if lifecycle.labels_file is not None:
        child_env["FOREWARN_LIFECYCLE_LABELS_FILE"] = str(lifecycle.labels_file)
    return Watcher(
        name, lifecycle, drift_check(name, influx), count, seen, retrain_child(name, stop, child_env), write,
        time.time, stop.wait,
    )  # fmt: skip
