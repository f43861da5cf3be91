"""The machine a benchmark ran on, and how fast it is at two fixed workloads.

Why: the same code on two 2-core machines of the same description measured 3 to 4 times apart (3 Dec
2026: the scoring step offline 0.042 ms a C-MAPSS reading at 13:38, 0.147 ms on the machine that
replaced it at 17:40, the code of 13:38 0.154 ms there). Ratios within one run stay comparable;
absolute figures across runs are comparable only beside these reference timings: a pure-Python
loop (what the step's per-reading bookkeeping costs) and a numpy sort (compiled code), each the
fastest of a few tries, so a busy moment costs a try and not the figure.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

LOOP_ITERATIONS = 1_000_000
SORT_VALUES = 1_000_000
TRIES = 5


def cpu_model(cpuinfo: str) -> str | None:
    """The first ``model name`` of ``/proc/cpuinfo`` text, or None (no such line). Pure."""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "model name":
            return value.strip() or None
    return None


def _python_loop_ns() -> float:
    started = time.perf_counter_ns()
    total = 0
    for i in range(LOOP_ITERATIONS):
        total += i
    return (time.perf_counter_ns() - started) / LOOP_ITERATIONS


def _numpy_sort_ms(values: np.ndarray) -> float:
    started = time.perf_counter_ns()
    np.sort(values, kind="quicksort")
    return (time.perf_counter_ns() - started) / 1e6


def reference() -> dict[str, float]:
    """Nanoseconds per iteration of a Python ``for`` loop adding integers, and milliseconds to sort
    a million float64 (seeded): the fastest of :data:`TRIES` each."""
    values = np.random.default_rng(0).random(SORT_VALUES)
    return {
        "python_loop_ns_per_iteration": round(min(_python_loop_ns() for _ in range(TRIES)), 1),
        "numpy_sort_1e6_ms": round(min(_numpy_sort_ms(values) for _ in range(TRIES)), 2),
    }


def host() -> dict[str, Any]:
    """Cores, CPU model, Python, the load, and :func:`reference`: what a bench JSON says of its machine."""
    try:
        model = cpu_model(Path("/proc/cpuinfo").read_text())
    except OSError:
        model = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor() or None,
        "arch": platform.machine(),
        "python": platform.python_version(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "reference": reference(),
    }
