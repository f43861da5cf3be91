"""``streaming.daemon``: pyspark's worker daemon with the step preloaded, run as Spark runs it
(``python -m <module>``, the listening port written to stdout, stdin closed to stop it). Forks are
only safe from a one-thread process: the preload must leave the daemon alone, and a daemon a library
gave a thread anyway must become pyspark's own."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

from streaming import daemon

ROOT = Path(__file__).resolve().parents[3]
MAPS_MARK = "sklearn"  # a preloaded daemon has scikit-learn's compiled modules mapped


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    clean = {k: v for k, v in os.environ.items() if k not in daemon.ENV}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streaming.daemon", "pyspark.worker"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, env={**clean, **env},
    )  # fmt: skip
    assert proc.stdout is not None
    header = proc.stdout.read(4)
    assert len(header) == 4, "the daemon exited before writing its port"
    return proc, struct.unpack("!i", header)[0]


def _stop(proc: subprocess.Popen[bytes]) -> int:
    assert proc.stdin is not None
    proc.stdin.close()  # pyspark's daemon shuts down when the JVM's end of stdin closes
    return proc.wait(timeout=60)


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_the_preloaded_daemon_serves_alone_with_the_step_loaded() -> None:
    proc, port = _start({})
    try:
        assert 0 < port < 65536
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"streaming.daemon" in cmdline
        assert _threads(proc.pid) == 1
        assert MAPS_MARK in Path(f"/proc/{proc.pid}/maps").read_text()
    finally:
        assert _stop(proc) is not None


def test_a_daemon_left_with_a_thread_becomes_pyspark_s_own() -> None:
    proc, port = _start({"OPENBLAS_NUM_THREADS": "2"})  # kept (setdefault): OpenBLAS starts its pool
    try:
        assert 0 < port < 65536  # same process, same pipes: the JVM sees a daemon all the same
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"pyspark.daemon" in cmdline
        assert b"streaming.daemon" not in cmdline
        assert MAPS_MARK not in Path(f"/proc/{proc.pid}/maps").read_text()
    finally:
        _stop(proc)
