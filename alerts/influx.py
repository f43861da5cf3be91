"""Alert changes and KPI snapshots as InfluxDB line protocol (measurements ``alerts``, ``work_orders``).

Tags stay bounded (site, asset_id, failure_mode, severity, state, change, model_version); ids go in
fields. InfluxDB is a view for Grafana: the store and Kafka hold the truth, so a failed write is
reported to the caller (and counted by it), never retried forever.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import httpx

from alerts.alert_contract import event_from_change
from alerts.kpis import Kpis
from alerts.state import AlertChange
from forewarn.influx import escape_tag
from forewarn.settings import InfluxSettings


def _field(value: float | int | str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def line(measurement: str, tags: Mapping[str, str | None], fields: Mapping[str, object], ts: datetime) -> str:
    """One point in line protocol (ms precision); None tags and None fields are left out."""
    tag_part = "".join(f",{k}={escape_tag(v)}" for k, v in sorted(tags.items()) if v)
    kept = {k: v for k, v in fields.items() if v is not None}
    if not kept:
        raise ValueError(f"a {measurement} point needs at least one field")
    field_part = ",".join(f"{k}={_field(v)}" for k, v in sorted(kept.items()))  # type: ignore[arg-type]
    return f"{measurement}{tag_part} {field_part} {_ms(ts)}"


def alert_lines(changes: Iterable[AlertChange]) -> list[str]:
    """One ``alerts`` point per change."""
    out = []
    for change in changes:
        e = event_from_change(change)
        out.append(
            line(
                "alerts",
                {
                    "site": e.site,
                    "asset_id": e.asset_id,
                    "failure_mode": e.failure_mode,
                    "severity": e.severity.value,
                    "state": e.state.value,
                    "change": e.change.value,
                    "model_version": e.model_version,
                },
                {
                    "alert_id": e.alert_id,
                    "occurrence_count": e.occurrence_count,
                    "trigger_risk": e.trigger_risk,
                    "trigger_rul_cycles": e.trigger_rul_cycles,
                    "escalation_tier": e.escalation_tier,
                    "work_order_id": e.work_order_id,
                },
                e.change_ts,
            )
        )
    return out


def kpi_lines(kpis: Kpis, at: datetime) -> list[str]:
    """A ``work_orders`` KPI snapshot, plus one point per model version for precision."""
    numbers = kpis.model_dump(exclude={"precision_by_model_version"})
    out = [line("work_orders", {"kind": "kpis"}, numbers, at)]
    for p in kpis.precision_by_model_version:
        out.append(
            line(
                "work_orders",
                {"kind": "precision", "model_version": p.model_version},
                p.model_dump(exclude={"model_version"}),
                at,
            )
        )
    return out


def write(settings: InfluxSettings, lines: list[str], client: httpx.Client | None = None) -> None:
    """POST lines to ``/write`` (ms precision); raises httpx.HTTPStatusError with InfluxDB's reason."""
    if not lines:
        return
    own = client is None
    http = client or httpx.Client(timeout=settings.timeout_s)
    try:
        response = http.post(
            f"{settings.url}/write",
            params={"db": settings.database, "precision": "ms", **settings.auth_params()},
            headers=settings.auth_headers(),
            content="\n".join(lines).encode(),
        )
        response.raise_for_status()
    finally:
        if own:
            http.close()
