"""A worker that keeps its freed memory allocates the next large block without faulting pages in.

Each case runs in its own interpreter: ``mallopt`` changes the whole process's allocator, and the
point is the difference between a process that called it and one that did not.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, resource, sys
import numpy as np
from streaming import worker_heap
kept = worker_heap.keep_freed_memory() if sys.argv[1] == "keep" else None
again = worker_heap.keep_freed_memory() if sys.argv[1] == "keep" else None
faults = []
for _ in range(4):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = np.ones(8_000_000)  # 64 MB written through: above any mmap threshold glibc allows
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    del block
print(json.dumps({"kept": kept, "again": again, "faults": faults}))
"""


def _probe(mode: str) -> tuple[object, object, list[int]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True, timeout=120
    )
    out = json.loads(done.stdout)
    return out["kept"], out["again"], [int(n) for n in out["faults"]]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_freed_block_is_reused_instead_of_faulted_in_again() -> None:
    _, _, plain = _probe("plain")
    kept, again, keep = _probe("keep")
    assert kept is True
    assert again is True
    # without it every 64 MB block is a fresh mapping, faulted in page by page (huge pages or not)
    assert min(plain[1:]) >= 32
    # with it the first block grows the heap, and the next ones reuse those pages
    assert keep[0] >= 32
    assert max(keep[1:]) <= 4
