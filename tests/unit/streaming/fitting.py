"""Fit small real models in-process (no registry): shared by the streaming unit and integration tests."""

from __future__ import annotations

import inspect
from typing import Any

import pandas as pd

from tests.conftest import CMAPSS_DIR


def fit(frame: pd.DataFrame, families: tuple[str, ...] = ("ridge",)) -> Any:
    """``models.training.train`` with ``families`` (ridge) and 2 folds (the C-MAPSS columns where it
    asks for them)."""
    from models.settings import ModelsSettings
    from models.training import train

    # short windows: the step's tests feed FD001 test engines of 98 to 126 cycles and need
    # required_history + 10 readings of one engine (the defaults reach back 200)
    settings = ModelsSettings(families=families, cv_folds=2, windows=(5, 15, 30, 50))
    if "columns" in inspect.signature(train).parameters:
        from models.dataset import cmapss_columns  # type: ignore[attr-defined,unused-ignore]

        return train(frame, settings, cmapss_columns()).model  # type: ignore[call-arg,unused-ignore]
    return train(frame, settings).model  # type: ignore[call-arg,unused-ignore]


def fd001_frame(units: int) -> pd.DataFrame:
    from models.dataset import training_frame

    assert (CMAPSS_DIR / "train_FD001.txt.gz").is_file(), f"C-MAPSS data missing in {CMAPSS_DIR}"
    return training_frame(CMAPSS_DIR, "FD001", max_units=units)


def fit_with_two_modes(units: int = 12) -> Any:
    """Trained with two named failure modes (odd engines HPC, even engines fan): names a mode per row."""
    frame = fd001_frame(units)
    frame["failure_mode"] = ["hpc_degradation" if u % 2 else "fan_degradation" for u in frame["unit"]]
    return fit(frame)
