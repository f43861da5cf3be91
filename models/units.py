"""The unit a model's RUL and horizon count in, known from where its training data came.

The risk contract calls them ``rul_cycles`` and ``horizon_cycles``, but a model counts in whatever
one reading of its source stands for: a C-MAPSS engine reports once a flight cycle, a simulated or
real pump fleet once a reading interval (the demo's: 60 s), so its RUL is in *reading steps*.
Every training records the unit on its model version (:data:`UNIT_TAG`, :data:`STEP_S_TAG`, next to
``forewarn.source``); what draws an axis (the training plots, ``forewarn report asset``) asks
:func:`unit_from_tags`, which falls back on the source's kind for versions registered before the
unit was recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

SOURCE_TAG = "forewarn.source"
UNIT_TAG = "forewarn.rul_unit"
STEP_S_TAG = "forewarn.step_s"


class RulUnit(StrEnum):
    """What one step of a model's RUL is."""

    CYCLES = "cycles"
    """C-MAPSS: one reading per engine flight cycle."""
    STEPS = "reading steps"
    """A fleet reporting at a fixed interval (simulated pumps, labels from work orders): one reading."""
    UNKNOWN = "steps"
    """A source this build does not know (or a model version without tags): one reading, of unknown length."""


_KINDS = {"cmapss": RulUnit.CYCLES, "fleet": RulUnit.STEPS, "labels": RulUnit.STEPS}
_INTERVAL = re.compile(r"interval_s=([0-9.eE+-]+)")


@dataclass(frozen=True)
class Unit:
    """A model's RUL unit and, for reading steps, how long one is (None when unknown)."""

    unit: RulUnit
    step_s: float | None = None

    def label(self) -> str:
        """``cycles``, ``reading steps of 60 s``, ``reading steps``."""
        if self.unit is RulUnit.STEPS and self.step_s:
            return f"{self.unit.value} of {_seconds(self.step_s)}"
        return self.unit.value

    def axis(self, quantity: str) -> str:
        """An axis label: ``RUL (cycles)``, ``RUL (reading steps of 60 s)``."""
        return f"{quantity} ({self.label()})"

    def tags(self) -> dict[str, str]:
        """The model-version tags that record this unit."""
        out = {UNIT_TAG: self.unit.value}
        if self.step_s:
            out[STEP_S_TAG] = f"{self.step_s:g}"
        return out


CYCLES = Unit(RulUnit.CYCLES)


def _seconds(step_s: float) -> str:
    if step_s >= 3600 and step_s % 3600 == 0:
        return f"{step_s / 3600:g} h"
    if step_s >= 60 and step_s % 60 == 0:
        return f"{step_s / 60:g} min"
    return f"{step_s:g} s"


def unit_of_source(source: str, params: Mapping[str, Any] | None = None) -> Unit:
    """The unit of a training source (``cmapss:FD001``, ``fleet:assets=200,...,interval_s=60,...``,
    ``labels:labels.csv``); a step's length from ``params`` (``sim_interval_s``, ``step_s``) or the
    source's own ``interval_s``."""
    unit = _KINDS.get(source.split(":", 1)[0], RulUnit.UNKNOWN)
    if unit is not RulUnit.STEPS:
        return Unit(unit)
    params = params or {}
    step = params.get("sim_interval_s", params.get("step_s"))
    if step is None and (found := _INTERVAL.search(source)):
        step = found.group(1)
    try:
        step_s = float(step) if step is not None else None
    except ValueError:
        step_s = None
    return Unit(unit, step_s if step_s and step_s > 0 else None)


def unit_from_tags(tags: Mapping[str, str]) -> Unit:
    """The unit a model version's tags record, else the one of its ``forewarn.source``."""
    recorded = tags.get(UNIT_TAG, "")
    if recorded in RulUnit.__members__.values():
        step = tags.get(STEP_S_TAG)
        try:
            step_s = float(step) if step else None
        except ValueError:
            step_s = None
        return Unit(RulUnit(recorded), step_s)
    return unit_of_source(tags.get(SOURCE_TAG, ""))
