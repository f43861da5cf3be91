"""When a waiting work order expects its parts, on a real store (SQLite here, PostgreSQL in
integration): the longest supplier lead time among the parts short, unknown without a policy, kept
by a second attempt, cleared once the kit is reserved; the crew planner places the order no earlier.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.planning import crew_admin, crew_greedy, crew_store
from alerts.planning.crew_calendar import WeeklyShift
from alerts.planning.settings import PlanSettings
from alerts.store.db import transaction
from alerts.store.tables import AuditRow, WorkOrderRow
from alerts.workorders import part_policy, service
from forewarn.contracts.alert import Severity
from tests.unit.alerts.crew_scenarios import NOW

SITE = "site-a"
DAY = timedelta(days=1)
# failure mode → kit; policies at SITE: BRG 7 d, IMP 28 d, GRS 3 d; SEAL has none
KITS = {
    "bearing_wear": {"BRG": 1, "GRS": 1},
    "cavitation": {"IMP": 1, "BRG": 1},
    "seal_leak": {"SEAL": 1, "BRG": 1},
}
LEAD_DAYS = {"BRG": 7.0, "IMP": 28.0, "GRS": 3.0}


def store_with_policies(sessions: sessionmaker[Session]) -> int:
    """Kits, policies and a technician on Mon-Fri 08-16 skilled for every kit; only GRS in stock.

    Returns:
        The technician's id.
    """
    with transaction(sessions) as s:
        for mode, kit in KITS.items():
            service.set_kit(s, mode, kit, actor="t", now=NOW)
        for sku, days in LEAD_DAYS.items():
            part_policy.set_policy(s, sku, SITE, lead_time_days=days, reorder_point=1, actor="t", now=NOW)
        service.set_stock(s, "GRS", SITE, 5, actor="t", now=NOW)
        tech = service.add_technician(
            s, name="fitter", skills=list(KITS), site=SITE, territory=[], actor="t", now=NOW
        )
        shifts = [WeeklyShift(d, 8 * 60, 16 * 60) for d in range(5)]
        crew_admin.set_shifts(s, tech.id, shifts, replace=False, actor="t", now=NOW)
        return tech.id


def schedule_one(sessions: sessionmaker[Session], mode: str, *, now: datetime = NOW) -> WorkOrderRow:
    """Open, approve and try to schedule a work order of ``mode`` at SITE; the row afterwards."""
    with transaction(sessions) as s:
        row, _ = service.open_work_order(
            s, service.NewWorkOrder(f"pump-{mode}", SITE, mode, Severity.MAJOR), actor="t", now=now
        )
        service.approve(s, row.id, actor="t", now=now)
        service.schedule(s, row.id, actor="dispatcher", now=now)
        s.flush()
        s.expunge(row)
        return row


def reschedule(sessions: sessionmaker[Session], work_order_id: int, now: datetime) -> WorkOrderRow:
    with transaction(sessions) as s:
        row = service.schedule(s, work_order_id, actor="dispatcher", now=now)
        s.flush()
        s.expunge(row)
        return row


def last_audit(sessions: sessionmaker[Session], work_order_id: int) -> AuditRow:
    with transaction(sessions) as s:
        row = s.scalars(
            select(AuditRow)
            .where(AuditRow.entity == "work_order", AuditRow.entity_id == str(work_order_id))
            .order_by(AuditRow.id.desc())
        ).first()
        assert row is not None
        s.expunge(row)
        return row


def parts_date_is_the_longest_lead_time_or_unknown(sessions: sessionmaker[Session]) -> None:
    """Short of BRG (7 d): now + 7 d; short of IMP (28 d) and BRG: now + 28 d; short of SEAL (no
    policy) and BRG: unknown. The date is in the audited change."""
    store_with_policies(sessions)
    one = schedule_one(sessions, "bearing_wear")
    two = schedule_one(sessions, "cavitation")
    unknown = schedule_one(sessions, "seal_leak")
    assert {one.status, two.status, unknown.status} == {"waiting_parts"}
    assert one.parts_available_at == NOW + 7 * DAY
    assert two.parts_available_at == NOW + 28 * DAY
    assert unknown.parts_available_at is None
    audited = last_audit(sessions, one.id)
    assert audited.action == "waiting_parts"
    assert audited.after is not None
    assert audited.after["parts_short"] == ["BRG"]
    assert audited.after["parts_available_at"] == (NOW + 7 * DAY).isoformat()


def a_second_attempt_keeps_the_date_and_a_restock_clears_it(sessions: sessionmaker[Session]) -> None:
    """Trying again before the date keeps it (a re-plan never pushes it a lead time further); after
    the date, still short, it is estimated again; a restock reserves the kit and clears it."""
    store_with_policies(sessions)
    order = schedule_one(sessions, "bearing_wear")
    assert reschedule(sessions, order.id, NOW + 2 * DAY).parts_available_at == NOW + 7 * DAY
    late = NOW + 8 * DAY  # the parts did not come
    assert reschedule(sessions, order.id, late).parts_available_at == late + 7 * DAY
    with transaction(sessions) as s:
        restock = service.set_stock(s, "BRG", SITE, 1, actor="storekeeper", now=late + DAY)
    assert restock.released == [order.id]
    with transaction(sessions) as s:
        row = s.get_one(WorkOrderRow, order.id)
        assert (row.status, row.parts_available_at) == ("scheduled", None)
    audited = last_audit(sessions, order.id)
    assert audited.action == "release"
    assert audited.before is not None
    assert audited.after is not None
    assert audited.before["parts_available_at"] == (late + 7 * DAY).isoformat()
    assert audited.after["parts_available_at"] is None


def the_planner_places_a_waiting_order_no_earlier_than_its_parts(sessions: sessionmaker[Session]) -> None:
    """The greedy crew plan puts the 7-day order on the first shift from its date on, and leaves the
    order with no date unplaced; applying it keeps the order waiting with the same date."""
    tech = store_with_policies(sessions)
    waiting = schedule_one(sessions, "bearing_wear")  # parts in 7 d: Monday 12 Jan 07:00
    unknown = schedule_one(sessions, "seal_leak")
    settings = PlanSettings(horizon_days=14, max_overtime_min=0)
    with transaction(sessions) as s:
        run = crew_store.plan_crew(
            s, settings, crew_greedy.schedule, now=NOW, actor="dispatcher", apply_plan=True
        )
    placed = {a.work_order_id: a for a in run.plan.assignments}
    assert set(placed) == {waiting.id}
    assert placed[waiting.id].technician_id == tech
    assert placed[waiting.id].start == NOW + 7 * DAY + timedelta(hours=1)  # 08:00, the shift opens
    reasons = {u.work_order_id: u.reason for u in run.plan.unplaced}
    assert reasons == {unknown.id: crew_store.PARTS_DATE_UNKNOWN}
    with transaction(sessions) as s:
        row = s.get_one(WorkOrderRow, waiting.id)
        assert row.status == "waiting_parts"
        assert row.parts_available_at == NOW + 7 * DAY
        assert row.scheduled_start is not None
        assert row.scheduled_start >= row.parts_available_at
