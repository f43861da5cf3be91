"""C-MAPSS files as training and evaluation frames (``asset_id``, readings, true ``rul_cycles``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ingest.cmapss import (
    SENSOR_COLUMNS,
    SETTING_COLUMNS,
    CmapssFormatError,
    cut_run_rul,
    read_rul,
    read_run,
    subset_files,
)
from models.columns import SourceColumns
from models.labels import rul_from_labels, run_to_failure_labels
from models.predictor import ASSET


def cmapss_columns(setting_decimals: tuple[int, ...] = (0, 2, 0)) -> SourceColumns:
    """C-MAPSS columns: three settings (altitude in kft, Mach number, throttle angle) and 21 sensors.

    Args:
        setting_decimals: rounding precision per setting for regime learning
            (``FOREWARN_MODELS_SETTING_DECIMALS``).
    """
    return SourceColumns(SETTING_COLUMNS, SENSOR_COLUMNS, setting_decimals)


@dataclass(frozen=True)
class EvalSet:
    """Held-out readings with the true RUL of every row and the rows where RUL is judged."""

    readings: pd.DataFrame
    true_rul: np.ndarray
    points: np.ndarray


def _with_assets(frame: pd.DataFrame, subset: str, max_units: int | None) -> pd.DataFrame:
    if max_units is not None:
        frame = frame[frame["unit"].isin(np.sort(frame["unit"].unique())[:max_units])]
    frame = frame.copy()
    frame.insert(0, ASSET, subset + "-" + frame["unit"].astype(str))
    return frame.reset_index(drop=True)


def training_frame(data_dir: Path | str, subset: str, max_units: int | None = None) -> pd.DataFrame:
    """``train_<subset>`` with ``asset_id`` and the true RUL of every row (each engine ran to failure)."""
    files = subset_files(data_dir, subset)
    frame = _with_assets(read_run(files.train), files.subset, max_units)
    # through the label table, like work-order outcomes will: one failure per engine at its last cycle
    labels = run_to_failure_labels(frame, ASSET, failure_mode=f"cmapss_{files.subset.lower()}")
    frame["rul_cycles"] = rul_from_labels(frame, labels, ASSET)
    return frame


def evaluation_engines(data_dir: Path | str, subset: str, max_units: int | None = None) -> EvalSet:
    """``test_<subset>`` + ``RUL_<subset>``: RUL judged at each test engine's last cycle.

    Raises:
        CmapssFormatError: the subset has no test or RUL file.
    """
    files = subset_files(data_dir, subset)
    if files.test is None or files.rul is None:
        raise CmapssFormatError(
            f"{data_dir}: {files.subset} needs test_{files.subset} and RUL_{files.subset}"
        )
    frame = read_run(files.test)
    frame["rul_cycles"] = cut_run_rul(frame, read_rul(files.rul))
    frame = _with_assets(frame, files.subset, max_units)
    last = frame.groupby(ASSET)["cycle"].transform("max") == frame["cycle"]
    return EvalSet(frame, frame["rul_cycles"].to_numpy(dtype=np.float64), last.to_numpy())


def holdout_set(frame: pd.DataFrame, cap_cycles: int) -> EvalSet:
    """Held-out run-to-failure assets: RUL judged wherever the true RUL is within the cap."""
    true_rul = frame["rul_cycles"].to_numpy(dtype=np.float64)
    return EvalSet(frame, true_rul, true_rul <= cap_cycles)


def data_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of the frame's values and column names: the same data gives the same hash."""
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
