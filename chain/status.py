"""``forewarn status``: the stack's services and the pipeline processes of runs, in one view.

A run (the demo, a drill, a test) starts its programs under ``<state>/runs/<run>/`` with a pid
file in ``run/`` and a log in ``logs/`` each (:mod:`chain.processes`) and writes the environment
they got to ``run.env`` (:mod:`chain.plan`). A process stopped on purpose takes its pid file with
it, so every pid file names a process that runs or one that died. From those files alone this
judges each: alive, when its log last moved, the API's ``/health``, the scoring job's lag (its
checkpoint against the run's telemetry topic) and the alert engine's (its consumer group against
the run's risk topic). Gathering is I/O; judging and rendering are plain functions of what was
gathered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from chain.failures import expected, one_line
from chain.plan import read_run_env, run_settings
from forewarn.settings import KafkaSettings
from forewarn.table import table
from infra.stack import stack as stack_ops
from infra.stack.cli import status_dict
from infra.stack.process import is_alive
from infra.stack.service import StackContext

QUERY = "scoring"  # the scoring job's query folder inside its checkpoint folder (streaming.job)


class Health(StrEnum):
    """A pipeline process's verdict."""

    HEALTHY = "healthy"
    DOWN = "down"  # its pid file names a process that is gone
    UNHEALTHY = "unhealthy"  # alive but failing its check (the API's /health)


@dataclass(frozen=True)
class Process:
    """One program of a run as found now."""

    run: str
    name: str
    pid: int | None
    health: Health
    log: str
    log_age_s: float | None
    lag: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class Report:
    """Everything ``forewarn status`` shows."""

    services: list[stack_ops.Status]
    processes: list[Process] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(s.health.ok for s in self.services) and all(
            p.health is Health.HEALTHY for p in self.processes
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "services": [status_dict(s) for s in self.services],
            "processes": [asdict(p) for p in self.processes],
        }


def gather(ctx: StackContext, now: Callable[[], float] = time.time) -> Report:
    """Probe the stack's services, then every process of every run that has a live one."""
    services = stack_ops.status(ctx)
    kafka_up = next((s.health.ok for s in services if s.name == "kafka"), False)
    processes = [
        p
        for run_dir in runs_with_processes(ctx.state)
        for p in run_processes(ctx.state, run_dir, kafka_up, now())
    ]
    return Report(services, processes)


def runs_with_processes(state_dir: Path) -> list[Path]:
    """Run folders with a pid file, by name.

    A process stopped on purpose (the end of a run, `forewarn demo stop`) takes its pid file with it;
    a pid file whose process is gone therefore means it died, and shows as down.
    """
    return sorted({p.parent.parent for p in (state_dir / "runs").glob("*/run/*.pid") if p.is_file()})


def run_processes(state_dir: Path, run_dir: Path, kafka_up: bool, now_s: float) -> list[Process]:
    """Every process with a pid file in ``run_dir``, judged."""
    env = read_run_env(run_dir)
    found = []
    for pid_file in sorted((run_dir / "run").glob("*.pid")):
        name = pid_file.stem
        pid = _pid(pid_file)
        log = run_dir / "logs" / f"{name}.log"
        age = now_s - log.stat().st_mtime if log.is_file() else None
        base = Process(run_dir.name, name, pid, Health.DOWN, str(log), age)
        if not _pid_alive(pid):
            found.append(_replace(base, detail="died: its log says why (`forewarn demo stop` forgets it)"))
            continue
        check = CHECKS.get(name)
        found.append(
            check(base, env, state_dir, kafka_up) if check else _replace(base, health=Health.HEALTHY)
        )
    return found


def _api(p: Process, env: dict[str, str], state_dir: Path, kafka_up: bool) -> Process:
    url = f"http://127.0.0.1:{env.get('FOREWARN_API_PORT', '8900')}/health"
    try:
        code = httpx.get(url, timeout=2.0).status_code
    except httpx.HTTPError as exc:
        return _replace(p, health=Health.UNHEALTHY, detail=f"{url}: {type(exc).__name__}")
    return _replace(p, health=Health.HEALTHY if code == 200 else Health.UNHEALTHY, detail=f"{url} {code}")


def _stream(p: Process, env: dict[str, str], state_dir: Path, kafka_up: bool) -> Process:
    from streaming.progress import lag
    from streaming.settings import StreamSettings

    alive = _replace(p, health=Health.HEALTHY)
    if not kafka_up:
        return _replace(alive, detail="lag unknown: Kafka is down")
    stream = run_settings(StreamSettings, env, state_dir)
    checkpoint = (stream.checkpoint_dir or state_dir / "checkpoints" / "stream") / QUERY
    kafka = run_settings(KafkaSettings, env, state_dir)
    return _with_lag(alive, lambda: lag(checkpoint, kafka).total, f"readings of {kafka.telemetry_topic}")


def _engine(p: Process, env: dict[str, str], state_dir: Path, kafka_up: bool) -> Process:
    from chain.topics import group_lag

    alive = _replace(p, health=Health.HEALTHY)
    group = env.get("FOREWARN_ALERTS_GROUP_ID")  # every run names its engine's group (chain.plan)
    if group is None:
        return _replace(alive, detail="lag unknown: the run names no consumer group")
    if not kafka_up:
        return _replace(alive, detail="lag unknown: Kafka is down")
    kafka = run_settings(KafkaSettings, env, state_dir)
    return _with_lag(
        alive, lambda: group_lag(kafka, group, kafka.risk_topic), f"group {group} on {kafka.risk_topic}"
    )


def _with_lag(p: Process, measure: Callable[[], int | None], what: str) -> Process:
    try:
        lag = measure()
    except Exception as exc:  # a status shows what it can: a failed lag is a detail, not a crash
        failure = expected(exc)
        if failure is None and not isinstance(exc, ValueError):
            raise
        return _replace(p, detail=f"lag unknown: {one_line(failure.message if failure else str(exc), 120)}")
    return _replace(p, lag=lag, detail=what if lag is not None else f"{what}: nothing committed yet")


CHECKS: dict[str, Callable[[Process, dict[str, str], Path, bool], Process]] = {
    "api": _api,
    "stream": _stream,
    "engine": _engine,
}


def render(report: Report) -> str:
    """The report as two tables a person reads at a glance."""
    services = table(
        ["service", "state", "pid", "address", "detail"],
        [
            [s.name, "healthy" if s.health.ok else "down", str(s.pid or "-"), s.address, s.health.detail]
            for s in report.services
        ],
    )
    if not report.processes:
        pipeline = "no run has a live process (`make demo` starts one; `forewarn demo stop` stops them)"
    else:
        pipeline = table(
            ["run", "process", "state", "pid", "log moved", "lag", "detail"],
            [
                [
                    p.run,
                    p.name,
                    p.health.value,
                    str(p.pid or "-"),
                    _ago(p.log_age_s),
                    "-" if p.lag is None else f"{p.lag:,}",
                    p.detail,
                ]
                for p in report.processes
            ],
        )
    verdict = "all healthy" if report.healthy else "NOT all healthy"
    return f"services\n{services}\n\npipeline processes\n{pipeline}\n\n{verdict}"


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "no log"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"


def _pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _pid_alive(pid: int | None) -> bool:
    return pid is not None and is_alive(pid)


def _replace(p: Process, **changes: Any) -> Process:
    return replace(p, **changes)
