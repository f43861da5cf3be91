"""The C-MAPSS reader: plain and gzipped files, any subset name, clear errors on bad files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from ingest.cmapss import (
    COLUMNS,
    CmapssFormatError,
    cut_run_rul,
    read_rul,
    read_run,
    run_to_failure_rul,
    subset_files,
)
from tests.conftest import CMAPSS_DIR

DATA = CMAPSS_DIR
LINES = [
    "1 1 -0.0007 -0.0004 100.0 " + " ".join(f"{100 + i}.5" for i in range(21)) + " ",
    "1 2 0.0019 -0.0003 100.0 " + " ".join(f"{100 + i}.7" for i in range(21)) + "  ",
    "2 1 42.0049 0.8400 100.0 " + " ".join(f"{200 + i}.1" for i in range(21)),
]


def write(path: Path, lines: list[str], gz: bool = False) -> Path:
    text = "\n".join(lines) + "\n"
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def test_plain_and_gzipped_files_read_the_same(tmp_path: Path) -> None:
    plain = read_run(write(tmp_path / "train_FD002.txt", LINES))
    zipped = read_run(write(tmp_path / "train_FD004.txt.gz", LINES, gz=True))
    assert list(plain.columns) == list(COLUMNS)
    assert plain.equals(zipped)
    assert plain["unit"].dtype == np.int64
    assert plain.loc[2, "setting_1"] == pytest.approx(42.0049)
    assert plain.loc[1, "sensor_21"] == pytest.approx(120.7)


def test_rows_come_back_ordered_by_unit_and_cycle(tmp_path: Path) -> None:
    frame = read_run(write(tmp_path / "t.txt", [LINES[2], LINES[1], LINES[0]]))
    assert frame[["unit", "cycle"]].to_numpy().tolist() == [[1, 1], [1, 2], [2, 1]]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1 3 0.0 0.0 100.0 1.0 2.0", ":2: expected 26 columns, got 7"),
        ("1 3 0.0 0.0 100.0 " + " ".join(["x"] * 21), ":2: non-numeric"),
        ("1.5 3 0.0 0.0 100.0 " + " ".join(["1"] * 21), "whole numbers"),
        ("1 1 0.0 0.0 100.0 " + " ".join(["1"] * 21), "cycle 1 twice"),
        ("1 3 0.0 0.0 100.0 " + " ".join(["nan"] * 21), "NaN"),
    ],
)
def test_malformed_runs_fail_naming_the_problem(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path / "bad.txt", [LINES[0], line])
    with pytest.raises(CmapssFormatError, match=message):
        read_run(path)


def test_empty_and_missing_files_fail(tmp_path: Path) -> None:
    with pytest.raises(CmapssFormatError, match="no readings"):
        read_run(write(tmp_path / "empty.txt", [" "]))
    with pytest.raises(CmapssFormatError, match="no such file"):
        read_run(tmp_path / "absent.txt")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CmapssFormatError, match="not a C-MAPSS text file"):
        read_run(tmp_path / "binary.txt")


def test_rul_file(tmp_path: Path) -> None:
    assert read_rul(write(tmp_path / "RUL_FD001.txt", ["112 ", "98", ""])).tolist() == [112, 98]
    with pytest.raises(CmapssFormatError, match=":2: expected one non-negative whole number"):
        read_rul(write(tmp_path / "RUL_bad.txt", ["1", "-4"]))


def test_subset_files_finds_plain_or_gzipped(tmp_path: Path) -> None:
    write(tmp_path / "train_FD002.txt", LINES)
    write(tmp_path / "test_FD002.txt.gz", LINES, gz=True)
    files = subset_files(tmp_path, "fd002")
    assert files.subset == "FD002"
    assert files.train.name == "train_FD002.txt"
    assert files.test is not None
    assert files.test.name == "test_FD002.txt.gz"
    assert files.rul is None
    with pytest.raises(CmapssFormatError, match="no train_FD004"):
        subset_files(tmp_path, "FD004")
    with pytest.raises(CmapssFormatError, match="must look like FD001"):
        subset_files(tmp_path, "../etc")


def test_true_rul_of_training_and_test_rows(tmp_path: Path) -> None:
    frame = read_run(write(tmp_path / "t.txt", LINES))
    assert run_to_failure_rul(frame).tolist() == [1, 0, 0]
    assert cut_run_rul(frame, np.array([10, 20])).tolist() == [11, 10, 20]
    with pytest.raises(CmapssFormatError, match="2 test units but 1 RUL values"):
        cut_run_rul(frame, np.array([10]))


@pytest.mark.skipif(not DATA.is_dir(), reason="C-MAPSS data not on this machine")
def test_reads_the_real_fd001_subset() -> None:
    files = subset_files(DATA, "FD001")
    train = read_run(files.train)
    assert train["unit"].nunique() == 100
    assert train.groupby("unit")["cycle"].min().eq(1).all()
    assert files.rul is not None
    assert len(read_rul(files.rul)) == 100
