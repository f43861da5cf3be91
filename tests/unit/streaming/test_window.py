"""Per-asset window rules: duplicates dropped and counted, late readings set apart, order by seq."""

from __future__ import annotations

import pandas as pd
import pytest

from streaming.window import merge


def readings(*seqs: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site": "s1",
            "ts": [1_000 * s for s in seqs],
            "seq": list(seqs),
            "settings": "{}",
            "sensors": [f'{{"t": {s}}}' for s in seqs],
        }
    )


def test_first_batch_is_all_fresh_and_window_keeps_the_newest() -> None:
    step = merge(readings(), readings(3, 1, 2, 4, 5), history=3)
    assert step.fresh_seqs == {1, 2, 3, 4, 5}
    assert step.scoring_input["seq"].tolist() == [1, 2, 3, 4, 5]
    assert step.window["seq"].tolist() == [3, 4, 5]
    assert step.duplicates == 0
    assert step.late.empty


def test_duplicates_within_the_batch_and_against_the_window_are_counted_once_each() -> None:
    step = merge(readings(4, 5, 6), readings(5, 7, 7, 6, 8), history=5)
    assert step.duplicates == 3  # 5 and 6 are in the window, 7 repeats in the batch
    assert step.fresh_seqs == {7, 8}
    assert step.scoring_input["seq"].tolist() == [4, 5, 6, 7, 8]
    assert step.window["seq"].tolist() == [4, 5, 6, 7, 8]


def test_out_of_order_reading_inside_the_window_is_scored_in_place() -> None:
    step = merge(readings(10, 12, 13), readings(11), history=5)
    assert step.fresh_seqs == {11}
    assert step.scoring_input["seq"].tolist() == [10, 11, 12, 13]
    assert step.late.empty


def test_reading_older_than_a_full_window_is_late_not_dropped() -> None:
    step = merge(readings(10, 11, 12), readings(3, 13), history=3)
    assert step.late["seq"].tolist() == [3]
    assert step.fresh_seqs == {13}
    assert step.window["seq"].tolist() == [11, 12, 13]
    accounted = len(step.fresh_seqs) + len(step.late) + step.duplicates
    assert accounted == 2


def test_window_not_yet_full_accepts_older_readings() -> None:
    step = merge(readings(10, 11), readings(3), history=5)
    assert step.late.empty
    assert step.window["seq"].tolist() == [3, 10, 11]


def test_history_must_be_positive() -> None:
    with pytest.raises(ValueError, match="history"):
        merge(readings(), readings(1), history=0)
