"""The ``work_order`` contract: the codes of a work order (status, priority) every consumer names.

Produced by the work-order service (API, store, audit) and read by the KPIs, the InfluxDB gauges and
the dashboards. The state machine that moves between statuses stays in ``alerts.workorders.lifecycle``;
only the codes (and which of them count as open) are shared.
"""

from __future__ import annotations

from enum import StrEnum


class WorkOrderStatus(StrEnum):
    """Where a work order is in its life (in lifecycle order)."""

    REQUESTED = "requested"
    APPROVED = "approved"
    WAITING_PARTS = "waiting_parts"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_STATUSES: tuple[WorkOrderStatus, ...] = (
    WorkOrderStatus.REQUESTED,
    WorkOrderStatus.APPROVED,
    WorkOrderStatus.WAITING_PARTS,
    WorkOrderStatus.SCHEDULED,
    WorkOrderStatus.IN_PROGRESS,
)
"""The statuses of a work order still to be done, in lifecycle order (the boards list them so)."""


class Priority(StrEnum):
    """Work-order priority, P1 most urgent."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"
