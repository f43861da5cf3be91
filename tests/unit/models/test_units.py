"""A model's RUL unit from its source: cycles for C-MAPSS, reading steps (of the interval) for a fleet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.units import CYCLES, RulUnit, Unit, unit_from_tags, unit_of_source


def test_cmapss_counts_cycles() -> None:
    unit = unit_of_source("cmapss:FD001")
    assert unit == CYCLES
    assert unit.axis("RUL") == "RUL (cycles)"


def test_a_fleet_counts_reading_steps_of_its_interval() -> None:
    fleet = unit_of_source("fleet:assets=200,steps=300,interval_s=60,seed=7", {"sim_interval_s": 60.0})
    assert fleet == Unit(RulUnit.STEPS, 60.0)
    assert fleet.axis("true RUL") == "true RUL (reading steps of 1 min)"
    # the interval from the source text alone, and a labels source with its step
    assert unit_of_source("fleet:assets=2,steps=3,interval_s=30,seed=1").label() == "reading steps of 30 s"
    assert unit_of_source("labels:outcomes.csv", {"step_s": 3600}).label() == "reading steps of 1 h"
    assert unit_of_source("labels:outcomes.csv").label() == "reading steps"


def test_an_unknown_source_says_so() -> None:
    assert unit_of_source("").unit is RulUnit.UNKNOWN
    assert unit_of_source("lab-bench:x").axis("RUL") == "RUL (steps)"


def test_tags_recorded_at_training_win_and_old_versions_fall_back_on_the_source() -> None:
    fleet = Unit(RulUnit.STEPS, 60.0)
    assert unit_from_tags({**fleet.tags(), "forewarn.source": "cmapss:FD001"}) == fleet
    assert unit_from_tags({"forewarn.source": "cmapss:FD002"}) == CYCLES
    assert unit_from_tags(
        {"forewarn.rul_unit": "furlongs", "forewarn.source": "fleet:interval_s=10"}
    ) == Unit(RulUnit.STEPS, 10.0)
    assert unit_from_tags({}).unit is RulUnit.UNKNOWN


def test_training_plots_label_their_axes_in_the_sources_unit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.axes import Axes

    from models.plots import save_plots

    labels: list[str] = []
    original = Axes.set

    def spy(self: Axes, **kwargs: Any) -> Any:
        labels.extend(str(kwargs[k]) for k in ("xlabel", "ylabel") if k in kwargs)
        return original(self, **kwargs)

    monkeypatch.setattr(Axes, "set", spy)
    rng = np.random.default_rng(1)
    true = rng.uniform(0, 120, 200)
    files = save_plots(
        tmp_path, true, true + rng.normal(0, 5, 200), rng.uniform(0, 1, 200), 50, Unit(RulUnit.STEPS, 60)
    )
    assert len(files) == 3
    assert all(f.stat().st_size > 0 for f in files)
    assert "true RUL (reading steps of 1 min)" in labels
    assert "observed failure within 50 reading steps of 1 min" in labels
    assert not any("cycles" in label for label in labels)
