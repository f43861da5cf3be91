"""One whole-system run: train, start the pipeline, stream the simulated fleet, settle, judge.

The demo, the end-to-end test and the drill all go through :class:`FleetRun`; they differ in the
fleet's size and pace and in what happens while it streams (the drill kills processes).
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from alerts.workorders.service import FAILED_AT_LOOKBACK
from chain.ledger import Accounting, Ledger, Published, account
from chain.outcomes import Failure, Outcomes, Warning, judge
from chain.plan import RunPlan
from chain.processes import Component, ComponentError, Supervisor
from chain.settings import DemoSettings
from chain.topics import TopicTail, create_topics, group_lag
from chain.workorders import CONSOLE_USERS, DISPATCHER, WorkOrderApi
from forewarn.influx_admin import create_database
from forewarn.paths import project_root

Say = Callable[[str], None]
PLAN_EVERY_S = 15.0  # the crew planner runs at most this often while new work orders come in


class RunError(RuntimeError):
    """A step of the run failed; the message says which and where its log is."""


@dataclass
class Simulation:
    """The simulator process and, once it has finished, what it published."""

    proc: subprocess.Popen[bytes]
    out: Path
    truth: Path
    started: float
    started_wall: float
    summary: dict[str, Any] | None = None


@dataclass
class FleetRun:
    """Drives one run of the whole chain on the running stack."""

    plan: RunPlan
    say: Say = print
    supervisor: Supervisor = field(init=False)
    ledger: Ledger = field(default_factory=Ledger)
    tails: list[TopicTail] = field(default_factory=list)
    dispatched: dict[int, dict[str, Any]] = field(default_factory=dict)
    risk_timed: Callable[[list[tuple[bytes, int]]], None] | None = None
    raised_at: dict[str, datetime] = field(default_factory=dict)
    last_plan: dict[str, Any] | None = None
    plans: list[dict[str, Any]] = field(default_factory=list)  # each plan: status, solve time, orders
    # False: only the processes a reading passes through up to `risk` (gateway, scoring job); no alert
    # engine, work-order API, model watcher or dispatching (`python -m bench.chain --to-risk-only`)
    alerting: bool = True
    _planned_at: float = field(default=float("-inf"), init=False)
    _plan_pending: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.plan.run_dir.mkdir(parents=True, exist_ok=True)
        self.supervisor = Supervisor(self.plan.run_dir, self.plan.env, project_root())
        self.api = WorkOrderApi(self.plan.api_url, token_file=self.plan.api_token_file)

    # -- steps -------------------------------------------------------------------------------------

    def forewarn(self, *args: str, log_name: str, timeout_s: float = 1800) -> str:
        """Run one ``forewarn`` command to completion with the run's environment; its stdout."""
        log = self.supervisor.log_file(log_name)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as err:
            done = subprocess.run(
                [sys.executable, "-m", "chain", *args],
                cwd=project_root(),
                env=self.supervisor.daemon_env(),
                stdout=subprocess.PIPE,
                stderr=err,
                timeout=timeout_s,
                check=False,
            )
        if done.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise RunError(f"`forewarn {' '.join(args)}` failed ({done.returncode}); {log}:\n{tail}")
        return done.stdout.decode()

    def prepare(self) -> None:
        """The run's topics, InfluxDB database and the shell file to explore it afterwards."""
        create_topics(self.plan.kafka, self.plan.engine_group)
        influx = self.plan.influx  # the admin: it creates the run's database and grants the roles on it
        create_database(influx, influx.database)
        (self.plan.run_dir / "run.env").write_text(self.plan.env_file())

    def train(self) -> dict[str, Any]:
        """Train a challenger on a fleet of the same kind (another seed) and promote it if it passes."""
        d = self.plan.demo
        started = time.monotonic()
        self.forewarn(
            "train", "--source", "fleet", "--assets", str(d.train_assets), "--steps", str(d.steps),
            "--interval-s", str(d.interval_s), "--seed", str(d.train_seed), "--failing-share", "0.8",
            log_name="train",
        )  # fmt: skip
        trained_s = time.monotonic() - started
        promote = subprocess.run(
            [sys.executable, "-m", "chain", "models", "promote"],
            cwd=project_root(), env=self.supervisor.daemon_env(), capture_output=True, check=False,
        )  # fmt: skip
        out = promote.stdout.decode(errors="replace").splitlines()
        errors = [x for x in promote.stderr.decode(errors="replace").splitlines() if x.startswith("error:")]
        verdict = out[-1:] if promote.returncode == 0 else errors[-1:]
        return {"train_s": round(trained_s, 1), "promoted": promote.returncode == 0, "verdict": verdict}

    def has_champion(self) -> bool:
        from models import registry

        return registry.version_by_alias(mlflow_client(), self.plan.model_name, "champion") is not None

    def seed_catalogue(self) -> None:
        """Technicians, kits and stock; then the run's console users and the demo dispatcher's token."""
        sites = [arg for site in self.plan.demo.sites for arg in ("--site", site)]
        self.forewarn("alerts", "seed", *sites, log_name="seed")
        self.create_users()

    def create_users(self) -> None:
        """One user per role (passwords generated into the run's mode-600 credentials file) and the
        API token the run's own dispatcher (``WorkOrderApi``) acts with; nothing is printed."""
        credentials = self.plan.credentials_file
        first_technician = _first_technician(self.plan.env["FOREWARN_API_DATABASE_URL"])
        for name, role in CONSOLE_USERS:
            linked = ["--technician-id", str(first_technician)] if role == "technician" else []
            self.forewarn(
                "users", "add", name, "--role", role, *linked, "--credentials-file", str(credentials),
                log_name="users",
            )  # fmt: skip
        self.forewarn("users", "add", DISPATCHER, "--role", "dispatcher", "--credentials-file",
                      str(credentials), log_name="users")  # fmt: skip
        self.forewarn("users", "token", DISPATCHER, "--label", "demo run", "--out",
                      str(self.plan.api_token_file), log_name="users")  # fmt: skip

    def components(self) -> list[Component]:
        """The run's processes in start order: the API and the alert engine before the job, so they are
        ready for its first records; the gateway after the job; the model lifecycle (drift of the live
        stream, retraining on labels, managed promotion) last. Without ``alerting``: the job and the
        gateway only."""
        api = Component("api", ["api", "serve"], ready_url=f"{self.plan.api_url}/health")
        engine = Component("engine", ["alerts", "run"], ready_log="alert engine")
        stream = Component("stream", ["stream", "run"])
        gateway = Component("gateway", ["gateway", "run"], ready_log="subscribed to")
        watch = Component("watch", ["models", "watch"])
        return [api, engine, stream, gateway, watch] if self.alerting else [stream, gateway]

    def start_pipeline(self) -> None:
        """Each of :meth:`components` as its own process, each ready."""
        for component in self.components():
            self.supervisor.start(component)
        self.tails = [
            TopicTail(self.plan.kafka, self.plan.kafka.telemetry_topic, self.ledger.add_telemetry),
            TopicTail(self.plan.kafka, self.plan.kafka.dlq_topic, self.ledger.add_dead_letters),
            TopicTail(self.plan.kafka, self.plan.kafka.risk_topic, self.ledger.add_risk, self.risk_timed),
        ]
        if self.alerting:
            self.tails.append(TopicTail(self.plan.kafka, self.plan.kafka.alerts_topic, self._add_alerts))

    def simulate(
        self,
        demo: DemoSettings | None = None,
        prefix: str | None = None,
        change: str | None = None,
        start: datetime | None = None,
    ) -> Simulation:
        """Start the simulator (it publishes over MQTT as the sites' users).

        Args:
            demo: the fleet to simulate (default: the plan's).
            prefix: asset id prefix (default: the plan's); a second fleet in one run needs its own.
            change: a mid-run change on one site (``SITE@STEP:KIND``, ``forewarn simulate --change``).
            start: the first reading's event time (default: the simulator's, nothing in the future).
        """
        d = demo or self.plan.demo
        prefix = prefix or self.plan.asset_prefix
        out = self.plan.run_dir / f"simulate-{prefix}.json"
        truth = self.plan.run_dir / f"truth-{prefix}.jsonl"
        args = [
            "simulate", "--assets", str(d.assets), "--seed", str(d.seed), "--steps", str(d.steps),
            "--interval-s", str(d.interval_s), "--speed", d.speed, "--batch", str(d.batch),
            "--failing-share", str(d.failing_share), "--malformed", str(d.malformed),
            "--duplicates", str(d.duplicates), "--out-of-order", str(d.out_of_order),
            "--truth", str(truth), "--asset-prefix", prefix,
            *[arg for site in d.sites for arg in ("--site", site)],
            *(["--change", change] if change else []),
            *(["--start", start.isoformat()] if start else []),
        ]  # fmt: skip
        log = self.supervisor.log_file("simulate")
        log.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as stdout, log.open("ab") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "chain", *args],
                cwd=project_root(), env=self.supervisor.daemon_env(), stdout=stdout, stderr=stderr,
            )  # fmt: skip
        return Simulation(proc, out, truth, time.monotonic(), time.time())

    def finish(self, sim: Simulation, timeout_s: float = 3600) -> dict[str, Any]:
        """Wait for the simulator; its published counts."""
        code = sim.proc.wait(timeout=timeout_s)
        if code != 0:
            raise RunError(f"the simulator failed ({code}); see {self.supervisor.log_file('simulate')}")
        sim.summary = orjson.loads(sim.out.read_bytes())
        return sim.summary

    # -- watching ----------------------------------------------------------------------------------

    def poll(self) -> None:
        """Read what is new on the run's topics and dispatch new work orders."""
        for tail in self.tails:
            tail.catch_up()
        if not self.alerting:
            return
        for wo in self.api.work_orders():
            if wo["id"] not in self.dispatched or wo["status"] == "requested":
                self.dispatched[wo["id"]] = self.api.dispatch(wo)
                self._plan_pending = True
            elif wo["status"] != self.dispatched[wo["id"]]["status"]:
                self.dispatched[wo["id"]] = wo
        # orders approved within PLAN_EVERY_S of the last plan wait for the next one, not for more orders
        if self._plan_pending and time.monotonic() - self._planned_at >= PLAN_EVERY_S:
            self.replan()

    def replan(self) -> dict[str, Any]:
        """Run the crew planner on the open work orders and apply its plan; its figures."""
        self.last_plan = self.api.plan()
        plan = self.last_plan
        orders = len(plan.get("planned_work_orders", [])) + len(plan.get("unplanned_work_orders", []))
        self.plans.append(
            {"status": plan.get("status"), "solve_s": plan.get("solve_s"), "work_orders": orders}
        )
        self._planned_at = time.monotonic()
        self._plan_pending = False
        for wo in self.api.work_orders():
            self.dispatched[wo["id"]] = wo
        return self.last_plan

    def _add_alerts(self, values: list[bytes]) -> None:
        for value in values:
            event = orjson.loads(value)
            if event.get("change") == "raised":
                self.raised_at.setdefault(event["alert_id"], datetime.fromisoformat(event["last_seen"]))

    def progress(self, started: float) -> str:
        ledger = self.ledger
        orders = self.dispatched.values()
        scheduled = sum(wo["status"] == "scheduled" for wo in orders)
        waiting = sum(wo["status"] == "waiting_parts" for wo in orders)
        return (
            f"t+{time.monotonic() - started:5.0f}s  telemetry {ledger.telemetry_readings:,} readings"
            f" | dead letters {sum(ledger.gateway_letters.values()) + sum(ledger.stream_letters.values())}"
            f" | scored {len(ledger.risk_keys):,} | alerts raised {len(self.raised_at)}"
            f" | work orders {len(self.dispatched)} (scheduled {scheduled}, waiting parts {waiting})"
        )

    def watch(self, sim: Simulation, every_s: float, during: Callable[[float], None] | None = None) -> None:
        """Show progress until the simulator exits; ``during(elapsed_s)`` runs on each tick (the drill)."""
        while sim.proc.poll() is None:
            time.sleep(every_s)
            self._alive_or_raise()
            self.poll()
            self.say(self.progress(sim.started))
            if during is not None:
                during(time.monotonic() - sim.started)

    def _alive_or_raise(self) -> None:
        dead = self.supervisor.check()
        if dead:
            name = dead[0]
            raise ComponentError(
                f"{name} stopped on its own; last lines of its log:\n{self.supervisor.tail(name)}"
            )

    def settle(self, published: Published, timeout_s: float, every_s: float = 3.0) -> Accounting:
        """Wait until every published reading is on `telemetry` and scored and the engine (if it runs) is
        caught up."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._alive_or_raise()
            self.poll()
            verdict = account(published, self.ledger, exact=False)
            kafka = self.plan.kafka
            caught_up = not self.alerting or group_lag(kafka, self.plan.engine_group, kafka.risk_topic) == 0
            if verdict.ok and caught_up:
                time.sleep(every_s)  # the engine's last effects and outbox
                self.poll()
                return verdict
            if time.monotonic() > deadline:
                return verdict
            time.sleep(every_s)

    # -- judging -----------------------------------------------------------------------------------

    def published(self, *sims: Simulation) -> Published:
        """Distinct readings the simulators generated (from their ground truth) and what they sent."""
        keys: set[tuple[str, int]] = set()
        readings = malformed = 0
        for sim in sims:
            assert sim.summary is not None
            header, assets = _truth_assets(sim.truth)
            keys.update((asset, seq) for asset in assets for seq in range(int(header["steps"])))
            malformed += sum(n for kind, n in sim.summary["injected"].items() if kind.startswith("malformed"))
            readings += int(sim.summary["readings"])
        return Published(frozenset(keys), readings, malformed)

    def outcomes(self, *sims: Simulation) -> tuple[Outcomes, list[dict[str, Any]]]:
        """Every failure of these fleets judged against the work orders the run opened."""
        failures = [f for sim in sims for f in read_failures(sim.truth)]
        orders = self.api.work_orders()
        warnings = [
            Warning(wo["id"], wo["asset_id"], wo["failure_mode"], self.raised_at[wo["source_alert_id"]])
            for wo in orders
            if wo.get("source_alert_id") in self.raised_at
        ]
        d = self.plan.demo
        verdict = judge(
            failures, warnings, d.min_lead_readings * d.interval_s, d.max_lead_readings * d.interval_s
        )
        return verdict, orders

    def play_crews(self, sim: Simulation, orders: list[dict[str, Any]]) -> dict[str, int]:
        """The field crews' visits: every scheduled work order is started, completed with what the
        simulator's ground truth says the crew would find, and closed — so the outcome loop (labels,
        MTTR from the reported time on site, first-time fix, false alarms per model version) has
        data from the run. Waiting-for-parts orders stay waiting.

        What the crew finds and reports is :func:`crew_outcome`'s. The time on site is drawn per
        order (seeded: the same run, the same times), 45 to 240 minutes.
        """
        failures: dict[str, list[Failure]] = {}
        for failure in sorted(read_failures(sim.truth), key=lambda f: f.at):
            failures.setdefault(failure.asset_id, []).append(failure)
        rng = random.Random(self.plan.demo.seed)  # noqa: S311 - a simulation's draw, not a secret
        counts = {"visited": 0, "fault_found": 0}
        for wo in sorted(orders, key=lambda o: int(o["id"])):
            if wo["status"] != "scheduled":
                continue
            outcome = crew_outcome(
                wo,
                failures.get(wo["asset_id"], []),
                self.raised_at.get(wo.get("source_alert_id") or ""),
                datetime.now(UTC),  # the completion comes after: a time reported is not after it
                round(rng.uniform(45, 240), 1),
            )
            self.api.visit(wo, outcome)
            counts["visited"] += 1
            counts["fault_found"] += outcome["fault_found"]
        return counts

    def close(self) -> None:
        """Close the run's clients; end its stopped gateway's broker session (``end_gateway_sessions``)."""
        for tail in self.tails:
            tail.close()
        self.tails = []
        self.api.close()
        if "gateway" in self.supervisor.components and not self.supervisor.alive("gateway"):
            self.end_gateway_sessions([self.plan.env["FOREWARN_GATEWAY_GATEWAY_ID"]])

    def end_gateway_sessions(self, gateway_ids: list[str]) -> None:
        """A finished run's gateways will not come back: end their broker sessions, or the broker
        queues a copy of every later message on the run's sites for each of them until the sessions
        expire (``ingest/session.py``: 1.2 million messages and 14 s of broker CPU in the next bench
        run). A broker that does not answer is said, not raised: the run's results stand."""
        from forewarn.settings import MqttSettings, load
        from ingest.session import SessionError, end_session
        from ingest.settings import gateway_client_id

        mqtt_settings = load(MqttSettings, Path(self.plan.env["FOREWARN_STATE_DIR"]))
        for gateway_id in gateway_ids:
            try:
                end_session(gateway_client_id(gateway_id), mqtt_settings)
            except SessionError as exc:
                self.say(f"note: the broker session of gateway {gateway_id} stays until it expires: {exc}")


def crew_outcome(
    work_order: dict[str, Any],
    failures: list[Failure],
    alert_at: datetime | None,
    now: datetime,
    time_on_site_min: float,
) -> dict[str, Any]:
    """The completion body (``CompleteIn``) of a demo crew at ``work_order``, whose asset has
    ``failures`` in the simulator's truth (by time), completing at ``now`` or just after.

    A fault is found when the asset has a failure in the truth (past or still ahead: the simulator
    cannot repair a pump, the crew finds it degrading). It is the failure the alert warned of: the
    asset's first at or after the reading that raised the alert (``alert_at``; the first at all when
    the run did not see the alert), else, all of them before the alert, the asset's last. Its mode is
    the failure code; its time is reported as ``failed_at`` (a fault label's time) only when that
    failure has happened by ``now`` (not censored: still ahead when the run ended) and lies within
    the service's look-back before the order was opened; otherwise the crew cannot tell when, and
    the label falls back to the visit's time. The service would refuse the other times.
    """
    warned = next((f for f in failures if alert_at is None or f.at >= alert_at), None)
    found = warned or (failures[-1] if failures else None)
    if found is None:
        return {
            "fault_found": False,
            "failure_code": None,
            "notes": "demo crew: nothing found",
            "parts_used": {},
            "time_on_site_min": time_on_site_min,
        }
    outcome: dict[str, Any] = {
        "fault_found": True,
        "failure_code": found.mode,
        "notes": "demo crew",
        "parts_used": {p["sku"]: p["reserved_qty"] for p in work_order["parts"] if p["reserved_qty"]},
        "time_on_site_min": time_on_site_min,
    }
    opened = datetime.fromisoformat(work_order["created_at"])
    if found is warned and not found.censored and opened - FAILED_AT_LOOKBACK <= found.at <= now:
        outcome["failed_at"] = found.at.astimezone(UTC).isoformat()
    return outcome


def _first_technician(database_url: str) -> int:
    """The id of the first technician the catalogue seeded (the demo's technician user is theirs)."""
    from sqlalchemy import select

    from alerts.store.db import make_engine, session_factory, transaction
    from alerts.store.tables import TechnicianRow

    engine = make_engine(database_url)
    try:
        with transaction(session_factory(engine)) as session:
            found = session.scalar(select(TechnicianRow.id).order_by(TechnicianRow.id).limit(1))
    finally:
        engine.dispose()
    if found is None:
        raise RunError("the catalogue seeded no technician: no technician user can be created")
    return int(found)


def read_failures(truth: Path) -> list[Failure]:
    """Failures of the run (and the censored ones still ahead) from the simulator's ground truth."""
    failures = []
    for raw in truth.read_bytes().splitlines():
        event = orjson.loads(raw)
        if event.get("event") in ("failure", "censored"):
            failures.append(
                Failure(
                    asset_id=event["asset_id"],
                    mode=event["mode"],
                    onset=datetime.fromtimestamp(event["onset_ts"] / 1000, tz=UTC),
                    at=datetime.fromtimestamp(event["failure_ts"] / 1000, tz=UTC),
                    censored=event["event"] == "censored",
                )
            )
    return failures


def _truth_assets(truth: Path) -> tuple[dict[str, Any], set[str]]:
    header: dict[str, Any] = {}
    assets: set[str] = set()
    for raw in truth.read_bytes().splitlines():
        event = orjson.loads(raw)
        if event.get("event") == "run":
            header = event
        elif "asset_id" in event:
            assets.add(event["asset_id"])
    return header, assets


def mlflow_client() -> Any:
    """An MLflow client of the stack's tracking server, authenticated as the settings' user
    (:func:`models.tracking.client`: a bare one gets 401 from the secured stack)."""
    from forewarn.settings import MlflowSettings, load
    from models.tracking import client

    return client(load(MlflowSettings))
