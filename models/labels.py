"""Training labels: capped RUL, failure within a horizon, and the label table they come from.

The label table is the one place failures are recorded: run-to-failure histories (C-MAPSS) add
a row per asset now, and work-order outcomes (fault found, failure code) will add rows later.

Label table, one row per asset event:

| column | type | meaning |
|---|---|---|
| ``asset_id`` | str | the asset |
| ``cycle`` | Int64 or NA | the asset's age in cycles at the event (a failure: its last working cycle) |
| ``time`` | datetime64[ns, UTC] or NaT | wall-clock time of the event when known |
| ``failure_mode`` | str | failure code, or ``none`` when the asset was inspected and found sound |
| ``source`` | str | a ``forewarn.contracts.labels.LabelSource`` |

Every label has a cycle or a time. Run-to-failure files count cycles (:func:`rul_from_labels`);
the simulated fleet's ground truth and work-order outcomes (``forewarn labels export``, the label
file of :mod:`forewarn.contracts.labels`) carry times, and :func:`rul_from_label_times` turns them
into RUL in reading steps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forewarn.contracts.labels import NO_FAILURE, LabelSource

LABEL_COLUMNS: tuple[str, ...] = ("asset_id", "cycle", "time", "failure_mode", "source")


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
        LabelError: a missing column, an empty asset id, a negative or non-integer cycle, a label
            with neither cycle nor time, an unparseable time, an empty failure mode, an unknown
            source, or an asset with two labels at the same cycle or time.
    """
    missing = [c for c in LABEL_COLUMNS if c not in labels.columns]
    if missing:
        raise LabelError(f"label table lacks columns {missing}")
    out = labels.loc[:, list(LABEL_COLUMNS)].copy()
    out["asset_id"] = out["asset_id"].astype(str)
    if (out["asset_id"].str.len() == 0).any():
        raise LabelError("empty asset_id in label table")
    cycles = pd.to_numeric(out["cycle"], errors="coerce")
    given = out["cycle"].notna()
    bad = given & (cycles.isna() | (cycles < 0) | (cycles != cycles.round()))
    if bad.any():
        raise LabelError("cycle must be a non-negative whole number where given")
    out["cycle"] = cycles.astype("Int64")
    try:
        out["time"] = pd.to_datetime(out["time"], utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise LabelError(f"time must be ISO 8601 (UTC) where given: {exc}") from None
    if (out["cycle"].isna() & out["time"].isna()).any():
        raise LabelError("every label needs a cycle or a time")
    out["failure_mode"] = out["failure_mode"].astype(str).str.strip()
    if (out["failure_mode"].str.len() == 0).any():
        raise LabelError(f"empty failure_mode: use a failure code or {NO_FAILURE!r}")
    bad_sources = set(out["source"].astype(str)) - {s.value for s in LabelSource}
    if bad_sources:
        raise LabelError(
            f"unknown label source {sorted(bad_sources)}; known: {[s.value for s in LabelSource]}"
        )
    out["source"] = out["source"].astype(str)
    if out[out["cycle"].notna()].duplicated(["asset_id", "cycle"]).any():
        raise LabelError("an asset has two labels at the same cycle")
    if out[out["time"].notna()].duplicated(["asset_id", "time"]).any():
        raise LabelError("an asset has two labels at the same time")
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
    failures = failures[(failures["failure_mode"] != NO_FAILURE) & failures["cycle"].notna()]
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


def rul_from_label_times(
    readings: pd.DataFrame,
    labels: pd.DataFrame,
    asset_column: str,
    time_ms_column: str,
    step_s: float,
    min_known_rul: float | None = None,
) -> pd.DataFrame:
    """True RUL in reading steps and the coming failure mode of every reading, from timed labels.

    A failure label at time ``T`` means the asset failed at ``T``: a reading at ``t < T`` (and
    after the asset's previous failure) has RUL ``(T - t) / step_s`` steps and that label's
    failure mode; a reading at ``T`` or later belongs to the asset's next life (the simulator and
    a repair both put a sound asset back). Readings after an asset's last failure are censored
    (NaN): nobody knows when it fails. A ``none`` label at ``N`` (an inspection that found the
    asset sound, a false alarm, the end of a simulated run) says the asset had not failed by
    ``N``: its RUL at ``t`` is at least ``(N - t) / step_s``. With ``min_known_rul`` set, a
    censored reading with such a bound ``>= min_known_rul`` gets the bound as its RUL, which is
    exact once the target is capped at a cap ``<= min_known_rul`` (a healthy, negative example).

    Args:
        readings: readings with ``asset_column`` and ``time_ms_column`` (epoch milliseconds).
        labels: a label table with times (labels without a time are ignored here).
        asset_column: the asset column of ``readings``.
        time_ms_column: the reading-time column, epoch milliseconds.
        step_s: seconds per reading step (the RUL unit).
        min_known_rul: see above; None keeps every censored reading NaN.

    Returns:
        Frame on ``readings.index``: ``rul_cycles`` (float, NaN = censored) and ``failure_mode``
        (the next failure's mode; empty where there is none).

    Raises:
        LabelError: a bad label table. ValueError: ``step_s`` not positive.
    """
    if step_s <= 0:
        raise ValueError(f"step must be positive seconds, got {step_s}")
    table = validate_labels(labels)
    table = table[table["time"].notna()]
    times_ms = table["time"].astype("int64") // 1_000_000  # datetime64[ns, UTC] -> epoch ms
    step_ms = step_s * 1000.0
    rul = np.full(len(readings), np.nan)
    modes = np.full(len(readings), "", dtype=object)
    assets = readings[asset_column].astype(str).to_numpy()
    reading_ms = readings[time_ms_column].to_numpy(dtype=np.float64)
    for asset, events in table.assign(ms=times_ms).groupby("asset_id"):
        rows = np.flatnonzero(assets == asset)
        if rows.size == 0:
            continue
        t = reading_ms[rows]
        failed = events[events["failure_mode"] != NO_FAILURE].sort_values("ms")
        fail_ms = failed["ms"].to_numpy(dtype=np.float64)
        nxt = np.searchsorted(fail_ms, t, side="right")  # first failure strictly after the reading
        known = nxt < len(fail_ms)
        rul[rows[known]] = (fail_ms[nxt[known]] - t[known]) / step_ms
        modes[rows[known]] = failed["failure_mode"].to_numpy()[nxt[known]]
        sound = events.loc[events["failure_mode"] == NO_FAILURE, "ms"].to_numpy(dtype=np.float64)
        if min_known_rul is not None and sound.size and (~known).any():
            bound = (sound.max() - t[~known]) / step_ms
            censored = rows[~known]
            rul[censored] = np.where(bound >= min_known_rul, bound, np.nan)
    return pd.DataFrame({"rul_cycles": rul, "failure_mode": modes}, index=readings.index)
