"""The dispatch board's data: its query from the URL, one store read, and rows ready to print.

One page costs a fixed number of queries whatever its size (count, sites, the page, every part line
of the page, the page's technicians' names): no query per row. Parts status comes from the part
lines and the waiting-parts status, as the scheduler left them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from alerts.console.alert_board import alert_href, asset_href
from alerts.console.respond import url, utc_minutes
from alerts.console.web import PREFIX
from alerts.store.tables import TechnicianRow, WorkOrderPartRow, WorkOrderRow
from forewarn.contracts.work_order import OPEN_STATUSES, WorkOrderStatus

BOARD = f"{PREFIX}/work-orders"
SORTS = ("priority", "due", "created", "site")
STATUSES = ("open", *(s.value for s in WorkOrderStatus), "all")  # "open": the statuses still to do
DEFAULT_SIZE = 100
MAX_SIZE = 500
_OPEN = [s.value for s in OPEN_STATUSES]
S = WorkOrderStatus


@dataclass(frozen=True)
class DispatchQuery:
    """What the board shows, as the URL says it (unknown values fall back to the defaults)."""

    site: str = ""
    status: str = "open"
    overdue: bool = False
    due_before: date | None = None  # due strictly before this day starts (UTC)
    sort: str = "priority"
    desc: bool = False
    page: int = 1
    size: int = DEFAULT_SIZE

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string's parameters (defaults left out), with ``changes``."""
        q = replace(self, **changes)
        return {
            "site": q.site,
            "status": "" if q.status == "open" else q.status,
            "overdue": "1" if q.overdue else "",
            "due_before": q.due_before.isoformat() if q.due_before else "",
            "sort": "" if q.sort == "priority" else q.sort,
            "dir": "desc" if q.desc else "",
            "page": "" if q.page == 1 else str(q.page),
            "size": "" if q.size == DEFAULT_SIZE else str(q.size),
        }

    def url(self, **changes: Any) -> str:
        """The board with this query and ``changes``."""
        return url(BOARD, self.params(**changes))


def _int(text: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(text or "")
    except ValueError:
        return default
    return min(max(value, low), high)


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        return None


def parse_query(params: Mapping[str, str]) -> DispatchQuery:
    """The board's query from URL parameters; a value it does not know is its default (no error page)."""
    status = params.get("status", "open")
    sort = params.get("sort", "priority")
    return DispatchQuery(
        site=params.get("site", "")[:200],
        status=status if status in STATUSES else "open",
        overdue=params.get("overdue") in ("1", "on", "true"),
        due_before=_day(params.get("due_before")),
        sort=sort if sort in SORTS else "priority",
        desc=params.get("dir") == "desc",
        page=_int(params.get("page"), 1, 1, 1_000_000),
        size=_int(params.get("size"), DEFAULT_SIZE, 1, MAX_SIZE),
    )


def _filtered(q: DispatchQuery, now: datetime) -> Select[WorkOrderRow]:
    stmt = select(WorkOrderRow)
    if q.site:
        stmt = stmt.where(WorkOrderRow.site == q.site)
    if q.status == "open":
        stmt = stmt.where(WorkOrderRow.status.in_(_OPEN))
    elif q.status != "all":
        stmt = stmt.where(WorkOrderRow.status == q.status)
    if q.overdue:
        stmt = stmt.where(WorkOrderRow.due_by < now, WorkOrderRow.status.in_(_OPEN))
    if q.due_before is not None:
        day_start = datetime(q.due_before.year, q.due_before.month, q.due_before.day, tzinfo=UTC)
        stmt = stmt.where(WorkOrderRow.due_by < day_start)
    return stmt


def _ordered(stmt: Select[WorkOrderRow], q: DispatchQuery) -> Select[WorkOrderRow]:
    w = WorkOrderRow
    first = {"priority": w.priority, "due": w.due_by, "created": w.created_at, "site": w.site}[q.sort]
    return stmt.order_by(first.desc() if q.desc else first.asc(), w.priority, w.due_by, w.id)


@dataclass(frozen=True)
class PartsStatus:
    """What a row says about a work order's parts: a word for the class, and what it means."""

    kind: str  # none | reserved | partly | unreserved | waiting | used | released
    text: str


def parts_status(status: str, lines: Sequence[WorkOrderPartRow]) -> PartsStatus:
    """The parts status of one work order from its part lines and its status.

    Waiting-parts names the lines still short; once done, what was used; before scheduling, whether
    the kit is reserved yet (scheduling reserves it all or waits).
    """
    if not lines:
        return PartsStatus("none", "no parts")
    if status in (S.COMPLETED, S.CLOSED):
        used = sum(line.used_qty for line in lines)
        return PartsStatus("used", f"{used} used" if used else "none used")
    if status == S.CANCELLED:
        return PartsStatus("released", "released")
    short = [line.sku for line in lines if line.reserved_qty < line.quantity]
    if status == S.WAITING_PARTS:
        return PartsStatus("waiting", "waiting: " + ", ".join(short) if short else "waiting")
    if not short:
        return PartsStatus("reserved", "reserved")
    if len(short) < len(lines):
        return PartsStatus("partly", f"partly reserved ({len(lines) - len(short)}/{len(lines)})")
    return PartsStatus("unreserved", "not reserved yet")


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One work order as the board's row shows it: every value already text."""

    id: int
    href: str
    priority: str
    status: str
    asset_id: str
    asset_href: str
    site: str
    failure_mode: str
    severity: str
    technician: str
    due: str
    overdue: bool
    created: str
    parts: PartsStatus
    alert_href: str


def order_line(
    row: WorkOrderRow, lines: Sequence[WorkOrderPartRow], technician: str, now: datetime
) -> OrderLine:
    """The row of one work order (its part lines and technician's name read beforehand)."""
    return OrderLine(
        id=row.id,
        href=f"{BOARD}/{row.id}",
        priority=row.priority,
        status=row.status,
        asset_id=row.asset_id,
        asset_href=asset_href(row.asset_id),
        site=row.site,
        failure_mode=row.failure_mode,
        severity=row.severity,
        technician=technician,
        due=utc_minutes(row.due_by),
        overdue=row.status in _OPEN and row.due_by < now,
        created=utc_minutes(row.created_at),
        parts=parts_status(row.status, lines),
        alert_href=alert_href(row.source_alert_id) if row.source_alert_id else "",
    )


def technician_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Technician id → name for ``ids``, in one query."""
    if not ids:
        return {}
    rows = session.execute(select(TechnicianRow.id, TechnicianRow.name).where(TechnicianRow.id.in_(ids)))
    return {tid: name for tid, name in rows}


@dataclass(frozen=True)
class Dispatch:
    """One page of the dispatch board."""

    query: DispatchQuery
    total: int
    lines: list[OrderLine]
    sites: list[str]


def load_dispatch(session: Session, q: DispatchQuery, now: datetime) -> Dispatch:
    """Read one page of the board in five queries (count, sites, page, part lines, technicians)."""
    stmt = _filtered(q, now)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    sites = list(session.scalars(select(WorkOrderRow.site).distinct().order_by(WorkOrderRow.site)))
    rows = session.scalars(_ordered(stmt, q).limit(q.size).offset((q.page - 1) * q.size)).all()
    parts: dict[int, list[WorkOrderPartRow]] = defaultdict(list)
    if rows:
        part_q = select(WorkOrderPartRow).where(WorkOrderPartRow.work_order_id.in_([r.id for r in rows]))
        for part in session.scalars(part_q.order_by(WorkOrderPartRow.sku)):
            parts[part.work_order_id].append(part)
    names = technician_names(session, {r.technician_id for r in rows if r.technician_id is not None})
    lines = [
        order_line(r, parts.get(r.id, []), names.get(r.technician_id, "-") if r.technician_id else "-", now)
        for r in rows
    ]
    return Dispatch(q, total, lines, sites)
