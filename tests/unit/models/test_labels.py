"""Labels: capped RUL, the failure-within-horizon risk label, and the label table schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.contracts.labels import LabelSource
from models.labels import (
    LABEL_COLUMNS,
    LabelError,
    capped_rul,
    failure_within,
    rul_from_labels,
    run_to_failure_labels,
    validate_labels,
)


def test_capped_rul_and_risk_label() -> None:
    rul = np.array([300, 125, 124, 31, 30, 0])
    assert capped_rul(rul, 125).tolist() == [125, 125, 124, 31, 30, 0]
    assert failure_within(rul, 30).tolist() == [0, 0, 0, 0, 1, 1]
    with pytest.raises(ValueError, match="positive"):
        capped_rul(rul, 0)
    with pytest.raises(ValueError, match="positive"):
        failure_within(rul, -1)


def readings() -> pd.DataFrame:
    return pd.DataFrame({"unit": [1, 1, 1, 2, 2, 3], "cycle": [1, 2, 3, 1, 2, 1]})


def test_run_to_failure_labels_mark_each_last_cycle() -> None:
    labels = run_to_failure_labels(readings(), "unit", failure_mode="hpc_degradation")
    assert tuple(labels.columns) == LABEL_COLUMNS
    assert labels[["asset_id", "cycle"]].to_numpy().tolist() == [["1", 3], ["2", 2], ["3", 1]]
    assert set(labels["source"]) == {LabelSource.RUN_TO_FAILURE}
    assert str(labels["time"].dtype) == "datetime64[ns, UTC]" or labels["time"].isna().all()
    assert rul_from_labels(readings(), labels, "unit").tolist() == [2, 1, 0, 1, 0, 0]


def test_work_order_labels_give_rul_up_to_the_failure_and_censor_after() -> None:
    labels = pd.DataFrame(
        {
            "asset_id": ["1", "2"],
            "cycle": [2, 2],
            "time": ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"],
            "failure_mode": ["bearing_wear", "none"],
            "source": [LabelSource.WORK_ORDER, LabelSource.WORK_ORDER],
        }
    )
    rul = rul_from_labels(readings(), labels, "unit")
    assert rul.iloc[:2].tolist() == [1, 0]
    assert rul.iloc[2:].isna().all()  # after the failure, a sound inspection, an unlabelled asset


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns=["source"]), "lacks columns"),
        (lambda t: t.assign(cycle=[-1, 2]), "non-negative whole number"),
        (lambda t: t.assign(source=["guess", "work_order"]), "unknown label source"),
        (lambda t: t.assign(asset_id=["1", "1"]), "two labels at the same cycle"),
        (lambda t: t.assign(asset_id=["", "1"]), "empty asset_id"),
    ],
)
def test_bad_label_tables_are_refused(change: object, message: str) -> None:
    table = pd.DataFrame(
        {"asset_id": ["1", "2"], "cycle": [2, 2], "time": pd.NaT, "failure_mode": ["x", "none"],
         "source": ["work_order", "work_order"]}
    )  # fmt: skip
    with pytest.raises(LabelError, match=message):
        validate_labels(change(table))  # type: ignore[operator]
