"""The scoring job's latency knobs, measured one at a time (``python -m bench.stream --sweep``).

From the bench's settings (the defaults row), each row changes one knob: shuffle partitions
(state partitions: one Python task each per micro-batch), the state store provider (Spark's
default in-memory HDFS-backed store, or RocksDB with changelog checkpointing), the trigger
interval, ``maxOffsetsPerTrigger`` and the state buckets (Python calls per micro-batch). Every
row runs on the same session and model, with its own telemetry topic and checkpoint (partitions,
provider and buckets are fixed at a checkpoint's first run): one warm-up round, a short live phase
(latency at the bench's rate) and a short backlog drain (capacity). The table goes into the JSON
and, as Markdown, to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from bench import stream_run
from bench.stream_run import Run
from forewarn.contracts.telemetry import Reading
from forewarn.settings import SparkSettings
from streaming.session import ROCKSDB_PROVIDER, state_store_conf
from streaming.settings import StreamSettings

PARTITIONS = (2, 4, 8)
STATE_STORES = ("hdfs", "rocksdb")
TRIGGERS_S = (0.0, 0.5, 1.0)
MAX_OFFSETS = (2_000, 10_000, 50_000)
BUCKETS = (2, 4, 16)
_STREAM_KNOBS = ("trigger_interval_s", "max_offsets_per_trigger", "state_buckets")
_STORE_KEYS = (
    "spark.sql.streaming.stateStore.providerClass",
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled",
)


def defaults_of(args: argparse.Namespace) -> dict[str, Any]:
    """The bench's settings of the four knobs (``python -m bench.stream`` options)."""
    return {
        "shuffle_partitions": args.partitions,
        "state_store": args.state_store,
        "trigger_interval_s": args.trigger_s,
        "max_offsets_per_trigger": args.max_offsets,
        "state_buckets": args.buckets,
    }


def rows_to_run(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """The defaults row, then each other value of each knob (one factor at a time).

    A value that means what the default means is no row of its own: state buckets 0 (the job's
    default) is twice the partitions, so with 2 partitions a "4 buckets" row ran the defaults again
    (the sweep of 4 Dec 2026 did, and measured the run-to-run spread by it)."""
    defaults = defaults_of(args)
    same = {**defaults, "state_buckets": StreamSettings(state_buckets=args.buckets).buckets(args.partitions)}
    rows: list[tuple[str, Any]] = [("defaults", None)]
    knobs = {"shuffle_partitions": PARTITIONS, "state_store": STATE_STORES,
             "trigger_interval_s": TRIGGERS_S, "max_offsets_per_trigger": MAX_OFFSETS,
             "state_buckets": BUCKETS}  # fmt: skip
    for knob, values in knobs.items():
        rows += [(knob, v) for v in values if v not in (defaults[knob], same[knob])]
    return rows


def _session_knobs(spark: Any, partitions: int, store: str) -> None:
    """SQL settings a new checkpoint takes at its query's start."""
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    for key in _STORE_KEYS:
        spark.conf.unset(key)
    for key, value in state_store_conf(SparkSettings(state_store=store)).items():
        spark.conf.set(key, value)


def sweep(run: Run, args: argparse.Namespace, admin: Any, work: Path, topics: list[str]) -> dict[str, Any]:
    """Every row of :func:`rows_to_run`; ``topics`` collects the topics made (removed by the caller)."""
    from bench.stream import new_topic

    base = run.config
    out = []
    for i, (knob, value) in enumerate(rows_to_run(args)):
        chosen = defaults_of(args)
        if knob != "defaults":
            chosen[knob] = value
        topic = f"{base.kafka.telemetry_topic}-k{i}"
        admin.create_topics([new_topic(topic)], wait_for_metadata=True)
        topics.append(topic)
        _session_knobs(run.spark, int(chosen["shuffle_partitions"]), str(chosen["state_store"]))
        run.config = dataclasses.replace(
            base,
            kafka=base.kafka.model_copy(update={"telemetry_topic": topic}),
            stream=base.stream.model_copy(update={k: chosen[k] for k in _STREAM_KNOBS}),
            checkpoint_dir=work / f"checkpoint-k{i}",
        )  # fmt: skip
        run.assets_in_state = set()
        run.start()
        try:
            stream_run.rounds(run, f"k{i}warm", 1, 40)
            run.stages()
            live = stream_run.live(run, f"k{i}live", args.assets, args.rate, args.sweep_seconds)
            sent: list[Reading] = []
            capacity = stream_run.backlog(run, f"k{i}backlog", args.assets, args.sweep_backlog_readings, sent)
        finally:
            run.stop()
        out.append({
            "knob": knob, "value": value, "settings": chosen,
            "capacity_readings_per_s": capacity["readings_per_s"],
            "capacity_cpu_ms_per_reading": capacity["cpu_ms_per_reading"],
            "live_readings_per_s": live["readings_per_s"],
            "live_latency_ms_p50": live["latency_ms_p50"], "live_latency_ms_p99": live["latency_ms_p99"],
            "live_cpu_ms_per_reading": live["cpu_ms_per_reading"],
            "live_batches": live["stages"]["spark_progress"]["batches_with_input"],
            "state_per_10000_assets": capacity["state"].get("per_10000_assets"),
        })  # fmt: skip
    run.config = base
    _session_knobs(run.spark, args.partitions, args.state_store)
    return {
        "how": f"one factor at a time from the defaults row; per row: 1 warm-up round, live {args.rate:g} "
        f"readings/s for {args.sweep_seconds:g} s, then a backlog of {args.sweep_backlog_readings} readings "
        f"from {args.assets} assets",
        "rocksdb_provider": ROCKSDB_PROVIDER,
        "rows": out,
        "markdown": markdown(out),
    }


def _defaults_text(settings: dict[str, Any]) -> str:
    return (
        f"{settings['shuffle_partitions']} partitions, {settings['state_store']}, "
        f"{settings['trigger_interval_s']:g} s, {settings['max_offsets_per_trigger']:,} records, "
        f"{settings.get('state_buckets', '-')} buckets"
    )


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f}"

    lines = [
        "| knob | value | capacity readings/s | live readings/s | live p50 ms | live p99 ms "
        "| CPU ms/reading (capacity) | CPU ms/reading (live) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        value = r["value"]
        shown = (
            _defaults_text(r["settings"])
            if value is None
            else f"{value:g}"
            if isinstance(value, float)
            else value
        )
        lines.append(
            f"| {r['knob']} | {shown} | {r['capacity_readings_per_s']:,.0f} "
            f"| {r['live_readings_per_s']:,.0f} "
            f"| {ms(r['live_latency_ms_p50'])} | {ms(r['live_latency_ms_p99'])} "
            f"| {r['capacity_cpu_ms_per_reading']:.3f} | {r['live_cpu_ms_per_reading']:.3f} |"
        )
    return "\n".join(lines)
