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
    jars = ",".join(str(j) for j in connector_jars(state_dir, settings.jars_dir))
    builder = (
        SparkSession.builder.appName(app_name)
        .master(settings.master)
        .config("spark.jars", jars)
        .config("spark.driver.memory", settings.driver_memory)
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.streaming.stopGracefullyOnShutdown", "true")
    )
    return builder.getOrCreate()
