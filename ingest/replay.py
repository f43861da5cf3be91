"""Replay of recorded C-MAPSS runs as telemetry: each engine an asset, each cycle one reading.

Pure: a frame from :func:`ingest.cmapss.read_run` in, contract readings out, ordered by event time
(cycle, then unit) so that pacing follows the recording. Cycle ``c`` of every engine gets the event
time ``start + (c - 1) x cycle_s`` and ``seq = c``, the duplicate key downstream.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ingest.assets import Asset
from ingest.cmapss import SENSOR_COLUMNS, SETTING_COLUMNS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SPLITS = ("train", "test")


@dataclass(frozen=True)
class ReplayConfig:
    """How recorded cycles become readings.

    Attributes:
        subset: ``FD001``...
        split: ``train`` (run to failure) or ``test`` (cut before failure).
        site: the site publishing them (its MQTT user must exist, ``cmapss`` by default).
        start: event time of cycle 1 (timezone-aware UTC).
        cycle_s: seconds of event time per cycle.
        asset_prefix: prepended to ``<subset>-<split>-<unit>`` to keep concurrent replays apart.
    """

    subset: str
    split: str
    site: str
    start: datetime
    cycle_s: float = 60.0
    asset_prefix: str = ""

    def asset_id(self, unit: int) -> str:
        return f"{self.asset_prefix}{self.subset.lower()}-{self.split}-{unit:03d}"


def assets(frame: pd.DataFrame, config: ReplayConfig, now: datetime) -> list[Asset]:
    """The replayed engines as register entries (type ``turbofan``, by ``replay``), one per unit,
    registered to the publishing site before the first reading."""
    units = sorted(int(u) for u in frame["unit"].unique())
    return [Asset(config.asset_id(u), config.site, "turbofan", None, now, "replay") for u in units]


def readings(frame: pd.DataFrame, config: ReplayConfig) -> Iterator[tuple[str, dict[str, Any]]]:
    """(site, reading) pairs in event-time order, one per row of ``frame``."""
    start_ms = int(config.start.timestamp() * 1000)
    ordered = frame.sort_values(["cycle", "unit"], kind="stable")
    units = ordered["unit"].to_numpy()
    cycles = ordered["cycle"].to_numpy()
    settings = ordered[list(SETTING_COLUMNS)].to_numpy()
    sensors = ordered[list(SENSOR_COLUMNS)].to_numpy()
    for i in range(len(ordered)):
        cycle = int(cycles[i])
        yield (
            config.site,
            {
                "schema": 1,
                "asset_id": config.asset_id(int(units[i])),
                "ts": start_ms + round((cycle - 1) * config.cycle_s * 1000),
                "seq": cycle,
                "settings": dict(zip(SETTING_COLUMNS, map(float, settings[i]), strict=True)),
                "sensors": dict(zip(SENSOR_COLUMNS, map(float, sensors[i]), strict=True)),
            },
        )


def truth(frame: pd.DataFrame, config: ReplayConfig, final_rul: np.ndarray | None) -> list[dict[str, Any]]:
    """Ground truth per engine: failure after the last cycle (train) or RUL after it (test, if known)."""
    start_ms = int(config.start.timestamp() * 1000)
    last = frame.groupby("unit")["cycle"].max().sort_index()
    events = []
    for position, (unit, last_cycle) in enumerate(last.items()):
        rul = 0 if config.split == "train" else (int(final_rul[position]) if final_rul is not None else None)
        failure_cycle = None if rul is None else int(last_cycle) + rul  # the cycle where RUL reaches 0
        failure_ts = (
            None if failure_cycle is None else start_ms + round((failure_cycle - 1) * config.cycle_s * 1000)
        )
        events.append({
            "event": "failure" if config.split == "train" else "cut",
            "asset_id": config.asset_id(int(unit)),
            "site": config.site,
            "last_cycle": int(last_cycle),
            "rul_after_last_cycles": rul,
            "failure_ts": failure_ts,
        })  # fmt: skip
    return events
