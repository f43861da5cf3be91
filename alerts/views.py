"""What ``forewarn alerts list|show|snooze`` print and parse: pure functions over the API's shapes.

The commands read the store and print these; ``--json`` prints the same shapes the REST API
answers with (``AlertOut``, ``WorkOrderOut``), so a script can move between the two.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from alerts.api.schemas import AlertOut, WorkOrderOut
from alerts.store.alert_repo import HistoryEntry
from forewarn.table import table, utc_text

_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> timedelta:
    """``90s``, ``45m``, ``2h``, ``1h30m``, ``3d``, ``1w`` → a positive timedelta.

    Raises:
        ValueError: not such a duration, or zero.
    """
    compact = text.strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration like 90m, 2h, 1h30m or 3d")
    seconds = sum(float(n) * _UNITS_S[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return timedelta(seconds=seconds)


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


ALERT_COLUMNS = ("ALERT", "SEVERITY", "STATE", "ASSET", "SITE", "FAILURE MODE", "RISK", "RUL", "RAISED",
                 "WORK ORDER")  # fmt: skip


def alert_table(alerts: Sequence[AlertOut]) -> str:
    """One line per alert under a header; times in UTC, RUL in the model's cycles."""
    rows = [
        (
            a.alert_id,
            a.severity.value,
            a.state.value,
            a.asset_id,
            a.site,
            a.failure_mode,
            _number(a.trigger_risk, 2),
            _number(a.trigger_rul_cycles, 0),
            utc_text(a.raised_at),
            "-" if a.work_order_id is None else str(a.work_order_id),
        )
        for a in alerts
    ]
    return table(ALERT_COLUMNS, rows)


def _fields(values: dict[str, object], indent: str = "  ") -> list[str]:
    width = max(len(k) for k in values)
    out = []
    for key, value in values.items():
        shown = "-" if value is None or value == "" else str(value)
        out.append(f"{indent}{key.ljust(width)}  {shown}")
    return out


def describe(alert: AlertOut, work_order: WorkOrderOut | None, history: Sequence[HistoryEntry]) -> str:
    """Every field of the alert, its work order, and its history (oldest change first)."""
    lines = [f"alert {alert.alert_id}"]
    lines += _fields({k: v for k, v in alert.model_dump(mode="json").items() if k != "alert_id"})
    if work_order is None:
        lines.append("work order: none")
    else:
        lines.append(f"work order {work_order.id}")
        wo: dict[str, object] = work_order.model_dump(mode="json", exclude={"id", "parts"})
        wo["parts"] = ", ".join(f"{p.sku} x{p.quantity} (reserved {p.reserved_qty}, used {p.used_qty})"
                                for p in work_order.parts)  # fmt: skip
        lines += _fields(wo)
    changes = "1 change" if len(history) == 1 else f"{len(history)} changes"
    lines.append(f"history ({changes}, oldest first; published: when it reached Kafka)")
    if history:
        rows = [
            (utc_text(h.at), h.change.value, h.state.value, h.severity.value, h.by or "-",
             utc_text(h.published_at) if h.published_at else "pending", h.detail or "-")
            for h in history
        ]  # fmt: skip
        header = ("AT", "CHANGE", "STATE", "SEVERITY", "BY", "PUBLISHED", "DETAIL")
        lines += ["  " + line for line in table(header, rows).splitlines()]
    return "\n".join(lines)
