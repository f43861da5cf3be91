"""Gateway counters, logged as a line in words and written to InfluxDB as ``pipeline`` points.

Counters are cumulative since start (dashboards take the derivative); spool depth is a gauge and
produce latency is summarised per interval. Tags stay bounded: component, gateway id, reason.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from forewarn.contracts.dead_letter import Reason
from forewarn.contracts.influx_schema import PIPELINE
from forewarn.influx import InfluxWriteError, InfluxWriter
from forewarn.logs import counts_text
from forewarn.settings import InfluxSettings

log = logging.getLogger(__name__)


@dataclass
class GatewayMetrics:
    """What the gateway counts. Only the gateway's main thread writes these."""

    messages_in: int = 0
    readings_in: int = 0
    readings_out: int = 0
    records_out: int = 0
    dead_letters: Counter[Reason] = field(default_factory=Counter)
    stripped_sensors: int = 0
    spooled_records: int = 0
    forwarded_records: int = 0
    spool_depth: int = 0
    produce_failures: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def fields(self) -> dict[str, float | int]:
        """The numeric fields of one ``pipeline`` point; resets the latency window."""
        window, self.latencies_ms = self.latencies_ms, []
        out: dict[str, float | int] = {
            "messages_in": self.messages_in,
            "readings_in": self.readings_in,
            "readings_out": self.readings_out,
            "records_out": self.records_out,
            "dead_letters": sum(self.dead_letters.values()),
            "stripped_sensors": self.stripped_sensors,
            "spooled_records": self.spooled_records,
            "forwarded_records": self.forwarded_records,
            "spool_depth": self.spool_depth,
            "produce_failures": self.produce_failures,
        }
        if window:
            ordered = sorted(window)
            out["produce_latency_ms_avg"] = sum(ordered) / len(ordered)
            out["produce_latency_ms_p99"] = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return out


def pipeline_lines(
    metrics: GatewayMetrics, gateway_id: str, at: datetime, fields: Mapping[str, float | int] | None = None
) -> list[str]:
    """``pipeline`` points (millisecond timestamps): one with every counter, one per dead-letter reason.

    ``fields``: what :meth:`GatewayMetrics.fields` returned for this interval (it resets the latency
    window, so a caller that also logs them passes them in); taken from ``metrics`` when None.
    """
    ts_ms = int(at.timestamp() * 1000)
    tags = {"component": "gateway", "gateway_id": gateway_id}
    lines = [PIPELINE.point(tags, metrics.fields() if fields is None else fields, ts_ms)]
    lines += [
        PIPELINE.point({**tags, "reason": reason.value}, {"dead_letters": count}, ts_ms)
        for reason, count in sorted(metrics.dead_letters.items())
    ]
    return [entry for entry in lines if entry is not None]


def summary_line(fields: Mapping[str, float | int], dead_letters: Mapping[Reason, int]) -> str:
    """The counters of :meth:`GatewayMetrics.fields` in words, for the log::

        messages in 330, readings in 3,300 → out 3,280, dead letters 20 (malformed_json 12, too_old 8),
        spool 0, produce p99 12 ms

    Counters that are rarely non-zero (stripped sensors, spooled and forwarded records, produce
    failures) are named only when they are.
    """

    def n(name: str) -> str:
        return f"{int(fields.get(name, 0)):,}"

    dead = int(fields.get("dead_letters", 0))
    reasons = counts_text({reason.value: count for reason, count in dead_letters.items()})
    parts = [
        f"messages in {n('messages_in')}",
        f"readings in {n('readings_in')} → out {n('readings_out')}",
        f"dead letters {dead:,}" + (f" ({reasons})" if reasons else ""),
    ]
    for name, words in (
        ("stripped_sensors", "stripped sensor values"),
        ("spooled_records", "records spooled"),
        ("forwarded_records", "forwarded from the spool"),
        ("produce_failures", "produce failures"),
    ):
        if fields.get(name):
            parts.append(f"{words} {n(name)}")
    parts.append(f"spool {n('spool_depth')}")
    if "produce_latency_ms_p99" in fields:
        parts.append(f"produce p99 {fields['produce_latency_ms_p99']:.0f} ms")
    return ", ".join(parts)


class MetricsSink:
    """Best-effort writer of ``pipeline`` points: one try, a short timeout, a failure is only logged.

    The gateway's loop must not wait on its own metrics, so no retries here (the next interval
    writes cumulative counters anyway).
    """

    def __init__(self, settings: InfluxSettings, timeout_s: float = 3.0) -> None:
        quick = settings.model_copy(update={"timeout_s": min(settings.timeout_s, timeout_s)})
        self._writer = InfluxWriter(quick, retry_budget_s=0.0)

    def write(self, lines: list[str]) -> bool:
        """True when InfluxDB took every line."""
        try:
            self._writer.write(lines)
        except InfluxWriteError as exc:
            log.warning("metrics: %s", exc)
            return False
        return True

    def close(self) -> None:
        self._writer.close()
