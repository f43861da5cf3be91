"""Warning lead time: how many steps before each failure the risk first crossed a threshold.

What an operator feels: a model with a fine RMSE that only wakes up two steps before the pump
dies is useless for dispatching a crew with parts. Computed per failure life (the readings after
the asset's previous failure and before this one), from scored readings and the label table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forewarn.contracts.labels import NO_FAILURE
from models.labels import validate_labels


def lead_times(
    scored: pd.DataFrame,
    labels: pd.DataFrame,
    asset_column: str,
    time_ms_column: str,
    step_s: float,
    threshold: float = 0.5,
) -> pd.DataFrame:
    """One row per timed failure label of a scored asset: lead in steps, or NaN when missed.

    Args:
        scored: readings with ``asset_column``, ``time_ms_column`` (epoch ms) and ``risk``.
        labels: the label table; failures with a time count, ``none`` labels are ignored.
        asset_column: asset column of ``scored``.
        time_ms_column: reading-time column of ``scored``.
        step_s: seconds per reading step.
        threshold: the risk that counts as a warning.

    Returns:
        Columns ``asset_id``, ``failure_mode``, ``failure_ms``, ``readings`` (in that life),
        ``lead_steps`` (failure time minus the first reading at or above ``threshold``, in
        steps; NaN when risk never got there).
    """
    table = validate_labels(labels)
    table = table[(table["failure_mode"] != NO_FAILURE) & table["time"].notna()]
    table = table.assign(ms=table["time"].astype("int64") // 1_000_000).sort_values(["asset_id", "ms"])
    rows = []
    by_asset = {str(a): g for a, g in scored.groupby(asset_column, sort=False)}
    for asset, events in table.groupby("asset_id", sort=True):
        readings = by_asset.get(str(asset))
        if readings is None:
            continue
        t = readings[time_ms_column].to_numpy(dtype=np.float64)
        risk = readings["risk"].to_numpy(dtype=np.float64)
        previous = -np.inf
        for ms, mode in zip(events["ms"].to_numpy(dtype=np.float64), events["failure_mode"], strict=True):
            life = (t >= previous) & (t < ms)
            previous = ms
            if not life.any():
                continue
            order = np.argsort(t[life], kind="stable")
            times, risks = t[life][order], risk[life][order]
            warned = np.flatnonzero(risks >= threshold)
            lead = (ms - times[warned[0]]) / (step_s * 1000.0) if warned.size else np.nan
            rows.append(
                {"asset_id": asset, "failure_mode": mode, "failure_ms": int(ms), "readings": int(life.sum()),
                 "lead_steps": lead}
            )  # fmt: skip
    return pd.DataFrame(rows, columns=["asset_id", "failure_mode", "failure_ms", "readings", "lead_steps"])


def lead_summary(leads: pd.DataFrame) -> dict[str, float | int | None]:
    """Count, missed share and quantiles of the lead (steps) over the warned failures."""
    warned = leads["lead_steps"].dropna().to_numpy(dtype=np.float64)
    out: dict[str, float | int | None] = {
        "failures": len(leads),
        "missed": int(leads["lead_steps"].isna().sum()),
    }
    for name, q in (("min", 0.0), ("p10", 0.1), ("p25", 0.25), ("median", 0.5), ("p75", 0.75), ("max", 1.0)):
        out[f"lead_steps_{name}"] = round(float(np.quantile(warned, q)), 1) if warned.size else None
    return out
