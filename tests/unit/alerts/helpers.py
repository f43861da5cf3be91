"""Builders for risk records and rule runs shared by the alert unit tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from alerts.config import RuleConfig
from alerts.rules import EngineState, evaluate
from alerts.state import AlertChange
from forewarn.contracts.risk import RiskRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def risk(
    t_s: float,
    value: float,
    *,
    asset: str = "pump-1",
    mode: str = "bearing",
    rul: float | None = None,
    version: str = "3",
) -> RiskRecord:
    """A risk record of ``asset`` at event time T0 + ``t_s``."""
    return RiskRecord.model_validate(
        {
            "schema": 1,
            "asset_id": asset,
            "site": "site-1",
            "event_ts": at(t_s),
            "risk": value,
            "rul_cycles": rul,
            "horizon_cycles": 30,
            "model_name": "rul-gbm",
            "model_version": version,
            "model_alias": "champion",
            "failure_mode": mode,
            "top_features": [{"name": "vib_rms", "contribution": 0.4}],
        }
    )


def run(
    records: Iterable[RiskRecord], rules: RuleConfig, state: EngineState | None = None
) -> tuple[EngineState, list[AlertChange]]:
    """Evaluate records in order; processing time equals each record's event time."""
    state = state or EngineState()
    changes: list[AlertChange] = []
    for record in records:
        result = evaluate(state, record, record.event_ts, rules)
        state = result.state
        changes.extend(result.changes)
    return state, changes


def series(values: list[float], step_s: float = 60, start_s: float = 0, **kw: object) -> list[RiskRecord]:
    """One record per value, ``step_s`` apart."""
    return [risk(start_s + i * step_s, v, **kw) for i, v in enumerate(values)]  # type: ignore[arg-type]
