"""Alert rules from a TOML file: thresholds, persistence, hysteresis, severity bands, escalation.

Example (``alerts/rules.example.toml`` holds a commented one)::

    open_threshold = 0.8
    clear_threshold = 0.5
    persistence_s = 300
    clear_s = 600
    [m_of_n]
    m = 3
    n = 5
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from forewarn.contracts.alert import Severity


class MOfN(BaseModel):
    """Raise when at least ``m`` of the last ``n`` readings are at or above the open threshold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    m: Annotated[int, Field(ge=1)]
    n: Annotated[int, Field(ge=1, le=1000)]

    @model_validator(mode="after")
    def _m_le_n(self) -> MOfN:
        if self.m > self.n:
            raise ValueError(f"m ({self.m}) must not exceed n ({self.n})")
        return self


class SeverityBand(BaseModel):
    """A severity applies when risk >= ``min_risk`` or RUL <= ``max_rul_cycles``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    severity: Severity
    min_risk: Annotated[float, Field(ge=0.0, le=1.0)]
    max_rul_cycles: Annotated[float, Field(ge=0.0)] | None = None


class Tier(BaseModel):
    """One escalation tier: who is notified, and where."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    webhook_url: str | None = None


def _default_bands() -> tuple[SeverityBand, ...]:
    return (
        SeverityBand(severity=Severity.CRITICAL, min_risk=0.95, max_rul_cycles=10),
        SeverityBand(severity=Severity.MAJOR, min_risk=0.9, max_rul_cycles=25),
        SeverityBand(severity=Severity.MINOR, min_risk=0.85),
        SeverityBand(severity=Severity.WARNING, min_risk=0.0),
    )


class RuleConfig(BaseModel):
    """Every knob of the alert rules; unknown keys are an error, so typos fail at start."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    open_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    clear_threshold: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.5
    persistence_s: Annotated[float, Field(ge=0.0)] = 300.0
    m_of_n: MOfN | None = None
    rul_limit_cycles: Annotated[float, Field(ge=0.0)] | None = None
    clear_s: Annotated[float, Field(ge=0.0)] = 600.0
    cooldown_s: Annotated[float, Field(ge=0.0)] = 1800.0
    stale_after_s: Annotated[float, Field(gt=0.0)] | None = 900.0
    stale_severity: Severity = Severity.MINOR
    severity_bands: tuple[SeverityBand, ...] = Field(default_factory=_default_bands)
    ack_timeout_s: Annotated[float, Field(gt=0.0)] = 900.0
    repeat_s: Annotated[float, Field(gt=0.0)] = 900.0
    tiers: tuple[Tier, ...] = (Tier(name="on-call"), Tier(name="supervisor"), Tier(name="manager"))
    work_order_min_severity: Severity = Severity.MINOR
    # One open risk alert per asset: while one is open, records that name another failure mode
    # count towards it (the model's diagnosis may waver; the crew should be sent once).
    one_alert_per_asset: bool = False

    @model_validator(mode="after")
    def _hysteresis(self) -> RuleConfig:
        if self.clear_threshold >= self.open_threshold:
            raise ValueError(
                f"clear_threshold ({self.clear_threshold}) must be below open_threshold "
                f"({self.open_threshold}): that gap is the hysteresis"
            )
        if not self.tiers:
            raise ValueError("tiers must name at least one escalation tier")
        return self


class RuleConfigError(ValueError):
    """The rules file is missing, not TOML, or has a bad value (the message says which)."""


def load_rules(path: Path) -> RuleConfig:
    """Read and validate a TOML rules file; raise RuleConfigError naming the problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RuleConfigError(f"rules file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleConfigError(f"rules file {path} is not valid TOML: {exc}") from None
    try:
        return RuleConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '?'}: {e['msg']}" for e in exc.errors())
        raise RuleConfigError(f"rules file {path}: {problems}") from None
