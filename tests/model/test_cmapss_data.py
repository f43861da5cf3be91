"""The recorded C-MAPSS subsets are what training assumes they are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.cmapss import read_rul, read_run, subset_files

pytestmark = pytest.mark.model


@pytest.mark.parametrize("subset", ["FD001", "FD003"])
def test_subset_is_complete_and_consistent(cmapss_dir: Path, subset: str) -> None:
    files = subset_files(cmapss_dir, subset)
    assert files.test is not None
    assert files.rul is not None
    train, test, rul = read_run(files.train), read_run(files.test), read_rul(files.rul)
    for frame in (train, test):
        # every engine's cycles run 1, 2, 3, ... without gaps
        gaps = frame.groupby("unit")["cycle"].agg(lambda c: bool((np.diff(c) == 1).all() and c.iloc[0] == 1))
        assert gaps.all()
    assert test["unit"].nunique() == len(rul)
    assert (rul >= 0).all()
    # run to failure: training lives are long enough for the largest feature window
    assert train.groupby("unit")["cycle"].max().min() >= 100
