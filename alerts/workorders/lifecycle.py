"""The work-order state machine and the priority/SLA rules, as pure functions.

requested → approved → waiting-parts | scheduled → in-progress → completed → closed; any open status
may be cancelled. Waiting-parts goes to scheduled once the parts are there.

Priority follows the alert: a work order opens at the priority of its alert's severity and rises with
it (:func:`escalated`); the longest an alert may be snoozed follows the same table
(:data:`DEFAULT_MAX_SNOOZE_H`).
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
_RANK: Mapping[Priority, int] = {p: i for i, p in enumerate(Priority)}  # P1 → 0 (most urgent)


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


def escalated(
    priority: Priority,
    due_by: datetime,
    severity: Severity,
    now: datetime,
    sla_h: Mapping[Priority, float] = DEFAULT_SLA_H,
) -> PriorityDecision | None:
    """The priority and due time of an open work order whose alert is now ``severity``; None: unchanged.

    The new SLA is counted from ``now`` (the escalation), not from the alert's raise: the crew learns
    of the higher severity only now, and an SLA counted from an old raise (a MINOR alert three days
    open turning CRITICAL) would be breached the moment it is set, which says nothing about the
    response to the escalation. ``due_by`` is the earlier of the current one and that new deadline,
    so an escalation never gives the crew more time than they had.

    Never lowers: a severity at or below the current priority changes nothing. Severity only rises
    while an alert is open (the rules never downgrade it), and a work order outlives the readings
    that raised it: urgency given to a job already planned is not taken back automatically.
    """
    target = PRIORITY_BY_SEVERITY[severity]
    if _RANK[target] >= _RANK[priority]:
        return None
    return PriorityDecision(target, min(due_by, now + timedelta(hours=sla_h[target])))


DEFAULT_MAX_SNOOZE_H: Mapping[Severity, float] = {
    severity: DEFAULT_SLA_H[priority] for severity, priority in PRIORITY_BY_SEVERITY.items()
}
"""The longest snooze per severity, by default the SLA of the priority that severity opens.

A snooze longer than that would hide the alert past the time its work order is due (CRITICAL 4 h,
MAJOR 24 h: a shift and a day; MINOR 72 h: over a weekend; WARNING 168 h: a week, the planning
horizon of routine maintenance). Settings may shorten or lengthen each (``FOREWARN_API_MAX_SNOOZE_H``).
"""


def snooze_limit(
    severity: Severity, now: datetime, max_snooze_h: Mapping[Severity, float] = DEFAULT_MAX_SNOOZE_H
) -> datetime:
    """The latest time an alert of ``severity`` may be snoozed until, snoozed at ``now``."""
    return now + timedelta(hours=max_snooze_h[severity])
