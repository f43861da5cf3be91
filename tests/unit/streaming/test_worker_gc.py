"""A worker freezes its long-lived objects at the first two calls with a champion, and again after
a hot swap, so pyspark's ``gc.collect()`` after each task stops walking them (``streaming.worker_gc``)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from streaming.worker_gc import SETTLING_CALLS, LongLived


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the other tests' objects stay collectable


class Model:
    """A champion: a distinct object per version."""


def test_the_first_calls_with_a_champion_freeze_and_the_later_ones_do_not() -> None:
    worker, first, swapped = LongLived(), Model(), Model()
    assert [worker.settle(first) for _ in range(SETTLING_CALLS + 3)] == [True] * SETTLING_CALLS + [False] * 3
    assert gc.get_freeze_count() > 0
    assert [worker.settle(swapped) for _ in range(SETTLING_CALLS + 1)] == [True] * SETTLING_CALLS + [False]


def test_what_lived_before_the_freeze_is_skipped_and_garbage_is_still_collected() -> None:
    worker = LongLived()
    kept = [{"window": i} for i in range(1000)]  # the worker's long-lived state: tracked containers
    worker.settle(Model())
    assert gc.get_freeze_count() >= len(kept)
    assert not any(_in_a_generation(k) for k in kept[:10])  # no pass visits them now

    class Node:
        def __init__(self) -> None:
            self.me = self  # a cycle made after the freeze: the next pass collects it

    ref = weakref.ref(Node())
    assert ref() is not None
    gc.collect()
    assert ref() is None


def _in_a_generation(obj: object) -> bool:
    """Whether a collection pass would visit ``obj`` (it is in generation 0, 1 or 2)."""
    return any(o is obj for o in gc.get_objects())
