"""What the console's InfluxDB pages share: the time window a page shows, the bucket its charts are
drawn in, counters turned into increases and rates, and the chart payload ``charts.js`` draws.

Pure functions only; the pages' readers call InfluxDB and hand their answers here.

A chart is JSON embedded in the page (``{{ chart | tojson }}`` in a ``<script type="application/json">``,
safe inside a script element) in uPlot's own shape: one x array of epoch seconds and, per series,
values aligned to it (``None`` where the series has no point)::

    {"title": "Risk", "x": [1700000000, ...],
     "series": [{"label": "pumps v3", "values": [0.2, null, ...], "scale": "risk"}],
     "axes": [{"scale": "risk", "label": "P(failure)", "range": [0, 1]}]}
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.report import Window
from alerts.views import parse_duration

CHART_POINTS = 720
"""Buckets per chart at most: enough to follow a week at 15 min, small enough to send and draw."""
NICE_BUCKETS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


class WindowError(ValueError):
    """A window parameter the page refuses (the message says what it takes)."""


def window_back(text: str | None, now: datetime, *, default: timedelta, longest: timedelta) -> Window:
    """The window from ``now - <text>`` to ``now`` (``text`` a duration like ``7d``, ``24h``, ``90m``).

    Raises:
        WindowError: not a duration, or longer than ``longest``.
    """
    if not text:
        return Window(now - default, now)
    try:
        span = parse_duration(text)
    except ValueError as exc:
        raise WindowError(str(exc)) from None
    if span > longest:
        raise WindowError(f"{text!r} is longer than the {_days(longest)} this page shows at most")
    return Window(now - span, now)


def _days(span: timedelta) -> str:
    days = span.total_seconds() / 86400
    return f"{days:g} days" if days >= 1 else f"{span.total_seconds() / 3600:g} hours"


def parse_instant(text: str, *, end_of_day: bool = False) -> datetime:
    """A date (``2026-01-31``) or a time (``2026-01-31T08:00``, with or without an offset) as UTC.

    A date alone means its start (or, with ``end_of_day``, the next day's start: an ``until`` date
    includes that day). A time without an offset is UTC.

    Raises:
        WindowError: neither a date nor a time.
    """
    value = text.strip()
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise WindowError(f"{text[:40]!r} is not a date (2026-01-31) or a time (2026-01-31T08:00)") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    if end_of_day and len(value) == 10:
        at += timedelta(days=1)
    return at.astimezone(UTC)


def bucket_s(window: Window, points: int = CHART_POINTS) -> int:
    """The smallest nice bucket (seconds) that draws ``window`` in at most ``points`` buckets."""
    span_s = (window.until - window.since).total_seconds()
    for size in NICE_BUCKETS_S:
        if span_s / size <= points:
            return size
    return math.ceil(span_s / points / 86400) * 86400


def align(series: Sequence[Mapping[int, float | None]]) -> tuple[list[int], list[list[float | None]]]:
    """Several ``{time: value}`` series on one sorted x axis: uPlot's ``[x, y1, y2, ...]`` shape,
    ``None`` where a series has no value at that time."""
    xs = sorted({t for s in series for t in s})
    return xs, [[s.get(t) for t in xs] for s in series]


def increase(values: Sequence[float], base: float | None = None) -> float:
    """How much a cumulative counter rose over ``values`` (oldest first), restarts included.

    ``base`` is the counter's last value before the first one (None: the counter started at zero
    within the window). A value below its predecessor is a restart of the producer, which counts
    again from zero: the rise is then the value itself.
    """
    total = 0.0
    previous = 0.0 if base is None else base
    for value in values:
        total += value - previous if value >= previous else value
        previous = value
    return total


def rates(times_s: Sequence[int], values: Sequence[float]) -> list[float | None]:
    """Per-second rates of a cumulative counter sampled at ``times_s`` (oldest first, one per bucket).

    The first sample has no rate (None: over which time its count rose is not known); a restart
    counts from zero.
    """
    out: list[float | None] = []
    for i, (t, v) in enumerate(zip(times_s, values, strict=True)):
        if i == 0:
            out.append(None)
            continue
        dt = t - times_s[i - 1]
        previous = values[i - 1]
        rise = v - previous if v >= previous else v
        out.append(rise / dt if dt > 0 else None)
    return out


@dataclass(frozen=True)
class Line:
    """One chart series: its label, ``{epoch s: value}``, and the y scale it is drawn on."""

    label: str
    points: Mapping[int, float | None]
    scale: str = "y"


def chart(
    title: str,
    lines: Iterable[Line],
    axes: Mapping[str, str],
    ranges: Mapping[str, tuple[float, float]] | None = None,
    zero: Iterable[str] = (),
) -> dict[str, Any]:
    """The JSON ``charts.js`` draws: the lines aligned on one x axis; ``axes`` maps a scale to its
    label, ``ranges`` a scale to a fixed (min, max) (a probability is drawn on 0..1), and the scales
    in ``zero`` start at 0 (a rate or a count: a flat line must not look like a swing)."""
    kept = [line for line in lines if line.points]
    xs, ys = align([line.points for line in kept])
    fixed = ranges or {}
    from_zero = set(zero)
    return {
        "title": title,
        "x": xs,
        "series": [
            {"label": line.label, "values": [_finite(v) for v in values], "scale": line.scale}
            for line, values in zip(kept, ys, strict=True)
        ],
        "axes": [
            {
                "scale": scale,
                "label": label,
                **({"range": list(fixed[scale])} if scale in fixed else {}),
                **({"zero": True} if scale in from_zero else {}),
            }
            for scale, label in axes.items()
        ],
    }


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: such a value is a gap."""
    return value if value is not None and math.isfinite(value) else None


def rfc3339(at: datetime) -> str:
    """A time as InfluxQL takes it in a bound parameter, to the millisecond (the points' precision):
    ``2026-01-31T08:00:00.250Z``."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def window_params(window: Window) -> dict[str, str]:
    """The window as the bound parameters ``$since`` and ``$until``, to the millisecond: a point
    written in the same second as the page's ``now`` is in its window (``Window.params`` cuts to the
    second, which would leave it out)."""
    return {"since": rfc3339(window.since), "until": rfc3339(window.until)}


def epoch_s(ms: int) -> int:
    """Epoch milliseconds (InfluxDB's answers) → epoch seconds (uPlot's x)."""
    return ms // 1000


def at_ms(ms: int) -> datetime:
    """Epoch milliseconds → a UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, UTC)
