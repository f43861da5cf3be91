"""The bulk point builders write exactly what ``Measurement.point`` writes: the ``telemetry`` point of
a canonical reading (every value a finite float) and the scoring job's ``risk`` point."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.contracts.influx_schema import (
    RISK,
    TELEMETRY,
    PointCache,
    _general_telemetry_point,
    telemetry_lines_bulk,
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


def _numbers(line: str, head: str, prefixes: tuple[str, ...]) -> tuple[list[float], str]:
    """A telemetry line cut at its known measurement and tags (``head``) and field prefixes: each
    field's number, and the text after them (``seq`` and the time)."""
    assert line.startswith(head + " ")
    rest = line[len(head) + 1 :]
    found: list[float] = []
    at = 0
    for k, prefix in enumerate(prefixes):
        assert rest.startswith(("," if k else "") + prefix, at), (rest, prefix, at)
        at += len(prefix) + (1 if k else 0)
        end = rest.index(",", at)
        found.append(float(rest[at:end]))
        at = end
    return found, rest[at:]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), settings_=st.lists(names, max_size=6, unique=True),
       sensors=st.lists(names, min_size=1, max_size=30, unique=True), n=st.integers(1, 6))  # fmt: skip
def test_the_batch_telemetry_points_carry_the_general_ones_numbers(
    data: st.DataObject, settings_: list[str], sensors: list[str], n: int
) -> None:
    """Same measurement, tags, field names, order, seq and time as the general point, character for
    character; each number the same double (orjson's text, not repr's: ``1e-7`` for ``1e-07``)."""
    rows = [data.draw(st.lists(floats, min_size=len(settings_) + len(sensors),
                               max_size=len(settings_) + len(sensors))) for _ in range(n)]  # fmt: skip
    site = [data.draw(names) for _ in range(n)]
    asset = [data.draw(names) for _ in range(n)]
    ts = [data.draw(st.integers(0, 2**42)) for _ in range(n)]
    seq = [data.draw(st.integers(0, 2**62)) for _ in range(n)]
    got = telemetry_lines_bulk(site, asset, ts, seq, tuple(settings_), tuple(sensors), rows)
    prefixes = PointCache(TELEMETRY).fields(
        (*(f"setting.{k}" for k in settings_), *(f"sensor.{k}" for k in sensors))
    )
    assert len(got) == n
    for i, line in enumerate(got):
        s = dict(zip(settings_, rows[i][: len(settings_)], strict=True))
        x = dict(zip(sensors, rows[i][len(settings_) :], strict=True))
        expected = _general_telemetry_point(site[i], asset[i], ts[i], seq[i], s, x)
        assert expected is not None
        head = PointCache(TELEMETRY).tags({"site": site[i], "asset_id": asset[i]})
        numbers, tail = _numbers(line, head, prefixes)
        want_numbers, want_tail = _numbers(expected, head, prefixes)
        assert tail == want_tail
        assert [(v, math.copysign(1.0, v)) for v in numbers] == [(v, math.copysign(1.0, v)) for v in rows[i]]
        assert want_numbers == numbers


def test_the_batch_telemetry_points_refuse_what_they_cannot_write() -> None:
    with pytest.raises(ValueError, match="finite floats"):
        telemetry_lines_bulk(["s"], ["a"], [1], [1], (), ("x",), [[math.nan]])
    with pytest.raises(ValueError, match="finite floats"):
        telemetry_lines_bulk(["s"], ["a"], [1], [1], (), ("x", "y"), [[1.0]])
    assert telemetry_lines_bulk([], [], [], [], (), ("x",), []) == []
