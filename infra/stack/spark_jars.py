"""Spark's Kafka connector, resolved by `make setup` so streaming jobs start without a resolver."""

from __future__ import annotations

from pathlib import Path

from forewarn.settings import SparkSettings


def spark_jars_dir(state: Path, spark: SparkSettings) -> Path:
    """``FOREWARN_SPARK_JARS_DIR`` or ``<state>/jars/spark``."""
    return spark.jars_dir or state / "jars" / "spark"


def connector_jars(state: Path, spark: SparkSettings) -> list[Path]:
    """The connector and its run-time jars; raises if `make setup` has not resolved them."""
    folder = spark_jars_dir(state, spark)
    jars = sorted(folder.glob("*.jar"))
    if not any(j.name.startswith("spark-sql-kafka-0-10_") for j in jars):
        raise RuntimeError(f"spark-sql-kafka-0-10 is missing in {folder}: run `make setup`")
    return jars
