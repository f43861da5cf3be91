"""End-to-end benchmark (``make bench-chain``): MQTT publish → gateway → Kafka → Spark → ``risk``.

The whole running pipeline of a demo run (gateway, scoring job, alert engine, work-order API, each
its own process, :class:`chain.fleetrun.FleetRun`) on its own topics, with a pump model trained as
``make demo`` trains it. The simulator then publishes a pump fleet in real time for ``--seconds``
at ``--rate`` readings/s from ``--assets`` assets (event time = publish time; ``--batch``
readings of one asset per MQTT message, the simulator's default 10), and the bench waits until
every published reading is on ``telemetry`` (or dead-lettered) and scored (or dead-lettered).

Reported: offered and achieved readings/s (from the first publish to the last ``telemetry`` and
``risk`` record, Kafka timestamps; and how long after the last publish the last risk record came),
reading → risk latency p50/p99/max (the risk record's Kafka timestamp minus the reading's event
time), the exact accounting per stage (published = telemetry + gateway dead letters; telemetry =
scored + scoring-job dead letters; nothing missing, nothing unscored), and CPU seconds and peak
memory per process. ``--gateways N`` runs N gateway processes in one MQTT shared-subscription
group (``$share/<run>/…``), which split the messages between them. ``--to-risk-only`` starts only
what a reading passes through up to ``risk`` (gateway and scoring job): no alert engine, work-order
API, model watcher or dispatcher on the same cores. The path's own capacity, for a deployment that
runs those elsewhere; the default, the whole product on one machine, is the figure to compare across
runs.

Usage: ``python -m bench.chain [--rate R] [--assets N] [--seconds S] [--gateways G] [--to-risk-only]
[--out FILE]``.
Loopback only; the run's folder stays in ``<state>/runs/bench-…`` (logs), its processes are stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from bench import host
from bench.procfs import machine_cpu_s
from chain.fleetrun import FleetRun, Say
from chain.ledger import account
from chain.plan import plan
from chain.processes import Component, Supervisor, group_usage
from chain.settings import DemoSettings
from forewarn.cpu_share import session_nice
from forewarn.paths import project_root
from forewarn.settings import StackSettings, load
from infra.stack.mosquitto import held_text, persisted_bytes

STACK_SERVICES = ("mosquitto", "kafka", "influxdb", "mlflow")


def _usage(run: FleetRun, extra: list[Supervisor], state_dir: Path) -> dict[str, dict[str, float | None]]:
    """CPU seconds so far, peak RSS (VmHWM) and the session's nice value (its share of busy cores,
    ``forewarn.cpu_share``) per pipeline process and per stack service."""
    usage: dict[str, dict[str, float | None]] = {}
    for supervisor in [run.supervisor, *extra]:
        for name in supervisor.components:
            cpu, peak, leader = supervisor.cpu_s(name), supervisor.peak_rss_mb(name), supervisor.pid(name)
            usage[name] = {"cpu_s": None if cpu is None else round(cpu, 1), "peak_rss_mb": _r(peak),
                           "session_nice": None if leader is None else session_nice(leader)}  # fmt: skip
    for service in STACK_SERVICES:
        try:
            pid = int((state_dir / "run" / f"{service}.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            continue
        cpu, peak = group_usage(pid)
        usage[service] = {"cpu_s": round(cpu, 1), "peak_rss_mb": _r(peak), "session_nice": session_nice(pid)}
    return usage


def _load_cpu_s() -> dict[str, float]:
    """CPU seconds so far of this process and of its children that ended (the simulator)."""
    own, ended = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"simulator": ended.ru_utime + ended.ru_stime, "bench": own.ru_utime + own.ru_stime}


def _machine_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """The machine's busy and stolen CPU seconds between two :func:`bench.procfs.machine_cpu_s`."""
    pairs = (("busy", "busy"), ("stolen", "steal"))
    return {key: round(after[name] - before[name], 1) for key, name in pairs}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _delta(
    after: dict[str, dict[str, float | None]], before: dict[str, dict[str, float | None]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, now in after.items():
        was = before.get(name, {}).get("cpu_s") or 0.0
        cpu = now["cpu_s"]
        out[name] = {"cpu_s": None if cpu is None else round(cpu - was, 1), "peak_rss_mb": now["peak_rss_mb"],
                     "session_nice": now.get("session_nice")}  # fmt: skip
    return out


def _extra_gateways(run: FleetRun, count: int) -> list[Supervisor]:
    """Gateways 2..count: the run's settings, each its own gateway id (client id, spool), one share group."""
    base = run.plan.env["FOREWARN_GATEWAY_GATEWAY_ID"]
    extra = []
    for k in range(2, count + 1):
        env = {**run.plan.env, "FOREWARN_GATEWAY_GATEWAY_ID": f"{base}-{k}"}
        supervisor = Supervisor(run.plan.run_dir, env, project_root())
        supervisor.start(Component(f"gateway-{k}", ["gateway", "run"], ready_log="subscribed to"))
        extra.append(supervisor)
    return extra


def _warm_up(run: FleetRun, fleet: DemoSettings, timeout_s: float = 600) -> float:
    """A few readings of up to 200 other assets through the whole chain, scored before the measured
    phase: the job's Python workers have loaded the model and Spark has run its first batches (a
    running pipeline has). The seconds that took."""
    started = time.monotonic()
    warm = fleet.model_copy(update={"assets": min(fleet.assets, 200), "steps": 3, "speed": "max"})
    sim = run.simulate(warm, prefix="warm")
    run.finish(sim)
    run.settle(run.published(sim), timeout_s=timeout_s, every_s=1.0)
    return round(time.monotonic() - started, 1)


def stages(numbers: dict[str, int]) -> dict[str, Any]:
    """The accounting hop by hop: what went into each stage and where each reading went."""
    published = numbers["published_readings"] + numbers["published_malformed_messages"]
    on_telemetry = numbers["telemetry_readings"]
    return {
        "mqtt_to_telemetry": {
            "published_readings_and_malformed_messages": published,
            "telemetry_readings": on_telemetry,
            "gateway_dead_letters": numbers["gateway_dead_letters"],
            "balanced": published == on_telemetry + numbers["gateway_dead_letters"],
        },
        "telemetry_to_risk": {
            "telemetry_distinct_readings": numbers["telemetry_distinct_readings"],
            "scored_distinct_readings": numbers["scored_distinct_readings"],
            "scoring_dead_letters": numbers["stream_dead_letters"],
            "unscored_readings": numbers["unscored_readings"],
            "balanced": numbers["unscored_readings"] == 0,
        },
    }


def end_to_end(
    state_dir: Path,
    say: Say,
    rate: float,
    assets: int,
    seconds: float,
    gateways: int = 1,
    batch: int = 10,
    keep_topics: bool = False,
    alerting: bool = True,
) -> dict[str, Any]:
    """The sustained phase through the whole running pipeline (its own run: topics, store, model).

    ``alerting``: False runs only the gateway and the job (:attr:`chain.fleetrun.FleetRun.alerting`).
    ``keep_topics``: the run's Kafka topics stay (its ``risk`` topic is a realistic input for
    ``python -m bench.alerts --replay-topic``); its InfluxDB database and model are dropped anyway.
    """
    # the run (and its model, trained as the demo trains it) on the demo's settings; the fleet it
    # publishes: real time (event time = publish time), ``rate`` readings/s, no injected faults
    settings = load(DemoSettings, state_dir, api_port=8911, progress_s=5.0)
    steps = max(1, round(rate * seconds / assets))
    fleet = settings.model_copy(
        update={"assets": assets, "steps": steps, "interval_s": assets / rate, "speed": "1", "batch": batch,
                "malformed": 0.0, "duplicates": 0.0, "out_of_order": 0.0}
    )  # fmt: skip
    run_id = "bench-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    latencies: list[float] = []

    def timed(records: list[tuple[bytes, int]]) -> None:
        for value, kafka_ts in records:
            record = orjson.loads(value)
            if not str(record.get("asset_id", "")).startswith("bench-"):
                continue  # the warm-up fleet's
            event = datetime.fromisoformat(record["event_ts"]).timestamp() * 1000
            latencies.append(kafka_ts - event)

    # its own InfluxDB database (dropped at the end), so the boards and the console of the default
    # one never show the benchmark's thousands of assets
    run = FleetRun(plan(state_dir, settings, run_id, f"bench-{run_id}", f"bench-model-{run_id}"), say,
                   alerting=alerting)  # fmt: skip
    run.risk_timed = timed
    extra: list[Supervisor] = []
    try:
        run.prepare()
        say(f"-- end to end: training the demo's pump model ({run_id})")
        trained = run.train()
        run.seed_catalogue()
        run.start_pipeline()
        extra = _extra_gateways(run, gateways)
        warm_s = _warm_up(run, fleet)
        before, machine0 = _usage(run, extra, state_dir), machine_cpu_s()
        load0 = _load_cpu_s()
        say(f"-- end to end: {rate:g} readings/s, {assets} assets, {seconds:g} s, {gateways} gateway(s)")
        telemetry_tail, risk_tail = run.tails[0], run.tails[2]
        # counted once the job is done: reading both topics as they grew took 17 s of this process's
        # CPU per run (py-spy, 4 Dec 2026) from the two cores the pipeline runs on. The dispatcher
        # (`poll`) and the small topics (alerts, dead letters) are read live, as an operator would.
        run.tails = [tail for tail in run.tails if tail not in (telemetry_tail, risk_tail)]
        sim = run.simulate(fleet, prefix="bench")
        run.watch(sim, every_s=5.0)
        summary = run.finish(sim)
        load1 = _load_cpu_s()  # the simulator has ended and was reaped: its time is this process's children's
        published_s = float(summary.get("elapsed_s") or time.monotonic() - sim.started)
        _scored_by_offsets(run, timeout_s=max(600.0, 5 * seconds))
        alerts_done = _alerts_caught_up(run, timeout_s=max(600.0, 5 * seconds)) if alerting else None
        run.tails = [telemetry_tail, run.tails[0], risk_tail, *run.tails[1:]]
        published = run.published(sim)
        settled = run.settle(published, timeout_s=max(600.0, 5 * seconds), every_s=1.0)
        verdict = account(published, run.ledger, exact=True)
        values = np.asarray(latencies)
        start_s = sim.started_wall
        readings = len(published.keys)

        def per_s(last_ms: int | None) -> float | None:
            return None if last_ms is None else round(readings / (last_ms / 1000 - start_s), 1)

        return {
            "run": run_id,
            "model": trained,
            "warm_up_s": warm_s,
            "offered": {"readings_per_s": rate, "assets": assets, "seconds": seconds, "steps": steps,
                        "readings_per_message": batch, "gateways": gateways,
                        # what ran on the cores: the whole product, or the path up to `risk` alone
                        "processes": [c.name for c in run.components()],
                        # a message goes out at its last reading's event time: its first reading
                        # waited this long at the publisher, and its latency includes that wait
                        "publisher_batching_wait_s_max": round((batch - 1) * assets / rate, 2)},
            "published": {"readings": summary.get("readings"), "messages": summary.get("messages"),
                          "publish_s": round(published_s, 1),
                          "readings_per_s": round(readings / max(1e-9, published_s), 1)},
            "achieved": {
                "mqtt_to_telemetry_readings_per_s": per_s(telemetry_tail.last_ts_ms),
                "mqtt_to_risk_readings_per_s": per_s(risk_tail.last_ts_ms),
                "last_risk_after_last_publish_s": (
                    None if risk_tail.last_ts_ms is None
                    else round(risk_tail.last_ts_ms / 1000 - (start_s + published_s), 1)
                ),
                # the alert engine has committed every risk record (checked once a second)
                "mqtt_to_alerts_evaluated_readings_per_s": per_s(
                    None if alerts_done is None else round(alerts_done * 1000)
                ),
                "alerts_evaluated_after_last_publish_s": (
                    None if alerts_done is None else round(alerts_done - (start_s + published_s), 1)
                ),
            },
            "latency": {
                "risk_records": int(values.size),
                "reading_to_risk_ms_p50": _r(float(np.percentile(values, 50))) if values.size else None,
                "reading_to_risk_ms_p99": _r(float(np.percentile(values, 99))) if values.size else None,
                "reading_to_risk_ms_max": _r(float(values.max())) if values.size else None,
            },
            "accounting": {"ok": verdict.ok and settled.ok, "failures": list(verdict.failures),
                           "numbers": verdict.numbers, "stages": stages(verdict.numbers)},
            "processes": _delta(_usage(run, extra, state_dir), before),
            # the same window for the whole machine: what all of the above and the rest used, and
            # what the hypervisor gave other guests (the same code ran 6,074 and 7,866/s an hour
            # apart on 5 Dec 2026, every process's CPU 20-40 % higher in the slower run)
            "machine_cpu_s": _machine_delta(machine0, machine_cpu_s()),
            # the load on the same cores, while the fleet published: the simulated fleet, and this
            # process (the dispatcher, the small topics' tails)
            "load_cpu_s": {name: round(load1[name] - load0[name], 1) for name in load0},
            # the run's dispatcher: approvals, and the crew plans (CP-SAT) the API ran for it
            "dispatcher": {"work_orders": len(run.dispatched), "plans": run.plans},
        }  # fmt: skip
    finally:
        for supervisor in extra:
            supervisor.stop_all()
        run.supervisor.stop_all()
        run.close()
        run.end_gateway_sessions([supervisor.env["FOREWARN_GATEWAY_GATEWAY_ID"] for supervisor in extra])
        _drop_topics_and_model(run, keep_topics)


def _scored_by_offsets(run: FleetRun, timeout_s: float, every_s: float = 2.0) -> None:
    """Wait, reading offsets only, until the scoring job has committed every `telemetry` record and
    `risk` stopped growing for ``every_s`` (the accounting after reads the records and still waits
    for any that come later)."""
    from streaming.progress import lag, topic_offsets

    checkpoint = Path(run.plan.env["FOREWARN_STREAM_CHECKPOINT_DIR"]) / "scoring"
    kafka = run.plan.kafka
    deadline, last_end = time.monotonic() + timeout_s, -1
    while time.monotonic() < deadline and not run.supervisor.check():  # a dead component: `settle` says which
        time.sleep(every_s)
        end = sum(topic_offsets(kafka, kafka.risk_topic)[1].values())
        if lag(checkpoint, kafka).total == 0 and end == last_end:
            return
        last_end = end


def _alerts_caught_up(run: FleetRun, timeout_s: float, every_s: float = 1.0) -> float | None:
    """The wall time (s since the epoch) at which the alert engine's group had committed every
    ``risk`` record, once the job has written them all (``_scored_by_offsets``), or None after
    ``timeout_s`` or when a component died. Offsets only: nothing is read from the topic."""
    from chain.topics import group_lag
    from forewarn.settings import KafkaSettings

    admin = load(KafkaSettings)  # the stack's admin describes any group
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not run.supervisor.check():
        if group_lag(admin, run.plan.engine_group, run.plan.kafka.risk_topic) == 0:
            return time.time()
        time.sleep(every_s)
    return None


def _drop_topics_and_model(run: FleetRun, keep_topics: bool = False) -> None:
    """The run's topics (a sustained run leaves hundreds of MB on them; unless ``keep_topics``),
    InfluxDB database and model; folder and logs stay."""
    from kafka import KafkaAdminClient

    from chain.fleetrun import mlflow_client
    from forewarn.influx_admin import drop_database
    from forewarn.settings import InfluxSettings, KafkaSettings
    from infra.stack.kafka import revoke_roles

    kafka = run.plan.kafka
    names = [kafka.telemetry_topic, kafka.dlq_topic, kafka.risk_topic, kafka.alerts_topic, kafka.risk_dlq()]
    with contextlib.suppress(Exception):  # best effort: the numbers are already taken
        if not keep_topics:
            admin = KafkaAdminClient(**kafka.client_config())
            admin.delete_topics([n for n in names if n in admin.list_topics()])
            admin.close()
    with contextlib.suppress(Exception):  # and the roles' ACLs on them (create_topics granted them)
        revoke_roles(load(KafkaSettings), kafka, run.plan.engine_group)
    influx = run.plan.influx
    with contextlib.suppress(Exception):  # as the admin: the run's own settings are the writer's
        drop_database(load(InfluxSettings), influx.database)
    with contextlib.suppress(Exception):
        mlflow_client().delete_registered_model(run.plan.model_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10_000.0, help="readings/s offered")
    parser.add_argument("--assets", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the fleet publishes")
    parser.add_argument("--gateways", type=int, default=1, help="gateway processes (one share group)")
    parser.add_argument("--batch", type=int, default=10, help="readings of one asset per MQTT message")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--keep-topics", action="store_true", help="keep the run's topics (e.g. to replay its risk records)"
    )
    parser.add_argument(
        "--to-risk-only", action="store_true",
        help="run only the gateway and the scoring job: no alert engine, API, model watcher or dispatcher",
    )  # fmt: skip
    args = parser.parse_args()
    if args.rate <= 0 or args.assets < 1 or args.seconds <= 0 or args.gateways < 1:
        parser.error("--rate, --assets, --seconds and --gateways must be positive")

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    machine = host.host()
    state_dir = load(StackSettings).state_dir
    # messages the broker queues for away sessions are load the run did not offer (5 Dec 2026:
    # 195 MB of them cost the broker 8.6 s more CPU in a run)
    broker_held = persisted_bytes(state_dir)
    if broker_held >= 1_000_000:
        say(f"note: mosquitto {held_text(broker_held)}")
    measured = end_to_end(
        state_dir,
        say,
        args.rate,
        args.assets,
        args.seconds,
        args.gateways,
        args.batch,
        args.keep_topics,
        alerting=not args.to_risk_only,
    )
    machine["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    result = {
        "benchmark": "chain",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.chain " + " ".join(sys.argv[1:]),
        "machine": machine,
        "mosquitto_persistence_bytes_at_start": broker_held,
        **measured,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
