"""What the Spark driver's processes spend, from Linux ``/proc``: CPU seconds, resident memory, disk.

The JVM (driver and, with ``local[N]``, executors) is the root; its descendants are pyspark's
Python daemon and workers. A worker forked from the daemon shares its pages until written, so
the workers' RSS summed counts those pages once per worker: proportional set size (PSS) is the
fair sum and is reported beside it.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.stack import process
from infra.stack.process import CLOCK_TICKS, stat_fields


def tree_cpu_s(root: int) -> dict[str, float]:
    """CPU seconds (user + system) of process ``root`` (``jvm``) and of its descendants so far
    (``python``: the Python daemons and workers, ended ones included).

    A worker that ended was reaped by its parent, which then holds its time (cutime, cstime): the
    daemon for a worker it forked, the JVM for a worker or daemon it started. So the JVM's own
    cutime/cstime count as Python: its only children are pyspark's Python processes. Without
    that, a worker ending between two readings made the difference negative.
    """
    parents = process.parents()
    own = stat_fields(Path(f"/proc/{root}")) or ["0"] * 15
    python = sum(int(v) for v in own[13:15]) / CLOCK_TICKS
    for pid in process.descendants(root, parents):
        fields = stat_fields(Path(f"/proc/{pid}"))
        if fields is not None:
            # utime, stime, cutime, cstime: a live process's own time plus its reaped children's
            python += sum(int(v) for v in fields[11:15]) / CLOCK_TICKS
    return {"jvm": sum(int(v) for v in own[11:13]) / CLOCK_TICKS, "python": python}


def jvm_threads_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds of the JVM's live threads by kind (name without digits: ``Executor task launch
    worker for task #``, ``C# CompilerThread#``, ``GC Thread#``…)."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = re.sub(r"[0-9]+", "#", (task / "comm").read_text().strip())
        except OSError:
            continue
        fields = stat_fields(task)
        if fields is not None:
            out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return out


def machine_cpu_s(stat: str | None = None) -> dict[str, float]:
    """The whole machine's CPU seconds so far (``/proc/stat``'s first line, or ``stat``): ``busy``
    (every state but idle and iowait), ``total``, and ``steal``, part of busy: time the hypervisor
    gave another guest while this one wanted the core. A phase's busy share over its wall time tells
    whether the cores were used at all, by the job or by the stack beside it; its steal, whether the
    machine itself was slower than its reference timings say."""
    text = Path("/proc/stat").read_text() if stat is None else stat
    values = [int(v) for v in text.splitlines()[0].split()[1:]] + [0] * 8
    total = sum(values[:8]) / CLOCK_TICKS  # guest time is counted in user already
    idle = (values[3] + values[4]) / CLOCK_TICKS
    return {"busy": total - idle, "total": total, "steal": values[7] / CLOCK_TICKS}


SERVICES = (
    ("kafka", re.compile(r"kafka\.Kafka\b")),
    ("influxdb", re.compile(r"\binfluxd\b")),
    ("mosquitto", re.compile(r"\bmosquitto\b")),
    ("mlflow", re.compile(r"\bmlflow\b|uvicorn")),
    ("postgres", re.compile(r"\bpostgres\b")),
)
"""The stack's services by command line: what else the cores serve while the job runs."""


def services_cpu_s(exclude: set[int]) -> dict[str, float]:
    """CPU seconds so far (own and reaped children's) of every process outside ``exclude`` (the
    job's tree), by service (:data:`SERVICES`; ``this process`` for the caller, ``other`` for the rest)."""
    import os

    me = os.getpid()
    out: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        fields = stat_fields(entry)
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fields is None:
            continue
        name = "this process" if int(entry.name) == me else "other"
        for service, pattern in SERVICES:
            if pattern.search(command):
                name = service
                break
        out[name] = out.get(name, 0.0) + sum(int(v) for v in fields[11:15]) / CLOCK_TICKS
    return out


def status_kb(pid: int, key: str) -> int:
    """A ``/proc/<pid>/status`` value in kB (``VmRSS``, ``VmHWM``…); 0 when the process is gone."""
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith(f"{key}:"):
                return int(row.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid: int) -> int:
    """Proportional set size (shared pages divided among their sharers), kB; 0 when gone."""
    try:
        for row in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if row.startswith("Pss:"):
                return int(row.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class MemorySampler:
    """Samples the JVM's and its Python workers' memory every ``every_s`` in a thread; keeps peaks.

    ``VmHWM`` is the kernel's own peak RSS of a process (exact, but a worker that ended takes
    its peak with it); the workers' sums are sampled, so a peak between samples is missed (PSS
    only every ``pss_every``-th sample).
    """

    jvm: int
    every_s: float = 0.5
    # PSS (smaps_rollup) walks a process's page tables: 17-21 ms per 1 GB worker, so with four workers
    # every 0.5 s the sampler took 8 % of the two cores from the job it measured; RSS is one read
    pss_every: int = 10
    peaks_kb: dict[str, int] = field(default_factory=dict)
    workers_seen: set[int] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _samples: int = 0

    def sample(self) -> None:
        workers = process.descendants(self.jvm)
        self.workers_seen.update(workers)
        with_pss = self._samples % self.pss_every == 0
        self._samples += 1
        now = {
            "jvm_rss": status_kb(self.jvm, "VmRSS"),
            "jvm_hwm": status_kb(self.jvm, "VmHWM"),
            "python_rss_sum": sum(status_kb(p, "VmRSS") for p in workers),
            "python_pss_sum": sum(pss_kb(p) for p in workers) if with_pss else 0,
            "python_hwm_max": max((status_kb(p, "VmHWM") for p in workers), default=0),
            "python_processes": len(workers),
        }
        for key, value in now.items():
            self.peaks_kb[key] = max(self.peaks_kb.get(key, 0), value)

    def start(self) -> MemorySampler:
        def loop() -> None:
            while not self._stop.wait(self.every_s):
                self.sample()

        self.sample()
        self._thread = threading.Thread(target=loop, name="memory-sampler", daemon=True)
        self._thread.start()
        return self

    def reset(self) -> None:
        """Start a new phase's peaks (VmHWM stays the process's peak since it started)."""
        self.peaks_kb = {}
        self._samples = 0
        self.sample()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def report(self) -> dict[str, Any]:
        """Peaks in MB: the JVM's (VmHWM and sampled RSS) and the Python workers' (sampled sums)."""
        mb = {k: round(v / 1024, 1) for k, v in self.peaks_kb.items() if k != "python_processes"}
        return {
            "spark_driver_jvm_peak_rss_mb": mb.get("jvm_hwm"),
            "spark_driver_jvm_sampled_peak_rss_mb": mb.get("jvm_rss"),
            "python_workers_sampled_peak_rss_sum_mb": mb.get("python_rss_sum"),
            "python_workers_sampled_peak_pss_sum_mb": mb.get("python_pss_sum"),
            "python_worker_peak_rss_max_mb": mb.get("python_hwm_max"),
            "python_processes_at_most": self.peaks_kb.get("python_processes", 0),
            "sample_every_s": self.every_s,
            "pss_sample_every_s": self.every_s * self.pss_every,
        }


def folder_size(path: Path) -> dict[str, int]:
    """Bytes and files under ``path`` (0 when it does not exist)."""
    files = [p for p in path.rglob("*") if p.is_file()] if path.exists() else []
    return {"bytes": sum(p.stat().st_size for p in files), "files": len(files)}
