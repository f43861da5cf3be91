"""The pipeline page's data: throughput per hop, consumer lag, spool depth and dead letters by reason
(InfluxDB ``pipeline``), and the alert engine's backlog as the store sees it.

Each hop writes cumulative counters since its process started (the gateway every 10 s, the scoring
job every micro-batch), one point per interval, and one more per dead-letter reason (``reason``
tag, only ``dead_letters``). So the page reads, per hop and per reason, the last value of each
bucket in the window and the last value before it, and turns them into increases and rates here
(:func:`alerts.console.timeseries.increase`: a restarted producer counts again from zero).

::

    one request: counters_query, BASE_QUERY (per component, gateway) ─▶ hops ──────────┐
                 reasons_query, REASON_BASE_QUERY (… and reason)     ─▶ dead_letters ──┼─▶ pipeline.html
    the store: risk_rejections, influx_outbox, alert_outbox           ─▶ StoreView ─────┘
"""

# InfluxQL here is built from the contract's names and integers this module computes, never from
# input (the window is bound): S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from alerts.console import timeseries as ts
from alerts.console.respond import utc_minutes
from alerts.report import Window
from alerts.store.tables import InfluxOutboxRow, OutboxRow, RiskRejectionRow
from forewarn.contracts.influx_schema import PIPELINE
from forewarn.influx import Series, query
from forewarn.settings import InfluxSettings

COUNTERS = ("messages_in", "readings_in", "readings_out", "records_out", "duplicates", "dead_letters")
"""The cumulative counters the page turns into throughput (those a hop does not write stay empty)."""
GAUGES = ("consumer_lag", "spool_depth")
BASE_LOOKBACK = timedelta(days=1)
"""How far before the window the counters' last values are looked for (a hop writes every few seconds)."""

_P = PIPELINE.name
_NO_REASON, _REASON = "\"reason\" = ''", "\"reason\" != ''"  # InfluxQL: an absent tag is ''
_IN_WINDOW = "time >= $since AND time <= $until"
_BEFORE = "time < $since AND time >= $lookback"
_LAST = ", ".join(f'last("{c}") AS "{c}"' for c in COUNTERS)
BASE = "base_"  # the columns of the values before the window: told apart from the window's by name
_BASE_LAST = ", ".join(f'last("{c}") AS "{BASE}{c}"' for c in COUNTERS)
_MAX = ", ".join(f'max("{g}") AS "{g}"' for g in GAUGES)


def counters_query(bucket_s: int) -> str:
    """Each hop's counters (last per bucket) and gauges (max per bucket)."""
    return (
        f'SELECT {_LAST}, {_MAX} FROM "{_P}" WHERE {_NO_REASON} AND {_IN_WINDOW} '
        f'GROUP BY time({int(bucket_s)}s), "component", "gateway_id" fill(none)'
    )


def reasons_query(bucket_s: int) -> str:
    """Each hop's dead letters per reason (last per bucket)."""
    return (
        f'SELECT last("dead_letters") AS "dead_letters" FROM "{_P}" WHERE {_REASON} AND {_IN_WINDOW} '
        f'GROUP BY time({int(bucket_s)}s), "component", "gateway_id", "reason" fill(none)'
    )


BASE_QUERY = (
    f'SELECT {_BASE_LAST} FROM "{_P}" WHERE {_NO_REASON} AND {_BEFORE} GROUP BY "component", "gateway_id"'
)
REASON_BASE_QUERY = (
    f'SELECT last("dead_letters") AS "{BASE}dead_letters" FROM "{_P}" WHERE {_REASON} AND {_BEFORE} '
    'GROUP BY "component", "gateway_id", "reason"'
)


def statements(bucket_s: int) -> str:
    """The four statements of the page as one request; :func:`split` tells their series apart (a
    dead-letter series has a ``reason`` tag, a value before the window a ``base_`` column)."""
    return ";".join((counters_query(bucket_s), BASE_QUERY, reasons_query(bucket_s), REASON_BASE_QUERY))


def split(series: Iterable[Series]) -> tuple[list[Series], list[Series], list[Series], list[Series]]:
    """The answer of :func:`statements` → (counters, their bases, reasons, their bases)."""
    out: tuple[list[Series], ...] = ([], [], [], [])
    for s in series:
        is_base = any(c.startswith(BASE) for c in s.columns)
        out[2 * ("reason" in s.tags) + is_base].append(s)
    return out[0], out[1], out[2], out[3]


HopKey = tuple[str, str]  # (component, gateway_id)


@dataclass(frozen=True)
class Samples:
    """One series' non-empty buckets: epoch seconds and ``{column: value}`` (None where absent)."""

    times_s: tuple[int, ...]
    columns: Mapping[str, tuple[float | None, ...]]

    def of(self, name: str) -> tuple[list[int], list[float]]:
        """The buckets where ``name`` has a value: their times and values."""
        pairs = [
            (t, v) for t, v in zip(self.times_s, self.columns.get(name, ()), strict=False) if v is not None
        ]
        return [t for t, _ in pairs], [v for _, v in pairs]


def samples(series: Iterable[Series], keys: Sequence[str]) -> dict[tuple[str, ...], Samples]:
    """Series → their samples, keyed by the values of the tags ``keys`` ("" when absent)."""
    out = {}
    for s in series:
        rows = sorted(s.values, key=lambda r: int(r[0]))
        columns = {c: tuple(_num(r[i]) for r in rows) for i, c in enumerate(s.columns) if c != "time"}
        out[tuple(s.tags.get(k, "") for k in keys)] = Samples(
            tuple(ts.epoch_s(int(r[0])) for r in rows), columns
        )
    return out


def bases(series: Iterable[Series], keys: Sequence[str]) -> dict[tuple[str, ...], dict[str, float]]:
    """The last value of each counter before the window (``base_<counter>`` columns), per series
    (missing counters left out)."""
    out: dict[tuple[str, ...], dict[str, float]] = {}
    for s in series:
        for row in s.rows():
            out[tuple(s.tags.get(k, "") for k in keys)] = {
                c.removeprefix(BASE): float(v)
                for c, v in row.items()
                if c.startswith(BASE) and _num(v) is not None
            }
    return out


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Hop:
    """One hop (a gateway, the scoring job…) over the window."""

    component: str
    gateway_id: str
    totals: Mapping[str, float]  # each counter's increase over the window
    per_s: Mapping[str, float | None]  # the same per second, over the time the hop was seen
    now_per_s: Mapping[str, float | None]  # per second between the last two buckets
    gauges: Mapping[str, float | None]  # each gauge's last value
    last_seen_s: int | None
    rates: Mapping[str, dict[int, float | None]] = field(default_factory=dict)  # counters' rates per bucket
    levels: Mapping[str, dict[int, float | None]] = field(default_factory=dict)  # gauges per bucket

    @property
    def label(self) -> str:
        return f"{self.component} {self.gateway_id}".strip()

    @property
    def last_seen(self) -> str:
        return "-" if self.last_seen_s is None else utc_minutes(ts.at_ms(self.last_seen_s * 1000))


def hop(key: HopKey, found: Samples, base: Mapping[str, float], window: Window) -> Hop:
    """A hop's throughput from its buckets and its counters' values before the window."""
    totals: dict[str, float] = {}
    per_s: dict[str, float | None] = {}
    now_per_s: dict[str, float | None] = {}
    rates: dict[str, dict[int, float | None]] = {}
    since_s = int(window.since.timestamp())
    for name in COUNTERS:
        times, values = found.of(name)
        if not values:
            continue
        before = base.get(name)
        totals[name] = ts.increase(values, before)
        span = times[-1] - (since_s if before is not None else times[0])
        per_s[name] = totals[name] / span if span > 0 else None
        bucket_rates = ts.rates(times, values)
        now_per_s[name] = bucket_rates[-1]
        rates[name] = dict(zip(times, bucket_rates, strict=True))
    gauges: dict[str, float | None] = {}
    levels: dict[str, dict[int, float | None]] = {}
    for name in GAUGES:
        times, values = found.of(name)
        gauges[name] = values[-1] if values else None
        if values:
            levels[name] = dict(zip(times, values, strict=True))
    last = found.times_s[-1] if found.times_s else None
    return Hop(key[0], key[1], totals, per_s, now_per_s, gauges, last, rates, levels)


def hops(
    found: Mapping[tuple[str, ...], Samples], base: Mapping[tuple[str, ...], dict[str, float]], window: Window
) -> list[Hop]:
    """Every hop seen in the window, in the data's order (gateways, scoring job, alerts), then by id."""
    order = {"gateway": 0, "streaming": 1, "alerts": 2}
    out = [hop((k[0], k[1]), s, base.get(k, {}), window) for k, s in found.items()]
    return sorted(out, key=lambda h: (order.get(h.component, 9), h.component, h.gateway_id))


@dataclass(frozen=True)
class DeadLetters:
    """Dead letters of one reason at one hop in the window."""

    component: str
    gateway_id: str
    reason: str
    count: int


def dead_letters(
    found: Mapping[tuple[str, ...], Samples], base: Mapping[tuple[str, ...], dict[str, float]]
) -> list[DeadLetters]:
    """Per (component, gateway, reason): dead letters in the window, most first (zero left out)."""
    out = []
    for key, s in found.items():
        _, values = s.of("dead_letters")
        count = round(ts.increase(values, base.get(key, {}).get("dead_letters")))
        if count:
            out.append(DeadLetters(key[0], key[1], key[2], count))
    return sorted(out, key=lambda d: (-d.count, d.reason, d.component, d.gateway_id))


def by_reason(letters: Iterable[DeadLetters]) -> list[tuple[str, int]]:
    """Dead letters per reason over every hop, most first."""
    totals: dict[str, int] = defaultdict(int)
    for d in letters:
        totals[d.reason] += d.count
    return sorted(totals.items(), key=lambda rc: (-rc[1], rc[0]))


def throughput_charts(found_hops: Sequence[Hop]) -> list[dict[str, Any]]:
    """Readings/s in and out of each hop; consumer lag and spool depth where a hop writes them."""
    lines = [
        ts.Line(f"{h.label} {word}", h.rates[name], "rate")
        for h in found_hops
        for name, word in (("readings_in", "in"), ("readings_out", "out"))
        if name in h.rates
    ]
    charts = [ts.chart("Readings per second", lines, {"rate": "readings/s"}, zero={"rate"})] if lines else []
    levels = [
        ts.Line(f"{h.label} {name.replace('_', ' ')}", h.levels[name], "n")
        for h in found_hops
        for name in GAUGES
        if name in h.levels
    ]
    if levels:
        charts.append(ts.chart("Consumer lag and spool depth", levels, {"n": "records"}, zero={"n"}))
    return charts


@dataclass(frozen=True)
class PipelineInflux:
    """What InfluxDB says about the pipeline in the window."""

    hops: list[Hop] = field(default_factory=list)
    dead_letters: list[DeadLetters] = field(default_factory=list)
    reasons: list[tuple[str, int]] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)


def read_influx(settings: InfluxSettings, window: Window) -> PipelineInflux:
    """The window's ``pipeline`` points, shaped: one request whatever the window's length.

    Raises:
        forewarn.influx.InfluxQueryError: InfluxDB unreachable or refusing a statement.
    """
    params = {**ts.window_params(window), "lookback": ts.rfc3339(window.since - BASE_LOOKBACK)}
    bucket = ts.bucket_s(window)
    hop_keys, reason_keys = ("component", "gateway_id"), ("component", "gateway_id", "reason")
    in_window, before, reasons_in_window, reasons_before = split(
        query(settings, statements(bucket), params=params)
    )
    counters = samples(in_window, hop_keys)
    counter_bases = bases(before, hop_keys)
    reasons = samples(reasons_in_window, reason_keys)
    reason_bases = bases(reasons_before, reason_keys)
    found_hops = hops(counters, counter_bases, window)
    letters = dead_letters(reasons, reason_bases)
    return PipelineInflux(found_hops, letters, by_reason(letters), throughput_charts(found_hops))


# -- the store ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backlog:
    """Records waiting in one of the store's outboxes."""

    name: str
    waiting: int
    oldest: str
    refused: int = 0


@dataclass(frozen=True)
class StoreView:
    """The alert engine and work-order service as the store sees them."""

    rejections: list[tuple[str, int, int, str]]  # reason, in the window, ever, last (UTC)
    backlogs: list[Backlog]


def read_store(session: Session, window: Window) -> StoreView:
    """Risk records the engine rejected, by reason; the InfluxDB and Kafka outboxes' backlogs."""
    recent = func.sum(case((RiskRejectionRow.received_at >= window.since, 1), else_=0))
    rejections = [
        (reason, int(n_recent or 0), int(n), utc_minutes(last))
        for reason, n_recent, n, last in session.execute(
            select(RiskRejectionRow.reason, recent, func.count(), func.max(RiskRejectionRow.received_at))
            .group_by(RiskRejectionRow.reason)
            .order_by(func.count().desc())
        )
    ]
    pending = InfluxOutboxRow.written_at.is_(None) & InfluxOutboxRow.error.is_(None)
    influx_waiting, influx_oldest = session.execute(
        select(func.count(), func.min(InfluxOutboxRow.created_at)).where(pending)
    ).one()
    influx_refused = session.scalar(select(func.count()).where(InfluxOutboxRow.error.is_not(None)))
    kafka_waiting, kafka_oldest = session.execute(
        select(func.count(), func.min(OutboxRow.created_at)).where(OutboxRow.published_at.is_(None))
    ).one()
    backlogs = [
        Backlog("alert changes → Kafka alerts", int(kafka_waiting), utc_minutes(kafka_oldest)),
        Backlog(
            "points → InfluxDB", int(influx_waiting), utc_minutes(influx_oldest), int(influx_refused or 0)
        ),
    ]
    return StoreView(rejections, backlogs)
