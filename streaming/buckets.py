"""The state's keys: which bucket an asset's records go to, and which task runs each bucket.

The step is stateful per bucket (``groupBy(bucket).applyInPandasWithState``), and Spark places a
bucket on a state partition, the task that runs it, by ``pmod(murmur3(bucket), partitions)``. With
the buckets numbered 0..B-1 that placement is lopsided: on 2 partitions, buckets 0, 1 and 3 hash to
partition 1 and only bucket 2 to partition 0 (2 buckets: both to partition 1). One task then ran
three quarters of every micro-batch while the other core idled.

So a bucket's key is a *label*: bucket i (``pmod(xxhash64(asset key), B)``) is keyed by the i-th
label, a number chosen with Spark's own hash so that bucket i lands on partition ``i mod P``;
every partition runs ``B / P`` buckets (``B`` a multiple of ``P``). The labels are part of the
state's layout: a checkpoint records them at its first run (``state-layout.json``), and later runs
key by the recorded labels whatever the session's settings say (Spark, likewise, keeps a
checkpoint's partition count). A checkpoint of the first bucket layout (before Dec 2026, 4) has no
labels recorded: its buckets keep their numbers as keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

if TYPE_CHECKING:
    from pyspark.sql import Column, SparkSession

STATE_LAYOUT = "buckets-1"
"""The state's layout (``streaming.window.BucketWindows`` keyed by bucket); a checkpoint records it."""

MARKER = "state-layout.json"


def balanced_labels(spark: SparkSession, buckets: int, partitions: int) -> tuple[int, ...]:
    """B distinct labels, the i-th placed on partition ``i mod partitions`` by Spark's hash
    partitioner (``pmod(hash(label), partitions)``, as ``HashPartitioning`` computes it for a
    ``long`` key); the smallest such numbers, found by asking Spark itself."""
    if buckets < 1 or partitions < 1:
        raise ValueError(f"buckets and partitions must be at least 1, got {buckets} and {partitions}")
    span = 16 * max(buckets, partitions)
    while True:
        rows = (
            spark.range(span)
            .select(F.col("id"), F.pmod(F.hash(F.col("id")), F.lit(partitions)).alias("partition"))
            .collect()
        )
        free: dict[int, list[int]] = {}
        for row in rows:
            free.setdefault(int(row["partition"]), []).append(int(row["id"]))
        wanted = [i % partitions for i in range(buckets)]
        if all(len(free.get(p, [])) >= wanted.count(p) for p in set(wanted)):
            taken = {p: iter(sorted(ids)) for p, ids in free.items()}
            return tuple(next(taken[p]) for p in wanted)
        span *= 4


def bucket_column(key: Column, labels: Sequence[int]) -> Column:
    """Each record's bucket label: the label of ``pmod(xxhash64(key), len(labels))`` (a ``long``,
    as the labels were chosen for)."""
    index = F.pmod(F.xxhash64(key), F.lit(len(labels)))
    if list(labels) == list(range(len(labels))):
        return index  # the first layout's keys: the bucket numbers themselves
    table = F.array(*(F.lit(label).cast("long") for label in labels))
    return F.element_at(table, (index + 1).cast("int")).cast("long")


def layout_labels(checkpoint: Path, spark: SparkSession, buckets: int, partitions: int) -> tuple[int, ...]:
    """The labels the checkpoint's state is keyed by: recorded ones, or new balanced ones recorded
    now for a new checkpoint.

    Raises:
        ValueError: the checkpoint holds state of another layout or bucket count (its state would
            not be found, and readings would be scored without their history); says what to do.
    """
    marker = checkpoint / MARKER
    if marker.is_file():
        found = orjson.loads(marker.read_bytes())
        if found.get("layout") != STATE_LAYOUT or found.get("buckets") != buckets:
            raise ValueError(
                f"checkpoint {checkpoint} holds state of layout {found}, this job runs "
                f"{ {'layout': STATE_LAYOUT, 'buckets': buckets} }: keep FOREWARN_STREAM_STATE_BUCKETS as "
                "it was, or remove the checkpoint (the job then rescores the topic from "
                "FOREWARN_STREAM_STARTING_OFFSETS)"
            )
        labels = found.get("labels")
        if labels is None:
            return tuple(range(buckets))
        usable = all(isinstance(x, int) for x in labels) and len(set(labels)) == len(labels) == buckets
        if not usable:
            raise ValueError(f"checkpoint {checkpoint}: {MARKER} holds unusable labels {labels}")
        return tuple(labels)
    if (checkpoint / "scoring" / "state").exists():
        raise ValueError(
            f"checkpoint {checkpoint} holds state from a job before {STATE_LAYOUT} (per-asset keys): "
            "remove it or set a new FOREWARN_STREAM_CHECKPOINT_DIR"
        )
    labels = balanced_labels(spark, buckets, partitions)
    checkpoint.mkdir(parents=True, exist_ok=True)
    marker.write_bytes(orjson.dumps({"layout": STATE_LAYOUT, "buckets": buckets, "labels": list(labels)}))
    return labels
