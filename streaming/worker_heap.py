"""A Spark Python worker keeps the memory it frees, so its next micro-batch does not fault it back in.

glibc's ``malloc`` serves a block above its mmap threshold (at most 32 MB) with a fresh ``mmap``
and unmaps it on ``free``. A C-MAPSS capacity micro-batch allocates blocks far above that in every
step call: a bucket's feature rows (25,000 rows of 466 features, 93 MB), the windows stacked for
them, their state copies. Each one came back as new pages that the kernel zeroes on first touch.
Timed inside the job's workers (``getrusage`` around the first write into the feature block of
``models.features.window_features``, 48 calls over two drains, 5 Dec 2026): usually 11 to 17 ms of
CPU a call, and 100 to 650 ms on one call in four; in all 3.2 s, more than the 2.9 s the feature
kernel itself took to fill the same blocks. py-spy over the same drains had 16.5 % of the workers'
samples on that one line.

:func:`keep_freed_memory` turns ``mmap`` off for ``malloc`` (``M_MMAP_MAX`` 0) and stops it from
giving the top of the heap back (``M_TRIM_THRESHOLD``): a freed block goes back to the heap and the
next call's blocks reuse its pages. The worker's resident memory then stays at its peak instead of
falling between micro-batches; the bench reports the workers' peak RSS. glibc still uses ``mmap``
where the heap cannot grow, and for threads' own arenas, so no allocation fails for it.

It also stops numpy from asking for huge pages (``madvise(MADV_HUGEPAGE)`` on every array of 4 MB
or more, numpy's default): in a heap that is kept, pages are faulted in once, so huge pages could
only make that once cheaper, and here they made it dearer. A 93 MB block (a call's feature rows)
written into a fresh heap cost 386 to 708 ms of CPU with numpy's huge pages against 77 to 94 ms
without (a scratch probe, this machine, 6 Dec 2026; a fresh ``mmap`` with huge pages, glibc's
default, took 85 ms). py-spy over the first 7 s of a C-MAPSS capacity drain put 17 % of the
workers' samples on that first write (``window_features``, the line that fills the age column) in
the drain's first micro-batch, the first one of 100,000 readings, and 0.1 % in the next drain's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4

_DONE: list[bool] = []


def keep_freed_memory() -> bool:
    """Tell this process's glibc ``malloc`` to reuse freed memory rather than return it (module
    docstring). Idempotent; returns whether the settings are in force (False without glibc)."""
    if _DONE:
        return _DONE[0]
    applied = False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        # M_TRIM_THRESHOLD takes an int: the largest one, ~2 GB, is "never" for a worker's heap top
        applied = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
    except (OSError, AttributeError) as exc:  # not glibc (musl, macOS): the allocator as it is
        log.info("malloc settings left as they are: %s", exc)
    if applied:
        no_huge_pages_for_numpy()
    _DONE.append(applied)
    return applied


def no_huge_pages_for_numpy() -> bool:
    """Stop numpy's ``madvise(MADV_HUGEPAGE)`` on its large arrays in this process (module
    docstring); what ``NUMPY_MADVISE_HUGEPAGE=0`` does when set before numpy is imported, which a
    worker forked with numpy loaded is too late for. Returns whether numpy took it."""
    import numpy as np  # the step's own dependency; imported here so the module stays light

    setter = getattr(getattr(np, "_core", None), "multiarray", None)
    setter = getattr(setter, "_set_madvise_hugepage", None)
    if setter is None:  # a numpy without the switch: its allocations as they are
        log.info("numpy's huge page advice left as it is: this numpy has no switch for it")
        return False
    setter(False)
    return True
