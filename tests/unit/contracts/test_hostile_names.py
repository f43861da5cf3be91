"""Hostile input against both halves of the telemetry contract: the gateway's input rules
(``ingest.contract.decode``) never raise, the scoring job's decoder (``decode_run``) raises only
``ValueError``, and whatever the gateway forwards the job decodes (they agree on names, values, time)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forewarn.contracts.dead_letter import GatewayReason
from forewarn.contracts.telemetry import MAX_NAME_CHARS, decode_run, encode_run, name_problem
from ingest.contract import ContractPolicy, decode, telemetry_topic
from tests import hostile

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
POLICY = ContractPolicy()


@pytest.mark.parametrize(
    "name",
    ["sensor_11", "time", "_x", "back\\slash", '"q"', "a=b", "a,b", " ", "sensor.x", "🔥", "👩\u200d🔧", "é",
     "#c", "x" * MAX_NAME_CHARS],
)  # fmt: skip
def test_names_a_store_can_hold_pass(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "1..128 characters"),
        ("x" * (MAX_NAME_CHARS + 1), "1..128 characters"),
        ("a\nb", "U+000A"),
        ("a\r", "U+000D"),
        ("\x00", "U+0000"),
        ("\t", "U+0009"),
        ("del\x7f", "U+007F"),
        ("nel\x85", "U+0085"),
        ("\u2028", "U+2028"),
        ("\u2029", "U+2029"),
        ("\ufdd0", "U+FDD0"),
        ("\ufffe", "U+FFFE"),
        ("\U0010ffff", "U+10FFFF"),
        ("\ud800", "U+D800"),
        ("ends\\", "backslash"),
        ("\\", "backslash"),
    ],
)
def test_names_no_store_can_hold_are_refused_saying_why(name: str, why: str) -> None:
    problem = name_problem(name)
    assert problem is not None
    assert why in problem


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    asset=st.one_of(st.just("pump-7"), hostile.names),
    batch=st.data(),
    as_array=st.booleans(),
)
def test_the_gateway_never_raises_and_forwards_only_what_the_job_decodes(
    asset: str, batch: st.DataObject, as_array: bool
) -> None:
    elements = batch.draw(st.lists(hostile.readings(asset, NOW_MS), min_size=1, max_size=4))
    document: Any = elements if as_array or len(elements) > 1 else elements[0]
    payload = hostile.dumps(document)
    result = decode(payload, telemetry_topic("site-1", asset), NOW, POLICY)

    whole = [d for d in result.dead_letters if d.index is None]
    if whole:  # the message as a whole: one letter, nothing forwarded
        assert (len(whole), result.readings) == (1, [])
    else:
        assert len(result.readings) + len(result.dead_letters) == len(elements)
        assert len({d.index for d in result.dead_letters}) == len(result.dead_letters)
    assert all(isinstance(d.reason, GatewayReason) and d.detail for d in result.dead_letters)
    assert all("\n" not in d.detail for d in result.dead_letters), "a detail is one log line"
    if result.readings:
        assert decode_run(encode_run(result.readings)) == result.readings


@settings(max_examples=300, deadline=None)
@given(
    st.lists(hostile.readings("pump-7", NOW_MS), min_size=1, max_size=3), st.sampled_from(["site-1", "s\n"])
)
def test_decode_run_raises_only_value_error_on_hostile_runs(
    elements: list[dict[str, Any]], site: str
) -> None:
    value = hostile.dumps([{**element, "site": site} for element in elements])
    try:
        readings = decode_run(value)
    except ValueError as exc:
        why = str(exc)
        assert why.startswith("not a canonical telemetry value"), why
        return
    for reading in readings:  # what passes is storable: names, finite values, a time InfluxDB holds
        names = [reading.asset_id, reading.site, *reading.settings, *reading.sensors]
        assert all(name_problem(name) is None for name in names)
        assert all(isinstance(v, float) for v in [*reading.settings.values(), *reading.sensors.values()])


@pytest.mark.parametrize(
    ("element", "reason"),
    [
        ({"sensors": {"a\nb": 1.0}}, GatewayReason.BAD_NAME),
        ({"settings": {"": 1.0}}, GatewayReason.BAD_NAME),
        ({"sensors": {"x": 10**400}}, GatewayReason.NON_FINITE),
        ({"sensors": {"x": float("nan")}}, GatewayReason.NON_FINITE),
        ({"sensors": {"x": True}}, GatewayReason.WRONG_TYPE),
        ({"sensors": {"x": {"y": 1}}}, GatewayReason.WRONG_TYPE),
        ({"ts": 9_223_372_036_855}, GatewayReason.BAD_TIMESTAMP),
    ],
)
def test_the_seed_cases_get_their_reasons(element: dict[str, Any], reason: GatewayReason) -> None:
    document = {**hostile.scorable(1, NOW_MS - 1000), "asset_id": "pump-7", **element}
    result = decode(hostile.dumps(document), telemetry_topic("site-1", "pump-7"), NOW, POLICY)
    assert [d.reason for d in result.dead_letters] == [reason]


def test_dumps_writes_what_orjson_will_not() -> None:
    assert hostile.dumps({"a": [float("nan"), float("-inf"), 10**400, -0.0]}) == (
        b'{"a":[NaN,-Infinity,1' + b"0" * 400 + b",-0.0]}"
    )
    assert orjson.loads(hostile.dumps({"k\n": [1, 2.5, None, True, "s"]})) == {
        "k\n": [1, 2.5, None, True, "s"]
    }
