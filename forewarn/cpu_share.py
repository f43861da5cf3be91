"""Services that can lag without losing anything give the CPU to the path a reading takes to ``risk``.

forewarn runs its whole product on one small machine as readily as on many. When the fleet offers
more than the cores can do at once, every busy program gets an equal share. Linux's scheduler
shares by session ("autogroups", on by default in Debian's and most distributions' kernels:
``/proc/sys/kernel/sched_autogroup_enabled``), and each service leads a session of its own. So the
alert engine and the model watcher, which only read what the scoring job wrote, took as large a
share of the cores as the job, and the job fell behind the fleet.

Measured with the whole product on 2 cores (``python -m bench.chain --rate 11000``, 6 Dec 2026,
``streaming/README.md``): alternating, the fleet's readings reached ``risk`` at 10,278-10,394/s with
the engine and the watcher at nice 5, against 9,379-10,074/s at an equal share, the last record
4.4-5.2 s after the last publish against 6.3-11.0 s. The price: the engine evaluated the last
record about 6 s later. Proactive alerts look days ahead; a job that falls behind delays every
board's sensor data and every score. Without contention a nice value changes nothing.

Only raising the value is done (lowering needs privileges, and an operator's choice stands). The
process's own value covers kernels without autogroups; the session's covers the rest, and is
written only by a process that leads its session (as the stack and the run supervisor start every
service), never by one started from a shell, which would slow the whole terminal. Under systemd
with the cpu controller (cgroups decide there), set ``CPUWeight=`` on the unit instead.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

SELF_AUTOGROUP = Path("/proc/self/autogroup")
MAX_NICE = 19
_ATTEMPTS = 5  # Linux refuses a second autogroup change within 100 ms machine-wide (EAGAIN)
_RETRY_S = 0.15


@dataclass(frozen=True)
class Yielded:
    """What :func:`yield_cpu` did: the process's nice value after it, and the session's (None:
    unchanged, ``session_note`` says why)."""

    process_nice: int
    session_nice: int | None
    session_note: str

    def describe(self) -> str:
        """One phrase for the service's start log."""
        session = (
            f"its session's nice {self.session_nice}" if self.session_nice is not None else self.session_note
        )
        return f"nice {self.process_nice}, {session}"


def autogroup_nice(text: str) -> int | None:
    """The nice value in ``/proc/<pid>/autogroup`` (``/autogroup-1088 nice 5``), or None."""
    parts = text.split()
    if len(parts) == 3 and parts[1] == "nice":
        try:
            return int(parts[2])
        except ValueError:
            return None
    return None


def session_nice(pid: int | str = "self") -> int | None:
    """The nice value of ``pid``'s session (its autogroup); None without autogroups or the process."""
    try:
        return autogroup_nice(Path(f"/proc/{pid}/autogroup").read_text())
    except OSError:
        return None


def yield_cpu(nice: int, autogroup: Path = SELF_AUTOGROUP) -> Yielded:
    """Raise this process's nice value, and its session's when it leads one, to at least ``nice``.

    Call it once the service's configuration holds and before it starts threads: Linux keeps a nice
    value per thread, a new thread takes its creator's, and a raised value cannot be taken back
    without privileges (a command that fails on bad settings in-process, as tests run them, must
    leave its caller as it was). Never raises: what could not be done is in the result.
    """
    nice = max(0, min(MAX_NICE, nice))
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice > current:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
            current = nice
        except OSError:
            pass  # nothing a service needs: it runs at the value it has
    if os.getsid(0) != os.getpid():
        return Yielded(current, None, "not its session's leader: the session's share unchanged")
    try:
        before = autogroup_nice(autogroup.read_text())
    except OSError:
        return Yielded(current, None, "no autogroups on this kernel")
    if before is None:
        return Yielded(current, None, f"unreadable {autogroup}")
    if before >= nice:
        return Yielded(current, before, "")
    error = ""
    for attempt in range(_ATTEMPTS):
        try:
            autogroup.write_text(f"{nice}\n")
            return Yielded(current, nice, "")
        except OSError as exc:
            error = exc.strerror or str(exc)
            if attempt + 1 < _ATTEMPTS:
                time.sleep(_RETRY_S)
    return Yielded(current, None, f"its session's share unchanged ({autogroup}: {error})")
