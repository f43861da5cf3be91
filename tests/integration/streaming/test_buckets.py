"""The state's keys (``streaming.buckets``): Spark's own hash partitioner places bucket i on
partition ``i mod P``, so every task runs as many buckets; a checkpoint keeps the labels it began
with."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

from streaming.buckets import MARKER, STATE_LAYOUT, balanced_labels, bucket_column, layout_labels

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def placed(spark: Any, labels: tuple[int, ...], partitions: int) -> dict[int, int]:
    """Each label's partition as Spark's hash partitioner puts it (the stateful operator's shuffle
    hashes its grouping key the same way as ``repartition`` by that column)."""
    frame = spark.createDataFrame([(label,) for label in labels], "bucket long")
    rows = (
        frame.repartition(partitions, "bucket").select("bucket", F.spark_partition_id().alias("p")).collect()
    )
    return {int(r["bucket"]): int(r["p"]) for r in rows}


@pytest.mark.parametrize(("buckets", "partitions"), [(4, 2), (2, 2), (8, 2), (6, 3), (16, 4), (3, 5), (1, 2)])
def test_bucket_i_runs_on_partition_i_mod_p(spark: Any, buckets: int, partitions: int) -> None:
    labels = balanced_labels(spark, buckets, partitions)
    assert len(set(labels)) == buckets
    where = placed(spark, labels, partitions)
    assert [where[label] for label in labels] == [i % partitions for i in range(buckets)]
    assert max(Counter(where.values()).values()) == -(-buckets // partitions)


def test_the_plain_bucket_numbers_were_lopsided(spark: Any) -> None:
    """Why labels at all: 4 buckets numbered 0..3 on 2 partitions run 3 on one task."""
    where = placed(spark, (0, 1, 2, 3), 2)
    assert sorted(Counter(where.values()).values()) == [1, 3]


def test_every_key_gets_one_of_the_labels(spark: Any) -> None:
    labels = balanced_labels(spark, 4, 2)
    keys = spark.createDataFrame([(f"pump-{i:04d}".encode(),) for i in range(400)], "key binary")
    got = Counter(
        int(r["bucket"]) for r in keys.select(bucket_column(F.col("key"), labels).alias("bucket")).collect()
    )
    assert set(got) == set(labels)
    assert min(got.values()) > 50  # xxhash64 spreads the keys: no bucket nearly empty
    plain = keys.select(bucket_column(F.col("key"), (0, 1, 2, 3)).alias("bucket"))
    numbers = keys.select(F.pmod(F.xxhash64("key"), F.lit(4)).alias("bucket"))
    assert plain.collect() == numbers.collect()  # the first layout's keys are unchanged


def test_a_new_checkpoint_records_its_labels_and_keeps_them(spark: Any, tmp_path: Path) -> None:
    labels = layout_labels(tmp_path, spark, 4, 2)
    assert labels == balanced_labels(spark, 4, 2)
    assert orjson.loads((tmp_path / MARKER).read_bytes()) == {
        "layout": STATE_LAYOUT, "buckets": 4, "labels": list(labels)
    }  # fmt: skip
    # a later run with another partition setting keys by the recorded labels (Spark keeps the
    # checkpoint's partition count too)
    assert layout_labels(tmp_path, spark, 4, 8) == labels


def test_a_checkpoint_of_the_first_bucket_layout_keeps_the_bucket_numbers(spark: Any, tmp_path: Path) -> None:
    (tmp_path / MARKER).write_bytes(orjson.dumps({"layout": STATE_LAYOUT, "buckets": 4}))
    assert layout_labels(tmp_path, spark, 4, 2) == (0, 1, 2, 3)


@pytest.mark.parametrize(
    ("marker", "says"),
    [
        ({"layout": STATE_LAYOUT, "buckets": 8}, "FOREWARN_STREAM_STATE_BUCKETS"),
        ({"layout": "per-asset", "buckets": 4}, "remove the checkpoint"),
        ({"layout": STATE_LAYOUT, "buckets": 4, "labels": [1, 1, 2, 3]}, "unusable labels"),
        ({"layout": STATE_LAYOUT, "buckets": 4, "labels": [1, 2, 3]}, "unusable labels"),
        ({"layout": STATE_LAYOUT, "buckets": 4, "labels": ["a", 2, 3, 4]}, "unusable labels"),
    ],
)
def test_a_checkpoint_of_another_layout_is_refused(
    spark: Any, tmp_path: Path, marker: dict[str, Any], says: str
) -> None:
    (tmp_path / MARKER).write_bytes(orjson.dumps(marker))
    with pytest.raises(ValueError, match=says):
        layout_labels(tmp_path, spark, 4, 2)


def test_state_from_before_the_buckets_is_refused(spark: Any, tmp_path: Path) -> None:
    (tmp_path / "scoring" / "state").mkdir(parents=True)
    with pytest.raises(ValueError, match="per-asset keys"):
        layout_labels(tmp_path, spark, 4, 2)
    assert not (tmp_path / MARKER).exists()
