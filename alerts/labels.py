"""Training labels from work-order outcomes: confirmed faults and false alarms.

One label per completed or closed work order with an outcome, in the label file of the ``labels``
contract (:mod:`forewarn.contracts.labels`): a found fault is labelled with the work order's failure
mode (``work_order``), a sound asset with ``none`` (``false_alarm``), at the time the fault was seen
(on site, else completion).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.store.tables import WorkOrderRow
from forewarn.contracts.labels import NO_FAILURE, Label, LabelSource
from forewarn.contracts.work_order import WorkOrderStatus


def label_for(row: WorkOrderRow) -> Label | None:
    """The label a work order's outcome gives, or None while it has no outcome."""
    if row.status not in (WorkOrderStatus.COMPLETED, WorkOrderStatus.CLOSED) or row.fault_found is None:
        return None
    seen = row.on_site_at or row.completed_at
    if seen is None:
        return None
    if row.fault_found:
        return Label(
            asset_id=row.asset_id, ts=seen, failure_mode=row.failure_mode, source=LabelSource.WORK_ORDER
        )
    return Label(asset_id=row.asset_id, ts=seen, failure_mode=NO_FAILURE, source=LabelSource.FALSE_ALARM)


def from_store(session: Session) -> list[Label]:
    """Every label the store holds, by time then asset."""
    labels = [label_for(r) for r in session.scalars(select(WorkOrderRow).order_by(WorkOrderRow.id))]
    return sorted((lb for lb in labels if lb is not None), key=lambda lb: (lb.ts, lb.asset_id))
