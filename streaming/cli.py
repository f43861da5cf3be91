"""``forewarn stream``: the Spark Structured Streaming scoring job."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

stream_app = typer.Typer(help="The Spark Structured Streaming scoring job.", no_args_is_help=True)


@stream_app.command("run")
def run(
    once: Annotated[
        bool, typer.Option("--once", help="Score what the topic holds now (availableNow), then exit.")
    ] = False,
    master: Annotated[
        str | None,
        typer.Option("--master", help="Spark master [env FOREWARN_SPARK_MASTER, default local[*]]"),
    ] = None,
) -> None:
    """Score telemetry with the champion model: Kafka → per-asset features → risk (Kafka, InfluxDB)."""
    from forewarn.settings import (
        InfluxSettings,
        KafkaSettings,
        MlflowSettings,
        SparkSettings,
        StackSettings,
        load,
    )
    from streaming.job import JobConfig
    from streaming.job import run as run_job
    from streaming.session import spark_session
    from streaming.settings import StreamSettings

    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)
    stack = load(StackSettings)
    spark_settings = load(SparkSettings, stack.state_dir, **({"master": master} if master else {}))
    stream = load(StreamSettings, stack.state_dir)
    config = JobConfig(
        stream=stream,
        kafka=load(KafkaSettings, stack.state_dir),
        influx=load(InfluxSettings, stack.state_dir),
        mlflow=load(MlflowSettings, stack.state_dir),
        checkpoint_dir=stream.checkpoint_dir or stack.state_dir / "checkpoints" / "stream",
    )
    for cls_settings in (stream, spark_settings):
        for key, value in cls_settings.redacted().items():
            typer.echo(f"{key}={value}", err=True)
    spark = spark_session(spark_settings, stack.state_dir, "forewarn-stream")
    try:
        run_job(spark, config, once=once)
    finally:
        spark.stop()


@stream_app.command("lag")
def lag(
    query: Annotated[
        str, typer.Option("--query", help="Checkpoint subfolder of the query (scoring).")
    ] = "scoring",
) -> None:
    """Print, as JSON, how many telemetry records the job has not fully processed yet, per partition.

    Reads the query's checkpoint (offsets of the newest committed micro-batch) and the topic's end
    offsets; ``lag_total`` 0 means caught up. Exit code 0 either way; 2 when the checkpoint is unreadable.
    """
    import json

    from forewarn.settings import KafkaSettings, StackSettings, load
    from streaming.progress import CheckpointError
    from streaming.progress import lag as query_lag
    from streaming.settings import StreamSettings

    stack = load(StackSettings)
    stream = load(StreamSettings, stack.state_dir)
    checkpoint = (stream.checkpoint_dir or stack.state_dir / "checkpoints" / "stream") / query
    try:
        result = query_lag(checkpoint, load(KafkaSettings, stack.state_dir))
    except CheckpointError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps({"checkpoint": str(checkpoint), **result.as_dict()}))
