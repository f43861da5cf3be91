"""Small real models for the scoring steps' unit tests (trained in-process, no registry)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.streaming.fitting import fd001_frame, fit, fit_with_two_modes


@pytest.fixture(scope="session")
def small_model() -> Any:
    """A ridge RUL/risk model on the first 12 FD001 engines (a few seconds)."""
    return fit(fd001_frame(12))


@pytest.fixture(scope="session")
def moded_model() -> Any:
    """The same, trained with two named failure modes: it names a mode per row."""
    return fit_with_two_modes(12)


@pytest.fixture(scope="session")
def forest_model() -> Any:
    """The same engines, fitted as extra trees (the family the gate picks for the pump fleet)."""
    return fit(fd001_frame(12), families=("extra_trees",))


@pytest.fixture(scope="session")
def boosted_model() -> Any:
    """The same engines, fitted as histogram gradient boosting (the family the gate picks for C-MAPSS)."""
    return fit(fd001_frame(12), families=("hgb",))
