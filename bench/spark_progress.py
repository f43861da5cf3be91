"""Spark's own account of the scoring query: every micro-batch's progress report, stage durations, state.

Reports are read from the queries themselves (``recentProgress``, which the bench makes keep
:data:`RETAINED` reports) at the end of each phase. Until 5 Dec 2026 a Python
``StreamingQueryListener`` took each report as it came: every report crossed py4j field by field,
and in py4j's pinned-thread mode those calls ran on the JVM's listener thread, where py4j's class
lookups scanned the jars (``ZipFile.getEntry``). A JFR profile of a 60 s live phase put 11 % of the
driver JVM's samples on that thread, on the two cores the job it measured runs on.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime
from typing import Any

RETAINED = 2000
"""Progress reports each query keeps (``spark.sql.streaming.numRecentProgressUpdates``; Spark's
default 100): a phase's every micro-batch, idle ones included, until the phase is read."""


def start_s(progress: Any) -> float:
    """When a micro-batch started (epoch seconds)."""
    return datetime.fromisoformat(progress.timestamp.replace("Z", "+00:00")).timestamp()


def end_s(progress: Any) -> float:
    """When a micro-batch had committed (epoch seconds): its start plus its trigger's duration."""
    return start_s(progress) + float((progress.durationMs or {}).get("triggerExecution", 0)) / 1000


def _identity(progress: Any) -> tuple[str, int, str]:
    """One report: its run, batch and start. Not the batch alone: an idle query reports every 10 s
    (``noDataProgressEventInterval``) under the id of the batch it will run next, so the report of
    a batch that ends a quiet spell shares its id with the idle ones before it."""
    return str(progress.runId), int(progress.batchId), str(progress.timestamp)


class Progress:
    """Every progress report of the queries read since ``since_s``."""

    def __init__(self) -> None:
        self.reports: list[Any] = []
        self.since_s = float("inf")

    @staticmethod
    def retain(spark: Any) -> None:
        """Make the session's queries keep :data:`RETAINED` reports (read at each start and update)."""
        spark.conf.set("spark.sql.streaming.numRecentProgressUpdates", str(RETAINED))

    def restart(self) -> None:
        """Keep only reports of batches that start from now on."""
        self.reports.clear()
        self.since_s = time.time()

    def collect(self, queries: list[Any]) -> None:
        """Take the reports of ``queries`` since ``since_s`` not taken yet. A report is in
        ``recentProgress`` once its micro-batch committed: after :func:`settle`, every batch is."""
        held = {_identity(p) for p in self.reports}
        for query in queries:
            for p in query.recentProgress:
                key = _identity(p)
                if start_s(p) >= self.since_s and key not in held:
                    self.reports.append(p)
                    held.add(key)

    def with_input(self) -> list[Any]:
        """The reports taken of micro-batches that read something, in the order they committed."""
        return sorted((p for p in self.reports if p.numInputRows), key=end_s)

    def batches(self, query_name: str) -> list[dict[str, Any]]:
        """Per micro-batch with input: records read and Spark's stage durations (ms)."""
        return [
            {"records": p.numInputRows, **{k: int(v) for k, v in (p.durationMs or {}).items()}}
            for p in self.reports
            if p.name == query_name and p.numInputRows
        ]

    def totals(self, query_name: str) -> dict[str, Any]:
        """Spark's own per-stage durations summed over the query's micro-batches that read something."""
        batches = self.batches(query_name)
        durations: dict[str, float] = {}
        for batch in batches:
            for stage, ms in batch.items():
                if stage != "records":
                    durations[stage] = durations.get(stage, 0.0) + ms
        records = [b["records"] for b in batches]
        return {"batches_with_input": len(batches), "source_rows": sum(records),
                "largest_batch_source_rows": max(records, default=0),
                "duration_ms_total": {k: round(v) for k, v in sorted(durations.items())}}  # fmt: skip

    def state(self, query_name: str) -> dict[str, Any] | None:
        """The stateful operator as the newest report says: rows (assets), memory, store metrics."""
        for p in reversed(self.reports):
            if p.name == query_name and p.stateOperators:
                op = p.stateOperators[0]
                return {
                    "operator": op.operatorName,
                    "rows_total": int(op.numRowsTotal),
                    "memory_used_bytes": int(op.memoryUsedBytes),
                    "shuffle_partitions": int(op.numShufflePartitions),
                    "custom_metrics": {k: int(v) for k, v in (op.customMetrics or {}).items()},
                }
        return None


def fixed_cost(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """Median ``addBatch`` and ``triggerExecution`` (ms) of small warm micro-batches, and each sample."""
    add = [b["addBatch"] for b in batches if "addBatch" in b]
    trigger = [b["triggerExecution"] for b in batches if "triggerExecution" in b]
    return {
        "samples": len(add),
        "add_batch_ms_median": statistics.median(add) if add else None,
        "trigger_execution_ms_median": statistics.median(trigger) if trigger else None,
        "batches": batches,
    }


def settle(queries: list[Any], timeout_s: float = 120) -> None:
    """Wait until no query is inside a micro-batch (the last one's sinks and commit done)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(q.isActive and q.status["isTriggerActive"] for q in queries):
        time.sleep(0.2)


def compilations(spark: Any) -> int:
    """Classes Spark's code generator has compiled in this JVM so far (a plan whose code changes
    from one micro-batch to the next is compiled again, and then JIT-compiled again, every batch)."""
    metrics = spark.sparkContext._jvm.org.apache.spark.metrics.source.CodegenMetrics
    return int(metrics.METRIC_COMPILATION_TIME().getCount())


def jvm_pid(spark: Any) -> int:
    return int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
