"""Which input columns a training source has: the operating settings and the sensors.

Training, the regime normaliser and the registered pyfunc take their columns from here, so a
model trained on any source (C-MAPSS files, the simulated pump fleet, telemetry from InfluxDB)
expects exactly the columns its source had. The streaming job builds the model's input from each
reading's ``settings`` and ``sensors`` dicts, so the names are the keys of those dicts.
"""

from __future__ import annotations

from dataclasses import dataclass

# reading time, epoch milliseconds, in frames whose readings have times (fleet, InfluxDB telemetry)
TIME_MS = "ts_ms"


@dataclass(frozen=True)
class SourceColumns:
    """The settings and sensor columns of a training source.

    Attributes:
        settings: operating-setting columns; they define the operating regimes.
        sensors: sensor columns; features are computed from them.
        setting_decimals: rounding precision per setting for regime learning (negative rounds to
            tens, hundreds...: ``-2`` groups 1450 rpm with 1500 rpm).
        cycle_is_age: whether ``cycle`` counts the asset's life since it was new (C-MAPSS), so
            the model may use it as the ``age_cycles`` feature; not where it keeps counting
            across replacements (the fleet's ``seq``).
    """

    settings: tuple[str, ...]
    sensors: tuple[str, ...]
    setting_decimals: tuple[int, ...]
    cycle_is_age: bool = True

    def __post_init__(self) -> None:
        if len(self.setting_decimals) != len(self.settings):
            raise ValueError(
                "need one rounding precision per setting: "
                f"{list(self.settings)} vs {list(self.setting_decimals)}"
            )
        if not self.sensors:
            raise ValueError("a training source needs at least one sensor column")
        overlap = set(self.settings) & set(self.sensors)
        if overlap:
            raise ValueError(f"columns both setting and sensor: {sorted(overlap)}")
