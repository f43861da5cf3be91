"""How far behind the scoring job is, read from outside: its checkpoint against the topic's end.

Spark's checkpoint of a query holds ``offsets/<batch>`` (the Kafka offsets each micro-batch
reads up to, written when the batch is planned) and ``commits/<batch>`` (written when the batch's
sinks finished). The offsets of the newest committed batch are therefore what the job has
*fully* processed; a partition's lag is the topic's end offset minus that. Lag 0 on every
partition = caught up. Works while the job runs, after it stopped, and from another process.

Offset log file format (Spark 3.x/4.x, ``OffsetSeqLog``)::

    v1
    {"batchWatermarkMs":0,"batchTimestampMs":...,"conf":{...}}     <- metadata
    {"telemetry":{"0":1200,"1":1187}}                                <- one line per source
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forewarn.settings import KafkaSettings

TopicPartition = tuple[str, int]

# ``forewarn stream run`` writes its pid here while it runs, so a lag of 0 can be told apart from
# "no job is running" (the offsets in a checkpoint look the same either way).
JOB_PID_FILE = "job.pid"


class CheckpointError(ValueError):
    """A checkpoint folder whose offset log cannot be read."""


def _batch_ids(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def committed_offsets(query_checkpoint: Path) -> tuple[int | None, dict[TopicPartition, int]]:
    """The newest committed batch id and the Kafka offsets it read up to (exclusive).

    Args:
        query_checkpoint: one query's checkpoint folder (``<checkpoint_dir>/scoring``).

    Returns:
        ``(None, {})`` when no batch has committed yet.

    Raises:
        CheckpointError: the committed batch's offset file is missing or not Spark's format.
    """
    committed = _batch_ids(query_checkpoint / "commits")
    if not committed:
        return None, {}
    batch = committed[-1]
    path = query_checkpoint / "offsets" / str(batch)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the offset log: {exc}") from exc
    if len(lines) < 2 or not lines[0].startswith("v"):
        raise CheckpointError(f"{path}: not a Spark offset log (first line {lines[:1]})")
    offsets: dict[TopicPartition, int] = {}
    for text in lines[2:]:
        if not text.strip() or text.strip() == "-":
            continue  # a source without offsets in this batch
        try:
            source: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{path}: a source line is not JSON: {text[:200]}") from exc
        if not isinstance(source, dict):
            continue  # not a Kafka source
        for topic, partitions in source.items():
            if isinstance(partitions, dict):
                offsets.update({(topic, int(p)): int(o) for p, o in partitions.items()})
    return batch, offsets


def lag_from(
    committed: Mapping[TopicPartition, int],
    end: Mapping[TopicPartition, int],
    beginning: Mapping[TopicPartition, int] | None = None,
) -> dict[TopicPartition, int]:
    """Per partition of ``end``: records not yet fully processed (never negative).

    A partition the job has not committed anything of counts from its beginning offset (0 when
    not given): everything in it is still to do.
    """
    start = beginning or {}
    return {
        tp: max(0, end_offset - committed.get(tp, start.get(tp, 0))) for tp, end_offset in sorted(end.items())
    }


def topic_offsets(
    kafka: KafkaSettings, topic: str
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """The beginning and end offsets of every partition of ``topic`` (a short-lived client)."""
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KafkaTopicPartition

    consumer = KafkaConsumer(**kafka.client_config(), enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise CheckpointError(f"Kafka has no topic {topic!r}")
        tps = [KafkaTopicPartition(topic, p) for p in sorted(partitions)]
        begin = consumer.beginning_offsets(tps)
        end = consumer.end_offsets(tps)
    finally:
        consumer.close()
    return (
        {(tp.topic, tp.partition): int(o) for tp, o in begin.items()},
        {(tp.topic, tp.partition): int(o) for tp, o in end.items()},
    )


@dataclass(frozen=True)
class Lag:
    """One query's progress: the newest committed batch and the records behind per partition."""

    query: str
    batch: int | None
    partitions: dict[TopicPartition, int]

    @property
    def total(self) -> int:
        return sum(self.partitions.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "committed_batch": self.batch,
            "lag_total": self.total,
            "lag": {f"{topic}/{partition}": n for (topic, partition), n in self.partitions.items()},
        }


def lag(query_checkpoint: Path, kafka: KafkaSettings, topic: str | None = None) -> Lag:
    """Records of ``topic`` (default: the telemetry topic) the query has not fully processed yet.

    Args:
        query_checkpoint: one query's checkpoint folder, e.g. ``.state/checkpoints/stream/scoring``.
        kafka: where the topic is.
        topic: the query's source topic.
    """
    name = topic or kafka.telemetry_topic
    batch, committed = committed_offsets(query_checkpoint)
    beginning, end = topic_offsets(kafka, name)
    return Lag(query_checkpoint.name, batch, lag_from(committed, end, beginning))


def mark_job(checkpoint_dir: Path, pid: int) -> None:
    """Record that the job ``pid`` works on ``checkpoint_dir`` (until :func:`unmark_job`)."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    (checkpoint_dir / JOB_PID_FILE).write_text(f"{pid}\n")


def unmark_job(checkpoint_dir: Path, pid: int) -> None:
    """Remove the job's pid file if it is still ``pid``'s (a newer job may have taken over)."""
    path = checkpoint_dir / JOB_PID_FILE
    if _pid_in(path) == pid:
        path.unlink(missing_ok=True)


def running_job(checkpoint_dir: Path) -> int | None:
    """The pid of the live job working on ``checkpoint_dir``, or None (none started, or it died)."""
    pid = _pid_in(checkpoint_dir / JOB_PID_FILE)
    if pid is None:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    try:  # a dead child of another process stays a zombie until reaped: not running
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return pid
    return None if state == "Z" else pid


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None
