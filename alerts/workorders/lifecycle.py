"""The work-order state machine and the priority/SLA rules, as pure functions.

requested → approved → waiting-parts | scheduled → in-progress → completed → closed; any open status
may be cancelled. Waiting-parts goes to scheduled once the parts are there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from forewarn.contracts.alert import Severity
from forewarn.contracts.work_order import Priority, WorkOrderStatus

S = WorkOrderStatus
TRANSITIONS: Mapping[WorkOrderStatus, frozenset[WorkOrderStatus]] = {
    S.REQUESTED: frozenset({S.APPROVED, S.CANCELLED}),
    S.APPROVED: frozenset({S.SCHEDULED, S.WAITING_PARTS, S.CANCELLED}),
    S.WAITING_PARTS: frozenset({S.SCHEDULED, S.WAITING_PARTS, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.IN_PROGRESS, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.COMPLETED, S.CANCELLED}),
    S.COMPLETED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}


def can_transition(current: WorkOrderStatus, target: WorkOrderStatus) -> bool:
    """Whether the lifecycle allows going from ``current`` to ``target``."""
    return target in TRANSITIONS[current]


PRIORITY_BY_SEVERITY: Mapping[Severity, Priority] = {
    Severity.CRITICAL: Priority.P1,
    Severity.MAJOR: Priority.P2,
    Severity.MINOR: Priority.P3,
    Severity.WARNING: Priority.P4,
}
DEFAULT_SLA_H: Mapping[Priority, float] = {
    Priority.P1: 4.0,
    Priority.P2: 24.0,
    Priority.P3: 72.0,
    Priority.P4: 168.0,
}


@dataclass(frozen=True)
class PriorityDecision:
    """The priority of a new work order and when its SLA says it must be done."""

    priority: Priority
    due_by: datetime


def priority_for(
    severity: Severity, created_at: datetime, sla_h: Mapping[Priority, float] = DEFAULT_SLA_H
) -> PriorityDecision:
    """Priority from the alert severity; due by = creation time + the priority's SLA."""
    priority = PRIORITY_BY_SEVERITY[severity]
    return PriorityDecision(priority, created_at + timedelta(hours=sla_h[priority]))
