"""Expand Grafana's InfluxQL macros and template variables the way Grafana does before it queries.

Grafana rewrites a panel's raw InfluxQL before sending it to InfluxDB: ``$timeFilter`` becomes a
time range condition, ``$__interval`` the auto interval for the panel width, and ``$name`` /
``${name}`` / ``[[name]]`` the variable's value. A multi-value or All variable becomes a regex
alternation of escaped values (``(a|b)``), or the variable's custom all value. The tests use this
to run every panel's query against the real InfluxDB exactly as Grafana would send it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

# Grafana's interval rounding: the largest "nice" interval not above the raw one.
_NICE_INTERVALS_S: tuple[tuple[int, str], ...] = (
    (1, "1s"),
    (5, "5s"),
    (10, "10s"),
    (15, "15s"),
    (30, "30s"),
    (60, "1m"),
    (300, "5m"),
    (600, "10m"),
    (900, "15m"),
    (1800, "30m"),
    (3600, "1h"),
    (10800, "3h"),
    (21600, "6h"),
    (43200, "12h"),
    (86400, "1d"),
)
_VARIABLE = re.compile(r"\$\{(\w+)\}|\[\[(\w+)\]\]|\$(\w+)")
_REGEX_SPECIAL = re.compile(r"([\\/^$.|?*+()\[\]{}])")


class MacroError(ValueError):
    """A query names a macro or variable the expander was not given."""


@dataclass(frozen=True)
class TimeRange:
    """The dashboard's time range (timezone-aware UTC)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("TimeRange needs timezone-aware datetimes")
        if self.end <= self.start:
            raise ValueError(f"TimeRange end {self.end} is not after start {self.start}")

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


@dataclass(frozen=True)
class Variable:
    """A template variable's chosen values and how Grafana formats them."""

    values: tuple[str, ...]
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    all_selected: bool = False

    def render(self) -> str:
        """The text Grafana puts in place of ``$name`` in an InfluxQL query."""
        if self.all_selected and self.all_value is not None:
            return self.all_value
        if not self.values:
            raise MacroError("variable has no value")
        if not (self.multi or self.include_all):
            return self.values[0]
        escaped = [_REGEX_SPECIAL.sub(r"\\\1", value) for value in self.values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def auto_interval(time_range: TimeRange, max_data_points: int = 1000, min_interval_s: int = 1) -> str:
    """``$__interval``: the time range over the panel's data points, rounded down to a nice value."""
    raw_s = max(min_interval_s, (time_range.end_ms - time_range.start_ms) / 1000 / max_data_points)
    chosen = _NICE_INTERVALS_S[0][1]
    for seconds, text in _NICE_INTERVALS_S:
        if seconds <= raw_s:
            chosen = text
    return chosen


def expand(
    query: str,
    time_range: TimeRange,
    variables: Mapping[str, Variable],
    *,
    max_data_points: int = 1000,
) -> str:
    """``query`` as Grafana sends it to InfluxDB; MacroError names an unknown variable."""
    interval = auto_interval(time_range, max_data_points)
    builtins = {
        "timeFilter": f"time >= {time_range.start_ms}ms and time <= {time_range.end_ms}ms",
        "__timeFilter": f"time >= {time_range.start_ms}ms and time <= {time_range.end_ms}ms",
        "__interval": interval,
        "__interval_ms": str(_interval_ms(interval)),
        "__from": str(time_range.start_ms),
        "__to": str(time_range.end_ms),
    }

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group is not None)
        if name in builtins:
            return builtins[name]
        if name in variables:
            return variables[name].render()
        raise MacroError(f"query uses ${name}, which is neither a Grafana macro nor a given variable")

    return _VARIABLE.sub(replace, query)


def _interval_ms(interval: str) -> int:
    for seconds, text in _NICE_INTERVALS_S:
        if text == interval:
            return seconds * 1000
    raise MacroError(f"unknown interval {interval!r}")


def variable_names(query: str) -> Sequence[str]:
    """The variables (not Grafana's ``$__`` macros nor ``$timeFilter``) a query uses, in order."""
    names = (next(g for g in m.groups() if g is not None) for m in _VARIABLE.finditer(query))
    return [name for name in names if name != "timeFilter" and not name.startswith("__")]
