"""A worker that keeps its freed memory allocates the next large block without faulting pages in.

Each case runs in its own interpreter: ``mallopt`` changes the whole process's allocator, and the
point is the difference between a process that called it and one that did not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROBE = """
import json, resource, sys
import numpy as np
from streaming import worker_heap
kept = worker_heap.keep_freed_memory() if sys.argv[1] == "keep" else None
again = worker_heap.keep_freed_memory() if sys.argv[1] == "keep" else None

def vm_flags(address):  # the VmFlags of the mapping that holds address (hg: huge pages advised)
    inside = False
    for line in open("/proc/self/smaps"):
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):
            low, high = (int(x, 16) for x in head.split("-"))
            inside = low <= address < high
        elif inside and head == "VmFlags:":
            return line.split()[1:]
    return None

faults = []
for _ in range(4):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = np.ones(8_000_000)  # 64 MB written through: above any mmap threshold glibc allows
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    del block
probe = np.ones(8_000_000)
flags = vm_flags(probe.ctypes.data + probe.nbytes // 2)  # numpy advises from its next page on
del probe
print(json.dumps({"kept": kept, "again": again, "faults": faults, "flags": flags}))
"""


def _probe(mode: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True, timeout=120
    )
    out: dict[str, Any] = json.loads(done.stdout)
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_freed_block_is_reused_instead_of_faulted_in_again() -> None:
    plain = _probe("plain")["faults"]
    out = _probe("keep")
    kept, again, keep = out["kept"], out["again"], out["faults"]
    assert kept is True
    assert again is True
    # without it every 64 MB block is a fresh mapping, faulted in page by page (huge pages or not)
    assert min(plain[1:]) >= 32
    # with it the first block grows the heap, and the next ones reuse those pages
    assert keep[0] >= 32
    assert max(keep[1:]) <= 4


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt, /proc/self/smaps")
def test_a_kept_heap_asks_for_no_huge_pages() -> None:
    """numpy advises huge pages for its large arrays; in a kept heap that advice made the first
    write of a block 4 to 9 times dearer (the module's docstring), so a worker turns it off."""
    plain, kept = _probe("plain")["flags"], _probe("keep")["flags"]
    assert kept is not None
    assert plain is not None
    assert "hg" not in kept
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if thp.exists():  # a kernel with huge pages: numpy's own default is to ask (the probe can tell)
        assert "hg" in plain
