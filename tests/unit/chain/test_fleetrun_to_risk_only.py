"""``FleetRun(alerting=False)`` (``python -m bench.chain --to-risk-only``): only the processes a
reading passes through up to ``risk``; nothing waits on, reads from or acts through the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chain import fleetrun
from chain.fleetrun import FleetRun
from chain.ledger import Published
from chain.plan import plan
from chain.settings import DemoSettings


class _NoApi:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the work-order API was used ({name}) in a run without it")


def _run(tmp_path: Path, alerting: bool) -> FleetRun:
    return FleetRun(plan(tmp_path, DemoSettings(), "unit-run", "unit_db", "unit-model"), alerting=alerting)


def test_the_whole_product_runs_by_default_and_only_the_path_to_risk_without_alerting(tmp_path: Path) -> None:
    whole = [c.name for c in _run(tmp_path, True).components()]
    assert whole == ["api", "engine", "stream", "gateway", "watch"]
    assert [c.name for c in _run(tmp_path, False).components()] == ["stream", "gateway"]


def test_without_alerting_nothing_waits_for_the_engine_or_calls_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_engine(*_: Any) -> int:
        raise AssertionError("waited for the alert engine's consumer group in a run without it")

    monkeypatch.setattr(fleetrun, "group_lag", no_engine)
    run = _run(tmp_path, False)
    run.api = _NoApi()  # type: ignore[assignment]
    run.poll()
    verdict = run.settle(Published(frozenset(), 0, 0), timeout_s=5, every_s=0)
    assert verdict.ok, verdict.failures
    assert run.dispatched == {}

    with_engine = _run(tmp_path, True)
    with_engine.api = _NoApi()  # type: ignore[assignment]
    with pytest.raises(AssertionError, match="work-order API"):
        with_engine.poll()  # the whole product's run dispatches through the API
