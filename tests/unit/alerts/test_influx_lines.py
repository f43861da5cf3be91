"""Line protocol of alert changes and KPI snapshots: bounded tags, escaped values, ms times."""

from __future__ import annotations

import pytest

from alerts.config import RuleConfig
from alerts.influx import alert_lines, kpi_lines, line
from alerts.kpis import compute
from tests.unit.alerts.helpers import at, run, series


def test_line_escapes_tags_and_strings() -> None:
    point = line("alerts", {"site": "site 1,a=b", "x": None}, {"note": 'say "hi"', "n": 3, "r": 0.5}, at(1))
    assert point == 'alerts,site=site\\ 1\\,a\\=b n=3i,note="say \\"hi\\"",r=0.5 1767225601000'


def test_point_without_fields_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one field"):
        line("alerts", {"site": "s"}, {"a": None}, at(0))


def test_alert_lines_keep_ids_out_of_tags() -> None:
    _, changes = run(series([0.96] * 4), RuleConfig(persistence_s=0, stale_after_s=None))
    (point,) = alert_lines(changes)
    tags = point.split(" ")[0]
    assert tags.startswith("alerts,")
    assert "alert_id" not in tags
    assert "severity=CRITICAL" in tags
    assert f'alert_id="{changes[0].alert.alert_id}"' in point


def test_kpi_lines_skip_missing_values() -> None:
    (point,) = kpi_lines(compute([], alerts_open=3, schedule_ok=0, schedule_short=0), at(0))
    assert "alerts_open=3i" in point
    assert "mtbf_h" not in point
