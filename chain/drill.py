"""``make drill``: while the fleet streams, kill -9 each part of the chain in turn and restart it.

Order: the gateway, the Kafka broker, the scoring job, the alert engine, InfluxDB. Pipeline
processes are restarted by the run's supervisor, stack services by ``forewarn stack up`` (the same
script that started them). At the end the run must show 0 readings lost (every published reading
on `telemetry` or dead-lettered, every one of them scored) and 0 duplicate work orders.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chain.fleetrun import FleetRun, Say
from chain.ledger import account
from chain.plan import plan
from chain.settings import DemoSettings
from infra.stack import stack as stack_ops
from infra.stack.process import group_alive, is_alive, signal_group
from infra.stack.service import StackContext

PIPELINE = ("gateway", "stream", "engine")
VICTIMS = ("gateway", "kafka", "stream", "engine", "influxdb")


@dataclass
class Drill:
    """The kill schedule and what happened."""

    run: FleetRun
    ctx: StackContext
    say: Say
    at_s: dict[str, float]
    down_s: float = 5.0
    done: list[dict[str, Any]] = field(default_factory=list)

    def tick(self, elapsed_s: float) -> None:
        """Kill whatever is due (one per tick), then bring it back."""
        for victim in VICTIMS:
            if victim in {d["victim"] for d in self.done} or elapsed_s < self.at_s[victim]:
                continue
            started = time.monotonic()
            pid = self._kill(victim)
            self.say(f"!! kill -9 {victim} (pid {pid}) at t+{elapsed_s:.0f}s; back in {self.down_s:.0f}s")
            time.sleep(self.down_s)
            self._restart(victim)
            took = time.monotonic() - started
            self.done.append(
                {"victim": victim, "pid": pid, "at_s": round(elapsed_s, 1), "back_after_s": round(took, 1)}
            )
            self.say(f"!! {victim} back after {took:.0f}s")
            return

    def _kill(self, victim: str) -> int:
        if victim in PIPELINE:
            return self.run.supervisor.kill9(victim)
        pid = int((self.ctx.run / f"{victim}.pid").read_text().strip())
        signal_group(pid, signal.SIGKILL)
        while is_alive(pid) or group_alive(pid):
            time.sleep(0.1)
        return pid

    def _restart(self, victim: str) -> None:
        if victim in PIPELINE:
            self.run.supervisor.restart(victim)
        else:
            stack_ops.up(self.ctx, lambda _: None)


def duplicate_work_orders(orders: list[dict[str, Any]]) -> list[str]:
    """Work orders that duplicate another: the same source alert, or two open for one (asset, mode)."""
    problems = []
    by_alert = Counter(wo["source_alert_id"] for wo in orders if wo.get("source_alert_id"))
    problems += [f"alert {a} has {n} work orders" for a, n in by_alert.items() if n > 1]
    open_statuses = {"requested", "approved", "waiting_parts", "scheduled", "in_progress"}
    by_key = Counter((wo["asset_id"], wo["failure_mode"]) for wo in orders if wo["status"] in open_statuses)
    problems += [f"{k[0]}/{k[1]} has {n} open work orders" for k, n in by_key.items() if n > 1]
    return problems


def run_drill(state_dir: Path, settings: DemoSettings, say: Say) -> bool:
    """The drill; True when nothing was lost and no work order was duplicated."""
    run_id = "drill-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run = FleetRun(plan(state_dir, settings, run_id, None, None), say)
    ctx = StackContext.from_env()
    wall_s = settings.steps * settings.interval_s / float(settings.speed)
    at = {victim: wall_s * (i + 1) / (len(VICTIMS) + 1) for i, victim in enumerate(VICTIMS)}
    drill = Drill(run, ctx, say, at)
    try:
        run.prepare()
        if not run.has_champion():
            say(f"== training {run.plan.model_name} (no champion yet)")
            run.train()
        run.seed_catalogue()
        run.start_pipeline()
        say(f"== drill {run_id}: {settings.assets} pumps for ~{wall_s:.0f}s; kills at "
            + ", ".join(f"{v} t+{t:.0f}s" for v, t in at.items()))  # fmt: skip
        sim = run.simulate()
        run.watch(sim, settings.progress_s, during=drill.tick)
        run.finish(sim)
        while len(drill.done) < len(VICTIMS):  # the simulator was faster than the schedule
            drill.tick(float("inf"))
        published = run.published(sim)
        say("== settling …")
        run.settle(published, settings.settle_timeout_s)
        verdict = account(published, run.ledger, exact=False)
        orders = run.api.work_orders()
        duplicates = duplicate_work_orders(orders)
        n = verdict.numbers
        say("")
        say("== drill result")
        for kill in drill.done:
            back = kill["back_after_s"]
            say(f"killed {kill['victim']:<9} at t+{kill['at_s']:>5.0f}s, back after {back:.0f}s")
        say(f"published        {n['published_distinct_readings']:,} distinct readings"
            f" ({n['published_readings']:,} sent,"
            f" {n['published_malformed_messages']} malformed messages)")  # fmt: skip
        say(f"telemetry        {n['telemetry_distinct_readings']:,} distinct"
            f" ({n['telemetry_duplicate_readings']} duplicates: injected or redelivered)")  # fmt: skip
        say(f"dead letters     gateway {n['gateway_dead_letters']}, scoring job {n['stream_dead_letters']}")
        say(f"lost             {n['missing_readings']}")
        say(f"unscored         {n['unscored_readings']}")
        say(f"work orders      {len(orders)}, duplicates {len(duplicates)}")
        for problem in [*verdict.failures, *duplicates]:
            say(f"FAIL {problem}")
        ok = verdict.ok and not duplicates
        say("drill passed: 0 readings lost, all scored, 0 duplicate work orders" if ok else "drill FAILED")
        return ok
    finally:
        run.supervisor.stop_all()
        run.close()
