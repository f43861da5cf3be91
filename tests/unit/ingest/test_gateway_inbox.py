"""The gateway's idle wait for MQTT messages honours its timeout when a signal interrupts it.

Regression: the inbox was a ``queue.SimpleQueue``; in CPython 3.11 its ``get(timeout)`` blocks until
the next ``put`` once a signal handler outlasts the rest of the timeout. A SIGTERM to an idle gateway
(Kafka unreachable, nothing more published) therefore hung its shutdown until the watchdog fired.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from forewarn.settings import KafkaSettings, MqttSettings
from ingest.gateway import Gateway
from ingest.settings import GatewaySettings


@pytest.fixture
def slow_alarm_handler() -> Iterator[None]:
    """SIGALRM runs a handler that takes longer than the gateway's 20 ms wait."""

    def handler(signum: int, frame: FrameType | None) -> None:
        time.sleep(0.06)

    previous = signal.signal(signal.SIGALRM, handler)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def test_an_idle_wait_interrupted_by_a_slow_signal_handler_still_times_out(
    tmp_path: Path, slow_alarm_handler: None
) -> None:
    gateway = Gateway(
        GatewaySettings(gateway_id="inbox-test", metrics_to_influx=False),
        MqttSettings(),
        KafkaSettings(),
        None,
        tmp_path,
    )
    try:
        for _ in range(5):
            # A message arrives only long after the wait should have given up: if the wait ignores
            # its timeout, it returns this message instead of nothing.
            late = threading.Timer(3.0, gateway._inbox.put, args=("late",))
            late.start()
            signal.setitimer(signal.ITIMER_REAL, 0.01)  # lands inside the 20 ms wait
            try:
                assert gateway._drain(0.02) == []
            finally:
                late.cancel()
                late.join()
    finally:
        gateway.spool.close()


def test_the_shutdown_watchdog_dumps_the_stacks_and_exits_with_a_failure_status() -> None:
    code = (
        "import threading, time\n"
        "from ingest.cli import _exit_hard_after_stop\n"
        "stop = threading.Event()\n"
        "_exit_hard_after_stop(stop, 0.2)\n"
        "stop.set()\n"
        "time.sleep(30)  # a shutdown that hangs\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 70
    assert "shutdown still running" in done.stderr
    assert "most recent call first" in done.stderr  # every thread's stack, to find the hang
