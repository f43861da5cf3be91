"""The stream and chain benchmarks' pure parts: workload arithmetic, argument passing, the knob table,
the accounting per stage (the benchmarks themselves run with ``make bench-stream`` / ``bench-chain``)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from bench import knobs, procfs
from bench.chain import stages
from bench.spark_progress import fixed_cost
from bench.stream import _without, model_for, parser
from bench.workload import readings_per_record


def test_a_large_fleet_gets_one_message_per_record() -> None:
    product = readings_per_record(2000)
    assert product["readings_per_record"] == 10
    assert product["messages_per_record"] == 1
    assert product["gateway_coalesce_max_messages"] == 500
    # a fleet smaller than the gateway's group: a full group holds several messages of an asset
    assert readings_per_record(200)["readings_per_record"] == 30
    assert readings_per_record(500)["readings_per_record"] == 10


def test_each_shape_runs_with_the_callers_options_but_its_own_shape_and_output() -> None:
    argv = ["--assets", "200", "--shape", "both", "--out=x.json", "--sweep", "--out", "y.json"]
    assert _without(argv, {"--shape", "--out"}) == ["--assets", "200", "--sweep"]


def test_a_given_model_per_shape() -> None:
    assert model_for(None, "pump") is None
    assert model_for("forewarn-pumps", "pump") == "forewarn-pumps"
    assert model_for("cmapss=forewarn-rul,pump=forewarn-pumps", "cmapss") == "forewarn-rul"
    assert model_for("cmapss=forewarn-rul", "pump") is None  # that shape trains its own


def test_knobs_vary_one_factor_at_a_time_from_the_defaults() -> None:
    args = parser().parse_args([])
    rows = knobs.rows_to_run(args)
    assert rows[0] == ("defaults", None)
    assert ("shuffle_partitions", 2) not in rows  # the default is the defaults row
    assert {v for k, v in rows if k == "shuffle_partitions"} == {4, 8}
    assert {v for k, v in rows if k == "state_store"} == {"rocksdb"}
    assert {v for k, v in rows if k == "trigger_interval_s"} == {0.0, 1.0}
    assert {v for k, v in rows if k == "max_offsets_per_trigger"} == {2_000, 50_000}
    # the default, 0, is twice the partitions: a 4-bucket row would run the defaults again
    assert (args.buckets, args.partitions) == (0, 2)
    assert {v for k, v in rows if k == "state_buckets"} == set(knobs.BUCKETS) - {4}
    assert len(rows) == 1 + 2 + 1 + 2 + 2 + len(set(knobs.BUCKETS) - {4})
    other = argparse.Namespace(
        partitions=4, state_store="rocksdb", trigger_s=0.0, max_offsets=2_000, buckets=4
    )
    assert ("shuffle_partitions", 2) in knobs.rows_to_run(other)


def test_knob_table_has_a_line_per_row() -> None:
    row = {"knob": "trigger_interval_s", "value": 0.5, "capacity_readings_per_s": 12345.6,
           "live_readings_per_s": 4999.0, "live_latency_ms_p50": 812.0, "live_latency_ms_p99": None,
           "capacity_cpu_ms_per_reading": 0.1234, "live_cpu_ms_per_reading": 0.2}  # fmt: skip
    settings = {"shuffle_partitions": 2, "state_store": "hdfs", "trigger_interval_s": 0.5,
                "max_offsets_per_trigger": 10_000}  # fmt: skip
    table = knobs.markdown(
        [row, {**row, "knob": "defaults", "value": None, "settings": settings}]
    ).splitlines()
    assert len(table) == 4
    assert table[2] == "| trigger_interval_s | 0.5 | 12,346 | 4,999 | 812 | - | 0.123 | 0.200 |"
    assert table[3].startswith("| defaults | 2 partitions, hdfs, 0.5 s, 10,000 records, - buckets |")


def test_fixed_cost_is_the_median_add_batch() -> None:
    batches = [{"records": 80, "addBatch": ms, "triggerExecution": ms + 100} for ms in (900, 300, 400)]
    out = fixed_cost(batches)
    assert out["samples"] == 3
    assert out["add_batch_ms_median"] == 400
    assert out["trigger_execution_ms_median"] == 500
    assert fixed_cost([])["add_batch_ms_median"] is None


def test_stages_balance_only_when_every_reading_is_accounted() -> None:
    numbers = {"published_readings": 100, "published_malformed_messages": 2, "telemetry_readings": 100,
               "gateway_dead_letters": 2, "telemetry_distinct_readings": 100, "scored_distinct_readings": 97,
               "stream_dead_letters": 3, "unscored_readings": 0}  # fmt: skip
    out = stages(numbers)
    assert out["mqtt_to_telemetry"]["balanced"]
    assert out["telemetry_to_risk"]["balanced"]
    lost = stages({**numbers, "gateway_dead_letters": 1, "unscored_readings": 1})
    assert not lost["mqtt_to_telemetry"]["balanced"]
    assert not lost["telemetry_to_risk"]["balanced"]


def test_the_machine_and_services_cpu_grow_with_work_done_here() -> None:
    """Real ``/proc``: a busy loop in this process shows in the machine's busy seconds and as
    ``this process`` outside an excluded tree (and vanishes when this process is excluded)."""
    import os
    import time

    machine0, mine0 = procfs.machine_cpu_s(), procfs.services_cpu_s(set())["this process"]
    wall0 = time.monotonic()
    until = time.process_time() + 0.3
    while time.process_time() < until:
        pass
    machine1, mine1 = procfs.machine_cpu_s(), procfs.services_cpu_s(set())["this process"]
    wall = time.monotonic() - wall0
    assert machine1["busy"] - machine0["busy"] >= 0.2
    # ``total`` is every core's time: about wall x cores (ticks of 10 ms either side)
    cores = os.cpu_count() or 1
    assert machine1["total"] - machine0["total"] == pytest.approx(wall * cores, abs=0.1 * cores + 0.05)
    assert mine1 - mine0 >= 0.2
    assert "this process" not in procfs.services_cpu_s({os.getpid()})


def test_the_machine_counts_steal_as_busy_and_apart() -> None:
    # cpu user nice system idle iowait irq softirq steal guest guest_nice, in clock ticks
    ticks = procfs.CLOCK_TICKS
    stat = f"cpu  {5 * ticks} 0 {ticks} {10 * ticks} {ticks} 0 0 {2 * ticks} {3 * ticks} 0\ncpu0 1 2 3\n"
    assert procfs.machine_cpu_s(stat) == {"busy": 8.0, "total": 19.0, "steal": 2.0}
    # an old kernel's line without steal: none counted
    assert procfs.machine_cpu_s(f"cpu  {ticks} 0 0 {ticks} 0 0 0\n")["steal"] == 0.0


def test_progress_takes_each_report_once_and_only_those_since_its_restart() -> None:
    from types import SimpleNamespace

    from bench.spark_progress import Progress

    def report(run: str, batch: int, at: str, rows: int) -> SimpleNamespace:
        durations = {"addBatch": 10 * batch, "triggerExecution": 20 * batch}
        return SimpleNamespace(
            runId=run, batchId=batch, timestamp=at, numInputRows=rows, name="scoring", durationMs=durations
        )

    old = report("r1", 1, "2026-12-05T10:00:00.000Z", 5)
    query = SimpleNamespace(recentProgress=[old])
    progress = Progress()
    progress.since_s = datetime(2026, 12, 5, 10, 0, 1, tzinfo=UTC).timestamp()
    query.recentProgress += [report("r1", 2, "2026-12-05T10:00:02.000Z", 7),
                             report("r1", 3, "2026-12-05T10:00:03.000Z", 0)]  # fmt: skip
    progress.collect([query])
    progress.collect([query])  # read twice: each report once
    restarted = SimpleNamespace(recentProgress=[report("r2", 2, "2026-12-05T10:00:04.000Z", 9)])
    progress.collect([restarted])  # a restarted query's batch 2 is another batch
    # an idle query reports every 10 s under the id of the batch it will run next; that batch's
    # own report, with its input, comes later under the same id
    query.recentProgress += [report("r1", 3, "2026-12-05T10:00:13.000Z", 0),
                             report("r1", 3, "2026-12-05T10:00:20.000Z", 4)]  # fmt: skip
    progress.collect([query])
    assert progress.batches("scoring") == [
        {"records": 7, "addBatch": 20, "triggerExecution": 40},
        {"records": 9, "addBatch": 20, "triggerExecution": 40},
        {"records": 4, "addBatch": 30, "triggerExecution": 60},
    ]
    assert progress.totals("scoring")["batches_with_input"] == 3
