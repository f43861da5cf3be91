"""KPIs from plain facts and from the store; labels exported through the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerts.cli import labels_app
from alerts.kpis import WorkOrderFacts, compute
from alerts.labels import label_for
from alerts.store.tables import WorkOrderRow
from forewarn.contracts.labels import NO_FAILURE, Label, LabelSource
from tests.unit.alerts import api_scenarios as sc
from tests.unit.alerts.conftest import Api
from tests.unit.alerts.helpers import at

H = 3600.0


def wo(
    asset: str,
    created_h: float,
    *,
    mode: str = "bearing",
    found: bool | None = None,
    on_site_h: float | None = None,
    done_h: float | None = None,
    alert_h: float | None = None,
    version: str | None = "3",
) -> WorkOrderFacts:
    def t(h: float | None):  # type: ignore[no-untyped-def]
        return None if h is None else at(h * H)

    return WorkOrderFacts(
        asset_id=asset,
        failure_mode=mode,
        status="closed" if done_h is not None else "requested",
        created_at=at(created_h * H),
        alert_raised_at=t(alert_h),
        on_site_at=t(on_site_h),
        completed_at=t(done_h),
        fault_found=found,
        model_version=version,
        from_alert=alert_h is not None,
    )


def test_kpis_from_facts() -> None:
    facts = [
        # pump-1: two confirmed failures 100 h apart; the second came back within 30 days
        wo("pump-1", 0, found=True, on_site_h=2, done_h=4, alert_h=-1),
        wo("pump-1", 100, found=True, on_site_h=101, done_h=104, alert_h=99.5),
        wo("pump-1", 904, alert_h=903),  # 800 h (> 30 days) after the second fix: that fix held
        # pump-2: a false alarm of model version 4
        wo("pump-2", 10, found=False, on_site_h=12, done_h=13, alert_h=9, version="4"),
    ]
    k = compute(facts, alerts_open=2, schedule_ok=3, schedule_short=1)
    assert k.work_orders_total == 4
    assert k.work_orders_open == 1
    assert k.mtbf_h == pytest.approx(100.0)
    assert k.mttr_h == pytest.approx((2 + 3) / 2)
    assert k.first_time_fix_rate == pytest.approx(
        0.5
    )  # the first fix of pump-1 held 96 h? no: revisit at 100 h
    assert k.alert_to_work_order_s == pytest.approx((1 + 0.5 + 1 + 1) / 4 * H)
    assert k.work_order_to_on_site_s == pytest.approx((2 + 1 + 2) / 3 * H)
    assert k.alert_to_on_site_s == pytest.approx((3 + 1.5 + 3) / 3 * H)
    assert [(p.model_version, p.alerts_with_outcome, p.precision) for p in k.precision_by_model_version] == [
        ("3", 2, 1.0),
        ("4", 1, 0.0),
    ]
    assert k.precision_by_model_version[1].false_alarm_rate == 1.0
    assert k.parts_availability == pytest.approx(0.75)


def test_kpis_empty_store_are_none_not_zero() -> None:
    k = compute([], alerts_open=0, schedule_ok=0, schedule_short=0)
    assert (k.mtbf_h, k.mttr_h, k.first_time_fix_rate, k.parts_availability) == (None, None, None, None)


def _complete(api: Api, *, asset: str, found: bool, at_s: float) -> int:
    c = api.client
    wo_id = sc.raise_alert(api.sessions, asset=asset, raised_s=at_s).alert.work_order_id
    assert wo_id is not None
    api.clock.set(at(at_s + 60))
    for action in ("approve", "schedule", "start"):
        sc.post(c, f"/work-orders/{wo_id}/{action}", {})
    api.clock.set(at(at_s + 3600))
    body = {"fault_found": found, "failure_code": "BRG-1" if found else None, "notes": "n"}
    sc.post(c, f"/work-orders/{wo_id}/complete", body)
    sc.post(c, f"/work-orders/{wo_id}/close", {})
    return wo_id


def test_kpis_endpoint_and_labels_export(sqlite_api: Api, tmp_path: Path) -> None:
    sc.seed_crew_and_parts(sqlite_api.client, stock=20)
    _complete(sqlite_api, asset="pump-1", found=True, at_s=0)
    _complete(sqlite_api, asset="pump-2", found=False, at_s=10_000)
    sc.raise_alert(sqlite_api.sessions, asset="pump-3", raised_s=20_000)  # still open: no label
    k = sc.get(sqlite_api.client, "/kpis")
    assert k["work_orders_total"] == 3
    assert k["work_orders_open"] == 1
    assert k["precision_by_model_version"] == [
        {
            "model_version": "3",
            "alerts_with_outcome": 2,
            "faults_found": 1,
            "precision": 0.5,
            "false_alarm_rate": 0.5,
        }
    ]
    assert k["mttr_h"] == pytest.approx((3600 - 60) / 3600)
    assert k["alert_to_work_order_s"] == 0.0
    assert k["work_order_to_on_site_s"] == 60.0
    assert k["parts_availability"] == 1.0

    url = str(sqlite_api.client.app.state.engine.url)  # type: ignore[attr-defined]
    out = tmp_path / "labels.csv"
    result = CliRunner().invoke(labels_app, ["export", "--out", str(out), "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "wrote 2 labels (1 faults, 1 false alarms)" in result.output
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert rows == [
        {
            "asset_id": "pump-1",
            "ts": "2026-01-01T00:01:00+00:00",
            "failure_mode": "BRG-1",  # the crew's code, not the alert's guess ("bearing")
            "source": "work_order",
        },
        {
            "asset_id": "pump-2",
            "ts": "2026-01-01T02:47:40+00:00",
            "failure_mode": "none",
            "source": "false_alarm",
        },
    ]
    parquet = tmp_path / "labels.parquet"
    result = CliRunner().invoke(labels_app, ["export", "--out", str(parquet), "--database-url", url])
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    assert pq.read_table(parquet).column_names == ["asset_id", "ts", "failure_mode", "source"]


def test_a_fault_label_carries_when_it_happened_and_the_crews_code() -> None:
    def row(**outcome: object) -> WorkOrderRow:
        base: dict[str, object] = {
            "asset_id": "pump-1", "failure_mode": "bearing", "status": "closed",
            "on_site_at": at(5 * H), "completed_at": at(6 * H),
        }  # fmt: skip
        return WorkOrderRow(**{**base, **outcome})

    failed = row(fault_found=True, failure_code="seal_leak", failed_at=at(2 * H))
    assert label_for(failed) == Label(
        asset_id="pump-1", ts=at(2 * H), failure_mode="seal_leak", source=LabelSource.WORK_ORDER
    )
    guessed = label_for(row(fault_found=True, failure_code=None))  # no code, no time: the alert's, on site
    assert guessed is not None
    assert (guessed.ts, guessed.failure_mode) == (at(5 * H), "bearing")
    late = label_for(row(fault_found=True, failure_code="seal_leak", on_site_at=None))
    assert late is not None
    assert late.ts == at(6 * H)  # nobody recorded the visit's start: the completion
    sound = label_for(row(fault_found=False))
    assert sound == Label(
        asset_id="pump-1", ts=at(5 * H), failure_mode=NO_FAILURE, source=LabelSource.FALSE_ALARM
    )
    assert label_for(row(status="in_progress", fault_found=None, completed_at=None)) is None  # no outcome yet
