"""The fleet, KPI and asset pages' shaping: pure functions over InfluxDB series and store facts.

The same pages run against the real InfluxDB in tests/integration/alerts/test_console_influx.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.console import asset_view as av
from alerts.console import fleet_view as fv
from alerts.console import kpi_view as kv
from alerts.console.timeseries import WindowError
from alerts.kpis import WorkOrderFacts, compute
from forewarn.influx import Series

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
MS = int(NOW.timestamp() * 1000)
SEVERITIES = ("CRITICAL", "MAJOR", "MINOR", "WARNING")


# -- fleet ----------------------------------------------------------------------------------------


def _risk_series(
    asset: str, site: str, mode: str, risk: float | None, rul: float | None, ms: int = MS
) -> Series:
    tags = {"asset_id": asset, "site": site, "failure_mode": mode}
    columns = ("time", "risk", "rul_cycles", "model_name", "model_version")
    return Series("risk", tags, columns, ((ms, risk, rul, "pumps", "3"),))


def test_latest_takes_the_riskiest_mode_and_the_lowest_rul() -> None:
    latest = fv.latest_by_asset(
        [
            _risk_series("p1", "s1", "bearing", 0.3, 12.0, MS - 1000),
            _risk_series("p1", "s1", "seal", 0.8, 40.0),
            _risk_series("p2", "s2", "seal", None, 5.0),
        ]
    )
    assert latest["p1"] == fv.Latest("s1", 0.8, "seal", 12.0, "pumps v3", MS)
    assert latest["p2"].risk is None
    assert latest["p2"].rul == 5.0


assets = st.text(alphabet="abc<>&\"'/ 1", min_size=1, max_size=6)
sites = st.sampled_from(["s1", "s2", "<b>s3</b>"])
scores = st.dictionaries(
    assets, st.tuples(sites, st.none() | st.floats(0, 1), st.none() | st.floats(0, 500)), max_size=60
)
alert_counts = st.lists(st.tuples(assets, sites, st.sampled_from(SEVERITIES), st.integers(1, 5)), max_size=60)
order_counts = st.lists(st.tuples(assets, sites, st.integers(1, 4), st.integers(0, 1)), max_size=60)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60)
@given(scores, alert_counts, order_counts)
def test_rank_lists_each_asset_once_riskiest_first_and_sites_add_up(
    scored: dict[str, tuple[str, float | None, float | None]],
    alerts: list[tuple[str, str, str, int]],
    orders: list[tuple[str, str, int, int]],
) -> None:
    latest = {a: fv.Latest(site, risk, "m", rul, "x v1", MS) for a, (site, risk, rul) in scored.items()}
    work = fv.open_work(alerts, orders)
    rows = fv.rank(latest, work)
    assert sorted(r.asset_id for r in rows) == sorted(set(latest) | set(work))
    risks = [r.risk for r in rows]
    known = [r for r in risks if r is not None]
    assert known == sorted(known, reverse=True)
    assert risks[len(known) :] == [None] * (len(risks) - len(known))  # unscored last
    summaries = fv.summarize(rows)
    assert sum(s.assets for s in summaries) == len(rows)
    assert sum(s.open_alerts for s in summaries) == sum(n for *_, n in alerts)
    assert sum(s.work_orders for s in summaries) == sum(n for _, _, n, _ in orders)
    for s in summaries:
        mine = [r for r in rows if (r.site or "?") == s.site]
        scored_here = [r.risk for r in mine if r.risk is not None]
        assert s.max_risk == (max(scored_here) if scored_here else None)


def test_open_work_names_the_worst_severity() -> None:
    work = fv.open_work([("p1", "s1", "MINOR", 2), ("p1", "s1", "MAJOR", 1)], [("p2", "s2", 3, 1)])
    assert work["p1"].worst == "MAJOR"
    assert work["p1"].open_alerts == 3
    assert work["p2"] == fv.OpenWork("s2", {}, 3, 1)
    assert [r.asset_id for r in fv.rank({}, work)] == ["p1", "p2"]  # unscored: most open alerts first


# -- KPIs -----------------------------------------------------------------------------------------


def _facts(
    asset: str, day: int, *, fault: bool | None = True, version: str = "3", on_site_min: float | None = 90
) -> WorkOrderFacts:
    created = NOW - timedelta(days=day)
    return WorkOrderFacts(
        asset_id=asset, failure_mode="seal", status="completed", created_at=created,
        alert_raised_at=created - timedelta(minutes=10), on_site_at=created + timedelta(hours=2),
        completed_at=created + timedelta(hours=3), fault_found=fault, model_version=version, from_alert=True,
        time_on_site_min=on_site_min,
    )  # fmt: skip


PERIOD = kv.Period(NOW - timedelta(days=30), NOW)
ROWS = [
    kv.SiteFacts("s1", _facts("p1", 2)),
    kv.SiteFacts("s1", _facts("p1", 20, fault=False, version="2")),
    kv.SiteFacts("s2", _facts("p9", 5, on_site_min=30)),
    kv.SiteFacts("s2", _facts("p9", 45)),  # before the period
]


def test_site_kpis_compute_each_site_on_its_own_period_facts_and_the_fleet_on_all() -> None:
    alerts_open = {"s1": 2, "s3": 1}
    attempts = {("s1", "schedule"): 3, ("s1", "waiting_parts"): 1, ("s2", "schedule"): 2}
    out = kv.site_kpis(ROWS, PERIOD, alerts_open=alerts_open, attempts=attempts)
    assert [k.site for k in out] == ["s1", "s2", "s3", kv.ALL_SITES]
    s1, s2, s3, fleet = (k.kpis for k in out)
    assert s1 == compute([ROWS[0].facts, ROWS[1].facts], alerts_open=2, schedule_ok=3, schedule_short=1)
    assert s2 == compute([ROWS[2].facts], alerts_open=0, schedule_ok=2, schedule_short=0)
    assert s2.mttr_h == pytest.approx(0.5)  # the reported 30 min on site
    assert s3.work_orders_total == 0
    assert s3.alerts_open == 1
    assert fleet == compute([r.facts for r in ROWS[:3]], alerts_open=3, schedule_ok=5, schedule_short=1)
    assert {p.model_version: p.false_alarm_rate for p in s1.precision_by_model_version} == {
        "2": 1.0,
        "3": 0.0,
    }


def test_site_kpis_of_one_site_leave_the_others_and_the_total_out() -> None:
    out = kv.site_kpis(ROWS, PERIOD, alerts_open={"s1": 2}, attempts={}, site="s2")
    assert [k.site for k in out] == ["s2"]
    assert out[0].kpis.work_orders_total == 1


@given(st.lists(st.tuples(st.sampled_from(["s1", "s2", "s3"]), st.integers(0, 60)), max_size=80))
def test_every_period_fact_counts_once_per_site_and_once_in_the_total(picks: list[tuple[str, int]]) -> None:
    rows = [kv.SiteFacts(site, _facts(f"p{i}", day)) for i, (site, day) in enumerate(picks)]
    out = kv.site_kpis(rows, PERIOD, alerts_open={}, attempts={})
    inside = [r for r in rows if PERIOD.contains(r.facts.created_at)]
    assert out[-1].site == kv.ALL_SITES
    assert out[-1].kpis.work_orders_total == len(inside)
    assert sum(k.kpis.work_orders_total for k in out[:-1]) == len(inside)


def test_parse_period() -> None:
    assert kv.parse_period("", "", NOW) == kv.Period(NOW - timedelta(days=30), NOW)
    assert kv.parse_period("2026-01-01", "2026-01-31", NOW) == kv.Period(
        datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    )
    for since, until in (("2026-02-01", "2026-01-01"), ("2010-01-01", "2026-01-01"), ("yesterday", "")):
        with pytest.raises(WindowError):
            kv.parse_period(since, until, NOW)


def test_durations_and_shares_read_as_an_operator_reads_them() -> None:
    assert [kv.duration_text(s) for s in (None, 45, 600, 9000, 3 * 86400)] == [
        "-",
        "45 s",
        "10 min",
        "2.5 h",
        "3.0 d",
    ]
    assert kv.share_text(0.875) == "88 %"


# -- the asset page -------------------------------------------------------------------------------


def _model(version: str, column: str, ms: int, value: float) -> Series:
    return Series("risk", {"model_name": "pumps", "model_version": version}, ("time", column), ((ms, value),))


def _now_score(mode: str, risk: float, rul: float) -> Series:
    columns = ("time", "risk_now", "rul_cycles", "model_name", "model_version")
    return Series("risk", {"site": "s1", "failure_mode": mode}, columns, ((MS, risk, rul, "pumps", "3"),))


def _asset_answer() -> list[Series]:
    """What InfluxDB answers :func:`asset_view.statements` for an asset scored by two versions."""
    score_columns = ("time", "risk", "rul_cycles")
    sensors = ("temp_c", "flat", "vib")
    return [
        Series("risk", {"model_name": "pumps", "model_version": "2", "failure_mode": "seal"}, score_columns,
               ((MS - 120_000, 0.2, 50), (MS - 60_000, 0.3, 45))),
        Series("risk", {"model_name": "pumps", "model_version": "3", "failure_mode": "seal"}, score_columns,
               ((MS, 0.6, 30),)),
        Series("telemetry", {}, ("time", *(f"mean_sensor.{n}" for n in sensors)),
               ((MS - 120_000, 40.0, 1.0, 2.0), (MS - 60_000, 41.0, 1.0, None), (MS, 43.0, 1.0, 2.5))),
        _model("2", "scores", 0, 2), _model("3", "scores", 0, 1),
        _model("2", "first", MS - 120_000, 0.2), _model("3", "first", MS, 0.6),
        _model("2", "last", MS - 60_000, 0.3), _model("3", "last", MS, 0.6),
        Series("telemetry", {"site": "s1"}, ("time", *(f"last_sensor.{n}" for n in sensors)),
               ((0, 43.0, 1.0, 2.5),)),
        Series("telemetry", {"site": "s1"}, ("time", "last_reading"), ((MS, 7),)),
        _now_score("seal", 0.6, 30), _now_score("bearing", 0.7, 80),
    ]  # fmt: skip


def test_shape_reads_every_statement_of_the_asset_request() -> None:
    found = av.shape(_asset_answer())
    assert found.seen
    assert found.site == "s1"
    risk, rul = found.score_charts
    assert [s["label"] for s in risk["series"]] == ["pumps v2 · seal", "pumps v3 · seal"]
    assert risk["x"] == [(MS - 120_000) // 1000, (MS - 60_000) // 1000, MS // 1000]
    assert risk["series"][1]["values"] == [None, None, 0.6]
    assert rul["series"][0]["values"] == [50.0, 45.0, None]
    assert [c["title"] for c in found.sensor_charts] == ["temp_c", "vib"]  # flat is left out
    assert [(s.name, s.value, s.charted) for s in found.sensors] == [
        ("flat", "1", False), ("temp_c", "43", True), ("vib", "2.5", True)
    ]  # fmt: skip
    assert [(s.failure_mode, s.risk, s.rul, s.model) for s in found.scores_now] == [
        ("bearing", "0.70", "80", "pumps v3"), ("seal", "0.60", "30", "pumps v3")
    ]  # fmt: skip
    assert [(m.model, m.scores) for m in found.models] == [("pumps v2", 2), ("pumps v3", 1)]
    assert found.models[1].first == found.models[1].last == "2026-03-01T12:00Z"
    assert found.last_reading == "2026-03-01T12:00Z"


def test_an_asset_influxdb_never_saw_is_not_seen() -> None:
    assert av.shape([]) == av.AssetInflux()
    assert not av.shape([]).seen
    assert av.statements(60).count("SELECT") == 8
