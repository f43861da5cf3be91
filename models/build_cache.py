"""Build a file once per cache, however many processes ask at the same time.

The scoring job's two Spark Python workers load the same model at the same moment; each needs the
same native library (``models.occlusion``). One builds it, the other waits
and opens the result; nobody ever opens a half-written file.
"""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Callable
from pathlib import Path


def built_once(target: Path, build: Callable[[Path], None]) -> Path:
    """``target``, built by ``build(partial)`` unless a process already did: under an exclusive lock
    (``target`` + ``.lock``), into a temporary name renamed into place (atomic within one file system)."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        if target.exists():  # built by the process that held the lock before us
            return target
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as work:
            partial = Path(work) / target.name
            build(partial)
            partial.replace(target)
    return target
