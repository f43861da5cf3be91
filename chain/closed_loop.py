"""The closed loop, run for real: the data shifts, drift is seen, work orders relabel, a retrained
model takes over, and the next fleet is judged against the last.

Phase 1 streams a fleet in which one site changes mid-run (:class:`ingest.fleet.FleetChange`, by
default a new duty point the champion never saw). Crews visit the work orders while the fleet
streams (a false alarm at once, a real fault when the pump fails: :func:`visit`), so each outcome
becomes a label: a fault at the time the pump failed (the crew reports it, ``failed_at``), a sound
pump at the time the crew saw it.
``forewarn models watch`` (started with the pipeline) sees the site's drift, and once enough labels
have come in it retrains from them and the original training source, judges the challenger against
the champion on recently labelled assets and, under the MANAGED policy, promotes it; the scoring
job hot-swaps the new champion. Phase 2 streams the same fleet again (same seed, new asset ids)
with the changed site at the new point from its first reading. Before (phase 1, the changed site
from the change to the first promotion: the old champion) and after (phase 2, the changed site over
the same steps, and over the whole phase: the new champion) are judged the same way: failures
warned in time, missed, and false alarms.

Event time equals wall time here (the closed loop runs in real time, ``speed`` 1): a crew's time on
site and the readings it labels are on one clock, as they are in the field. A compressed demo would
stamp labels hours after the readings they judge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson

from chain.fleetrun import FleetRun, Say, Simulation, read_failures
from chain.outcomes import Outcomes, Warning, judge
from chain.settings import DemoSettings
from ingest.fleet import Fleet, FleetChange, FleetConfig

# phase 2 replays the fleet (same seed: the same pumps and hidden lives) under new asset ids, so the
# two phases are paired: what differs is the model and, on the changed site, the change from step 0
PHASE_2_PREFIX = "pumpb"
CREW_FOUND_BEFORE_STEPS = 5  # a failure this many readings before the visit is still found on site


@dataclass(frozen=True)
class Truth:
    """Each asset's failures (event-time ms, mode), the ones still ahead at the end included."""

    failures: dict[str, list[tuple[int, str]]]
    site_of: dict[str, str]

    def next_failure(self, asset_id: str, from_ms: float) -> tuple[int, str] | None:
        """The asset's first failure at or after ``from_ms`` (time, mode), or None."""
        for at_ms, mode in self.failures.get(asset_id, []):
            if at_ms >= from_ms:
                return at_ms, mode
        return None


class Visit(StrEnum):
    """What a crew on call does with a scheduled work order now."""

    NOTHING_FOUND = "nothing_found"  # no failure within reach: a false alarm, closed at once
    FAULT_FOUND = "fault_found"  # the pump has failed: the crew confirms the fault
    LATER = "later"  # the pump fails within reach: the crew comes when it does


def visit(
    truth: Truth,
    asset_id: str,
    now_ms: int,
    before_ms: float,
    ahead_ms: float,
    warned_from_ms: float | None = None,
) -> tuple[Visit, tuple[int, str] | None]:
    """The crew's move for one scheduled work order, and the failure it finds (time in ms, mode).

    The simulator cannot repair a pump: a pump with a failure ahead degrades to it and is replaced
    then, whatever a crew found before. So a crew confirms a fault when the pump fails, and the
    label's time is the failure's (the crew reports it as ``failed_at``: the readings before it are
    that life's, the ones after a new pump's); a pump with no failure within ``ahead_ms`` is visited
    at once and labelled a false alarm. A crew that comes after the pump failed still finds that
    failure when it came after the reading that raised the alert (``warned_from_ms``: the alert
    warned of it), or at most ``before_ms`` before the visit; it does not take the replacement pump
    for a false alarm.
    """
    since_ms = now_ms - before_ms if warned_from_ms is None else min(now_ms - before_ms, warned_from_ms)
    failure = truth.next_failure(asset_id, since_ms)
    if failure is None or failure[0] > now_ms + ahead_ms:
        return Visit.NOTHING_FOUND, None
    if failure[0] <= now_ms:
        return Visit.FAULT_FOUND, failure
    return Visit.LATER, None


def crew_report(work_order: dict[str, Any], failure: tuple[int, str] | None) -> dict[str, Any]:
    """The completion body (``CompleteIn``) of a crew that found ``failure`` (time in ms, mode), or
    nothing: a found fault uses the reserved kit and carries the failure's time and mode."""
    if failure is None:
        return {"fault_found": False, "notes": "crew on call: nothing found", "time_on_site_min": 60.0}
    at_ms, mode = failure
    return {
        "fault_found": True,
        "failure_code": mode,
        "failed_at": datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(),
        "notes": "crew on call",
        "parts_used": {p["sku"]: p["reserved_qty"] for p in work_order["parts"] if p["reserved_qty"]},
        "time_on_site_min": 60.0,
    }


def fleet_truth(config: FleetConfig) -> Truth:
    """The simulator's hidden failures for ``config``, computed in-process (the fleet is seeded:
    the same config gives the readings the simulator publishes, so the crews know what they find)."""
    fleet = Fleet(config)
    site_of: dict[str, str] = {}
    for asset, _ in fleet.readings():
        site_of[asset.asset_id] = asset.site
    failures: dict[str, list[tuple[int, str]]] = {}
    for event in fleet.truth:
        failures.setdefault(event.asset_id, []).append((event.failure_ts_ms, event.mode.value))
    return Truth({a: sorted(f) for a, f in failures.items()}, site_of)


def fleet_config(d: DemoSettings, start: datetime, prefix: str, change: FleetChange | None) -> FleetConfig:
    """The config ``forewarn simulate`` builds from the same options (see FleetRun.simulate)."""
    return FleetConfig(
        d.assets, tuple(d.sites), d.seed, start, d.interval_s, d.steps, d.failing_share,
        asset_prefix=prefix, change=change,
    )  # fmt: skip


@dataclass
class Crews:
    """Field crews on call: each scheduled work order is visited as :func:`visit` says."""

    run: FleetRun
    truth: Truth
    visited: int = 0
    fault_found: int = 0

    def visit_scheduled(self) -> None:
        d = self.run.plan.demo
        for wo in self.run.api.work_orders():
            if wo["status"] != "scheduled" or wo["asset_id"] not in self.truth.site_of:
                continue
            raised = self.run.raised_at.get(wo.get("source_alert_id") or "")
            move, failure = visit(
                self.truth, wo["asset_id"], int(time.time() * 1000),
                CREW_FOUND_BEFORE_STEPS * d.interval_s * 1000, d.max_lead_readings * d.interval_s * 1000,
                None if raised is None else raised.timestamp() * 1000,
            )  # fmt: skip
            if move is Visit.LATER:
                continue
            self.run.api.visit(wo, crew_report(wo, failure))
            self.visited += 1
            self.fault_found += failure is not None


def figures(
    outcomes: Outcomes,
    site_of: dict[str, str],
    site: str,
    since: datetime | None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """How one site was warned in ``[since, until)``: failures, warned in time, missed, false alarms.

    A failure counts by its time, a false alarm by the time it was raised. ``missed``: failures no
    work order warned of at all; ``false_alarm_rate``: false alarms per work order judged (those
    warning of a failure in the window plus the false alarms).
    """

    def mine(asset_id: str, at: datetime) -> bool:
        return (
            site_of.get(asset_id) == site and (since is None or at >= since) and (until is None or at < until)
        )

    judged = [j for j in outcomes.judged if mine(j.failure.asset_id, j.failure.at)]
    false_alarms = [w for w in outcomes.false_alarms if mine(w.asset_id, w.raised_at)]
    warned = [j for j in judged if j.warning is not None]
    orders = len(warned) + len(false_alarms)
    return {
        "failures": len(judged),
        "warned_in_time": sum(j.in_time for j in judged),
        "missed": len(judged) - len(warned),
        "missed_rate": (len(judged) - len(warned)) / len(judged) if judged else None,
        "false_alarms": len(false_alarms),
        "work_orders_judged": orders,
        "false_alarm_rate": len(false_alarms) / orders if orders else None,
    }


def _judge(run: FleetRun, sim: Simulation, assets: set[str]) -> Outcomes:
    d = run.plan.demo
    warnings = [
        Warning(wo["id"], wo["asset_id"], wo["failure_mode"], run.raised_at[wo["source_alert_id"]])
        for wo in run.api.work_orders()
        if wo["asset_id"] in assets and wo.get("source_alert_id") in run.raised_at
    ]
    return judge(read_failures(sim.truth), warnings, d.min_lead_readings * d.interval_s,
                 d.max_lead_readings * d.interval_s)  # fmt: skip


def _champion(run: FleetRun) -> str | None:
    from chain.fleetrun import mlflow_client
    from models import registry

    return registry.version_by_alias(mlflow_client(), run.plan.model_name, "champion")


def _stream(
    run: FleetRun, prefix: str, change: FleetChange, start: datetime, crews: Crews, say: Say
) -> Simulation:
    d = run.plan.demo
    sim = run.simulate(prefix=prefix, change=str(change), start=start)
    run.watch(sim, d.progress_s, during=lambda _: crews.visit_scheduled())
    run.finish(sim)
    accounting = run.settle(run.published(sim), d.settle_timeout_s)
    if not accounting.ok:
        say(f"   not all readings accounted for yet: {'; '.join(accounting.failures)}")
    run.replan()
    crews.visit_scheduled()
    return sim


def model_events(run: FleetRun) -> list[dict[str, Any]]:
    """The run model's events from InfluxDB (`model_events`), oldest first."""
    from forewarn.influx import query

    series = query(run.plan.influx, 'SELECT * FROM "model_events" WHERE "model_name" = $name',
                   params={"name": run.plan.model_name})  # fmt: skip
    return [{k: v for k, v in row.items() if v is not None} for s in series for row in s.rows()]


def drift_points(run: FleetRun) -> int:
    """How many `feature_drift` points the watch wrote for the run's model."""
    from forewarn.influx import query

    series = query(run.plan.influx, 'SELECT count("psi") FROM "feature_drift" WHERE "model_name" = $name',
                   params={"name": run.plan.model_name})  # fmt: skip
    return sum(int(row["count"]) for s in series for row in s.rows())


def _first_promotion(events: list[dict[str, Any]], after: datetime) -> datetime | None:
    """When the first ``promoted`` event after ``after`` happened (event points carry their time)."""
    times = [
        datetime.fromtimestamp(e["time"] / 1000, tz=UTC)
        for e in events
        if e.get("action") == "promoted" and e["time"] / 1000 >= after.timestamp()
    ]
    return min(times) if times else None


def run_closed_loop(run: FleetRun, say: Say) -> tuple[dict[str, Any], tuple[Simulation, Simulation]]:
    """Phase 1 with the change, wait for the watch to retrain and promote, phase 2; the figures
    (also in the run folder's ``closed_loop.json``) and both simulations.

    Without a promotion within ``drift_wait_s`` (the gate refused every challenger, say) phase 2
    runs with the same champion and the figures say so (``champion_after`` = ``champion_before``).
    """
    d = run.plan.demo
    change = FleetChange.parse(d.drift_change)
    before_version = _champion(run)
    start = _soon()
    truth = fleet_truth(fleet_config(d, start, run.plan.asset_prefix, change))
    crews = Crews(run, truth)
    say(f"== phase 1: {d.assets} pumps in real time; from reading {change.at_step} {change.site} runs"
        f" as '{change.kind.value}'; crews visit work orders as they are scheduled")  # fmt: skip
    sim1 = _stream(run, run.plan.asset_prefix, change, start, crews, say)
    changed_at = start + timedelta(seconds=change.at_step * d.interval_s)
    say(f"   crews visited {crews.visited} work orders ({crews.fault_found} with a fault): labels")
    say(f"== waiting for `forewarn models watch` to retrain on the labels and promote"
        f" (at most {d.drift_wait_s:.0f} s) …")  # fmt: skip
    deadline = time.monotonic() + d.drift_wait_s
    after_version = _champion(run)
    while after_version == before_version and time.monotonic() < deadline:
        time.sleep(5)
        run.poll()
        crews.visit_scheduled()
        after_version = _champion(run)
    if after_version == before_version:  # a refused gate is an outcome too: judged like any other
        say(f"   no new champion within {d.drift_wait_s:.0f} s (the model events say why;"
            f" {run.supervisor.log_file('watch')}); phase 2 runs with version {before_version}")  # fmt: skip
    else:
        say(f"   version {after_version} promoted over {before_version};"
            " waiting for the scoring job to swap it in")  # fmt: skip
        time.sleep(d.swap_wait_s)
    start2 = _soon()
    change2 = FleetChange(change.site, 0, change.kind)
    truth2 = fleet_truth(fleet_config(d, start2, PHASE_2_PREFIX, change2))
    crews2 = Crews(run, truth2)
    say(f"== phase 2: another {d.assets} pumps, {change.site} at the new point from the first reading")
    sim2 = _stream(run, PHASE_2_PREFIX, change2, start2, crews2, say)
    phase1 = _judge(run, sim1, set(truth.site_of))
    phase2 = _judge(run, sim2, set(truth2.site_of))
    sites = sorted(set(d.sites))
    events = model_events(run)
    swapped_at = _first_promotion(events, after=start)
    result = {
        "change": str(change),
        "champion_before": before_version,
        "champion_after": after_version,
        "changed_at": changed_at.isoformat(),
        "promoted_at": None if swapped_at is None else swapped_at.isoformat(),
        # the old champion's watch: from the change to the first promotion after it; the new one's:
        # the same steps of the replayed fleet (same pumps, same lives), and the whole of phase 2
        "before": figures(phase1, truth.site_of, change.site, changed_at, swapped_at),
        "after": figures(
            phase2,
            truth2.site_of,
            change.site,
            start2 + (changed_at - start),
            None if swapped_at is None else start2 + (swapped_at - start),
        ),
        "after_whole_phase": figures(phase2, truth2.site_of, change.site, None),
        "by_site": {
            site: {
                "phase1": figures(phase1, truth.site_of, site, None),
                "phase2": figures(phase2, truth2.site_of, site, None),
            }
            for site in sites
        },
        "phase2_scored_by": sorted(
            {v for (asset, v), _ in run.ledger.scored_by.items() if asset in truth2.site_of}
        ),
        "crews": {
            "visited": crews.visited + crews2.visited,
            "fault_found": crews.fault_found + crews2.fault_found,
        },
        "model_events": events,
        "feature_drift_points": drift_points(run),
    }
    (run.plan.run_dir / "closed_loop.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return result, (sim1, sim2)


def render(result: dict[str, Any]) -> str:
    """The before/after lines a person reads."""
    b, a = result["before"], result["after"]

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    def line(label: str, f: dict[str, Any]) -> str:
        return (
            f"   {label}: failures {f['failures']}, in time {f['warned_in_time']}, missed {f['missed']}"
            f" (rate {rate(f['missed_rate'])}), false alarms {f['false_alarms']} of"
            f" {f['work_orders_judged']} (rate {rate(f['false_alarm_rate'])})"
        )

    actions = [e.get("action", "?") for e in result["model_events"]]
    return "\n".join(
        [
            f"== closed loop on {result['change']}: champion {result['champion_before']}"
            f" -> {result['champion_after']}",
            f"   model events: {', '.join(actions) or 'none'}",
            f"   feature_drift points: {result['feature_drift_points']}",
            line("before (old champion, changed site, change to promotion)", b),
            line("after  (new champion, the same steps of the replay)    ", a),
            line("after  (new champion, the whole replay)                ", result["after_whole_phase"]),
        ]
    )


def _soon() -> datetime:
    """A fleet's first event time: a moment from now, so its real-time pacing starts on it."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
