"""Training sources: C-MAPSS files, the simulated pump fleet, and labels with InfluxDB telemetry.

Each source yields a :class:`TrainingData`: readings with true RUL (and, where known, the coming
failure mode and reading times), the source's columns, and what the MLflow run should record
about it. Training and registration are the same for every source (``models/cli.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd

from models import dataset
from models.columns import SourceColumns
from models.dataset import EvalSet


class SourceError(ValueError):
    """A training source that cannot give training data; the message says what to fix."""


class Source(StrEnum):
    """Where training readings come from."""

    CMAPSS = "cmapss"
    FLEET = "fleet"
    LABELS = "labels"


# Settings a source needs other than the C-MAPSS-tuned defaults (unless set by option or env).
# Fleet RUL is in reading steps: capped at 125, warning horizon 50 steps; ridge vs extra trees
# (gradient boosting takes ~3 min on 200 simulated pumps and warns no earlier). Their ``cycle`` keeps
# counting across replacements, so it says nothing about an asset's history: fit on every reading.
# The long feature windows (100, 200: models.settings) were chosen on C-MAPSS, where a history is one
# engine's life. A pump keeps its asset id across replacements, so there a 200-reading window would
# mix the failed pump's last readings into the new one's, and the simulated fleets run 200 to 400
# readings in all: fleets and their work-order labels keep the windows they were tuned with.
SHORT_WINDOWS = (5, 15, 30, 50)
SOURCE_DEFAULTS: dict[Source, dict[str, Any]] = {
    Source.CMAPSS: {},
    Source.FLEET: {
        "windows": SHORT_WINDOWS,
        "families": ("ridge", "extra_trees"),
        "rul_cap_cycles": 125,
        "horizon_cycles": 50,
        "healthy_stride": 4,
        "fit_min_history_cycles": 1,
    },
    Source.LABELS: {
        "windows": SHORT_WINDOWS,
        "families": ("ridge", "extra_trees"),
        "rul_cap_cycles": 125,
        "horizon_cycles": 50,
        "healthy_stride": 4,
        "fit_min_history_cycles": 1,
    },
}


@dataclass(frozen=True)
class TrainingData:
    """Readings to train on and what to record about them.

    Attributes:
        frame: ``asset_id``, ``cycle``, settings, sensors, ``rul_cycles`` (NaN = censored);
            optionally ``failure_mode`` and ``ts_ms``.
        columns: the source's settings and sensor columns.
        source: a short description logged as ``forewarn.source`` (e.g. ``cmapss:FD001``).
        params: source parameters logged with the run.
        test: a separate test set scored after training (C-MAPSS ``test_``/``RUL_`` files).
        labels: timed label table, for warning lead times on held-out assets.
        step_s: seconds per reading step (RUL unit) when readings have times.
    """

    frame: pd.DataFrame
    columns: SourceColumns
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    test: EvalSet | None = None
    labels: pd.DataFrame | None = None
    step_s: float | None = None


def cmapss(
    data_dir: Path, subset: str, max_units: int | None, setting_decimals: tuple[int, ...]
) -> TrainingData:
    """``train_<subset>`` (and its test engines when the files exist).

    Raises:
        CmapssFormatError: the subset's files are missing or malformed.
    """
    from ingest.cmapss import CmapssFormatError

    frame = dataset.training_frame(data_dir, subset, max_units)
    try:
        test: EvalSet | None = dataset.evaluation_engines(data_dir, subset, max_units)
    except CmapssFormatError:
        test = None
    return TrainingData(
        frame, dataset.cmapss_columns(setting_decimals), f"cmapss:{subset.upper()}",
        {"subset": subset.upper()}, test,
    )  # fmt: skip


def fleet(
    assets: int, steps: int, interval_s: float, seed: int, failing_share: float, rul_cap_steps: int
) -> TrainingData:
    """A simulated fleet's run-to-failure history (see :mod:`models.fleet_source`)."""
    from models.fleet_source import FLEET_COLUMNS, fleet_history

    history = fleet_history(assets, steps, interval_s, seed, failing_share, rul_cap_steps)
    params = {"sim_assets": assets, "sim_steps": steps, "sim_interval_s": interval_s, "sim_seed": seed,
              "sim_failing_share": failing_share}  # fmt: skip
    return TrainingData(
        history.readings,
        FLEET_COLUMNS,
        f"fleet:assets={assets},steps={steps},interval_s={interval_s:g},seed={seed}",
        params,
        labels=history.labels,
        step_s=interval_s,
    )
