"""The state store setting on a real stateful query: RocksDB with changelog checkpointing, or Spark's default.

A new checkpoint takes the provider the session's SQL settings name when its query starts
(``streaming.session.state_store_conf``, what ``spark_session`` applies at build time); the
provider then shows in the checkpoint's files: RocksDB writes ``.changelog`` files per batch,
the default provider ``.delta`` files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from forewarn.settings import SparkSettings
from streaming.session import state_store_conf

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def _state_files(spark: Any, tmp_path: Path, store: str) -> set[str]:
    """A small stateful query (count per key, two micro-batches) on ``store``: its state files' suffixes."""
    import pandas as pd

    source = tmp_path / "in"
    source.mkdir()
    pd.DataFrame({"k": ["a", "b", "a"]}).to_parquet(source / "0.parquet")
    conf = state_store_conf(SparkSettings(state_store=store))
    before = {key: spark.conf.get(key, None) for key in conf}
    for key, value in conf.items():
        spark.conf.set(key, value)
    try:
        checkpoint = tmp_path / "checkpoint"
        counts = spark.readStream.schema("k string").parquet(str(source)).groupBy("k").count()
        for batch in range(2):
            if batch:
                pd.DataFrame({"k": ["b", "c"]}).to_parquet(source / "1.parquet")
            query = (
                counts.writeStream.outputMode("update").format("noop")
                .option("checkpointLocation", str(checkpoint))
                .trigger(availableNow=True).start()
            )  # fmt: skip
            query.awaitTermination(120)
            assert query.exception() is None
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
    return {p.suffix for p in (checkpoint / "state").rglob("*") if p.is_file()}


def test_rocksdb_writes_changelogs(spark: Any, tmp_path: Path) -> None:
    suffixes = _state_files(spark, tmp_path, "rocksdb")
    assert ".changelog" in suffixes
    assert ".delta" not in suffixes


def test_default_writes_deltas(spark: Any, tmp_path: Path) -> None:
    suffixes = _state_files(spark, tmp_path, "hdfs")
    assert ".delta" in suffixes
    assert ".changelog" not in suffixes
