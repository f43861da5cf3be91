"""The alert board's data: its query from the URL, one store read, and rows ready to print.

Everything a row shows is computed here, once, so the template is a plain loop (500 rows render in
milliseconds) and the same functions serve the page, the live-refresh fragment and one row after an
action. The store is read with a fixed number of queries whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from alerts.console.respond import number, url, utc_minutes
from alerts.console.web import PREFIX
from alerts.store.alert_repo import HistoryEntry, select_alerts
from alerts.store.tables import AlertRow
from forewarn.contracts.alert import AlertState, Severity

BOARD = f"{PREFIX}/alerts"
SORTS = ("severity", "site", "asset", "raised", "risk", "rul")
STATES = ("open", *(s.value for s in AlertState), "all")  # "open": every state but CLEARED
DEFAULT_SIZE = 200
MAX_SIZE = 500
SNOOZE_STEPS_MIN = (15, 30, 60, 120, 240, 480, 720, 1440, 2880, 4320, 10080, 20160, 43200)


@dataclass(frozen=True)
class BoardQuery:
    """What the board shows, as the URL says it (unknown values fall back to the defaults)."""

    site: str = ""
    severity: str = ""  # "" or a Severity value
    state: str = "open"
    sort: str = "severity"
    desc: bool = False
    page: int = 1
    size: int = DEFAULT_SIZE

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string's parameters (defaults left out), with ``changes``."""
        q = replace(self, **changes)
        return {
            "site": q.site,
            "severity": q.severity,
            "state": "" if q.state == "open" else q.state,
            "sort": "" if q.sort == "severity" else q.sort,
            "dir": "desc" if q.desc else "",
            "page": "" if q.page == 1 else str(q.page),
            "size": "" if q.size == DEFAULT_SIZE else str(q.size),
        }

    def url(self, path: str = BOARD, **changes: Any) -> str:
        """The board (or its fragment, ``path``) with this query and ``changes``."""
        return url(path, self.params(**changes))


def _int(text: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(text or "")
    except ValueError:
        return default
    return min(max(value, low), high)


def parse_query(params: Mapping[str, str]) -> BoardQuery:
    """The board's query from URL parameters; a value it does not know is its default (no error page)."""
    severity = params.get("severity", "")
    state = params.get("state", "open")
    sort = params.get("sort", "severity")
    return BoardQuery(
        site=params.get("site", "")[:200],
        severity=severity if severity in Severity.__members__ else "",
        state=state if state in STATES else "open",
        sort=sort if sort in SORTS else "severity",
        desc=params.get("dir") == "desc",
        page=_int(params.get("page"), 1, 1, 1_000_000),
        size=_int(params.get("size"), DEFAULT_SIZE, 1, MAX_SIZE),
    )


def _filtered(q: BoardQuery, *, with_severity: bool = True) -> Select[AlertRow]:
    state = AlertState(q.state) if q.state in AlertState.__members__ else None
    return select_alerts(
        site=q.site or None,
        state=state,
        severity=Severity(q.severity) if with_severity and q.severity else None,
        open_only=q.state == "open",
    )


_RANK = case({s.value: s.rank for s in Severity}, value=AlertRow.severity, else_=len(Severity))


def _ordered(stmt: Select[AlertRow], q: BoardQuery) -> Select[AlertRow]:
    first = {
        "severity": _RANK,
        "site": AlertRow.site,
        "asset": AlertRow.asset_id,
        "raised": AlertRow.raised_at,
        "risk": AlertRow.trigger_risk,
        "rul": AlertRow.trigger_rul_cycles,
    }[q.sort]
    key = first.desc() if q.desc else first.asc()
    if q.sort in ("risk", "rul"):
        key = key.nulls_last()
    return stmt.order_by(key, _RANK, AlertRow.raised_at.desc(), AlertRow.alert_id)


@dataclass(frozen=True, slots=True)
class AlertLine:
    """One alert as a row shows it: every value already text."""

    alert_id: str
    href: str  # this alert's page (the actions post under it)
    asset_id: str
    asset_href: str
    site: str
    failure_mode: str
    severity: str
    state: str
    risk: str
    rul: str
    raised: str
    model: str
    work_order_id: int | None
    note: str  # who acknowledged it and why, or until when it is snoozed
    is_open: bool


def alert_href(alert_id: str) -> str:
    """The console page of an alert (the id quoted whole: an id may hold ``/`` or ``?``)."""
    return f"{BOARD}/{quote(alert_id, safe='')}"


def asset_href(asset_id: str) -> str:
    """The console page of an asset."""
    return f"{PREFIX}/assets/{quote(asset_id, safe='')}"


def line(row: AlertRow) -> AlertLine:
    """The row of one stored alert."""
    if row.state == AlertState.SNOOZED and row.snoozed_until is not None:
        note = f"snoozed until {utc_minutes(row.snoozed_until)}"
    elif row.acknowledged_by:
        note = (
            f"ack {row.acknowledged_by}: {row.ack_comment}"
            if row.ack_comment
            else f"ack {row.acknowledged_by}"
        )
    else:
        note = ""
    model = f"{row.model_name or '-'} v{row.model_version}" if row.model_version else "-"
    return AlertLine(
        alert_id=row.alert_id,
        href=alert_href(row.alert_id),
        asset_id=row.asset_id,
        asset_href=asset_href(row.asset_id),
        site=row.site,
        failure_mode=row.failure_mode,
        severity=row.severity,
        state=row.state,
        risk=number(row.trigger_risk, 2),
        rul=number(row.trigger_rul_cycles, 0),
        raised=utc_minutes(row.raised_at),
        model=model,
        work_order_id=row.work_order_id,
        note=note,
        is_open=row.state != AlertState.CLEARED,
    )


@dataclass(frozen=True)
class Group:
    """Consecutive rows with the same severity or site (the board's grouping follows its sort)."""

    label: str
    lines: list[AlertLine]


def groups(lines: Sequence[AlertLine], sort: str) -> list[Group]:
    """``lines`` cut where the sort key changes (severity or site); one unnamed group otherwise."""
    if sort not in ("severity", "site"):
        return [Group("", list(lines))] if lines else []
    out: list[Group] = []
    for item in lines:
        label = item.severity if sort == "severity" else item.site
        if not out or out[-1].label != label:
            out.append(Group(label, []))
        out[-1].lines.append(item)
    return out


@dataclass(frozen=True)
class Board:
    """One page of the board: counts, groups of rows, and what its links need."""

    query: BoardQuery
    total: int
    counts: list[tuple[str, int, str]]  # (severity, open count under the other filters, its URL)
    groups: list[Group]
    shown: int
    sites: list[str]


def load_board(session: Session, q: BoardQuery) -> Board:
    """Read one page of the board in four queries (count, counts per severity, sites, rows)."""
    stmt = _filtered(q)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    by_sev = _filtered(q, with_severity=False).subquery()
    per_q = select(by_sev.c.severity, func.count()).group_by(by_sev.c.severity)
    per: dict[str, int] = {severity: n for severity, n in session.execute(per_q)}
    counts = [(s.value, int(per.get(s.value, 0)), q.url(severity=s.value, page=1)) for s in Severity]
    sites = list(session.scalars(select(AlertRow.site).distinct().order_by(AlertRow.site)))
    rows = session.scalars(_ordered(stmt, q).limit(q.size).offset((q.page - 1) * q.size)).all()
    lines = [line(r) for r in rows]
    return Board(q, total, counts, groups(lines, q.sort), len(lines), sites)


def snooze_choices(max_h: float) -> list[tuple[int, str]]:
    """The snooze durations offered under a maximum of ``max_h`` hours: (minutes, label), shortest first.

    The maximum itself is always offered (it may fall between the steps).
    """
    limit_min = int(max_h * 60)
    steps = [m for m in SNOOZE_STEPS_MIN if m <= limit_min]
    if limit_min > 0 and (not steps or steps[-1] != limit_min):
        steps.append(limit_min)
    return [(m, duration_label(m)) for m in steps]


def duration_label(minutes: int) -> str:
    """``15 min``, ``2 h``, ``1 d 6 h``, ``1 w``: exact, in the largest units that say it."""
    if minutes and minutes % 10080 == 0:
        return f"{minutes // 10080} w"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" if mins else ""]
    return " ".join(p for p in parts if p) or "0 min"


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """One change of an alert as the detail page shows it."""

    at: str
    change: str
    state: str
    severity: str
    by: str
    model: str
    risk: str
    rul: str
    detail: str
    published: str


def history_lines(history: Sequence[HistoryEntry]) -> list[HistoryLine]:
    """``history`` (``alert_repo.alert_history``) as the alert page's lines."""
    out = []
    for entry in history:
        model = f"{entry.model_name or '-'} v{entry.model_version}" if entry.model_version else "-"
        out.append(
            HistoryLine(
                at=utc_minutes(entry.at),
                change=entry.change.value,
                state=entry.state.value,
                severity=entry.severity.value,
                by=entry.by or "-",
                model=model,
                risk=number(entry.risk, 2),
                rul=number(entry.rul_cycles, 0),
                detail=entry.detail,
                published=utc_minutes(entry.published_at) if entry.published_at else "pending",
            )
        )
    return out
