"""A component's CPU is its whole process tree's: pyspark's daemon leaves the job's process group
(``os.setpgid(0, 0)``) for the Python workers, and a worker that ended is in its parent's time."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.processes import group_usage
from infra.stack.process import processes_below, processes_in_group

# the leader forks a "daemon" that takes a group of its own; the daemon forks a "worker" that burns
# about half a second of CPU and ends (the daemon reaps it); then both wait until killed
TREE = """
import os, sys, time
if os.fork() == 0:
    os.setpgid(0, 0)
    pid = os.fork()
    if pid == 0:
        end = time.process_time() + 0.5
        while time.process_time() < end:
            pass
        os._exit(0)
    os.waitpid(pid, 0)
    open(sys.argv[1], "w").write(str(os.getpid()))
    time.sleep(60)
    os._exit(0)
time.sleep(60)
"""


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """(leader pid, daemon pid) once the worker has ended."""
    ready = tmp_path / "daemon.pid"
    leader = subprocess.Popen([sys.executable, "-c", TREE, str(ready)], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not ready.is_file() or not ready.read_text():
            assert time.monotonic() < deadline, "the daemon did not start"
            time.sleep(0.05)
        yield leader.pid, int(ready.read_text())
    finally:
        if ready.is_file() and ready.read_text():
            subprocess.run(["pkill", "-KILL", "-g", ready.read_text()], check=False)
        leader.kill()
        leader.wait()


def test_a_child_in_a_group_of_its_own_is_still_below_the_leader(tree: tuple[int, int]) -> None:
    leader, daemon = tree
    assert daemon not in processes_in_group(leader)
    assert {leader, daemon} <= set(processes_below(leader))


def test_the_tree_s_cpu_includes_a_worker_that_ended(tree: tuple[int, int]) -> None:
    leader, _ = tree
    cpu_s, _ = group_usage(leader)
    assert cpu_s >= 0.45  # the worker's half second, held by the daemon that reaped it
