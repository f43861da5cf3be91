"""pyspark's Python worker daemon, with the scoring step imported once before it forks workers.

Spark starts one daemon per executor (``spark.python.daemon.module``, pyspark's own
``pyspark.daemon`` by default) and the daemon forks a Python worker for each task slot: when the job
starts, after a failure, and whenever the worker pool has sat idle for a minute. Each new worker then
imported pyspark's worker, pandas, pyarrow, scikit-learn (whose SciPy import rewrites hundreds of
docstrings) and the step: about 1.7 s of CPU per worker before its first row, on cores the running
tasks share (a batch after a minute idle, two new workers: 5.0-5.8 s of Python CPU with pyspark's
daemon, 1.8-2.3 s with this one; streaming/README.md, 6 Dec 2026). The job sets
``spark.python.daemon.module`` to this module (``FOREWARN_SPARK_PRELOAD_WORKERS``, on by default):
the daemon imports all of it once, so a fork starts with it loaded.

pyspark itself imports the worker only after the fork, because pandas and pyarrow start threads when
they are imported, and a fork copies only the calling thread: a lock another thread held would stay
held forever in the child. The threads those imports start here are OpenBLAS's pools (off with
``OPENBLAS_NUM_THREADS=1``: the workers run BLAS on one thread anyway,
``streaming.scoring.one_thread_per_worker``) and the background purge thread of the jemalloc that
libarrow links (off with ``JE_ARROW_MALLOC_CONF=background_thread:false``; pyarrow's default pool
here is mimalloc, so jemalloc holds nothing to purge; a build that pools in jemalloc purges on the
allocating thread instead). Before serving, the daemon checks that it is alone; if a library started
a thread anyway, it replaces itself with pyspark's own daemon (same process, same pipes), as if
never preloaded.
"""

from __future__ import annotations

import os
import sys

ENV = {"OPENBLAS_NUM_THREADS": "1", "JE_ARROW_MALLOC_CONF": "background_thread:false"}
"""Set before anything is imported: the thread pools those libraries would start at import."""

PRELOAD = (
    "pyspark.worker",
    "pyspark.sql.pandas.serializers",
    "sklearn.ensemble",
    "streaming.step",
    "streaming.model_cache",
)
"""What a new worker imports before its first row (its task's function unpickles ``streaming.step``,
which imports ``streaming.scoring`` and the model code; ``model_cache``, which scoring imports only
when it loads a champion; pyspark's worker and serializers; the champion's scikit-learn)."""


def os_threads() -> int:
    """This process's threads (the kernel's count: also the ones Python does not know of)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # no procfs: trust Python's own count (native threads unseen)
        import threading

        return threading.active_count()


def preload() -> int:
    """Import :data:`PRELOAD` with the thread pools off (:data:`ENV`); the threads after it."""
    for key, value in ENV.items():
        os.environ.setdefault(key, value)
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    from forewarn import long_lived

    long_lived.freeze()  # what the imports hold: out of every worker's collector passes (and pages)
    return os_threads()


def main() -> None:
    """Preload, then serve as pyspark's daemon; pyspark's own daemon if the preload failed or left a
    thread (the note goes to stderr: the executor's log)."""
    try:
        threads = preload()
        why = "" if threads == 1 else f"{threads} threads after preloading, so forks would not be safe"
    except Exception as exc:  # whatever failed, pyspark's own daemon still serves
        why = f"preloading failed ({type(exc).__name__}: {exc})"
    if why:
        print(f"forewarn worker daemon: {why}; running pyspark's own daemon instead", file=sys.stderr)
        sys.stderr.flush()
        # the same process and pipes: the JVM that started this daemon talks to pyspark's
        os.execv(sys.executable, [sys.executable, "-m", "pyspark.daemon", *sys.argv[1:]])  # noqa: S606
    from pyspark.daemon import manager

    manager()


if __name__ == "__main__":
    main()
