"""`forewarn.cpu_share.yield_cpu` in child processes, as the engine and the watcher call it at start.

Each case runs in a child process: a nice value cannot be taken back without privileges, and the
test process's session must keep its share.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from forewarn.cpu_share import autogroup_nice

AUTOGROUPS = Path("/proc/self/autogroup").exists()


def raised_to(value: int, started_at: int = 0) -> int:
    """The nice value a child should end at: it starts at this process's (plus ``started_at``) and
    is only ever raised (a test run may itself be niced)."""
    return min(19, max(os.getpriority(os.PRIO_PROCESS, 0) + started_at, value))


CHILD = """
import json, os, sys, threading
from pathlib import Path
from forewarn.cpu_share import SELF_AUTOGROUP, yield_cpu

path = Path(sys.argv[2]) if len(sys.argv) > 2 else SELF_AUTOGROUP
done = yield_cpu(int(sys.argv[1]), path)
seen = []
thread = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, 0)))
thread.start()
thread.join()
print(json.dumps({
    "process_nice": done.process_nice, "session_nice": done.session_nice, "note": done.session_note,
    "describe": done.describe(), "thread_nice": seen[0], "now": os.getpriority(os.PRIO_PROCESS, 0),
    "autogroup": path.read_text() if path.exists() else None,
}))
"""


def run_child(*args: str, new_session: bool, nice_first: int = 0) -> dict[str, object]:
    argv = [sys.executable, "-c", CHILD, *args]
    if nice_first:
        argv = ["nice", "-n", str(nice_first), *argv]
    done = subprocess.run(
        argv, capture_output=True, text=True, check=True, timeout=60, start_new_session=new_session
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def own_autogroup() -> str | None:
    return Path("/proc/self/autogroup").read_text() if AUTOGROUPS else None


def test_autogroup_nice_reads_the_kernels_format() -> None:
    assert autogroup_nice("/autogroup-1088 nice 5\n") == 5
    assert autogroup_nice("/autogroup-3 nice -20") == -20
    assert autogroup_nice("") is None
    assert autogroup_nice("/autogroup-3 nice five") is None
    assert autogroup_nice("something else entirely") is None


@pytest.mark.skipif(not AUTOGROUPS, reason="this kernel has no autogroups")
def test_a_session_leader_yields_for_itself_its_later_threads_and_its_session() -> None:
    before = own_autogroup()
    result = run_child("5", new_session=True)
    assert result["process_nice"] == raised_to(5)
    assert result["now"] == raised_to(5)
    assert result["thread_nice"] == raised_to(5)  # a thread started after the call inherits it
    assert result["session_nice"] == 5
    assert autogroup_nice(str(result["autogroup"])) == 5  # the kernel's own view
    assert result["describe"] == f"nice {raised_to(5)}, its session's nice 5"
    assert own_autogroup() == before  # the test's session keeps its share


def test_a_process_started_from_a_shell_leaves_its_session_alone() -> None:
    before = own_autogroup()
    result = run_child("7", new_session=False)
    assert result["process_nice"] == raised_to(7)
    assert result["thread_nice"] == raised_to(7)
    assert result["session_nice"] is None
    assert "not its session's leader" in str(result["note"])
    assert own_autogroup() == before


def test_a_higher_value_set_by_the_operator_stands(tmp_path: Path) -> None:
    group = tmp_path / "autogroup"
    group.write_text("/autogroup-7 nice 12\n")
    result = run_child("5", str(group), new_session=True, nice_first=10)
    assert result["process_nice"] == raised_to(10, started_at=10)
    assert result["now"] == raised_to(10, started_at=10)
    assert result["session_nice"] == 12
    assert group.read_text() == "/autogroup-7 nice 12\n"  # not written


def test_the_session_value_is_written_when_lower(tmp_path: Path) -> None:
    group = tmp_path / "autogroup"
    group.write_text("/autogroup-7 nice 0\n")
    result = run_child("19", str(group), new_session=True)
    assert result["process_nice"] == 19
    assert result["session_nice"] == 19
    assert group.read_text() == "19\n"


@pytest.mark.parametrize(
    ("content", "note"),
    [(None, "no autogroups"), ("garbage", "unreadable")],
)
def test_what_cannot_be_done_is_said_not_raised(tmp_path: Path, content: str | None, note: str) -> None:
    group = tmp_path / "autogroup"
    if content is not None:
        group.write_text(content)
    result = run_child("3", str(group), new_session=True)
    assert result["process_nice"] == raised_to(3)  # the process's own value is still raised
    assert result["session_nice"] is None
    assert note in str(result["note"])
    assert note in str(result["describe"])


REFUSING_CHILD = """
import json, pathlib, sys
from forewarn import cpu_share

def refuse(self, *args, **kwargs):
    raise PermissionError(1, "Operation not permitted")

pathlib.Path.write_text = refuse  # as the kernel refuses: EPERM, or EAGAIN within 100 ms of another
cpu_share._RETRY_S = 0.0
done = cpu_share.yield_cpu(2, pathlib.Path(sys.argv[1]))
print(json.dumps({"process_nice": done.process_nice, "session_nice": done.session_nice,
                  "note": done.session_note}))
"""


def test_a_refused_write_is_reported_not_raised(tmp_path: Path) -> None:
    group = tmp_path / "autogroup"
    group.write_text("/autogroup-7 nice 0\n")
    done = subprocess.run([sys.executable, "-c", REFUSING_CHILD, str(group)], capture_output=True,
                          text=True, check=True, timeout=60, start_new_session=True)  # fmt: skip
    result = json.loads(done.stdout)
    assert result["process_nice"] == raised_to(2)
    assert result["session_nice"] is None
    assert result["note"] == f"its session's share unchanged ({group}: Operation not permitted)"


def test_out_of_range_values_are_clamped() -> None:
    result = run_child("40", new_session=False)
    assert result["process_nice"] == 19
