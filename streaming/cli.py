"""``forewarn stream``: the Spark Structured Streaming scoring job."""

from __future__ import annotations

import logging
import os
from typing import Annotated, Any

import typer

log = logging.getLogger("streaming")
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
    from forewarn import logs
    from forewarn.settings import (
        InfluxRole,
        InfluxSettings,
        KafkaRole,
        KafkaSettings,
        MlflowRole,
        MlflowSettings,
        SparkSettings,
        StackSettings,
        load,
    )
    from streaming.job import JobConfig
    from streaming.job import run as run_job
    from streaming.progress import mark_job, unmark_job
    from streaming.session import spark_session
    from streaming.settings import StreamSettings

    logs.setup("scoring")
    stack = load(StackSettings)
    spark_settings = load(SparkSettings, stack.state_dir, **({"master": master} if master else {}))
    stream = load(StreamSettings, stack.state_dir)
    config = JobConfig(
        stream=stream,
        kafka=load(KafkaSettings, stack.state_dir).for_role(KafkaRole.SCORING),  # own user and ACLs
        influx=load(InfluxSettings, stack.state_dir).for_role(InfluxRole.WRITER),
        mlflow=load(MlflowSettings, stack.state_dir).for_role(MlflowRole.READER),  # loads, never moves
        checkpoint_dir=stream.checkpoint_dir or stack.state_dir / "checkpoints" / "stream",
    )
    for cls_settings in (stream, spark_settings):
        log.info("settings %s: %s", type(cls_settings).__name__, logs.settings_line(cls_settings))
    spark = spark_session(spark_settings, stack.state_dir, "forewarn-stream")
    mark_job(config.checkpoint_dir, os.getpid())
    try:
        run_job(spark, config, once=once)
    finally:
        spark.stop()
        unmark_job(config.checkpoint_dir, os.getpid())


@stream_app.command("lag")
def lag(
    query: Annotated[
        str, typer.Option("--query", help="Checkpoint subfolder of the query (scoring).")
    ] = "scoring",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object instead of text.")] = False,
) -> None:
    """How many telemetry records the scoring job has not fully processed yet, per partition.

    Reads the query's checkpoint (offsets of the newest committed micro-batch) against the topic's
    end offsets, and whether a job is working on that checkpoint now. Exit 0 while a job runs
    (lag 0 = caught up); 1 when no job runs (the lag shown is where the last one stopped) or the
    checkpoint is unreadable.
    """
    import json

    from forewarn.exits import ExitCode
    from forewarn.settings import KafkaSettings, StackSettings, load
    from streaming.progress import CheckpointError, running_job
    from streaming.progress import lag as query_lag
    from streaming.settings import StreamSettings

    stack = load(StackSettings)
    stream = load(StreamSettings, stack.state_dir)
    checkpoint_dir = stream.checkpoint_dir or stack.state_dir / "checkpoints" / "stream"
    checkpoint = checkpoint_dir / query
    try:
        result = query_lag(checkpoint, load(KafkaSettings, stack.state_dir))
    except CheckpointError as exc:
        typer.echo(
            f"error: {exc} (the job rebuilds a checkpoint it cannot read only if you remove it)", err=True
        )
        raise typer.Exit(ExitCode.FAILED) from None
    pid = running_job(checkpoint_dir)
    report = {
        "checkpoint": str(checkpoint),
        "job": {"running": pid is not None, "pid": pid},
        **result.as_dict(),
    }
    if as_json:
        typer.echo(json.dumps(report))
    else:
        typer.echo(_lag_text(report))
    if pid is None:
        raise typer.Exit(ExitCode.FAILED)


def _lag_text(report: dict[str, Any]) -> str:
    job = report["job"]
    state = (
        f"running (pid {job['pid']})"
        if job["running"]
        else "not running: the lag below is where the last job stopped (`forewarn stream run` starts one)"
    )
    batch = report["committed_batch"]
    lines = [
        f"job         {state}",
        f"checkpoint  {report['checkpoint']}"
        + (" (no batch committed yet)" if batch is None else f" (newest committed batch {batch})"),
        f"lag         {report['lag_total']:,} records not yet fully processed"
        + (" (caught up)" if report["lag_total"] == 0 and job["running"] else ""),
        *(f"  {partition}  {n:,}" for partition, n in report["lag"].items()),
    ]
    return "\n".join(lines)
