"""The engine's loop outlives a Kafka outage: the failed step is redone from the committed offsets.

The real outage is ``tests/e2e/test_kill_drill.py`` (kill -9 of the broker while the engine runs);
here the loop's rule alone, with steps that fail as kafka-python's clients do while the broker is down.
"""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.errors import KafkaConnectionError, KafkaTimeoutError

from alerts.engine.service import retry_kafka


@settings(max_examples=40, deadline=None)
@given(step_failures=st.integers(0, 5), rewind_failures=st.integers(0, 3))
def test_a_step_kafka_refuses_is_rewound_and_redone_until_it_succeeds(
    step_failures: int, rewind_failures: int
) -> None:
    calls: list[str] = []
    left = {"step": step_failures, "rewind": rewind_failures}

    def step() -> int:
        calls.append("step")
        if left["step"]:
            left["step"] -= 1
            raise KafkaTimeoutError("send not acknowledged")
        return 1

    def rewind() -> None:
        calls.append("rewind")
        if left["rewind"]:
            left["rewind"] -= 1
            raise KafkaConnectionError("111 ECONNREFUSED")

    retry_kafka(step, rewind, threading.Event(), backoff_s=0.0, max_backoff_s=0.0)
    assert calls[-1] == "step"
    assert left["step"] == 0
    assert calls.count("step") == step_failures + 1
    # every redo comes after a successful rewind: never a step on a consumer past uncommitted records
    successful_rewinds = calls.count("rewind") - min(rewind_failures, calls.count("rewind"))
    assert successful_rewinds == step_failures
    for i, call in enumerate(calls[1:], start=1):
        if call == "step":
            assert calls[i - 1] == "rewind"


def test_stop_ends_the_wait_for_kafka() -> None:
    stop = threading.Event()

    def step() -> int:
        stop.set()  # the engine is told to stop while Kafka is down
        raise KafkaConnectionError("111 ECONNREFUSED")

    retry_kafka(step, lambda: None, stop, backoff_s=60.0)  # returns at once: stop is set


def test_an_error_that_is_not_kafka_still_stops_the_engine() -> None:
    def step() -> int:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        retry_kafka(step, lambda: None, threading.Event(), backoff_s=0.0)
