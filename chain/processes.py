"""The pipeline's own programs (gateway, scoring job, alert engine, API) as supervised processes.

Each runs as ``python -m chain …`` in its own session with its log and pid file in the run's
folder, exactly as an operator would start it; the supervisor can wait until it is ready, kill it
with SIGKILL (the drill) and start it again with the same settings.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from infra.stack.process import CLOCK_TICKS, Daemon, group_alive, is_alive, signal_group, stat_fields

Ready = Callable[[], bool]


class ComponentError(RuntimeError):
    """A component exited or never became ready; the message names its log."""


@dataclass
class Component:
    """One program of the pipeline.

    Attributes:
        name: short name (``gateway``, ``stream``, ``engine``, ``api``).
        args: arguments after ``python -m chain``.
        ready_log: a line fragment its log prints once it is serving (None: ready at start).
        ready_url: an HTTP address answering 200 once it is serving.
    """

    name: str
    args: list[str]
    ready_log: str | None = None
    ready_url: str | None = None
    starts: int = 0
    log_offset: int = 0


@dataclass
class Supervisor:
    """Starts, watches, kills and restarts the components of one run."""

    run_dir: Path
    env: dict[str, str]
    cwd: Path
    components: dict[str, Component] = field(default_factory=dict)

    def daemon(self, c: Component) -> Daemon:
        return Daemon(
            name=c.name,
            argv=[sys.executable, "-m", "chain", *c.args],
            pid_file=self.run_dir / "run" / f"{c.name}.pid",
            log_file=self.log_file(c.name),
            cwd=self.cwd,
            env=self.env,
        )

    def daemon_env(self) -> dict[str, str]:
        """The environment of every process of the run: ours plus the run's ``FOREWARN_*``."""
        return {**os.environ, **self.env}

    def log_file(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"

    def start(self, c: Component, ready_timeout_s: float = 180.0) -> int:
        """Start ``c`` and wait until it is ready; ComponentError if it exits or times out first."""
        if c.ready_url is not None and self._ready(c):
            raise ComponentError(f"{c.name}: {c.ready_url} already answers: another program holds its port")
        self.components[c.name] = c
        log = self.log_file(c.name)
        c.log_offset = log.stat().st_size if log.exists() else 0
        pid = self.daemon(c).start()
        c.starts += 1
        deadline = time.monotonic() + ready_timeout_s
        while not self._ready(c):
            if not is_alive(pid):
                raise ComponentError(f"{c.name} exited during start; see {log}:\n{self.tail(c.name)}")
            if time.monotonic() > deadline:
                raise ComponentError(f"{c.name} not ready after {ready_timeout_s:.0f} s; see {log}")
            time.sleep(0.3)
        return pid

    def _ready(self, c: Component) -> bool:
        if c.ready_url is not None:
            try:
                return httpx.get(c.ready_url, timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False
        if c.ready_log is not None:
            log = self.log_file(c.name)
            if not log.exists():
                return False
            with log.open("rb") as f:
                f.seek(c.log_offset)
                return c.ready_log.encode() in f.read()
        return True

    def pid(self, name: str) -> int | None:
        return self.daemon(self.components[name]).pid()

    def alive(self, name: str) -> bool:
        return self.pid(name) is not None

    def kill9(self, name: str) -> int:
        """SIGKILL the component's whole process group (no flush, no goodbye); return the dead pid."""
        pid = self.pid(name)
        if pid is None:
            raise ComponentError(f"{name} is not running")
        signal_group(pid, signal.SIGKILL)
        while is_alive(pid) or group_alive(pid):
            time.sleep(0.1)
        return pid

    def restart(self, name: str, ready_timeout_s: float = 180.0) -> int:
        return self.start(self.components[name], ready_timeout_s)

    def check(self) -> list[str]:
        """Components that died on their own (the run should stop and show their logs)."""
        return [name for name in self.components if not self.alive(name)]

    def stop_all(self, timeout_s: float = 30.0) -> None:
        """SIGTERM every component, newest first (the gateway flushes before the job stops)."""
        for name in reversed(list(self.components)):
            self.daemon(self.components[name]).stop(timeout_s)

    def tail(self, name: str, lines: int = 15) -> str:
        log = self.log_file(name)
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def cpu_s(self, name: str) -> float | None:
        """CPU seconds (user + system) of the component's process group and every process below
        it so far (children it reaped included)."""
        pid = self.pid(name)
        if pid is None:
            return None
        return sum(_cpu_s(p) for p in _group(pid))

    def peak_rss_mb(self, name: str) -> float | None:
        """Peak resident memory (VmHWM) summed over the component's processes."""
        pid = self.pid(name)
        if pid is None:
            return None
        return sum(_status_mb(p, "VmHWM:") for p in _group(pid))


def group_usage(pid: int) -> tuple[float, float]:
    """CPU seconds and peak resident MB of the process group led by ``pid`` (a stack service) and
    every process below it."""
    members = _group(pid)
    return sum(_cpu_s(p) for p in members), sum(_status_mb(p, "VmHWM:") for p in members)


def _group(pgid: int) -> list[int]:
    from infra.stack.process import processes_below

    return processes_below(pgid) or [pgid]


def _cpu_s(pid: int) -> float:
    """utime + stime + cutime + cstime: a worker that ended was reaped by its parent, which then holds
    its time (pyspark's daemon reaps the Python workers it forked)."""
    fields = stat_fields(Path(f"/proc/{pid}"))
    return 0.0 if fields is None else sum(int(v) for v in fields[11:15]) / CLOCK_TICKS


def _status_mb(pid: int, key: str) -> float:
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith(key):
                return int(row.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0
