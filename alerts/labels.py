"""Training labels from work-order outcomes: confirmed faults and false alarms.

Columns, one row per completed or closed work order with an outcome:
``asset_id``, ``ts`` (when the fault was seen: on site, else completion; UTC ISO 8601),
``failure_mode`` (the work order's failure mode when a fault was found, ``none`` for a false alarm),
``source`` (``work_order`` or ``false_alarm``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.store.tables import WorkOrderRow
from alerts.workorders.lifecycle import WorkOrderStatus

COLUMNS = ("asset_id", "ts", "failure_mode", "source")
NO_FAILURE = "none"


@dataclass(frozen=True)
class Label:
    """One training label."""

    asset_id: str
    ts: datetime
    failure_mode: str
    source: str


def label_for(row: WorkOrderRow) -> Label | None:
    """The label a work order's outcome gives, or None while it has no outcome."""
    if row.status not in (WorkOrderStatus.COMPLETED, WorkOrderStatus.CLOSED) or row.fault_found is None:
        return None
    seen = row.on_site_at or row.completed_at
    if seen is None:
        return None
    if row.fault_found:
        return Label(row.asset_id, seen, row.failure_mode, "work_order")
    return Label(row.asset_id, seen, NO_FAILURE, "false_alarm")


def from_store(session: Session) -> list[Label]:
    """Every label the store holds, by time then asset."""
    labels = [label_for(r) for r in session.scalars(select(WorkOrderRow).order_by(WorkOrderRow.id))]
    return sorted((lb for lb in labels if lb is not None), key=lambda lb: (lb.ts, lb.asset_id))


def write(labels: Sequence[Label], path: Path) -> None:
    """Write CSV, or Parquet when ``path`` ends in ``.parquet``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [_row(lb) for lb in labels]
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({c: [r[c] for r in rows] for c in COLUMNS})
        pq.write_table(table, path)
        return
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _row(label: Label) -> dict[str, str]:
    return {
        "asset_id": label.asset_id,
        "ts": label.ts.isoformat(),
        "failure_mode": label.failure_mode,
        "source": label.source,
    }


def read_csv(path: Path) -> Iterable[dict[str, str]]:
    """Read back an exported CSV (for checks and tests)."""
    with path.open(encoding="utf-8", newline="") as f:
        yield from csv.DictReader(f)
