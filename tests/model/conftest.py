"""Data and model quality checks on the real C-MAPSS files (skipped where they are absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CMAPSS_DIR

DATA = CMAPSS_DIR


@pytest.fixture(scope="session")
def cmapss_dir() -> Path:
    """The folder with the C-MAPSS files."""
    if not (DATA / "train_FD001.txt.gz").is_file():
        pytest.skip("C-MAPSS data not on this machine")
    return DATA
