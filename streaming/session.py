"""Build the SparkSession every forewarn Spark job uses: Kafka connector on the class path, UTC."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from forewarn.paths import connector_jars
from forewarn.settings import SparkSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


_QUIET_SERIALIZER = "ignore::FutureWarning:pyspark.sql.pandas.serializers"
ROCKSDB_PROVIDER = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
"""Spark's RocksDB state store (pyspark 4.2: the class ships in spark-sql, rocksdbjni beside it)."""
PRELOADING_DAEMON = "streaming.daemon"
"""pyspark's worker daemon with the step imported before it forks (``FOREWARN_SPARK_PRELOAD_WORKERS``)."""


def state_store_conf(settings: SparkSettings) -> dict[str, str]:
    """The Spark SQL settings that select ``settings.state_store``.

    ``hdfs`` sets nothing: Spark's default provider (HDFSBackedStateStoreProvider) is what a plain
    session uses. ``rocksdb`` selects the RocksDB provider with changelog checkpointing (each
    micro-batch writes the changed rows, not a new snapshot). SQL settings, so a running session
    can also take them (``spark.conf.set``) before it starts a query on a new checkpoint.
    """
    if settings.state_store == "rocksdb":
        return {
            "spark.sql.streaming.stateStore.providerClass": ROCKSDB_PROVIDER,
            "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
        }
    return {}


def java_options_conf(settings: SparkSettings) -> dict[str, str]:
    """The driver's and executors' JVM options (``settings.java_options``) as Spark settings.

    Only for a JVM the job starts itself: under spark-submit the driver is already running and the
    submit's own options are the user's to keep, so :func:`spark_session` sets none of these there.
    """
    options = settings.java_options.strip()
    if not options:
        return {}
    return {"spark.driver.extraJavaOptions": options, "spark.executor.extraJavaOptions": options}


def spark_session(settings: SparkSettings, state_dir: Path, app_name: str) -> SparkSession:
    """A session for ``settings.master`` with the pre-resolved spark-sql-kafka jars.

    The jars come from the state folder (``make setup``), never from a resolver at start, so a
    job starts the same way offline. Workers run this interpreter, so they import the same
    forewarn code and libraries as the driver.
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # The Python workers inherit this process's environment (through the JVM it starts). pyspark's own
    # pandas serializer concatenates the stateful step's frames, and pandas 2.2 warns there about all-NA
    # columns on every micro-batch: a line per batch in the job's log that says nothing to an operator.
    warnings_env = os.environ.get("PYTHONWARNINGS", "")
    if _QUIET_SERIALIZER not in warnings_env:
        os.environ["PYTHONWARNINGS"] = ",".join(w for w in (warnings_env, _QUIET_SERIALIZER) if w)
    builder = SparkSession.builder.appName(app_name)
    # Under spark-submit the driver's JVM is already running, started with the submit's --master and
    # --jars: setting them here would override the master and never reach the driver's class path.
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        jars = ",".join(str(j) for j in connector_jars(state_dir, settings.jars_dir))
        builder = builder.master(settings.master).config("spark.jars", jars)
        for key, value in java_options_conf(settings).items():
            builder = builder.config(key, value)
    builder = (
        # OpenMP one thread per executor's Python worker (streaming.scoring.one_thread_per_worker
        # says why; in local mode the workers set it themselves when they load a model)
        builder.config("spark.executorEnv.OMP_NUM_THREADS", "1")
        .config("spark.driver.memory", settings.driver_memory)
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        # checkpoints hold the fleet's state: the owner's alone (Hadoop applies its own umask, 022)
        .config("spark.hadoop.fs.permissions.umask-mode", "077")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.streaming.stopGracefullyOnShutdown", "true")
    )
    for key, value in state_store_conf(settings).items():
        builder = builder.config(key, value)
    if settings.preload_workers:
        builder = builder.config("spark.python.daemon.module", PRELOADING_DAEMON)
    spark = builder.getOrCreate()
    kafka_writes_v2(spark)
    return spark


def kafka_writes_v2(spark: SparkSession) -> None:
    """Batch Kafka writes through the connector's DataSource V2 path, not V1.

    The scoring job's sink writes each micro-batch with one Spark job and reads the step's counters
    as metrics observed on that write (``DataFrame.observe``, ``streaming.sinks.ScoredSink``).
    Spark collects observed metrics from the plan it executes: a V2 write's query is part of it,
    a V1 write (``SaveIntoDataSourceCommand``, the default for ``kafka``) runs its query apart and
    the metrics never arrive (``Observation.get`` waits forever). Streaming reads are not affected
    (this list is for batch sources).
    """
    key = "spark.sql.sources.useV1SourceList"
    v1 = [name for name in (spark.conf.get(key) or "").split(",") if name.strip().lower() != "kafka"]
    spark.conf.set(key, ",".join(v1))
