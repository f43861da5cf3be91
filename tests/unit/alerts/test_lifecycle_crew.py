"""The work-order state machine, priority/SLA and technician ranking as pure functions."""

from __future__ import annotations

import itertools

import pytest

from alerts.workorders.crew import Candidate, suggest
from alerts.workorders.lifecycle import can_transition, priority_for
from alerts.workorders.parts import Shortage, shortages
from forewarn.contracts.alert import Severity
from forewarn.contracts.work_order import Priority, WorkOrderStatus
from tests.unit.alerts.helpers import at

S = WorkOrderStatus
ALLOWED = {
    (S.REQUESTED, S.APPROVED),
    (S.APPROVED, S.SCHEDULED),
    (S.APPROVED, S.WAITING_PARTS),
    (S.WAITING_PARTS, S.SCHEDULED),
    (S.WAITING_PARTS, S.WAITING_PARTS),
    (S.SCHEDULED, S.IN_PROGRESS),
    (S.IN_PROGRESS, S.COMPLETED),
    (S.COMPLETED, S.CLOSED),
    *((s, S.CANCELLED) for s in (S.REQUESTED, S.APPROVED, S.WAITING_PARTS, S.SCHEDULED, S.IN_PROGRESS)),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_every_transition(current: WorkOrderStatus, target: WorkOrderStatus) -> None:
    assert can_transition(current, target) is ((current, target) in ALLOWED)


@pytest.mark.parametrize(
    ("severity", "priority", "hours"),
    [
        (Severity.CRITICAL, Priority.P1, 4),
        (Severity.MAJOR, Priority.P2, 24),
        (Severity.MINOR, Priority.P3, 72),
        (Severity.WARNING, Priority.P4, 168),
    ],
)
def test_priority_and_sla(severity: Severity, priority: Priority, hours: int) -> None:
    decision = priority_for(severity, at(0))
    assert decision.priority is priority
    assert decision.due_by == at(hours * 3600)


def _c(
    tid: int, skills: set[str], site: str, load: int, territory: set[str] | None = None, active: bool = True
) -> Candidate:
    return Candidate(tid, f"t{tid}", frozenset(skills), site, frozenset(territory or set()), load, active)


def test_ranking_skill_then_site_then_load() -> None:
    candidates = [
        _c(1, {"general"}, "s1", 0),  # generalist at home, idle
        _c(2, {"bearing"}, "s2", 0, {"s1"}),  # specialist covering s1
        _c(3, {"bearing"}, "s1", 3),  # specialist at home, busy
        _c(4, {"bearing"}, "s1", 1),  # specialist at home, less busy
        _c(5, {"seal"}, "s1", 0),  # wrong skill
        _c(6, {"bearing"}, "s3", 0),  # does not cover s1
        _c(7, {"bearing"}, "s1", 0, active=False),  # inactive
    ]
    ranked = suggest(candidates, "bearing", "s1")
    assert [s.technician_id for s in ranked] == [4, 3, 2, 1]
    assert ranked[0].reasons == ("specialist", "home site", "1 open work orders")


def test_shortages() -> None:
    assert shortages({"a": 2, "b": 1}, {"a": 2, "b": 1}) == []
    assert shortages({"a": 2, "b": 1}, {"a": 1}) == [Shortage("a", 2, 1), Shortage("b", 1, 0)]
