"""Work-order operations on the store: open idempotently, move through the lifecycle, crew and parts.

Every function works inside the caller's transaction (a ``Session``), audits what it changes and
raises :class:`WorkOrderError` with a reason code when the operation is not allowed.

Two changes happen without a person asking for them, each audited under the actor whose action
caused it: a work order's priority rises with its alert's severity (``reprioritise``), and stock
becoming free at a site releases the work orders waiting there for it (``release``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.store.tables import (
    PartKitRow,
    PartPolicyRow,
    PartStockRow,
    TechnicianRow,
    WorkOrderPartRow,
    WorkOrderRow,
)
from alerts.workorders import audit, stock
from alerts.workorders.crew import Candidate, Suggestion, suggest
from alerts.workorders.errors import ErrorCode, WorkOrderError
from alerts.workorders.lifecycle import DEFAULT_SLA_H, can_transition, escalated, priority_for
from alerts.workorders.parts import shortages
from alerts.workorders.parts_eta import parts_expected_at
from alerts.workorders.release import Waiting, release_plan
from forewarn.contracts.alert import Severity
from forewarn.contracts.work_order import OPEN_STATUSES, Priority, WorkOrderStatus

S = WorkOrderStatus
T = TypeVar("T")
_OPEN = [s.value for s in OPEN_STATUSES]


@dataclass(frozen=True)
class NewWorkOrder:
    """What opening a work order needs; ``alert_id`` set when an alert asks for it."""

    asset_id: str
    site: str
    failure_mode: str
    severity: Severity
    alert_id: str | None = None
    alert_raised_at: datetime | None = None
    model_name: str | None = None
    model_version: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What the technician found, recorded at completion (it becomes a training label)."""

    fault_found: bool
    failure_code: str | None
    notes: str
    parts_used: Mapping[str, int]
    time_on_site_min: float | None = None
    failed_at: datetime | None = None  # when the fault happened, if the crew could tell (the label's time)


CLOCK_SKEW = timedelta(minutes=5)
"""How far past the completion a reported failure time may lie (a crew device's clock running ahead);
such a time is stored as the completion's: the fault cannot follow the visit that reports it."""
FAILED_AT_LOOKBACK = timedelta(days=30)
"""How long before the work order was opened a reported failure may lie. An alert warns of a fault
ahead and the order opens at once, so an earlier failure is an older event (or a mistyped date):
it belongs to a work order of its own, not to this one's label."""


def failure_time(row: WorkOrderRow, outcome: Outcome, now: datetime) -> datetime | None:
    """The failure time to store for ``outcome`` completed ``now``, or None when none was reported.

    Raises:
        WorkOrderError: INVALID when the time comes with no fault found, lies after the completion
            by more than :data:`CLOCK_SKEW`, or before the order by more than :data:`FAILED_AT_LOOKBACK`.
    """
    at = outcome.failed_at
    if at is None:
        return None
    if not outcome.fault_found:
        raise WorkOrderError(
            ErrorCode.INVALID, "the failure time (failed_at) needs a found fault (a sound asset did not fail)"
        )
    if at > now + CLOCK_SKEW:
        raise WorkOrderError(
            ErrorCode.INVALID,
            f"the failure time (failed_at) {at.isoformat()} is after the completion ({now.isoformat()})",
        )
    earliest = row.created_at - FAILED_AT_LOOKBACK
    if at < earliest:
        raise WorkOrderError(
            ErrorCode.INVALID,
            f"the failure time (failed_at) {at.isoformat()} is more than {FAILED_AT_LOOKBACK.days} days "
            f"before the work order was opened ({row.created_at.isoformat()}): record that failure on "
            "its own work order",
        )
    return min(at, now).astimezone(UTC)


class KnownOrders:
    """The work orders a batch of alert changes can touch, read in three queries up front.

    The alert engine stores a batch's changes in one transaction; looking each order up as the
    change came (two queries to find an open one, one for its kit, one to reprioritise it, each
    after an autoflush) was two thirds of storing a change (py-spy over a replay of a
    ``bench.chain`` run's 600,600 ``risk`` records: 4,255 changes, 1,264 work orders). The index
    answers what those queries would have, inside the transaction: orders opened meanwhile are
    added by :func:`open_work_order`, and only the engine's own calls change them.
    """

    def __init__(
        self,
        session: Session,
        *,
        alert_ids: Collection[str],
        keys: Collection[tuple[str, str]],
        order_ids: Collection[int],
    ) -> None:
        self.by_alert: dict[str, WorkOrderRow] = {}
        self.open_by_key: dict[tuple[str, str], WorkOrderRow] = {}
        self.by_id: dict[int, WorkOrderRow] = {}
        self._kits: dict[str, list[PartKitRow]] = {}
        wanted = set(keys)
        for ids in _chunks(sorted(set(alert_ids))):
            for row in session.scalars(select(WorkOrderRow).where(WorkOrderRow.source_alert_id.in_(ids))):
                self.hold(row)
        is_open = WorkOrderRow.status.in_(_OPEN)
        for assets in _chunks(sorted({asset for asset, _ in wanted})):
            for row in session.scalars(
                select(WorkOrderRow).where(WorkOrderRow.asset_id.in_(assets), is_open)
            ):
                if (row.asset_id, row.failure_mode) in wanted:
                    self.hold(row)
        for numbers in _chunks(sorted(set(order_ids))):  # locked, as ``reprioritise`` reads them
            query = select(WorkOrderRow).where(WorkOrderRow.id.in_(numbers)).with_for_update()
            for row in session.scalars(query):
                self.hold(row)

    def hold(self, row: WorkOrderRow) -> None:
        """Index ``row`` (read, or opened in this transaction)."""
        self.by_id[row.id] = row
        if row.source_alert_id is not None:
            self.by_alert[row.source_alert_id] = row
        if row.status in _OPEN:  # at most one per key: the partial unique index
            self.open_by_key[(row.asset_id, row.failure_mode)] = row

    def find(self, new: NewWorkOrder) -> WorkOrderRow | None:
        """What :func:`_find_existing` would return."""
        if new.alert_id is not None and new.alert_id in self.by_alert:
            return self.by_alert[new.alert_id]
        return self.open_by_key.get((new.asset_id, new.failure_mode))

    def kit(self, session: Session, failure_mode: str) -> list[PartKitRow]:
        """The failure mode's part kit, read once per batch."""
        if failure_mode not in self._kits:
            query = select(PartKitRow).where(PartKitRow.failure_mode == failure_mode)
            self._kits[failure_mode] = list(session.scalars(query))
        return self._kits[failure_mode]


KEYS_PER_QUERY = 500
"""Ids named in one ``IN`` of :class:`KnownOrders`' reads."""


def _chunks(items: list[T]) -> list[list[T]]:
    return [items[start : start + KEYS_PER_QUERY] for start in range(0, len(items), KEYS_PER_QUERY)]


def _find_existing(session: Session, new: NewWorkOrder) -> WorkOrderRow | None:
    if new.alert_id is not None:
        by_alert = session.scalar(select(WorkOrderRow).where(WorkOrderRow.source_alert_id == new.alert_id))
        if by_alert is not None:
            return by_alert
    return session.scalar(
        select(WorkOrderRow).where(
            WorkOrderRow.asset_id == new.asset_id,
            WorkOrderRow.failure_mode == new.failure_mode,
            WorkOrderRow.status.in_(_OPEN),
        )
    )


def open_work_order(
    session: Session,
    new: NewWorkOrder,
    *,
    actor: str,
    now: datetime,
    sla_h: Mapping[Priority, float] = DEFAULT_SLA_H,
    known: KnownOrders | None = None,
) -> tuple[WorkOrderRow, bool]:
    """Open a work order, or return the one already open for (asset, failure mode) or this alert.

    Idempotent under concurrency: the partial unique index on open (asset, failure mode) and the unique
    source alert make a racing duplicate fail its insert; that duplicate then returns the winner.
    With ``known`` (read earlier in this transaction), the existing order and the kit come from it,
    and a created order is added to it.

    Returns:
        The work order and whether this call created it.
    """
    existing = known.find(new) if known is not None else _find_existing(session, new)
    if existing is not None:
        return existing, False
    decision = priority_for(new.severity, now, sla_h)
    row = WorkOrderRow(
        asset_id=new.asset_id,
        site=new.site,
        failure_mode=new.failure_mode,
        status=S.REQUESTED.value,
        severity=new.severity.value,
        priority=decision.priority.value,
        due_by=decision.due_by,
        source_alert_id=new.alert_id,
        alert_raised_at=new.alert_raised_at,
        model_name=new.model_name,
        model_version=new.model_version,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        winner = _find_existing(session, new)
        if winner is None:
            raise
        return winner, False
    if known is not None:
        known.hold(row)
        kits: Sequence[PartKitRow] = known.kit(session, new.failure_mode)
    else:
        kits = session.scalars(select(PartKitRow).where(PartKitRow.failure_mode == new.failure_mode)).all()
    for kit in kits:
        session.add(WorkOrderPartRow(work_order_id=row.id, sku=kit.sku, quantity=kit.quantity))
    audit.record(
        session,
        entity="work_order",
        entity_id=row.id,
        action="create",
        actor=actor,
        at=now,
        before=None,
        after=audit.snapshot(row),
    )
    return row, True


def get(session: Session, work_order_id: int) -> WorkOrderRow:
    """The work order, locked for update where the database supports it; NOT_FOUND if absent."""
    row = session.get(WorkOrderRow, work_order_id, with_for_update=True)
    if row is None:
        raise WorkOrderError(ErrorCode.NOT_FOUND, f"work order {work_order_id} does not exist")
    return row


def _move(
    session: Session, row: WorkOrderRow, target: WorkOrderStatus, *, action: str, actor: str, now: datetime
) -> dict[str, object]:
    current = WorkOrderStatus(row.status)
    if not can_transition(current, target):
        raise WorkOrderError(
            ErrorCode.ILLEGAL_TRANSITION,
            f"work order {row.id} is {current.value}; {action} (→ {target.value}) is not allowed from there",
        )
    before = audit.snapshot(row)
    row.status = target.value
    row.updated_at = now
    return before


def _audit_change(
    session: Session,
    row: WorkOrderRow,
    before: dict[str, object],
    action: str,
    actor: str,
    now: datetime,
    extra: Mapping[str, object] | None = None,
) -> None:
    session.flush()
    audit.record(
        session,
        entity="work_order",
        entity_id=row.id,
        action=action,
        actor=actor,
        at=now,
        before=dict(before),
        after=audit.snapshot(row) | dict(extra or {}),
    )


def approve(session: Session, work_order_id: int, *, actor: str, now: datetime) -> WorkOrderRow:
    """requested → approved."""
    row = get(session, work_order_id)
    before = _move(session, row, S.APPROVED, action="approve", actor=actor, now=now)
    _audit_change(session, row, before, "approve", actor, now)
    return row


def candidates(session: Session) -> list[Candidate]:
    """Every technician with their current open load."""
    loads = dict(
        session.execute(
            select(WorkOrderRow.technician_id, func.count())
            .where(WorkOrderRow.status.in_(_OPEN), WorkOrderRow.technician_id.is_not(None))
            .group_by(WorkOrderRow.technician_id)
        ).all()
    )
    return [
        Candidate(
            technician_id=t.id,
            name=t.name,
            skills=frozenset(t.skills),
            site=t.site,
            territory=frozenset(t.territory),
            open_load=int(loads.get(t.id, 0)),
            active=t.active,
        )
        for t in session.scalars(select(TechnicianRow))
    ]


def suggestions(session: Session, work_order_id: int) -> list[Suggestion]:
    """Technicians for this work order, best first."""
    row = session.get(WorkOrderRow, work_order_id)
    if row is None:
        raise WorkOrderError(ErrorCode.NOT_FOUND, f"work order {work_order_id} does not exist")
    return suggest(candidates(session), row.failure_mode, row.site)


def assign(
    session: Session, work_order_id: int, technician_id: int, *, actor: str, now: datetime
) -> WorkOrderRow:
    """Assign a technician to an open work order not yet in progress."""
    row = get(session, work_order_id)
    if row.status not in (S.REQUESTED, S.APPROVED, S.WAITING_PARTS, S.SCHEDULED):
        raise WorkOrderError(
            ErrorCode.ILLEGAL_TRANSITION, f"work order {row.id} is {row.status}; it cannot be reassigned"
        )
    tech = session.get(TechnicianRow, technician_id)
    if tech is None or not tech.active:
        raise WorkOrderError(ErrorCode.INVALID, f"technician {technician_id} does not exist or is inactive")
    before = audit.snapshot(row)
    row.technician_id = technician_id
    row.updated_at = now
    _audit_change(session, row, before, "assign", actor, now)
    return row


def _stock(session: Session, sku: str, site: str) -> PartStockRow | None:
    return stock.lock(session, sku, site)


def schedule(
    session: Session,
    work_order_id: int,
    *,
    actor: str,
    now: datetime,
    technician_id: int | None = None,
    start_at: datetime | None = None,
) -> WorkOrderRow:
    """approved | waiting-parts → scheduled with the kit reserved, or → waiting-parts when short.

    The technician is the one given, else the one assigned, else the best suggestion. ``start_at``
    is the planned start (the dispatch board's date and time): kept in ``scheduled_start`` whether
    the kit is there or the order waits for it, refused when in the past; None keeps the one set
    before, if any.

    ``parts_available_at`` (the date the crew planner places the order no earlier than) is set when
    the order waits: now + the longest supplier lead time among the parts short at the site
    (``part_policies``), None (unknown: the planner leaves it unplaced) when one of them has no
    policy, a date already ahead kept (:mod:`alerts.workorders.parts_eta`). When the kit is
    reserved (here or by :func:`release_waiting`) it is cleared: the parts are available now.
    """
    row = get(session, work_order_id)
    if not can_transition(WorkOrderStatus(row.status), S.SCHEDULED):
        raise WorkOrderError(
            ErrorCode.ILLEGAL_TRANSITION, f"work order {row.id} is {row.status}; it cannot be scheduled"
        )
    if start_at is not None:
        start_at = start_at.astimezone(UTC)  # served back as stored: UTC, whatever offset it came with
    if start_at is not None and start_at < now:
        raise WorkOrderError(
            ErrorCode.INVALID,
            f"start_at {start_at.isoformat()} is in the past (now {now.isoformat()}); plan a later start",
        )
    if technician_id is not None:
        assign(session, work_order_id, technician_id, actor=actor, now=now)
    elif row.technician_id is None:
        ranked = suggest(candidates(session), row.failure_mode, row.site)
        if not ranked:
            raise WorkOrderError(
                ErrorCode.NO_TECHNICIAN,
                f"no active technician is skilled for {row.failure_mode!r} and covers site {row.site!r}",
            )
        assign(session, work_order_id, ranked[0].technician_id, actor=actor, now=now)
    lines = _lines(session, row.id)
    balances = {line.sku: _stock(session, line.sku, row.site) for line in lines}
    available = {sku: (s.on_hand - s.reserved) if s else 0 for sku, s in balances.items()}
    short = shortages(_needs(lines), available)
    if short:
        before = _move(session, row, S.WAITING_PARTS, action="schedule", actor=actor, now=now)
        row.scheduled_start = start_at or row.scheduled_start
        row.parts_available_at = _parts_expected(session, row, {s.sku for s in short}, now)
        # the parts short at this attempt: the parts fill rate (alerts.planning.parts_kpis) reads them
        extra = {"parts_short": sorted({s.sku for s in short})}
        _audit_change(session, row, before, "waiting_parts", actor, now, extra)
        return row
    _reserve(session, row, lines, actor=actor, now=now)
    before = _move(session, row, S.SCHEDULED, action="schedule", actor=actor, now=now)
    row.scheduled_start = start_at or row.scheduled_start
    row.parts_available_at = None  # the kit is reserved: its parts are available now
    _audit_change(session, row, before, "schedule", actor, now)
    return row


def _parts_expected(session: Session, row: WorkOrderRow, short: set[str], now: datetime) -> datetime | None:
    """When the ``short`` parts are expected at the order's site: the longest supplier lead time of
    the site's part policies, None when one of them has no policy (the planner then leaves the order
    unplaced rather than guess); a date already ahead is kept (:mod:`alerts.workorders.parts_eta`)."""
    policies = select(PartPolicyRow.sku, PartPolicyRow.lead_time_days).where(
        PartPolicyRow.site == row.site, PartPolicyRow.sku.in_(sorted(short))
    )
    lead = {sku: days for sku, days in session.execute(policies)}
    return parts_expected_at(short, lead, now=now, known=row.parts_available_at)


def _lines(session: Session, work_order_id: int) -> list[WorkOrderPartRow]:
    """The work order's part lines, by sku (stock rows are locked in sku order: fewer deadlocks)."""
    return list(
        session.scalars(
            select(WorkOrderPartRow)
            .where(WorkOrderPartRow.work_order_id == work_order_id)
            .order_by(WorkOrderPartRow.sku)
        )
    )


def _needs(lines: Sequence[WorkOrderPartRow]) -> dict[str, int]:
    """What the lines still need to reserve, sku → quantity."""
    needs: dict[str, int] = {}
    for line in lines:
        needs[line.sku] = needs.get(line.sku, 0) + max(line.quantity - line.reserved_qty, 0)
    return needs


def _reserve(
    session: Session, row: WorkOrderRow, lines: Sequence[WorkOrderPartRow], *, actor: str, now: datetime
) -> None:
    """Reserve what every line still needs, one ``reserve`` movement each (the caller checked that
    the stock covers it; :mod:`alerts.workorders.stock` refuses anything beyond what is free)."""
    for line in lines:
        needed = line.quantity - line.reserved_qty
        if needed > 0:
            stock.reserve(session, line.sku, row.site, needed, row.id, actor=actor, now=now)
            line.reserved_qty += needed


def start(session: Session, work_order_id: int, *, actor: str, now: datetime) -> WorkOrderRow:
    """scheduled → in-progress: the technician is on site (response time ends here)."""
    row = get(session, work_order_id)
    before = _move(session, row, S.IN_PROGRESS, action="start", actor=actor, now=now)
    row.on_site_at = now
    _audit_change(session, row, before, "start", actor, now)
    return row


def _release(session: Session, row: WorkOrderRow, *, actor: str, now: datetime) -> set[str]:
    """Return the work order's reservations to stock (``unreserve`` movements); the skus that had any."""
    freed = set()
    for line in _lines(session, row.id):
        if line.reserved_qty:
            stock.unreserve(session, line.sku, row.site, line.reserved_qty, row.id, actor=actor, now=now)
            line.reserved_qty = 0
            freed.add(line.sku)
    return freed


def complete(
    session: Session, work_order_id: int, outcome: Outcome, *, actor: str, now: datetime
) -> WorkOrderRow:
    """in-progress → completed with the outcome; used parts leave stock, unused reservations return.

    Returned parts release the work orders waiting for them at the site (:func:`release_waiting`).
    """
    row = get(session, work_order_id)
    if outcome.fault_found and not outcome.failure_code:
        raise WorkOrderError(ErrorCode.INVALID, "a found fault needs a failure_code")
    failed_at = failure_time(row, outcome, now)
    before = _move(session, row, S.COMPLETED, action="complete", actor=actor, now=now)
    lines = {
        line.sku: line
        for line in session.scalars(select(WorkOrderPartRow).where(WorkOrderPartRow.work_order_id == row.id))
    }
    freed = _release(session, row, actor=actor, now=now)
    for sku, qty in sorted(outcome.parts_used.items()):
        if qty <= 0:
            raise WorkOrderError(ErrorCode.INVALID, f"parts_used[{sku!r}] must be positive, got {qty}")
        free = stock.balance(session, sku, row.site).free
        try:
            stock.issue_to_work_order(session, sku, row.site, qty, row.id, actor=actor, now=now)
        except WorkOrderError:
            raise WorkOrderError(
                ErrorCode.INVALID, f"site {row.site!r} has {free} of part {sku!r}; {qty} reported used"
            ) from None
        line = lines.get(sku)
        if line is None:
            line = WorkOrderPartRow(work_order_id=row.id, sku=sku, quantity=0)
            session.add(line)
        line.used_qty = qty
    row.fault_found = outcome.fault_found
    row.failure_code = outcome.failure_code
    row.failed_at = failed_at
    row.notes = outcome.notes
    row.completed_at = now
    if outcome.time_on_site_min is not None:
        row.time_on_site_min = outcome.time_on_site_min
    elif row.on_site_at is not None:
        row.time_on_site_min = (now - row.on_site_at).total_seconds() / 60
    _audit_change(session, row, before, "complete", actor, now)
    release_waiting(session, row.site, freed, actor=actor, now=now)
    return row


def close(session: Session, work_order_id: int, *, actor: str, now: datetime) -> WorkOrderRow:
    """completed → closed."""
    row = get(session, work_order_id)
    before = _move(session, row, S.CLOSED, action="close", actor=actor, now=now)
    row.closed_at = now
    _audit_change(session, row, before, "close", actor, now)
    return row


def cancel(session: Session, work_order_id: int, *, actor: str, now: datetime, reason: str) -> WorkOrderRow:
    """Any open status → cancelled; reserved parts go back to stock and release the work orders
    waiting for them at the site (:func:`release_waiting`)."""
    row = get(session, work_order_id)
    before = _move(session, row, S.CANCELLED, action="cancel", actor=actor, now=now)
    row.notes = reason
    freed = _release(session, row, actor=actor, now=now)
    _audit_change(session, row, before, "cancel", actor, now)
    release_waiting(session, row.site, freed, actor=actor, now=now)
    return row


def part_lines(session: Session, work_order_id: int) -> Sequence[WorkOrderPartRow]:
    """The work order's part lines."""
    return session.scalars(
        select(WorkOrderPartRow)
        .where(WorkOrderPartRow.work_order_id == work_order_id)
        .order_by(WorkOrderPartRow.sku)
    ).all()


@dataclass(frozen=True)
class Restock:
    """A part's stock at a site after a change, and the work orders the change released."""

    stock: PartStockRow
    released: list[int]  # work-order ids, most urgent first


def set_stock(session: Session, sku: str, site: str, on_hand: int, *, actor: str, now: datetime) -> Restock:
    """Set the on-hand count of a part at a site (a stock take or delivery); audited.

    A rise releases the work orders waiting there for this part whose whole kit is now free, most
    urgent first (:func:`release_waiting`), audited under the same actor.

    As movements (:mod:`alerts.workorders.stock`): a part new at the site arrives as a ``receipt``;
    a change of a known count is an ``adjust`` (a stock take). This is the one operation that may
    bring in a SKU no kit or policy names (it declares the part at the site, as it always did).
    """
    if on_hand < 0:
        raise WorkOrderError(ErrorCode.INVALID, f"on_hand must be ≥ 0, got {on_hand}")
    row = _stock(session, sku, site)
    before = audit.snapshot(row) if row else None
    previous = row.on_hand if row else 0
    if row is None and on_hand > 0:
        stock.receive(session, sku, site, on_hand, actor=actor, now=now, note="set_stock", allow_new_sku=True)
    else:
        stock.adjust(
            session, sku, site, on_hand, reason="set_stock", actor=actor, now=now, allow_new_sku=True
        )
    row = _stock(session, sku, site)
    assert row is not None  # the movement above created it
    audit.record(
        session,
        entity="part_stock",
        entity_id=f"{sku}@{site}",
        action="set_stock",
        actor=actor,
        at=now,
        before=before,
        after=audit.snapshot(row),
    )
    released = release_waiting(session, site, {sku}, actor=actor, now=now) if on_hand > previous else []
    return Restock(row, released)


def release_waiting(
    session: Session, site: str, skus: Collection[str], *, actor: str, now: datetime
) -> list[int]:
    """Reserve and schedule the work orders waiting at ``site`` for one of ``skus`` that now fit.

    The orders tried are those in waiting-parts at the site whose kit needs one of ``skus``; which
    of them are released is :func:`alerts.workorders.release.release_plan` (most urgent first; a
    more urgent order still short keeps its claim on the parts it needs). Each released order has
    its whole kit reserved and goes to scheduled, audited as ``release`` by ``actor`` (who restocked
    or returned the parts). An order another transaction holds locked right now is not tried (it is
    being changed by someone: its dispatcher will see the stock).

    Returns:
        The released work-order ids, most urgent first.
    """
    if not skus:
        return []
    tried = (
        select(WorkOrderPartRow.work_order_id)
        .join(WorkOrderRow, WorkOrderRow.id == WorkOrderPartRow.work_order_id)
        .where(
            WorkOrderRow.site == site,
            WorkOrderRow.status == S.WAITING_PARTS.value,
            WorkOrderPartRow.sku.in_(sorted(skus)),
        )
    )
    orders = [
        o
        for o in session.scalars(
            select(WorkOrderRow)
            .where(WorkOrderRow.id.in_(tried))
            .order_by(WorkOrderRow.id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if o.status == S.WAITING_PARTS.value
    ]
    if not orders:
        return []
    lines = {o.id: _lines(session, o.id) for o in orders}
    skus_needed = sorted({line.sku for order_lines in lines.values() for line in order_lines})
    balances = {sku: _stock(session, sku, site) for sku in skus_needed}
    free = {sku: (s.on_hand - s.reserved) if s else 0 for sku, s in balances.items()}
    plan = release_plan(
        [Waiting(o.id, Priority(o.priority), o.due_by, _needs(lines[o.id])) for o in orders], free
    )
    by_id = {o.id: o for o in orders}
    for work_order_id in plan:
        row = by_id[work_order_id]
        _reserve(session, row, lines[row.id], actor=actor, now=now)
        before = _move(session, row, S.SCHEDULED, action="release", actor=actor, now=now)
        row.parts_available_at = None  # the kit is reserved: its parts are available now
        _audit_change(session, row, before, "release", actor, now)
    return plan


def reprioritise(
    session: Session,
    work_order_id: int,
    severity: Severity,
    *,
    actor: str,
    now: datetime,
    sla_h: Mapping[Priority, float] = DEFAULT_SLA_H,
    known: KnownOrders | None = None,
) -> WorkOrderRow | None:
    """Raise an open work order's priority to its alert's new ``severity``, due time brought forward.

    The rule is :func:`alerts.workorders.lifecycle.escalated` (never lowered; the new SLA counts
    from ``now``). Audited as ``reprioritise`` (which queues its InfluxDB ``work_orders`` point).
    With ``known``, the order is the one it read (locked) earlier in this transaction.

    Returns:
        The work order when it changed; None when it did not (closed, missing, or already as urgent).
    """
    row = known.by_id.get(work_order_id) if known is not None else None
    if row is None:
        row = session.get(WorkOrderRow, work_order_id, with_for_update=True)
    if row is None or WorkOrderStatus(row.status) not in OPEN_STATUSES:
        return None
    decision = escalated(Priority(row.priority), row.due_by, severity, now, sla_h)
    if decision is None:
        return None
    before = audit.snapshot(row)
    row.severity = severity.value
    row.priority = decision.priority.value
    row.due_by = decision.due_by
    row.updated_at = now
    _audit_change(session, row, before, "reprioritise", actor, now)
    return row


def set_kit(
    session: Session, failure_mode: str, lines: Mapping[str, int], *, actor: str, now: datetime
) -> list[PartKitRow]:
    """Replace the kit of a failure mode; audited."""
    old = list(session.scalars(select(PartKitRow).where(PartKitRow.failure_mode == failure_mode)))
    before = {r.sku: r.quantity for r in old}
    for r in old:
        session.delete(r)
    session.flush()
    rows = [PartKitRow(failure_mode=failure_mode, sku=sku, quantity=q) for sku, q in sorted(lines.items())]
    session.add_all(rows)
    session.flush()
    audit.record(
        session,
        entity="part_kit",
        entity_id=failure_mode,
        action="set_kit",
        actor=actor,
        at=now,
        before=before,
        after=dict(lines),
    )
    return rows


def add_technician(
    session: Session,
    *,
    name: str,
    skills: Sequence[str],
    site: str,
    territory: Sequence[str],
    actor: str,
    now: datetime,
) -> TechnicianRow:
    """Register a technician; audited."""
    row = TechnicianRow(name=name, skills=list(skills), site=site, territory=list(territory), active=True)
    session.add(row)
    session.flush()
    audit.record(
        session,
        entity="technician",
        entity_id=row.id,
        action="create",
        actor=actor,
        at=now,
        before=None,
        after=audit.snapshot(row),
    )
    return row
