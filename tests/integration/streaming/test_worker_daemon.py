"""The job's Python workers are forked from ``streaming.daemon`` (``FOREWARN_SPARK_PRELOAD_WORKERS``,
on by default): read back inside a task of the shared session, from the worker itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def _where(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    import os
    import sys

    preloaded = "sklearn.ensemble" in sys.modules  # before anything here imports it
    parent = os.getppid()
    with open(f"/proc/{parent}/cmdline", "rb") as f:
        cmdline = f.read().replace(b"\0", b" ").decode()
    threads = len(os.listdir(f"/proc/{parent}/task"))
    for frame in frames:
        yield pd.DataFrame(
            {"n": [len(frame)], "preloaded": [preloaded], "parent": [cmdline], "threads": [threads]}
        )


def test_workers_fork_from_the_preloading_daemon(spark: Any) -> None:
    rows = (
        spark.range(0, 1000, numPartitions=2)
        .mapInPandas(_where, "n long, preloaded boolean, parent string, threads int")
        .collect()
    )
    assert sum(r.n for r in rows) == 1000
    for r in rows:
        assert "-m streaming.daemon" in r.parent
        assert r.threads == 1  # forks come from a one-thread daemon
        assert r.preloaded
