"""Ingest benchmark (``make bench-ingest``): readings/s MQTT → gateway → Kafka versus the same
records written straight to Kafka with the same producer settings, per readings-per-message.

For each batch size the same simulated readings are (1) encoded as the gateway would and produced
directly with :class:`ingest.kafka_out.KafkaOut` (the ceiling), then (2) published at QoS 1 by the
sites through Mosquitto to a real ``forewarn gateway run`` process, timed until Kafka holds every
record. Topics are created for the run and deleted after; the gateway listens only to the
benchmark's own asset topics. Bounded and loopback-only: a benchmark, not a load test.

CPU per process: ``direct_kafka.producer_cpu_s`` (the producing process, sender thread included),
``via_gateway.gateway_cpu_s`` (the gateway process, from /proc) and ``publisher_cpu_s`` (the sites'
clients); ``readings_per_cpu_s`` and ``cpu_ratio_gateway_to_direct`` compare the two paths by CPU,
which stays meaningful on a busy host where wall-clock rates do not (the 1-minute load average is
recorded with each result). Mosquitto's and Kafka's own CPU is not measured: they are shared.

Both passes are timed the same way: from the first send/publish until a consumer has seen every
reading on Kafka (``acked_s`` also gives the direct producer's time to its last acknowledgement).

Usage: ``python -m bench.ingest [--readings N] [--batches 1,10,50] [--out FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

from forewarn.settings import KafkaRole, KafkaSettings, MqttSettings, StackSettings, load
from infra.stack.kafka import grant_roles, revoke_roles
from ingest.contract import ContractPolicy, decode, telemetry_topic
from ingest.fleet import FleetConfig
from ingest.kafka_out import KafkaOut, wait
from ingest.messages import FaultRates, Message
from ingest.mqtt_out import publish_all
from ingest.records import OutRecord, message_records
from ingest.settings import GatewaySettings
from ingest.simulate import SimulationRun

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _messages(readings: int, batch: int, assets: int, prefix: str, sites: tuple[str, ...]) -> list[Message]:
    steps = max(1, readings // assets)
    start = datetime.now(UTC).replace(microsecond=0)
    config = FleetConfig(assets, sites, 1, start, interval_s=0.001, steps=steps, asset_prefix=prefix)
    return list(SimulationRun(config, batch, FaultRates()).messages())


def _records(messages: list[Message]) -> list[OutRecord]:
    now = datetime.now(UTC)
    out: list[OutRecord] = []
    for m in messages:
        decoded = decode(m.payload, telemetry_topic(m.site, m.asset_id), now, ContractPolicy())
        out += message_records(decoded.readings, decoded.dead_letters, "bench", now)
    return out


def _count_readings(consumer: KafkaConsumer, target: int, timeout_s: float) -> int:
    """Consume from the current positions until ``target`` readings arrived (records hold runs)."""
    seen = 0
    deadline = time.monotonic() + timeout_s
    while seen < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {seen} of {target} readings reached Kafka in {timeout_s:.0f} s")
        for records in consumer.poll(timeout_ms=100).values():
            seen += sum(len(orjson.loads(r.value)) for r in records)
    return seen


def _seek_end(consumer: KafkaConsumer, partitions: list[TopicPartition]) -> None:
    consumer.seek_to_end(*partitions)
    for tp in partitions:
        consumer.position(tp)  # resolve the lazy seek now, before anything is produced


def _raw(
    records: list[OutRecord], readings: int, gateway: GatewaySettings, kafka: KafkaSettings,
    consumer: KafkaConsumer, partitions: list[TopicPartition],
) -> dict[str, Any]:  # fmt: skip
    """Produce ``records`` directly; timed like the gateway pass: until a consumer saw every reading."""
    out = KafkaOut(gateway, kafka)
    out.partitions_for(kafka.telemetry_topic)  # metadata and connection outside the timing, as in the gateway
    _seek_end(consumer, partitions)
    cpu0, t0 = time.process_time(), time.perf_counter()
    deliveries = [out.send(r) for r in records]
    out.flush(120)
    acked_s = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    ok = sum(wait(d, 60) for d in deliveries)
    on_kafka = _count_readings(consumer, readings, 300)
    elapsed = time.perf_counter() - t0
    out.close(5)
    return {
        "records": len(records),
        "delivered": ok,
        "readings_on_kafka": on_kafka,
        "acked_s": round(acked_s, 3),
        "elapsed_s": round(elapsed, 3),
        "producer_cpu_s": round(cpu, 3),
    }


def _start_gateway(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A real ``forewarn gateway run`` process (logging to a new ``log``), once it has subscribed."""
    with log.open("ab") as sink:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("forewarn")), "gateway", "run"],
                                env=env, stdout=sink, stderr=sink)  # fmt: skip
    deadline = time.monotonic() + 30
    while "subscribed to" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"gateway did not start:\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    return proc


def _stop_gateway(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGCONT)  # harmless unless stopped
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)


def _via_gateway(
    messages: list[Message], env: dict[str, str], consumer: KafkaConsumer, partitions: list[TopicPartition],
    mqtt: MqttSettings, log: Path, drain: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """One gateway pass, timed until Kafka holds every reading.

    Live (default): the sites publish while the gateway forwards, both on this host's cores.
    Drain: the gateway's own capacity, without the publishers competing for the same cores. It is
    paused (SIGSTOP) while the sites publish everything (Mosquitto queues it in the gateway's
    persistent session), then resumes (SIGCONT) and is timed from there: a gateway catching up
    after a slow spell, or one whose sites are elsewhere, as in a real deployment.
    """
    _seek_end(consumer, partitions)
    proc = _start_gateway(env, log)
    try:
        if drain:
            proc.send_signal(signal.SIGSTOP)
        gw_cpu0, cpu0, t0 = _cpu_s(proc.pid), time.process_time(), time.perf_counter()
        stats = publish_all(mqtt, messages, sorted({m.site for m in messages}), None)
        published_s = time.perf_counter() - t0
        pub_cpu = time.process_time() - cpu0
        if drain:
            gw_cpu0, t0 = _cpu_s(proc.pid), time.perf_counter()
            proc.send_signal(signal.SIGCONT)
        on_kafka = _count_readings(consumer, sum(m.readings for m in messages), 300)
        elapsed = time.perf_counter() - t0
        gw_cpu = _cpu_s(proc.pid) - gw_cpu0
    finally:
        _stop_gateway(proc)
    timing = (
        {"queued_publish_s": round(published_s, 3)}
        if drain
        else {"publish_s": round(published_s, 3), "publisher_cpu_s": round(pub_cpu, 3)}
    )
    return {
        "messages": stats.messages,
        "acked": stats.acked,
        "readings_on_kafka": on_kafka,
        **timing,
        "elapsed_s": round(elapsed, 3),
        "gateway_cpu_s": round(gw_cpu, 3),
    }


def run(readings: int, batch_sizes: list[int], assets: int) -> dict[str, Any]:
    """Run the benchmark against the local stack; returns the JSON report."""
    state_dir = load(StackSettings).state_dir
    base_kafka = load(KafkaSettings, state_dir)
    mqtt = load(MqttSettings, state_dir)
    tag = uuid.uuid4().hex[:8]
    telemetry, dlq = f"bench-telemetry-{tag}", f"bench-dlq-{tag}"
    kafka = base_kafka.model_copy(update={"telemetry_topic": telemetry, "dlq_topic": dlq})
    gateway = load(GatewaySettings, state_dir, gateway_id=f"bench-{tag}")
    admin = KafkaAdminClient(**kafka.client_config(), client_id="forewarn-bench")
    admin.create_topics([NewTopic(telemetry, kafka.telemetry_partitions, 1), NewTopic(dlq, 1, 1)])
    # the run's topics get the stack's ACLs: the gateway (and the direct producer) write as the gateway role
    grant_roles(base_kafka, kafka)
    consumer = KafkaConsumer(**kafka.client_config(), group_id=None, enable_auto_commit=False)
    partitions = [TopicPartition(telemetry, p) for p in range(kafka.telemetry_partitions)]
    consumer.assign(partitions)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="forewarn-bench-") as tmp:
            for batch in batch_sizes:
                prefix = f"b{tag}x{batch}"
                messages = _messages(readings, batch, assets, prefix, ("site-1", "site-2"))
                count = sum(m.readings for m in messages)
                raw = _raw(_records(messages), count, gateway, kafka.for_role(KafkaRole.GATEWAY), consumer,
                           partitions)  # fmt: skip
                # fresh event times for the gateway pass (its age check runs against the wall clock)
                gw_messages = _messages(readings, batch, assets, prefix, ("site-1", "site-2"))
                filters = sorted({f"forewarn/+/{m.asset_id}/telemetry" for m in gw_messages})
                env = {
                    **os.environ,
                    "FOREWARN_GATEWAY_GATEWAY_ID": f"bench-{tag}-{batch}",
                    "FOREWARN_GATEWAY_SHARE_GROUP": f"bench-{tag}",
                    "FOREWARN_GATEWAY_TOPIC_FILTERS": json.dumps(filters),
                    "FOREWARN_GATEWAY_SPOOL_DIR": tmp,
                    "FOREWARN_GATEWAY_SESSION_EXPIRY_S": "60",
                    "FOREWARN_GATEWAY_METRICS_TO_INFLUX": "false",
                    "FOREWARN_KAFKA_TELEMETRY_TOPIC": telemetry,
                    "FOREWARN_KAFKA_DLQ_TOPIC": dlq,
                }
                via = _via_gateway(
                    gw_messages, env, consumer, partitions, mqtt, Path(tmp) / f"gw-{batch}-live.log"
                )
                drain_messages = _messages(readings, batch, assets, prefix, ("site-1", "site-2"))
                drain = _via_gateway(
                    drain_messages, env, consumer, partitions, mqtt, Path(tmp) / f"gw-{batch}-drain.log",
                    drain=True,
                )  # fmt: skip
                raw_rate = count / raw["elapsed_s"]
                gw_rate = count / via["elapsed_s"]
                drain_rate = count / drain["elapsed_s"]
                raw["readings_per_cpu_s"] = round(count / max(raw["producer_cpu_s"], 1e-3), 1)
                via["readings_per_cpu_s"] = round(count / max(via["gateway_cpu_s"], 1e-3), 1)
                drain["readings_per_cpu_s"] = round(count / max(drain["gateway_cpu_s"], 1e-3), 1)
                results.append({
                    "readings_per_message": batch,
                    "readings": count,
                    "direct_kafka": {**raw, "readings_per_s": round(raw_rate, 1)},
                    "via_gateway": {**via, "readings_per_s": round(gw_rate, 1),
                                    "publisher_only_readings_per_s": round(count / via["publish_s"], 1)},
                    "ratio_gateway_to_direct": round(gw_rate / raw_rate, 3),
                    # the gateway draining a queued backlog: no publisher on the same cores
                    "drain_via_gateway": {**drain, "readings_per_s": round(drain_rate, 1)},
                    "drain_ratio_gateway_to_direct": round(drain_rate / raw_rate, 3),
                    # CPU-based: robust to other load on the host (wall-clock rates are not)
                    "cpu_ratio_gateway_to_direct": round(
                        via["readings_per_cpu_s"] / raw["readings_per_cpu_s"], 3
                    ),
                    "load_average_1m_after": round(os.getloadavg()[0], 2),
                })  # fmt: skip
                print(json.dumps(results[-1]), file=sys.stderr)
    finally:
        consumer.close()
        admin.delete_topics([telemetry, dlq])
        admin.close()
        revoke_roles(base_kafka, kafka)
    return {
        "benchmark": "ingest",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
        "producer": {"acks": "all", "enable_idempotence": True, "compression_type": gateway.compression_type,
                     "linger_ms": gateway.linger_ms, "batch_size_bytes": gateway.batch_size_bytes},
        "mqtt_qos": 1,
        "goal_ratio": 0.8,
        "results": results,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--readings", type=int, default=50_000, help="readings per batch size")
    parser.add_argument("--batches", default="1,10,50", help="readings per MQTT message, comma-separated")
    parser.add_argument("--assets", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default: stdout)")
    args = parser.parse_args(argv)
    report = run(args.readings, [int(b) for b in args.batches.split(",")], args.assets)
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
