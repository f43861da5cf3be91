"""The simulated pump fleet as a training source: run-to-failure histories with ground truth.

:class:`ingest.fleet.Fleet` runs in-process (no MQTT): every reading becomes a row with the
columns the streaming job gives the model (``asset_id``, ``cycle`` = ``seq``, the settings and
sensor keys), and the fleet's ground truth becomes the label table: one ``simulation`` failure
label per failure (its time and mode), and one ``none`` label per asset at the end of the run
(the asset had not failed by then). RUL is counted in reading steps (one step = ``interval_s``).

Age: after a failure the simulator replaces the asset but its ``seq`` keeps counting, and the
streaming job sees no replacement marker, so ``cycle`` is not the asset's age: fleet models are
trained without the ``age_cycles`` feature (``FeatureSpec.age = False``) and judge health from
the sensors alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from forewarn.contracts.labels import NO_FAILURE, LabelSource
from ingest.fleet import SENSORS, SETTINGS, Fleet, FleetChange, FleetConfig
from models.columns import TIME_MS, SourceColumns
from models.labels import rul_from_label_times, validate_labels
from models.predictor import ASSET

# load_frac to 0.1 (idle 0.3, normal 0.7, peak 1.0), setpoint to 100 rpm, ambient to 10 °C
FLEET_COLUMNS = SourceColumns(tuple(SETTINGS), tuple(SENSORS), (1, -2, -1), cycle_is_age=False)
# any fixed instant: simulated time only matters relative to the run's start
DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FleetHistory:
    """Simulated readings with their labels.

    Attributes:
        readings: one row per reading: ``asset_id``, ``site``, ``ts_ms``, ``seq``, ``cycle``,
            settings, sensors, then ``rul_cycles`` (steps to the next failure; NaN = censored)
            and ``failure_mode`` (the coming failure's mode, empty when unknown).
        labels: the label table (:mod:`models.labels`) built from the ground truth.
        interval_s: seconds per step.
    """

    readings: pd.DataFrame
    labels: pd.DataFrame
    interval_s: float


def simulate(config: FleetConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the fleet: (readings, label table). Pure for a config (the fleet is seeded)."""
    fleet = Fleet(config)
    rows = []
    for asset, reading in fleet.readings():
        rows.append(
            {
                ASSET: reading["asset_id"],
                "site": asset.site,
                TIME_MS: int(reading["ts"]),
                "seq": int(reading["seq"]),
                **reading["settings"],
                **reading["sensors"],
            }
        )
    readings = pd.DataFrame(rows)
    readings.insert(4, "cycle", readings["seq"].to_numpy(dtype=np.int64))
    failures = [e for e in fleet.truth if e.event == "failure"]
    end_ms = fleet.ts_ms(config.steps)  # no asset failed before the step after the last reading
    labels = pd.DataFrame(
        [
            *(
                {"asset_id": e.asset_id, "cycle": pd.NA, "time": _utc_ms(e.failure_ts_ms),
                 "failure_mode": e.mode.value, "source": LabelSource.SIMULATION.value}
                for e in failures
            ),
            *(
                {"asset_id": a.asset_id, "cycle": pd.NA, "time": _utc_ms(end_ms),
                 "failure_mode": NO_FAILURE, "source": LabelSource.SIMULATION.value}
                for a in fleet.assets
            ),
        ]
    )  # fmt: skip
    return readings.sort_values([ASSET, "seq"], kind="stable").reset_index(drop=True), validate_labels(labels)


def _utc_ms(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def fleet_history(
    assets: int,
    steps: int,
    interval_s: float,
    seed: int,
    failing_share: float,
    rul_cap_steps: float,
    start: datetime = DEFAULT_START,
    asset_prefix: str = "pump",
    change: FleetChange | None = None,
) -> FleetHistory:
    """Simulate a fleet and label every reading with RUL (steps) and the coming failure mode.

    Readings after an asset's last failure are censored, except those the run's end proves
    at least ``rul_cap_steps`` from failure: healthy examples, exact once the RUL is capped.
    ``change``: a mid-run change on one site (the closed-loop scenario's shifted data).
    """
    config = FleetConfig(
        assets, ("site-1", "site-2"), seed, start, interval_s, steps, failing_share,
        asset_prefix=asset_prefix, change=change,
    )  # fmt: skip
    readings, labels = simulate(config)
    targets = rul_from_label_times(readings, labels, ASSET, TIME_MS, interval_s, min_known_rul=rul_cap_steps)
    return FleetHistory(pd.concat([readings, targets], axis=1), labels, interval_s)
