"""`forewarn models retrain | approve | rollback` against the real MLflow and InfluxDB.

A champion is trained on a small simulated fleet; work-order labels of another fleet (another seed)
are in a label file and their telemetry in a per-test InfluxDB database (written with the
streaming job's line builder, as in ``test_feedback_training.py``). The retrain rebuilds the
champion's fleet, adds the labelled assets, judges both models on labelled assets it held out, and
promotes (MANAGED) or waits for `approve` (MANUAL); every step is a ``model_events`` point and a
registry tag.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner, Result

from chain.cli import app
from forewarn.contracts.labels import NO_FAILURE, Label, write_label_file
from forewarn.influx import query
from forewarn.settings import InfluxSettings
from infra.stack.service import StackContext
from models.events import events_of
from models.fleet_source import fleet_history
from tests.conftest import unique
from tests.integration.models.test_feedback_training import store_telemetry, work_order_labels

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SMALL = ("--rul-cap", "60", "--horizon", "20", "--cv-folds", "2")


class Lifecycle:
    """One registered model, one InfluxDB database, the label file: ``forewarn`` in-process on them."""

    def __init__(self, stack: StackContext, database: str, tmp_path: Path, assets: int) -> None:
        self.name = unique("test-lifecycle")
        self.influx: InfluxSettings = stack.influx.model_copy(update={"database": database})
        self.env = {
            "FOREWARN_MLFLOW_TRACKING_URI": stack.mlflow.tracking_uri,
            "FOREWARN_INFLUX_URL": self.influx.url,
            "FOREWARN_INFLUX_DATABASE": database,
            "FOREWARN_LIFECYCLE_EVENT_RETRY_BUDGET_S": "2",
        }
        self.labels = tmp_path / "labels.csv"
        self.written: list[Label] = []
        self.more_labels(assets, seed=31, prefix="pump")
        self.client = MlflowClient(tracking_uri=stack.mlflow.tracking_uri)

    def more_labels(self, assets: int, seed: int, prefix: str) -> None:
        """Another fleet's telemetry into the database and its work-order outcomes into the label file."""
        history = fleet_history(
            assets=assets, steps=240, interval_s=2.0, seed=seed, failing_share=1.0, rul_cap_steps=60,
            asset_prefix=prefix,
        )  # fmt: skip
        store_telemetry(self.influx, history.readings)
        self.written += work_order_labels(history.labels)
        write_label_file(self.written, self.labels)

    @property
    def n_labels(self) -> int:
        return len(self.written)

    @property
    def n_faults(self) -> int:
        return sum(label.failure_mode != NO_FAILURE for label in self.written)

    def run(self, *args: str, **env: str) -> Result:
        return CliRunner().invoke(app, list(args), env={**self.env, **env})

    def champion_of_a_fleet(self) -> str:
        """A mean-baseline model of the fleet the labels do not come from, made champion."""
        result = self.run(
            "train", "--source", "fleet", "--assets", "12", "--steps", "200", "--interval-s", "2",
            "--seed", "5", "--families", "dummy", "--name", self.name, *SMALL,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        version = str(json.loads(result.stdout.strip())["version"])
        self.client.set_registered_model_alias(self.name, "champion", version)  # the test's starting point
        return version

    def retrain(self, policy: str, **env: str) -> dict[str, object]:
        result = self.run(
            "models", "retrain", "--name", self.name, "--labels", str(self.labels), "--policy", policy,
            "--families", "ridge", "--why", "test", *SMALL, **env,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
        return report

    def champion(self) -> str:
        return str(self.client.get_model_version_by_alias(self.name, "champion").version)

    def tagged(self, version: str) -> list[str]:
        return [e["action"] for e in events_of(dict(self.client.get_model_version(self.name, version).tags))]

    def points(self) -> list[dict[str, object]]:
        statement = (
            'SELECT "model_name", "model_version", "action", "note", "challenger_rmse", "champion_rmse" '
            'FROM "model_events"'
        )
        return [row for series in query(self.influx, statement) for row in series.rows()]


def test_managed_promotes_a_better_challenger_manual_waits_for_approval(
    stack: StackContext, influx_database: str, tmp_path: Path
) -> None:
    world = Lifecycle(stack, influx_database, tmp_path, assets=10)
    first = world.champion_of_a_fleet()

    managed = world.retrain("MANAGED")
    second = str(managed["version"])
    assert managed["decision"] == "promoted", managed
    assert managed["champion_version"] == first
    assert managed["judge_assets"] == 10  # every labelled asset, out of fold: the champion saw none
    assert managed["labels"] == world.n_labels  # every fault and an end-of-run `none` per asset
    assert managed["source"] == "labels:labels.csv+fleet:assets=12,steps=200,interval_s=2,seed=5"
    assert "labels + fleet:" in str(managed["note"])
    assert float(managed["challenger_rmse"]) < float(managed["champion_rmse"])  # type: ignore[arg-type]
    assert managed["challenger_false_alarm_rate"] is not None
    assert managed["judged_failures"] == world.n_faults  # every confirmed fault judges, not a share
    assert world.champion() == second
    assert world.tagged(second) == ["retrain", "gate_passed", "promoted"]
    version = world.client.get_model_version(world.name, second)
    assert version.tags["forewarn.base_source"] == "fleet:assets=12,steps=200,interval_s=2,seed=5"
    assert json.loads(version.tags["forewarn.judged"])["passed"] is True
    assert version.tags["forewarn.previous_champion"] == first
    run = world.client.get_run(str(version.run_id))
    assert run.data.params["base_sim_failing_share"] == "0.5"  # the rebuilt base source, recorded

    path = world.client.download_artifacts(str(version.run_id), "labelled_assets.json", str(tmp_path))
    seen = set(json.loads(Path(path).read_text())["assets"])  # what the new champion was fitted on
    assert seen
    assert seen <= {label.asset_id for label in world.written}

    world.more_labels(10, seed=32, prefix="pumpb")
    # MANUAL: the policy is what is under test here, so the gate is lenient
    lenient = {
        "FOREWARN_MODELS_GATE_MAX_RMSE_RATIO": "3",
        "FOREWARN_MODELS_GATE_MAX_PHM08_RATIO": "100",
        "FOREWARN_MODELS_GATE_MAX_PR_AUC_DROP": "1",
    }
    manual = world.retrain("MANUAL", **lenient)
    third = str(manual["version"])
    assert manual["decision"] == "awaiting_approval", manual
    # judged: the ten new pumps and those of the first ten the champion's training held out, never
    # the ones it was fitted on (scored on those, it would look better than it is)
    assert manual["judge_assets"] == 20 - len(seen)
    assert world.champion() == second
    assert "forewarn.awaiting_approval" in world.client.get_model_version(world.name, third).tags
    assert world.tagged(third) == ["retrain", "gate_passed", "awaiting_approval"]

    approved = world.run("models", "approve", third, "--reason", "checked the plots", "--name", world.name)
    assert approved.exit_code == 0, approved.output
    assert world.champion() == third
    assert world.tagged(third) == ["retrain", "gate_passed", "awaiting_approval", "approved", "promoted"]
    assert "forewarn.awaiting_approval" not in world.client.get_model_version(world.name, third).tags
    again = world.run("models", "approve", third, "--reason", "twice", "--name", world.name)
    assert again.exit_code == 1
    assert "already is the champion" in again.output

    back = world.run("models", "rollback", "--reason", "late alerts", "--name", world.name)
    assert back.exit_code == 0, back.output
    assert world.champion() == second

    points = world.points()
    assert [(p["model_version"], p["action"]) for p in points] == [
        (second, "retrain"), (second, "gate_passed"), (second, "promoted"),
        (third, "retrain"), (third, "gate_passed"), (third, "awaiting_approval"),
        (third, "approved"), (third, "promoted"), (third, "rolled_back"),
    ]  # fmt: skip
    assert {p["model_name"] for p in points} == {world.name}
    gate = next(p for p in points if p["action"] == "gate_passed")
    assert gate["champion_rmse"] == pytest.approx(float(managed["champion_rmse"]), abs=1e-3)  # type: ignore[arg-type]
    assert "approved by" in str(next(p for p in points if p["action"] == "approved")["note"])
    world.client.delete_registered_model(world.name)


def test_too_few_labelled_assets_to_judge_never_promotes(
    stack: StackContext, influx_database: str, tmp_path: Path
) -> None:
    world = Lifecycle(stack, influx_database, tmp_path, assets=2)
    first = world.champion_of_a_fleet()
    report = world.retrain("MANAGED")
    assert report["decision"] == "refused"
    assert report["judge_assets"] == 0  # 2 labelled assets, fewer than 3: all train, none judge
    assert "too few recently labelled assets to judge" in str(report["note"])
    assert world.champion() == first
    refused = [p for p in world.points() if p["action"] == "gate_refused"]
    assert len(refused) == 1
    assert "too few recently labelled assets" in str(refused[0]["note"])
    assert world.tagged(str(report["version"])) == ["retrain", "gate_refused"]
    world.client.delete_registered_model(world.name)


def test_labels_come_from_the_work_order_store_through_its_export(tmp_path: Path) -> None:
    from forewarn.contracts.labels import LABEL_FILE_COLUMNS
    from models.lifecycle.labels_feed import export_labels, tally_labels
    from models.sources import SourceError

    out = export_labels(tmp_path / "labels.csv", f"sqlite:///{tmp_path}/work_orders.db")
    assert out.read_text().splitlines() == [",".join(LABEL_FILE_COLUMNS)]  # a new store: no outcome yet
    assert tally_labels(out).labels == 0
    with pytest.raises(SourceError, match="labels export` failed"):
        export_labels(tmp_path / "other.csv", "nosuchdb://nowhere")


def test_the_watch_service_retrains_on_schedule_and_stops_on_sigterm(
    stack: StackContext, influx_database: str, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    world = Lifecycle(stack, influx_database, tmp_path, assets=10)
    first = world.champion_of_a_fleet()
    env = {
        **os.environ, **world.env,
        "FOREWARN_LIFECYCLE_LABELS_FILE": str(world.labels),
        "FOREWARN_LIFECYCLE_RETRAIN_EVERY_S": "1", "FOREWARN_LIFECYCLE_DRIFT_INTERVAL_S": "1",
        "FOREWARN_MODELS_FAMILIES": '["ridge"]', "FOREWARN_MODELS_RUL_CAP_CYCLES": "60",
        "FOREWARN_MODELS_HORIZON_CYCLES": "20", "FOREWARN_MODELS_CV_FOLDS": "2",
    }  # fmt: skip
    log = (tmp_path / "watch.log").open("wb")
    service = subprocess.Popen(
        [sys.executable, "-m", "chain", "models", "watch", "--name", world.name],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 240
        done = f"retrain of {world.name} done"
        while done not in (tmp_path / "watch.log").read_text() and time.monotonic() < deadline:
            assert service.poll() is None, (tmp_path / "watch.log").read_text()
            time.sleep(1)
        assert service.poll() is None, (tmp_path / "watch.log").read_text()
        assert world.champion() != first, (tmp_path / "watch.log").read_text()
    finally:
        service.send_signal(signal.SIGTERM)
        code = service.wait(timeout=30)
    text = (tmp_path / "watch.log").read_text()
    assert code == 0, text
    assert "SIGTERM: stopping" in text
    assert "retraining" in text
    assert "schedule (every 1 s)" in text
    # FOREWARN_LIFECYCLE_NICE's default; started from this test's session, it leaves that alone
    assert "CPU: nice 5, not its session's leader" in text
    actions = [p["action"] for p in world.points()]
    # one retrain: no new labels after it. The new champion's drift check may alarm on this small
    # fleet's telemetry (H3's real check): at most once within the cooldown.
    assert [a for a in actions if a != "drift_alarm"] == ["retrain", "gate_passed", "promoted"]
    assert actions.count("drift_alarm") <= 1
    world.client.delete_registered_model(world.name)
