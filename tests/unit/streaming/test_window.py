"""Per-asset window rules: duplicates dropped and counted, late readings set apart, order by seq."""

from __future__ import annotations

import numpy as np
import pytest

from streaming.window import Merge, merge


def seqs(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def scoring_input(window: np.ndarray, incoming: np.ndarray, step: Merge) -> list[int]:
    """The seqs the model scores: window plus fresh readings, in ``step.order``."""
    return np.concatenate([window, incoming[step.fresh]])[step.order].tolist()


def test_first_batch_is_all_fresh_and_window_keeps_the_newest() -> None:
    incoming = seqs(3, 1, 2, 4, 5)
    step = merge(seqs(), incoming, history=3)
    assert sorted(incoming[step.fresh].tolist()) == [1, 2, 3, 4, 5]
    assert scoring_input(seqs(), incoming, step) == [1, 2, 3, 4, 5]
    assert scoring_input(seqs(), incoming, step)[-3:] == [3, 4, 5]
    assert step.duplicates == 0
    assert len(step.late) == 0


def test_duplicates_within_the_batch_and_against_the_window_are_counted_once_each() -> None:
    window, incoming = seqs(4, 5, 6), seqs(5, 7, 7, 6, 8)
    step = merge(window, incoming, history=5)
    assert step.duplicates == 3  # 5 and 6 are in the window, 7 repeats in the batch
    assert incoming[step.fresh].tolist() == [7, 8]
    assert step.fresh.tolist() == [1, 4], "the first copy of a repeated seq is the one kept"
    assert scoring_input(window, incoming, step) == [4, 5, 6, 7, 8]


def test_out_of_order_reading_inside_the_window_is_scored_in_place() -> None:
    window, incoming = seqs(10, 12, 13), seqs(11)
    step = merge(window, incoming, history=5)
    assert incoming[step.fresh].tolist() == [11]
    assert scoring_input(window, incoming, step) == [10, 11, 12, 13]
    assert len(step.late) == 0


def test_reading_older_than_a_full_window_is_late_not_dropped() -> None:
    window, incoming = seqs(10, 11, 12), seqs(3, 13)
    step = merge(window, incoming, history=3)
    assert incoming[step.late].tolist() == [3]
    assert incoming[step.fresh].tolist() == [13]
    assert scoring_input(window, incoming, step)[-3:] == [11, 12, 13]
    accounted = len(step.fresh) + len(step.late) + step.duplicates
    assert accounted == 2


def test_window_not_yet_full_accepts_older_readings() -> None:
    window, incoming = seqs(10, 11), seqs(3)
    step = merge(window, incoming, history=5)
    assert len(step.late) == 0
    assert scoring_input(window, incoming, step) == [3, 10, 11]


def test_history_must_be_positive() -> None:
    with pytest.raises(ValueError, match="history"):
        merge(seqs(), seqs(1), history=0)
