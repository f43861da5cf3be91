"""Daemons with pid files: start detached, find alive, stop by process group."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Daemon:
    """One long-running program of the stack and the files that track it."""

    name: str
    argv: list[str]
    pid_file: Path
    log_file: Path
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> int:
        """Start detached in its own session (so a stop reaches its children); return the pid."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(
                f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S%z')} starting: {' '.join(self.argv)}\n".encode()
            )
            log.flush()
            proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc.pid

    def pid(self) -> int | None:
        """The pid from the pid file if that process is still alive, else None (stale files are removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if is_alive(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def stop(self, timeout_s: float) -> bool:
        """SIGTERM the process group, wait, then SIGKILL; True if something was running."""
        pid = self.pid()
        if pid is None:
            return False
        signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and (is_alive(pid) or group_alive(pid)):
            time.sleep(0.2)
        if is_alive(pid) or group_alive(pid):
            signal_group(pid, signal.SIGKILL)
            while is_alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True


def is_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    if state == "Z":
        # Our own child that exited: reap it so it stops looking alive.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group led by ``pid`` (and to ``pid`` itself)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def group_alive(pgid: int) -> bool:
    """True while any live process is in process group ``pgid``."""
    return any(p != pgid or is_alive(p) for p in processes_in_group(pgid))


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of the CPU times in stat


def stat_fields(proc_dir: Path) -> list[str] | None:
    """The fields of ``<proc_dir>/stat`` after the command name (state, ppid, pgrp, …, utime at
    index 11), for ``/proc/<pid>`` or ``/proc/<pid>/task/<tid>``; None once the process is gone."""
    try:
        return (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def processes_in_group(pgid: int) -> list[int]:
    """Live pids whose process group is ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        fields = stat_fields(entry) if entry.name.isdigit() else None
        if fields is not None and int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def parents() -> dict[int, int]:
    """Every live process's parent pid, read once from ``/proc``."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        fields = stat_fields(entry) if entry.name.isdigit() else None
        if fields is not None:  # not a process, or gone meanwhile
            found[int(entry.name)] = int(fields[1])
    return found


def descendants(roots: int | list[int], table: dict[int, int] | None = None) -> list[int]:
    """Every live process below ``roots`` (children, their children, …), whatever their group."""
    table = parents() if table is None else table
    children: dict[int, list[int]] = {}
    for child, parent in table.items():
        children.setdefault(parent, []).append(child)
    out: list[int] = []
    todo = [c for root in ([roots] if isinstance(roots, int) else roots) for c in children.get(root, [])]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def processes_below(pgid: int) -> list[int]:
    """Live pids of process group ``pgid`` and of every process below one of them.

    A process may leave its parent's group: pyspark's daemon puts itself and the Python workers it
    forks in a group of their own (``os.setpgid(0, 0)`` in ``pyspark/daemon.py``), so the scoring
    job's group alone is its JVM without the Python that scores.
    """
    members = processes_in_group(pgid)
    return sorted({*members, *descendants(members)})


def processes_mentioning(text: str) -> list[int]:
    """Live pids (not this one) whose command line contains ``text``: the stack's leftovers."""
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        if text in cmdline and is_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
