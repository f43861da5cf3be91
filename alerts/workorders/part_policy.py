"""How a part is replenished at a site: supplier lead time, reorder point, optional lot size.

Setting a policy is also how an admin introduces a new SKU at a site before the first delivery
(``alerts.workorders.stock`` accepts a SKU with a policy). The demand plan reads the lead time.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.store.tables import PartPolicyRow
from alerts.workorders import audit
from alerts.workorders.errors import ErrorCode, WorkOrderError

MAX_LEAD_TIME_DAYS = 3650.0  # ten years: anything longer is a typo


def set_policy(
    session: Session,
    sku: str,
    site: str,
    *,
    lead_time_days: float,
    reorder_point: int,
    reorder_qty: int | None = None,
    actor: str,
    now: datetime,
) -> PartPolicyRow:
    """Create or replace the policy of ``sku`` at ``site``; audited (before and after).

    Refused (``INVALID``): a lead time outside [0, 10 years], a negative reorder point, a lot size
    that is not positive.
    """
    if not (math.isfinite(lead_time_days) and 0 <= lead_time_days <= MAX_LEAD_TIME_DAYS):
        raise WorkOrderError(
            ErrorCode.INVALID, f"lead_time_days must be in [0, {MAX_LEAD_TIME_DAYS:g}], got {lead_time_days}"
        )
    if reorder_point < 0:
        raise WorkOrderError(ErrorCode.INVALID, f"reorder_point must be ≥ 0, got {reorder_point}")
    if reorder_qty is not None and reorder_qty <= 0:
        raise WorkOrderError(ErrorCode.INVALID, f"reorder_qty must be positive when given, got {reorder_qty}")
    row = session.get(PartPolicyRow, (sku, site), with_for_update=True)
    before = audit.snapshot(row) if row else None
    if row is None:
        try:
            with session.begin_nested():
                session.add(PartPolicyRow(sku=sku, site=site, lead_time_days=0.0, reorder_point=0))
                session.flush()
        except IntegrityError:
            pass  # another admin created it at the same moment: we update theirs
        row = session.get(PartPolicyRow, (sku, site), with_for_update=True, populate_existing=True)
        assert row is not None
    row.lead_time_days = float(lead_time_days)
    row.reorder_point = reorder_point
    row.reorder_qty = reorder_qty
    session.flush()
    audit.record(
        session,
        entity="part_policy",
        entity_id=f"{sku}@{site}",
        action="set_policy",
        actor=actor,
        at=now,
        before=before,
        after=audit.snapshot(row),
    )
    return row
