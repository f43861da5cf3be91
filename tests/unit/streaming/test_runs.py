"""``streaming.runs.read_records`` (the scoring job's parser, with its fast path) agrees with the
telemetry contract's own decoder, record by record, on anything a producer could write: it never
accepts what ``decode_run`` refuses (or a record whose key is not its asset), gives the readings
``decode_run`` gives when it accepts, and never raises."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forewarn.contracts.telemetry import MAX_INT64, MAX_TS_MS, Reading, decode_run, encode_run
from streaming.runs import Readings, read_records
from tests import hostile

ASSETS = ("pump-1", "pump-2", "engine 3", "🔥-4")
SITES = ("site-1", "site-2")
SETTINGS = ("load", "speed")
SENSORS = ("vib", "temp", "flow")


@dataclass(frozen=True)
class Expected:
    """What the contract makes of one record: its readings, or None when it refuses it."""

    readings: list[tuple[str, str, int, int, dict[str, float], dict[str, float]]] | None


def contract(key: str | None, value: bytes | None) -> Expected:
    """The contract's verdict: ``decode_run``, and the record's key must be its readings' asset."""
    if value is None:
        return Expected(None)
    try:
        readings = decode_run(value)
    except ValueError:
        return Expected(None)
    if readings[0].asset_id != key:
        return Expected(None)
    return Expected(
        [(r.asset_id, r.site, r.ts_ms, r.seq, dict(r.settings), dict(r.sensors)) for r in readings]
    )


def by_record(
    out: Readings, records: int
) -> list[list[tuple[str, str, int, int, dict[str, float], dict[str, float]]]]:
    got: list[list[Any]] = [[] for _ in range(records)]
    for i in range(len(out)):
        got[out.record[i]].append(
            (out.asset[i], out.site[i], out.ts[i], out.seq[i], out.settings[i], out.sensors[i])
        )
    return got


def check(keys: list[str | None], values: list[bytes | None]) -> None:
    """``read_records`` twice (the fast path's caches warm up on the first call): both times what
    the contract says, record by record, with values of type float exactly as it reads them."""
    expected = [contract(k, v) for k, v in zip(keys, values, strict=True)]
    for _ in range(2):
        out, refused = read_records(keys, values)
        assert [r.record for r in refused] == [i for i, e in enumerate(expected) if e.readings is None]
        assert all(r.detail for r in refused)
        got = by_record(out, len(values))
        for i, (want, have) in enumerate(zip(expected, got, strict=True)):
            assert have == (want.readings or []), (i, keys[i], values[i])
        assert all(type(v) is float for m in (*out.settings, *out.sensors) for v in m.values())
        assert out.record == sorted(out.record), "readings in record order"


# -- what producers write ------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def good_reading(draw: st.DrawFn, asset: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "schema": 1,
        "asset_id": asset,
        "site": draw(st.sampled_from(SITES)),
        "ts": draw(st.integers(0, MAX_TS_MS)),
        "seq": draw(st.integers(0, MAX_INT64)),
    }
    if draw(st.booleans()):
        item["settings"] = {
            name: draw(finite) for name in draw(st.sampled_from([SETTINGS, (), SETTINGS[:1]]))
        }
    item["sensors"] = {name: draw(finite) for name in draw(st.sampled_from([SENSORS, SENSORS[:2], ("vib",)]))}
    return item


BAD_INTEGERS = (-1, MAX_TS_MS + 1, MAX_INT64, MAX_INT64 + 1, 2**64, 10**30, 10**400, -(10**400))
oddities = st.one_of(
    st.sampled_from(BAD_INTEGERS),
    st.sampled_from(hostile.EXTREME_FLOATS),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
    st.lists(finite, max_size=2),
    st.dictionaries(st.text(max_size=3), finite, max_size=2),
    st.integers(-5, 5),
)


@st.composite
def mutated(draw: st.DrawFn, item: dict[str, Any]) -> dict[str, Any]:
    """One change a producer bug could make to a reading."""
    item = {k: (dict(v) if isinstance(v, dict) else v) for k, v in item.items()}
    how = draw(
        st.sampled_from(["field", "value", "int value", "name", "extra", "missing", "rename", "empty"])
    )
    if how == "field":  # any field holds an odd value (huge or negative ints, floats, bools, null...)
        item[draw(st.sampled_from(list(item)))] = draw(oddities)
    elif how == "value":
        group = draw(st.sampled_from([g for g in ("settings", "sensors") if item.get(g)]))
        item[group][draw(st.sampled_from(list(item[group])))] = draw(oddities)
    elif how == "int value":  # integers where floats belong: canonical after conversion
        group = draw(st.sampled_from([g for g in ("settings", "sensors") if item.get(g)]))
        item[group][draw(st.sampled_from(list(item[group])))] = draw(st.integers(-(2**70), 2**70))
    elif how == "name":  # a hostile setting or sensor name (control characters, too long, ...)
        group = draw(st.sampled_from(["settings", "sensors"]))
        item[group] = {**item.get(group, {}), draw(hostile.names): draw(finite)}
    elif how == "extra":
        item[draw(st.sampled_from(["extra", "Sensors", "asset"]))] = draw(oddities)
    elif how == "missing":
        del item[draw(st.sampled_from(list(item)))]
    elif how == "rename":
        value = item.pop(draw(st.sampled_from(list(item))))
        item[draw(st.sampled_from(["asset", "sensor", "timestamp", "Seq"]))] = value
    else:
        item["sensors"] = {}
    return item


@st.composite
def record(draw: st.DrawFn) -> tuple[str | None, bytes | None]:
    asset = draw(st.sampled_from(ASSETS))
    run = draw(st.lists(good_reading(asset), min_size=1, max_size=4))
    kind = draw(st.sampled_from(["good", "good", "good", "mutated", "key", "assets", "origin", "raw"]))
    key: str | None = asset
    if kind == "origin":  # an asset id (the key too) or a site no reading carried before, maybe hostile
        field = draw(st.sampled_from(["asset_id", "site"]))
        name = draw(st.one_of(hostile.names, st.text(max_size=6)))
        for item in run:
            item[field] = name
        key = name if field == "asset_id" else key
    elif kind == "mutated":
        at = draw(st.integers(0, len(run) - 1))
        run[at] = draw(mutated(run[at]))
    elif kind == "key":
        key = draw(st.one_of(st.none(), st.sampled_from(ASSETS), st.text(max_size=5)))
    elif kind == "assets":  # a run of two assets
        run.append(draw(good_reading(draw(st.sampled_from(ASSETS)))))
    elif kind == "raw":
        return key, draw(
            st.one_of(
                st.none(),
                st.binary(max_size=20),
                st.sampled_from(
                    [b"", b"[]", b"{}", b"null", b"[null]", b"[[]]", b"[1]", b'"x"', b"\xff\xfe"]
                ),
                st.builds(lambda obj: hostile.dumps([obj]), st.dictionaries(st.text(max_size=3), oddities)),
            )
        )
    return key, hostile.dumps(run)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record(), min_size=1, max_size=12))
def test_read_records_agrees_with_the_contract_record_by_record(
    records: list[tuple[str | None, bytes | None]],
) -> None:
    check([k for k, _ in records], [v for _, v in records])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.builds(
            dict,
            schema=st.just(1),
            asset_id=st.sampled_from(ASSETS[:1]),
            site=st.sampled_from(SITES),
            ts=st.integers(0, MAX_TS_MS),
            seq=st.integers(0, 99),
            settings=st.just({"load": 0.5}),
            sensors=st.just({"vib": 1.0}),
        ),
        min_size=1,
        max_size=3,
    ),
    st.sampled_from(["ts", "seq", "schema"]),
    st.sampled_from((*BAD_INTEGERS, True, 1.0, "1")),
)
def test_a_warm_fast_path_refuses_a_bad_integer_field_the_decoder_refuses(
    run: list[dict[str, Any]], field: str, bad: Any
) -> None:
    """The fast path's shortcut (names and origins seen before) must not skip any range check: the
    run first goes through cleanly (warming the caches), then with one field out of range."""
    good = hostile.dumps(run)
    broken = hostile.dumps([*run[:-1], {**run[-1], field: bad}])
    check([ASSETS[0]] * 3, [good, broken, good])


def test_the_last_event_time_influxdb_can_store_is_the_last_the_job_accepts() -> None:
    """``ts`` one past ``MAX_TS_MS`` is refused by the contract, on a cold and on a warm fast path."""
    reading = Reading("pump-1", "site-1", MAX_TS_MS, 1, {"load": 0.5}, {"vib": 1.0})
    ok = encode_run([reading])
    late = ok.replace(str(MAX_TS_MS).encode(), str(MAX_TS_MS + 1).encode())
    with pytest.raises(ValueError, match="ts"):
        decode_run(late)
    out, refused = read_records(["pump-1", "pump-1"], [ok, late])
    assert out.ts == [MAX_TS_MS]
    assert [r.record for r in refused] == [1]


def test_an_empty_input_and_a_record_without_value() -> None:
    out, refused = read_records([], [])
    assert (len(out), refused) == (0, [])
    out, refused = read_records([None], [None])
    assert len(out) == 0
    assert [r.record for r in refused] == [0]


def test_canonical_payload_of_a_reading_decodes_to_that_reading() -> None:
    """What a late or unscorable reading's dead letter carries: a one-reading run of it."""
    readings = [
        Reading("pump-1", "site-1", 1_767_225_600_000 + i, i, {"load": 0.5}, {"vib": 1.0 + i})
        for i in range(3)
    ]
    out, _ = read_records(["pump-1"], [encode_run(readings)])
    assert [decode_run(out.canonical(i)) for i in range(3)] == [[r] for r in readings]
    assert out.values(0) == {"load": 0.5, "vib": 1.0}
    assert not math.isnan(out.values(2)["vib"])


@pytest.mark.parametrize("site", [[], {}, ["site-1"], {"a": 1.0}, 1, None, True])
def test_a_site_that_is_no_text_is_refused_not_raised(site: Any) -> None:
    """Whatever ``site`` holds, the record is a ``Refused`` (a list or an object must not reach a
    set lookup: ``TypeError: unhashable`` would fail every retry of the micro-batch)."""
    good = encode_run([Reading("pump-1", "site-1", 1, 1, {}, {"vib": 1.0})])
    odd = hostile.dumps([{**orjson.loads(good)[0], "site": site}])
    out, refused = read_records(["pump-1", "pump-1"], [good, odd])
    assert out.record == [0]
    assert [r.record for r in refused] == [1]
