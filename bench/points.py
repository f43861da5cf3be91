"""Micro-benchmark of the scoring job's per-reading InfluxDB point (``TelemetryPoints.line``).

``python -m bench.points``: 10,000 readings of 3 settings and 21 sensors (the C-MAPSS shape), formatted
through the schema's point builder as the stateful step does; best of 7, one JSON line on stdout.
"""

from __future__ import annotations

import random
import timeit

import orjson

from streaming.sinks import TelemetryPoints

READINGS = 10_000


def run(repeat: int = 7) -> dict[str, float]:
    """Best wall time of formatting every reading's point, in ms and µs per point."""
    rng = random.Random(1)  # noqa: S311 - test data, not secrets
    settings = [{f"setting_{i}": rng.random() for i in range(1, 4)} for _ in range(READINGS)]
    sensors = [{f"sensor_{i}": rng.random() * 500 for i in range(1, 22)} for _ in range(READINGS)]
    points = TelemetryPoints(True)

    def once() -> None:
        for n, (st, se) in enumerate(zip(settings, sensors, strict=True)):
            points.line("engine-007", "site-1", 1_767_225_600_000 + n, n, st, se)

    best_s = min(timeit.repeat(once, number=1, repeat=repeat))
    return {
        "readings": READINGS,
        "best_ms": round(best_s * 1000, 1),
        "us_per_point": round(best_s / READINGS * 1e6, 2),
    }


if __name__ == "__main__":
    print(orjson.dumps(run()).decode())
