"""Training labels: capped RUL, failure within a horizon, and the label table they come from.

The label table is the one place failures are recorded: run-to-failure histories (C-MAPSS) add
a row per asset now, and work-order outcomes (fault found, failure code) will add rows later.

Label table, one row per asset event:

| column | type | meaning |
|---|---|---|
| ``asset_id`` | str | the asset |
| ``cycle`` | int | the asset's age in cycles at the event (a failure: its last working cycle) |
| ``time`` | datetime64[ns, UTC] or NaT | wall-clock time of the event when known |
| ``failure_mode`` | str | failure code, or ``none`` when the asset was inspected and found sound |
| ``source`` | str | a :class:`LabelSource` |
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd

NO_FAILURE = "none"
LABEL_COLUMNS: tuple[str, ...] = ("asset_id", "cycle", "time", "failure_mode", "source")


class LabelSource(StrEnum):
    """Where a label comes from."""

    RUN_TO_FAILURE = "run_to_failure"
    WORK_ORDER = "work_order"


class LabelError(ValueError):
    """A label table that does not follow the schema; the message names the problem."""


def capped_rul(rul_cycles: np.ndarray | pd.Series, cap_cycles: float) -> np.ndarray:
    """RUL clipped at ``cap_cycles``: early life is indistinguishable, so the target is flat there."""
    if cap_cycles <= 0:
        raise ValueError(f"RUL cap must be positive, got {cap_cycles}")
    return np.minimum(np.asarray(rul_cycles, dtype=np.float64), float(cap_cycles))


def failure_within(rul_cycles: np.ndarray | pd.Series, horizon_cycles: float) -> np.ndarray:
    """The risk label: 1 when the asset fails within ``horizon_cycles`` (RUL <= horizon), else 0."""
    if horizon_cycles <= 0:
        raise ValueError(f"horizon must be positive, got {horizon_cycles}")
    return (np.asarray(rul_cycles, dtype=np.float64) <= float(horizon_cycles)).astype(np.int64)


def validate_labels(labels: pd.DataFrame) -> pd.DataFrame:
    """Check a label table against the schema and return it with canonical column types.

    Raises:
        LabelError: a missing column, an empty asset id, a negative or non-integer cycle, an
            unknown source, or an asset with two failures at the same cycle.
    """
    missing = [c for c in LABEL_COLUMNS if c not in labels.columns]
    if missing:
        raise LabelError(f"label table lacks columns {missing}")
    out = labels.loc[:, list(LABEL_COLUMNS)].copy()
    out["asset_id"] = out["asset_id"].astype(str)
    if (out["asset_id"].str.len() == 0).any():
        raise LabelError("empty asset_id in label table")
    cycles = pd.to_numeric(out["cycle"], errors="coerce")
    if cycles.isna().any() or (cycles < 0).any() or (cycles != cycles.round()).any():
        raise LabelError("cycle must be a non-negative whole number on every label")
    out["cycle"] = cycles.astype(np.int64)
    out["time"] = pd.to_datetime(out["time"], utc=True)
    out["failure_mode"] = out["failure_mode"].astype(str)
    bad_sources = set(out["source"].astype(str)) - {s.value for s in LabelSource}
    if bad_sources:
        raise LabelError(
            f"unknown label source {sorted(bad_sources)}; known: {[s.value for s in LabelSource]}"
        )
    out["source"] = out["source"].astype(str)
    if out.duplicated(["asset_id", "cycle"]).any():
        raise LabelError("an asset has two labels at the same cycle")
    return out.reset_index(drop=True)


def run_to_failure_labels(
    readings: pd.DataFrame, asset_column: str, failure_mode: str = "unknown"
) -> pd.DataFrame:
    """One failure label per asset at its last cycle: every history in the frame ran to failure."""
    last = readings.groupby(asset_column, sort=True)["cycle"].max()
    return validate_labels(
        pd.DataFrame(
            {
                "asset_id": last.index.astype(str),
                "cycle": last.to_numpy(),
                "time": pd.NaT,
                "failure_mode": failure_mode,
                "source": LabelSource.RUN_TO_FAILURE.value,
            }
        )
    )


def rul_from_labels(readings: pd.DataFrame, labels: pd.DataFrame, asset_column: str) -> pd.Series:
    """True RUL (cycles to the asset's next failure label) for every reading; NaN when unknown.

    A reading is labelled by the first failure at or after its cycle; readings after an asset's
    last failure, or of assets without failures, get NaN (censored: dropped from training).
    Labels with failure mode ``none`` say the asset was sound then and give no RUL.
    """
    failures = validate_labels(labels)
    failures = failures[failures["failure_mode"] != NO_FAILURE]
    rul = pd.Series(np.nan, index=readings.index, name="rul_cycles")
    assets = readings[asset_column].astype(str)
    for asset, events in failures.groupby("asset_id"):
        rows = assets == asset
        if not rows.any():
            continue
        cycles = readings.loc[rows, "cycle"].to_numpy(dtype=np.float64)
        event_cycles = np.sort(events["cycle"].to_numpy(dtype=np.float64))
        nxt = np.searchsorted(event_cycles, cycles, side="left")
        known = nxt < len(event_cycles)
        values = np.full(len(cycles), np.nan)
        values[known] = event_cycles[nxt[known]] - cycles[known]
        rul.loc[rows] = values
    return rul
