"""Reader for NASA C-MAPSS turbofan run-to-failure files (any subset, plain or gzipped).

Every subset (FD001-FD004, and the PHM08 challenge files) has the same layout: space-separated
text, 26 numeric columns (unit, cycle, 3 operational settings, 21 sensors) and trailing spaces.
Training and replay both read through here, so a malformed file fails the same way everywhere:
a :class:`CmapssFormatError` naming the file, the line and what was wrong.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SETTING_COLUMNS: tuple[str, ...] = ("setting_1", "setting_2", "setting_3")
SENSOR_COLUMNS: tuple[str, ...] = tuple(f"sensor_{i}" for i in range(1, 22))
COLUMNS: tuple[str, ...] = ("unit", "cycle", *SETTING_COLUMNS, *SENSOR_COLUMNS)
_SUBSET = re.compile(r"^FD\d{3}$")


class CmapssFormatError(ValueError):
    """A C-MAPSS file is missing or does not have the expected layout."""


@dataclass(frozen=True)
class SubsetFiles:
    """The three files of one subset: full training trajectories, cut test trajectories, true RUL."""

    subset: str
    train: Path
    test: Path | None
    rul: Path | None


def _open_text(path: Path) -> str:
    if not path.is_file():
        raise CmapssFormatError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise CmapssFormatError(
            f"{path}: not a C-MAPSS text file ({exc.reason} at byte {exc.start})"
        ) from None


def _find(data_dir: Path, stem: str) -> Path | None:
    for name in (f"{stem}.txt", f"{stem}.txt.gz", f"{stem}.gz"):
        if (data_dir / name).is_file():
            return data_dir / name
    return None


def subset_files(data_dir: Path | str, subset: str) -> SubsetFiles:
    """Locate ``train_<subset>``, ``test_<subset>`` and ``RUL_<subset>`` (``.txt`` or ``.txt.gz``).

    The training file is required; test and RUL files are optional (None when absent) because
    replay and training only need the training trajectories.

    Raises:
        CmapssFormatError: the subset name is not ``FDnnn`` or the training file is missing.
    """
    subset = subset.upper()
    if not _SUBSET.match(subset):
        raise CmapssFormatError(f"subset must look like FD001, got {subset!r}")
    data_dir = Path(data_dir)
    train = _find(data_dir, f"train_{subset}")
    if train is None:
        raise CmapssFormatError(f"{data_dir}: no train_{subset}.txt or train_{subset}.txt.gz")
    return SubsetFiles(subset, train, _find(data_dir, f"test_{subset}"), _find(data_dir, f"RUL_{subset}"))


def read_run(path: Path | str) -> pd.DataFrame:
    """Read a train or test trajectory file into a frame ordered by unit then cycle.

    Columns: ``unit`` and ``cycle`` (int64), ``setting_1..3`` and ``sensor_1..21`` (float64).

    Raises:
        CmapssFormatError: a line without 26 numbers, a non-numeric value, or an empty file.
    """
    import numpy as np
    import pandas as pd

    path = Path(path)
    rows: list[list[float]] = []
    for number, line in enumerate(_open_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(COLUMNS):
            raise CmapssFormatError(f"{path}:{number}: expected {len(COLUMNS)} columns, got {len(fields)}")
        try:
            rows.append([float(value) for value in fields])
        except ValueError:
            raise CmapssFormatError(f"{path}:{number}: non-numeric value in {line.strip()[:80]!r}") from None
    if not rows:
        raise CmapssFormatError(f"{path}: no readings")
    values = np.asarray(rows, dtype=np.float64)
    if not np.isfinite(values).all():
        raise CmapssFormatError(f"{path}: contains NaN or infinite values")
    frame = pd.DataFrame(values, columns=list(COLUMNS))
    for column in ("unit", "cycle"):
        if not (frame[column] == frame[column].round()).all():
            raise CmapssFormatError(f"{path}: column {column} must hold whole numbers")
        frame[column] = frame[column].astype(np.int64)
    if frame.duplicated(["unit", "cycle"]).any():
        dup = frame.loc[frame.duplicated(["unit", "cycle"]), ["unit", "cycle"]].iloc[0]
        raise CmapssFormatError(f"{path}: unit {dup['unit']} has cycle {dup['cycle']} twice")
    return frame.sort_values(["unit", "cycle"], kind="stable").reset_index(drop=True)


def read_rul(path: Path | str) -> np.ndarray:
    """Read a ``RUL_FDxxx`` file: the true remaining cycles after each test unit's last cycle.

    Returns:
        int64 array, element ``i`` for test unit ``i + 1``.

    Raises:
        CmapssFormatError: a line that is not one non-negative whole number.
    """
    import numpy as np

    path = Path(path)
    values: list[int] = []
    for number, line in enumerate(_open_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 1 or not fields[0].isdigit():
            raise CmapssFormatError(f"{path}:{number}: expected one non-negative whole number, got {line!r}")
        values.append(int(fields[0]))
    if not values:
        raise CmapssFormatError(f"{path}: no RUL values")
    return np.asarray(values, dtype=np.int64)


def run_to_failure_rul(frame: pd.DataFrame) -> pd.Series:
    """True RUL in cycles of every row of a training file: each unit fails after its last cycle."""
    last = frame.groupby("unit")["cycle"].transform("max")
    return (last - frame["cycle"]).rename("rul_cycles")


def cut_run_rul(frame: pd.DataFrame, final_rul: np.ndarray) -> pd.Series:
    """True RUL of every row of a test file, given the RUL after each unit's last cycle.

    Raises:
        CmapssFormatError: the RUL file has a different number of units than the test file.
    """
    units = frame["unit"].drop_duplicates().sort_values().to_numpy()
    if len(units) != len(final_rul):
        raise CmapssFormatError(f"{len(units)} test units but {len(final_rul)} RUL values")
    after_last = dict(zip(units.tolist(), final_rul.tolist(), strict=True))
    last = frame.groupby("unit")["cycle"].transform("max")
    return (last - frame["cycle"] + frame["unit"].map(after_last)).rename("rul_cycles")
