"""Training labels from work-order outcomes: confirmed faults and false alarms.

One label per completed or closed work order with an outcome, in the label file of the ``labels``
contract (:mod:`forewarn.contracts.labels`): a found fault is labelled with the crew's failure code
(else the mode the alert predicted) (``work_order``), a sound asset with ``none`` (``false_alarm``).

A fault label's time is when the fault happened (``failed_at``, reported at completion), else when it
was seen (on site, else completion). Training reads a fault label's time as the failure's
(``models.labels.rul_from_label_times``), so a visit hours after the failure, stamped with its own
time, would give the run-up readings a healthy RUL and the replacement's readings a failing one.
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
            asset_id=row.asset_id,
            ts=row.failed_at or seen,
            failure_mode=row.failure_code or row.failure_mode,
            source=LabelSource.WORK_ORDER,
        )
    return Label(asset_id=row.asset_id, ts=seen, failure_mode=NO_FAILURE, source=LabelSource.FALSE_ALARM)


def from_store(session: Session) -> list[Label]:
    """Every label the store holds, by time then asset."""
    labels = [label_for(r) for r in session.scalars(select(WorkOrderRow).order_by(WorkOrderRow.id))]
    return sorted((lb for lb in labels if lb is not None), key=lambda lb: (lb.ts, lb.asset_id))
