"""The sink's bounded wait for a micro-batch's observed counters (``streaming.sinks.observed_metrics``).

The real path (a Kafka write whose observed metrics arrive) runs in every integration test of the
job (``test_scoring_job.py``, ``test_sink_refusal.py``); here, the JVM observation's completion
is a stand-in, to show a counter that never arrives cannot stop the job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from streaming.sinks import observed_metrics


@dataclass
class _Future:
    done_at: float

    def isCompleted(self) -> bool:  # noqa: N802 - the JVM method's name
        return time.monotonic() >= self.done_at


@dataclass
class _JvmObservation:
    done_at: float

    def future(self) -> _Future:
        return _Future(self.done_at)


@dataclass
class _Observation:
    done_in_s: float
    metrics: dict[str, Any] = field(default_factory=lambda: {"scored": 3})

    def __post_init__(self) -> None:
        self._jo = _JvmObservation(time.monotonic() + self.done_in_s)

    @property
    def get(self) -> dict[str, Any]:
        return self.metrics


def test_metrics_that_arrive_in_time_are_returned() -> None:
    assert observed_metrics(_Observation(0.05), timeout_s=5) == {"scored": 3}


def test_metrics_that_never_arrive_end_the_wait_with_none() -> None:
    started = time.monotonic()
    assert observed_metrics(_Observation(3600), timeout_s=0.2) is None
    assert time.monotonic() - started < 5
