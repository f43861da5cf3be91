"""The bulk point builders write exactly what ``Measurement.point`` writes: the ``telemetry`` point of
a canonical reading (every value a finite float) and the scoring job's ``risk`` point."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.contracts.influx_schema import (
    RISK,
    PointCache,
    _general_telemetry_point,
    telemetry_lines_fast,
    telemetry_point,
)
from forewarn.contracts.telemetry import name_problem
from streaming.step import RISK_POINT_FIELDS, risk_line

names = st.text(min_size=1, max_size=20).filter(lambda n: name_problem(n) is None)
floats = st.floats(allow_nan=False, allow_infinity=False)
values = st.dictionaries(names, floats, max_size=8)


@settings(max_examples=300, deadline=None)
@given(site=names, asset=names, ts=st.integers(0, 2**42), seq=st.integers(0, 2**62), settings_=values,
       sensors=st.dictionaries(names, floats, min_size=1, max_size=30))  # fmt: skip
def test_the_bulk_telemetry_point_is_the_general_one(
    site: str, asset: str, ts: int, seq: int, settings_: dict[str, float], sensors: dict[str, float]
) -> None:
    expected = _general_telemetry_point(site, asset, ts, seq, settings_, sensors)
    assert telemetry_lines_fast(site, asset, ts, seq, settings_, sensors) == expected
    assert telemetry_point(site, asset, ts, seq, settings_, sensors) == expected


@settings(max_examples=300, deadline=None)
@given(site=names, asset=names, model=names, version=names, alias=st.sampled_from(["", "champion"]),
       mode=names, risk=st.floats(0, 1), rul=st.floats(0, 1e4), horizon=st.floats(1, 1e3),
       seq=st.integers(0, 2**62), ts=st.integers(0, 2**42))  # fmt: skip
def test_the_step_s_risk_point_is_the_general_one(
    site: str, asset: str, model: str, version: str, alias: str, mode: str,
    risk: float, rul: float, horizon: float, seq: int, ts: int,
) -> None:  # fmt: skip
    tags = {"site": site, "asset_id": asset, "model_name": model, "model_version": version,
            "model_alias": alias, "failure_mode": mode}  # fmt: skip
    fields = dict(zip(RISK_POINT_FIELDS, (risk, rul, horizon, seq), strict=True))
    cache = PointCache(RISK)
    cache.fields(RISK_POINT_FIELDS)
    assert risk_line(cache.tags(tags), risk, rul, horizon, seq, ts) == RISK.point(tags, fields, ts)


def test_an_undeclared_name_is_refused_once_and_for_all() -> None:
    cache = PointCache(RISK)
    with pytest.raises(ValueError, match="does not declare"):
        cache.fields(("risk", "no_such_field"))
    with pytest.raises(ValueError, match="does not declare"):
        cache.tags({"site": "s", "no_such_tag": "x"})
