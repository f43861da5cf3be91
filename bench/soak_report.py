"""The soak's arithmetic: per-process series in, a leak verdict's numbers out (pure, no I/O).

A sample is one moment: each process's resident memory and open file descriptors, and each
consumer's lag. The report gives, per process, first/last/peak RSS, the RSS and fd slopes per hour
(least squares over every sample, so one garbage collection does not read as a leak) and, per lag,
its maximum and last value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forewarn.table import table as render_table


@dataclass(frozen=True, slots=True)
class Sample:
    """One moment of the soak: seconds since its start, ``name -> (rss_mb, fds)``, ``lag name -> records``."""

    t_s: float
    processes: dict[str, tuple[float, int]]
    lags: dict[str, int | None] = field(default_factory=dict)


def slope_per_hour(t_s: Sequence[float], values: Sequence[float]) -> float | None:
    """Least-squares slope of ``values`` over ``t_s`` seconds, per hour; None with fewer than 2 times."""
    if len(t_s) < 2 or len(set(t_s)) < 2:
        return None
    slope, _ = np.polyfit(np.asarray(t_s, dtype=float), np.asarray(values, dtype=float), 1)
    return float(slope) * 3600.0


def summarize(samples: Sequence[Sample]) -> dict[str, Any]:
    """Per process and per lag, what :mod:`bench.soak` reports (processes seen in any sample)."""
    names = sorted({name for s in samples for name in s.processes})
    processes: dict[str, Any] = {}
    for name in names:
        seen = [(s.t_s, *s.processes[name]) for s in samples if name in s.processes]
        times = [t for t, _, _ in seen]
        rss = [r for _, r, _ in seen]
        fds = [float(f) for _, _, f in seen]
        rss_slope, fd_slope = slope_per_hour(times, rss), slope_per_hour(times, fds)
        processes[name] = {
            "samples": len(seen),
            "rss_mb_first": round(rss[0], 1),
            "rss_mb_last": round(rss[-1], 1),
            "rss_mb_peak": round(max(rss), 1),
            "rss_mb_per_h": None if rss_slope is None else round(rss_slope, 2),
            "fds_first": int(fds[0]),
            "fds_last": int(fds[-1]),
            "fds_per_h": None if fd_slope is None else round(fd_slope, 2),
        }
    lags: dict[str, Any] = {}
    for lag in sorted({name for s in samples for name in s.lags}):
        values = [v for s in samples if (v := s.lags.get(lag)) is not None]
        lags[lag] = {"max": max(values) if values else None, "last": values[-1] if values else None}
    return {"processes": processes, "lags": lags}


def table(summary: dict[str, Any]) -> str:
    """The summary as the text table ``make soak`` prints."""

    def shown(value: object) -> str:
        return "-" if value is None else f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"

    rows = [
        [
            name,
            *(
                shown(p[k])
                for k in (
                    "rss_mb_first",
                    "rss_mb_last",
                    "rss_mb_peak",
                    "rss_mb_per_h",
                    "fds_first",
                    "fds_last",
                    "fds_per_h",
                )
            ),
        ]
        for name, p in summary["processes"].items()
    ]
    head = ["process", "RSS MB first", "last", "peak", "MB/h", "fds first", "last", "fds/h"]
    lags = [[name, shown(v["max"]), shown(v["last"])] for name, v in summary["lags"].items()]
    return render_table(head, rows) + "\n\n" + render_table(["lag (records)", "max", "last"], lags)
