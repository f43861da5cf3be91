"""A simulated pump fleet: physical sensors, operating regimes, noise and failure modes.

Pure and deterministic for a seed: each asset draws from its own random stream (spawned from the
seed), so the readings of an asset do not depend on how many assets run beside it or how
messages are batched. Time is simulated (``start`` + step x ``interval_s``); pacing against the
wall clock belongs to the publisher.

Every asset carries a hidden failure time and mode. Its health index ``h`` is 0 until the onset
of degradation and grows to 1 at failure, ``h = ((t - onset) / (failure - onset)) ** shape``;
each mode moves its own sensors by ``h`` times a mode signature. At failure the asset is replaced
(a new, healthy one with a new hidden life) and the ground truth records the event.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np

SENSORS: dict[str, str] = {
    "vibration_mm_s": "mm/s RMS velocity at the drive-end bearing",
    "bearing_temp_c": "°C at the drive-end bearing",
    "discharge_pressure_bar": "bar gauge at the discharge flange",
    "motor_current_a": "A RMS phase current",
    "flow_m3_h": "m³/h through the discharge line",
    "speed_rpm": "rpm at the shaft",
}
SETTINGS: dict[str, str] = {
    "load_frac": "fraction of rated load (0..1)",
    "speed_setpoint_rpm": "speed setpoint of the drive",
    "ambient_temp_c": "°C around the pump",
}


class Regime(StrEnum):
    """Operating regimes; each asset moves between them as a Markov chain."""

    IDLE = "idle"
    NORMAL = "normal"
    PEAK = "peak"


_REGIME_LOAD = {Regime.IDLE: 0.3, Regime.NORMAL: 0.7, Regime.PEAK: 1.0}
_REGIME_SPEED = {Regime.IDLE: 1000.0, Regime.NORMAL: 1450.0, Regime.PEAK: 1750.0}
_REGIMES = list(Regime)


class FailureMode(StrEnum):
    """How an asset degrades; each moves a different set of sensors."""

    BEARING_WEAR = "bearing_wear"
    CAVITATION = "cavitation"
    WINDING_INSULATION = "winding_insulation"
    SEAL_LEAK = "seal_leak"


# Sensor shift at health 1 (failure), per mode; the shape exponent says how late it shows.
_SIGNATURES: dict[FailureMode, tuple[float, dict[str, float]]] = {
    FailureMode.BEARING_WEAR: (2.0, {"vibration_mm_s": 7.0, "bearing_temp_c": 18.0}),
    FailureMode.CAVITATION: (
        1.2,
        {"discharge_pressure_bar": -1.6, "flow_m3_h": -12.0, "vibration_mm_s": 2.5},
    ),
    FailureMode.WINDING_INSULATION: (1.5, {"motor_current_a": 9.0, "bearing_temp_c": 7.0}),
    FailureMode.SEAL_LEAK: (1.0, {"discharge_pressure_bar": -2.4, "flow_m3_h": -6.0}),
}
_NOISE = {
    "vibration_mm_s": 0.15,
    "bearing_temp_c": 0.8,
    "discharge_pressure_bar": 0.05,
    "motor_current_a": 0.3,
    "flow_m3_h": 0.6,
    "speed_rpm": 5.0,
}


class ChangeKind(StrEnum):
    """A change in how one site's pumps read, from one step on (the data shifts under the model).

    ``recalibration``: the site's sensors were recalibrated with a bias: bearing temperature reads
    ``+6 °C`` and vibration ``+0.8 mm/s`` (the direction bearing wear moves them, so a model
    trained before the change sees early wear). ``duty_point``: the site's pumps now run at new
    speed setpoints (+350 rpm in every regime), an operating point the model never saw; the
    physics follows (flow, pressure, vibration rise with speed).
    """

    RECALIBRATION = "recalibration"
    DUTY_POINT = "duty_point"


_RECALIBRATION_BIAS = {"bearing_temp_c": 6.0, "vibration_mm_s": 0.8}
_DUTY_POINT_RPM = 350.0


@dataclass(frozen=True)
class FleetChange:
    """From ``at_step`` on, the pumps of ``site`` read as ``kind`` says (:class:`ChangeKind`)."""

    site: str
    at_step: int
    kind: ChangeKind

    @classmethod
    def parse(cls, text: str) -> FleetChange:
        """``SITE@STEP:KIND``, e.g. ``site-2@100:duty_point``.

        Raises:
            ValueError: not of that form, a negative step or an unknown kind.
        """
        match = re.fullmatch(r"\s*([^@\s]+)@(\d+):(\w+)\s*", text)
        if match is None:
            raise ValueError(f"a fleet change is SITE@STEP:KIND (e.g. site-2@100:duty_point), got {text!r}")
        site, step, kind = match.groups()
        try:
            return cls(site, int(step), ChangeKind(kind))
        except ValueError:
            kinds = [k.value for k in ChangeKind]
            raise ValueError(f"unknown change kind {kind!r}; choose one of {kinds}") from None

    def applies(self, site: str, step: int) -> bool:
        """Whether a reading of ``site`` at ``step`` is changed."""
        return site == self.site and step >= self.at_step

    def __str__(self) -> str:
        return f"{self.site}@{self.at_step}:{self.kind.value}"


@dataclass(frozen=True)
class FleetConfig:
    """What to simulate.

    Attributes:
        assets: number of assets.
        sites: site names; assets are dealt to them in turn.
        seed: the seed every random draw derives from.
        start: simulated time of the first reading (timezone-aware UTC).
        interval_s: simulated seconds between two readings of an asset.
        steps: readings per asset.
        failing_share: share of assets whose (first) failure falls inside the run.
        min_degradation_steps: shortest degradation period before a failure.
        asset_prefix: asset ids are ``<prefix>-0001``...; a unique prefix keeps runs apart.
        change: a mid-run change on one site (:class:`FleetChange`), or none.
    """

    assets: int
    sites: tuple[str, ...]
    seed: int
    start: datetime
    interval_s: float = 60.0
    steps: int = 1440
    failing_share: float = 0.5
    min_degradation_steps: int = 20
    asset_prefix: str = "pump"
    change: FleetChange | None = None


@dataclass(frozen=True)
class TruthEvent:
    """A ground-truth fact for scoring later stages: a failure (time, mode) or a censored life."""

    event: str
    asset_id: str
    site: str
    mode: FailureMode
    onset_ts_ms: int
    failure_ts_ms: int

    def as_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "asset_id": self.asset_id,
            "site": self.site,
            "mode": self.mode.value,
            "onset_ts": self.onset_ts_ms,
            "failure_ts": self.failure_ts_ms,
        }


@dataclass
class _Life:
    mode: FailureMode
    onset_step: int
    failure_step: int


@dataclass
class AssetSim:
    """One asset's state: its random stream, manufacturing offsets, regime and current life."""

    asset_id: str
    site: str
    rng: np.random.Generator
    config: FleetConfig
    offsets: dict[str, float] = field(default_factory=dict)
    regime: Regime = Regime.NORMAL
    life: _Life | None = None
    seq: int = 0

    def __post_init__(self) -> None:
        self.offsets = {name: float(self.rng.normal(1.0, 0.04)) for name in _NOISE}
        self.regime = _REGIMES[int(self.rng.integers(0, 3))]

    def new_life(self, from_step: int, failing_in_run: bool) -> _Life:
        """Draw the next hidden failure: inside the run for failing assets, beyond it otherwise."""
        steps = self.config.steps
        if failing_in_run:
            failure = from_step + int(self.rng.integers(max(steps // 4, 2), max(steps, 3)))
        else:
            failure = steps + int(self.rng.integers(steps // 2 + 1, 2 * steps + 2))
        span = max(self.config.min_degradation_steps, int((failure - from_step) * self.rng.uniform(0.3, 0.7)))
        mode = list(FailureMode)[int(self.rng.integers(0, len(FailureMode)))]
        return _Life(mode, max(from_step, failure - span), failure)


def _health(step: int, life: _Life) -> float:
    if step <= life.onset_step:
        return 0.0
    shape = _SIGNATURES[life.mode][0]
    return float(min(1.0, (step - life.onset_step) / max(1, life.failure_step - life.onset_step)) ** shape)


class Fleet:
    """Generates readings step by step and collects the ground truth."""

    def __init__(self, config: FleetConfig) -> None:
        if config.assets < 1 or not config.sites:
            raise ValueError("a fleet needs at least one asset and one site")
        if config.start.tzinfo is None:
            raise ValueError("start must be timezone-aware UTC")
        self.config = config
        streams = np.random.SeedSequence(config.seed).spawn(config.assets)
        self.assets: list[AssetSim] = []
        self.truth: list[TruthEvent] = []
        for i in range(config.assets):
            asset = AssetSim(f"{config.asset_prefix}-{i + 1:04d}", config.sites[i % len(config.sites)],
                             np.random.default_rng(streams[i]), config)  # fmt: skip
            asset.life = asset.new_life(0, bool(asset.rng.random() < config.failing_share))
            self.assets.append(asset)
        self._start_ms = int(config.start.timestamp() * 1000)

    def ts_ms(self, step: int) -> int:
        """Simulated event time of ``step``."""
        return self._start_ms + round(step * self.config.interval_s * 1000)

    def readings(self) -> Iterator[tuple[AssetSim, dict[str, Any]]]:
        """Every reading in time order (all assets at step 0, then step 1, ...), as payload dicts."""
        for step in range(self.config.steps):
            for asset in self.assets:
                yield asset, self._reading(asset, step)
        for asset in self.assets:
            life = asset.life
            assert life is not None
            self.truth.append(self._event("censored", asset, life))

    def _event(self, kind: str, asset: AssetSim, life: _Life) -> TruthEvent:
        return TruthEvent(kind, asset.asset_id, asset.site, life.mode, self.ts_ms(life.onset_step),
                          self.ts_ms(life.failure_step))  # fmt: skip

    def _reading(self, asset: AssetSim, step: int) -> dict[str, Any]:
        life = asset.life
        assert life is not None
        if step >= life.failure_step:
            self.truth.append(self._event("failure", asset, life))
            asset.offsets = {name: float(asset.rng.normal(1.0, 0.04)) for name in _NOISE}
            life = asset.life = asset.new_life(step, failing_in_run=bool(asset.rng.random() < 0.5))
        rng = asset.rng
        if rng.random() < 0.02:
            asset.regime = _REGIMES[int(rng.integers(0, 3))]
        t_s = step * self.config.interval_s
        load = min(1.0, max(0.05, _REGIME_LOAD[asset.regime] + rng.normal(0, 0.03)))
        change = self.config.change
        changed = change is not None and change.applies(asset.site, step)
        setpoint = _REGIME_SPEED[asset.regime]
        if changed and change is not None and change.kind is ChangeKind.DUTY_POINT:
            setpoint += _DUTY_POINT_RPM
        ambient = 20.0 + 8.0 * math.sin(2 * math.pi * t_s / 86_400) + rng.normal(0, 0.3)
        speed_ratio = setpoint / 1450.0
        base = {
            "vibration_mm_s": 1.2 + 1.5 * load * speed_ratio,
            "bearing_temp_c": ambient + 25.0 + 20.0 * load,
            "discharge_pressure_bar": 2.0 + 4.0 * load * speed_ratio**2,
            "motor_current_a": 8.0 + 22.0 * load,
            "flow_m3_h": 40.0 * load * speed_ratio,
            "speed_rpm": setpoint,
        }
        h = _health(step, life)
        shifts = _SIGNATURES[life.mode][1]
        noise_gain = 1.0 + 2.0 * h if life.mode is FailureMode.BEARING_WEAR else 1.0
        sensors = {
            name: round(value * asset.offsets[name] + h * shifts.get(name, 0.0)
                        + rng.normal(0, _NOISE[name] * (noise_gain if name == "vibration_mm_s" else 1.0)), 4)
            for name, value in base.items()
        }  # fmt: skip
        if changed and change is not None and change.kind is ChangeKind.RECALIBRATION:
            sensors = {name: round(v + _RECALIBRATION_BIAS.get(name, 0.0), 4) for name, v in sensors.items()}
        reading = {
            "schema": 1,
            "asset_id": asset.asset_id,
            "ts": self.ts_ms(step),
            "seq": asset.seq,
            "settings": {"load_frac": round(load, 4), "speed_setpoint_rpm": setpoint,
                         "ambient_temp_c": round(ambient, 3)},
            "sensors": sensors,
        }  # fmt: skip
        asset.seq += 1
        return reading
