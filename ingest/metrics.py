"""Gateway counters, logged and written to InfluxDB as ``pipeline`` points.

Counters are cumulative since start (dashboards take the derivative); spool depth is a gauge and
produce latency is summarised per interval. Tags stay bounded: component, gateway id, reason.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from forewarn.influx import escape_tag
from forewarn.settings import InfluxSettings
from ingest.reasons import Reason

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


def line_protocol(metrics: GatewayMetrics, gateway_id: str, at: datetime) -> str:
    """``pipeline`` points for InfluxDB: one with every counter, one per dead-letter reason."""
    ts_ns = int(at.timestamp() * 1e9)
    tags = f"component=gateway,gateway_id={escape_tag(gateway_id)}"
    values = ",".join(
        f"{k}={v}i" if isinstance(v, int) else f"{k}={v:.3f}" for k, v in metrics.fields().items()
    )
    lines = [f"pipeline,{tags} {values} {ts_ns}"]
    lines += [
        f"pipeline,{tags},reason={reason.value} dead_letters={count}i {ts_ns}"
        for reason, count in sorted(metrics.dead_letters.items())
    ]
    return "\n".join(lines)


class InfluxWriter:
    """Best-effort writer of ``pipeline`` points: a failed write is logged, never fatal."""

    def __init__(self, settings: InfluxSettings) -> None:
        self.settings = settings
        self._client = httpx.Client(timeout=min(settings.timeout_s, 3.0), headers=settings.auth_headers())

    def write(self, lines: str) -> bool:
        """POST line protocol to ``/write``; True when InfluxDB took it."""
        params = {"db": self.settings.database, "precision": "ns", **self.settings.auth_params()}
        try:
            response = self._client.post(f"{self.settings.url}/write", params=params, content=lines.encode())
        except httpx.HTTPError as exc:
            log.warning("metrics: InfluxDB write failed: %s", exc)
            return False
        if response.status_code != 204:
            log.warning("metrics: InfluxDB answered %s: %s", response.status_code, response.text[:200])
            return False
        return True

    def close(self) -> None:
        self._client.close()
