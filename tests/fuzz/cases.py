"""Generated hostile MQTT messages that know what the gateway must make of them.

Each :class:`Case` is one message: the topic's asset level, the payload bytes, the ``seq`` of every
reading the gateway must forward and the ``(index, reason)`` of every dead letter it must write. The
expected outcome comes from how the case was built (one known fault per element, or one known
corruption of the whole payload), never from ``ingest.contract``, so the gateway is checked against
the contract as written, not against itself.

Generation is hypothesis (:func:`generate`): a seeded run of the strategy with the example database
off, so a seed and a count give the same cases, and the same counts per reason, every time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from forewarn.contracts.dead_letter import GatewayReason as R
from forewarn.contracts.telemetry import MAX_INT64, MAX_TS_MS

Letter = tuple[int | None, R]
"""A dead letter the gateway must write: the element's index in a JSON array (None: the whole
payload) and the reason."""
DAY_MS = 86_400_000
MAX_U64 = 2**64 - 1  # orjson reads integers up to here as integers, larger ones as doubles


@dataclass(frozen=True, slots=True)
class Case:
    """One MQTT message and its exact outcome."""

    asset: str
    payload: bytes
    seqs: tuple[int, ...] = ()
    letters: tuple[Letter, ...] = ()


@dataclass(frozen=True, slots=True)
class Raw:
    """Text written as is: the ``NaN``/``Infinity`` tokens and numbers no encoder writes."""

    text: bytes


@dataclass(frozen=True, slots=True)
class Element:
    """One element of a payload: its value and what the gateway must make of it (a seq or a reason)."""

    value: Any
    outcome: int | R


NON_FINITE_TOKENS = (b"NaN", b"Infinity", b"-Infinity", b"nan", b"-nan", b"inf", b"+inf", b"-inf",
                     b"Inf", b"1e999", b"-1e400", b"1.8e308", b"9" * 400, b"-" + b"9" * 320)  # fmt: skip
BAD_NAMES = ("", "a\nb", "\x00", "tab\there", "del\x7f", "nel\x85", "line\u2028sep", "non\ufffe",
             "ends with\\", "\\", "x" * 129)  # fmt: skip
"""Setting or sensor names the contract refuses (``bad_name``)."""
BAD_TOPIC_ASSETS = ("x" * 129, "ends\\", "\u2028", "\u2029", "")
"""Asset ids in the topic that Mosquitto carries and the contract refuses (``bad_name``)."""


def odd_topic_assets(asset: str) -> tuple[str, ...]:
    """Asset ids that look hostile and are fine, unique to ``asset`` (the register keeps them)."""
    return (f" {asset}", f"{asset} é🔥", asset + "x" * (128 - len(asset)), f"{asset}\u200b",
            f"__proto__{asset}")  # fmt: skip


GOOD_NAMES = ("vibration_mm_s", "sensor_11", "setting_1", "a=b", "a,b", '"q"', "with space", "sensor.x",
              "#c", "🔥", "👩\u200d🔧", "é", "time", "__proto__", "constructor", "back\\slash", "x" * 128,
              "Ω", "温度", "давление", "ǅ", "١٢٣", "\u200b", "e\u0301", "NaN", "Infinity", "null", "{}", "'",
              "$x")  # fmt: skip
"""Setting and sensor names that look hostile and are fine (one draw each; text costs a draw a
character)."""
good_names = st.sampled_from(GOOD_NAMES)
finite = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**63), MAX_U64),
    st.sampled_from((1.7976931348623157e308, -1.7976931348623157e308, 5e-324, -0.0, 0)),
)
junk = st.one_of(
    st.text(max_size=8),
    st.booleans(),
    st.none(),
    st.lists(st.integers(0, 9), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=2),
)
"""A JSON value of another type than a number (never a non-finite one)."""
not_int = st.one_of(junk, st.floats(allow_nan=False, allow_infinity=False))


_AGES_MS = st.integers(60_000, DAY_MS)
_OFFSETS = st.sampled_from((None, "Z", "+00:00", "+05:30", "-08:00"))  # None: epoch ms
_SEQS = st.integers(0, MAX_INT64)
_SENSORS = st.dictionaries(good_names, finite, min_size=1, max_size=4)
_SETTINGS = st.one_of(st.none(), st.dictionaries(good_names, finite, max_size=4))  # None: no settings
_ORDERS = st.permutations(("schema", "asset_id", "ts", "seq", "sensors", "settings"))


def reading(draw: st.DrawFn, asset: str, now_ms: int) -> dict[str, Any]:
    """A valid schema-1 reading of ``asset``, at most a day old, ``ts`` in either form, fields in
    any order."""
    ts_ms, offset = now_ms - draw(_AGES_MS), draw(_OFFSETS)
    settings = draw(_SETTINGS)
    value = {"schema": 1, "asset_id": asset, "ts": ts_ms if offset is None else _rfc3339(ts_ms, offset),
             "seq": draw(_SEQS), "sensors": draw(_SENSORS), "settings": settings}  # fmt: skip
    return {k: value[k] for k in draw(_ORDERS) if k != "settings" or settings is not None}


def _rfc3339(ts_ms: int, offset: str) -> str:
    zone = timezone(timedelta(minutes=_OFFSETS_MIN[offset]))
    text = datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(zone).isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if offset == "Z" else text


_OFFSETS_MIN = {"Z": 0, "+00:00": 0, "+05:30": 330, "-08:00": -480}


def element(draw: st.DrawFn, asset: str, now_ms: int, in_array: bool) -> Element:
    """A reading, valid or with exactly one fault whose reason is known."""
    value = reading(draw, asset, now_ms)
    fault = draw(_FAULT)
    if fault is None:
        return Element(value, value["seq"])
    if fault is _not_an_object and not in_array:
        fault = _missing
    return fault(draw, value, asset, now_ms)


Fault = Callable[[st.DrawFn, dict[str, Any], str, int], Element]


def _unknown_field(draw: st.DrawFn, r: dict[str, Any], asset: str, now_ms: int) -> Element:
    name = draw(_EXTRA_NAMES)
    return Element({**r, name: draw(_ANY)}, R.UNKNOWN_FIELD)


def _missing(draw: st.DrawFn, r: dict[str, Any], asset: str, now_ms: int) -> Element:
    name = draw(_REQUIRED)
    if name == "sensors={}":
        return Element({**r, "sensors": {}}, R.MISSING_FIELD)
    return Element({k: v for k, v in r.items() if k != name}, R.MISSING_FIELD)


def _field(name: str, values: st.SearchStrategy[Any], reason: R) -> Fault:
    def fault(draw: st.DrawFn, r: dict[str, Any], asset: str, now_ms: int) -> Element:
        return Element({**r, name: draw(values)}, reason)

    return fault


def _bad_value(draw: st.DrawFn, r: dict[str, Any], asset: str, now_ms: int) -> Element:
    where = draw(_NUMBER_FIELDS)
    values = dict(r.get(where, {}))
    values[draw(good_names)] = draw(junk)
    return Element({**r, where: values}, R.WRONG_TYPE)


def _bad_name(draw: st.DrawFn, r: dict[str, Any], asset: str, now_ms: int) -> Element:
    where = draw(_NUMBER_FIELDS)
    return Element({**r, where: {**r.get(where, {}), draw(_BAD_NAMES): 1.0}}, R.BAD_NAME)


def _non_finite(draw: st.DrawFn, r: dict[str, Any], asset: str, now_ms: int) -> Element:
    """A non-finite token anywhere a number goes: the whole payload is refused (orjson stops there)."""
    token = Raw(draw(_TOKENS))
    where = draw(_NUMBER_PLACES)
    if where in ("sensors", "settings"):
        return Element({**r, where: {**r.get(where, {}), draw(good_names): token}}, R.NON_FINITE)
    return Element({**r, where: token}, R.NON_FINITE)


def _not_an_object(draw: st.DrawFn, r: dict[str, Any], asset: str, now_ms: int) -> Element:
    return Element(draw(_NOT_OBJECTS), R.NOT_A_READING)


_FIELDS = frozenset({"schema", "asset_id", "ts", "seq", "settings", "sensors"})
_ts_bad = st.one_of(
    st.integers(-(2**63), -1),
    st.integers(MAX_TS_MS + 1, MAX_U64),
    not_int.filter(lambda v: not isinstance(v, str)),
    st.text(max_size=19),  # RFC 3339 date-times have at least 20 characters
    st.sampled_from(("2026-02-30T00:00:00Z", "2026-01-01T00:00:00.000", "1969-12-31T23:59:59Z",
                     "2262-04-12T00:00:00Z", "2026-01-01 00:00:00 UTC", "9999-12-31T23:59:59Z")),
)  # fmt: skip
FAULTS: tuple[Fault, ...] = (
    _unknown_field,
    _missing,
    _field("schema", not_int, R.WRONG_TYPE),
    _field("schema", st.integers(-(2**63), MAX_U64).filter(lambda v: v != 1), R.UNKNOWN_SCHEMA),
    _field("asset_id", not_int.filter(lambda v: not isinstance(v, str)), R.WRONG_TYPE),
    _field("ts", _ts_bad, R.BAD_TIMESTAMP),
    _field("seq", st.one_of(not_int, st.integers(-(2**63), -1), st.integers(MAX_INT64 + 1, MAX_U64)),
           R.WRONG_TYPE),
    _field("settings", not_int.filter(lambda v: not isinstance(v, dict)), R.WRONG_TYPE),
    _field("sensors", not_int.filter(lambda v: not isinstance(v, dict)), R.WRONG_TYPE),
    _bad_value,
    _bad_name,
    _non_finite,
    _not_an_object,
)  # fmt: skip
"""One fault each; the reason is the contract's for that fault alone."""


def _too_old(draw: st.DrawFn, r: dict[str, Any], asset: str, now_ms: int) -> Element:
    return Element({**r, "ts": now_ms - draw(_OLD_MS)}, R.TOO_OLD)


def _too_far_ahead(draw: st.DrawFn, r: dict[str, Any], asset: str, now_ms: int) -> Element:
    return Element({**r, "ts": min(now_ms + draw(_AHEAD_MS), MAX_TS_MS)}, R.TOO_FAR_IN_FUTURE)


def cases(asset: str, now_ms: int) -> st.SearchStrategy[Case]:
    """Messages on ``asset``'s topic (or a hostile one), built so their outcome is known."""
    topics = st.sampled_from((asset,) * 12 + odd_topic_assets(asset) + BAD_TOPIC_ASSETS)

    @st.composite
    def one(draw: st.DrawFn) -> Case:
        return _message(draw, draw(topics), now_ms)

    return one()


def _message(draw: st.DrawFn, topic_asset: str, now_ms: int) -> Case:
    shape = draw(_SHAPES)
    if shape == "empty":
        return _case(topic_asset, draw(_EMPTY_ARRAYS), [], R.EMPTY_BATCH)
    if shape == "scalar":
        return _case(topic_asset, _render(draw(_SCALARS)), [], R.NOT_A_READING)
    n = 1 if shape == "one" else draw(_BATCH_SIZES)
    items: list[Element] = []
    for _ in range(n):
        if draw(_ONE_IN_TEN) == 0:
            fault = draw(_CLOCK_FAULTS)
            items.append(fault(draw, reading(draw, topic_asset, now_ms), topic_asset, now_ms))
        else:
            items.append(element(draw, topic_asset, now_ms, in_array=shape == "batch"))
    value = items[0].value if shape == "one" else [item.value for item in items]
    payload = _render(value, draw(_STYLES))
    if any(item.outcome is R.NON_FINITE for item in items):
        return _case(topic_asset, payload, [], R.NON_FINITE)
    corruption = draw(_CORRUPTION)
    if corruption is not None:
        payload, reason = corruption(draw, payload)
        if reason is not None:
            return _case(topic_asset, payload, [], reason)
    if shape == "one":
        outcome = items[0].outcome
        return _case(topic_asset, payload, [outcome] if isinstance(outcome, int) else [], None,
                     () if isinstance(outcome, int) else ((None, outcome),))  # fmt: skip
    seqs = [item.outcome for item in items if isinstance(item.outcome, int)]
    letters = tuple((i, item.outcome) for i, item in enumerate(items) if isinstance(item.outcome, R))
    return _case(topic_asset, payload, seqs, None, letters)


def _mismatch(draw: st.DrawFn, r: dict[str, Any], asset: str, now_ms: int) -> Element:
    other = draw(st.one_of(st.text(max_size=12), st.sampled_from((asset + "\u200b", asset.upper() + "_"))))
    return Element({**r, "asset_id": other}, R.ASSET_MISMATCH if other != asset else r["seq"])


def _case(
    asset: str, payload: bytes, seqs: list[Any], whole: R | None, letters: tuple[Letter, ...] = ()
) -> Case:
    """The case, with the topic's own rule first: a bad asset id in the topic refuses any payload."""
    if asset in BAD_TOPIC_ASSETS:  # an empty level is no topic of the contract's shape at all
        return Case(asset, payload, (), ((None, R.BAD_NAME if asset else R.BAD_TOPIC),))
    if whole is not None:
        return Case(asset, payload, (), ((None, whole),))
    return Case(asset, payload, tuple(seqs), letters)


Corruption = Callable[[st.DrawFn, bytes], tuple[bytes, R | None]]


def _truncate(draw: st.DrawFn, payload: bytes) -> tuple[bytes, R | None]:
    cut = payload[: draw(_FRACTIONS) * len(payload) // 1000]
    return cut, R.NOT_UTF8 if not _is_utf8(cut) else R.MALFORMED_JSON


def _invalid_utf8(draw: st.DrawFn, payload: bytes) -> tuple[bytes, R | None]:
    at = draw(_FRACTIONS) * len(payload) // 1000
    bad = draw(_NOT_UTF8)
    return payload[:at] + bad + payload[at:], R.NOT_UTF8


def _garbage(draw: st.DrawFn, payload: bytes) -> tuple[bytes, R | None]:
    before, after = draw(_GARBAGE)
    return before + payload + after, R.MALFORMED_JSON


def _deep(draw: st.DrawFn, payload: bytes) -> tuple[bytes, R | None]:
    depth = draw(_DEPTHS)  # the payload's own levels take it past orjson's 1,024
    return b"[" * depth + payload + b"]" * depth, R.NOT_A_READING


def _whitespace(draw: st.DrawFn, payload: bytes) -> tuple[bytes, R | None]:
    pad = draw(_PADS)
    return pad + payload + pad, None  # still the same message


CORRUPTIONS: tuple[Corruption, ...] = (_truncate, _invalid_utf8, _garbage, _deep, _whitespace)
# Every strategy is built once: building them per draw costs more than drawing from them.
_FAULT = st.one_of(st.none(), st.sampled_from(FAULTS), st.sampled_from(FAULTS))  # two in three faulty
_CLOCK_FAULTS = st.sampled_from((_too_old, _too_far_ahead, _mismatch))
_OLD_MS = st.integers(8 * DAY_MS, 40 * 365 * DAY_MS)
_AHEAD_MS = st.integers(3_600_000, 200 * 365 * DAY_MS)
_EXTRA_NAMES = st.text(max_size=10).filter(lambda k: k not in _FIELDS)
_ANY = st.one_of(junk, finite)
_REQUIRED = st.sampled_from(("schema", "asset_id", "ts", "seq", "sensors", "sensors={}"))
_NUMBER_FIELDS = st.sampled_from(("settings", "sensors"))
_NUMBER_PLACES = st.sampled_from(("sensors", "settings", "seq", "ts", "schema"))
_BAD_NAMES = st.sampled_from(BAD_NAMES)
_TOKENS = st.sampled_from(NON_FINITE_TOKENS)
_NOT_OBJECTS = _ANY.filter(lambda v: not isinstance(v, dict))
_SCALARS = _ANY.filter(lambda v: not isinstance(v, dict | list))
_SHAPES = st.sampled_from(("one", "one", "batch", "batch", "empty", "scalar"))
_EMPTY_ARRAYS = st.sampled_from((b"[]", b"[ ]", b" [\n] "))
_BATCH_SIZES = st.integers(1, 6)
_ONE_IN_TEN = st.integers(0, 9)
_STYLES = st.sampled_from(("compact", "compact", "spaced", "escaped"))
_CORRUPTION = st.one_of(st.none(), st.none(), st.none(), st.none(), st.sampled_from(CORRUPTIONS))
_FRACTIONS = st.integers(0, 999)  # per mille of the payload's length
_NOT_UTF8 = st.sampled_from((b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe9", b"\xf8\x88\x80\x80\x80"))
_GARBAGE = st.sampled_from(((b"", b","), (b"", b"}"), (b"\xef\xbb\xbf", b""), (b"", b"x"), (b"//c\n", b""),
                            (b"", b" {}"), (b"(", b")")))  # fmt: skip
_DEPTHS = st.integers(1024, 1500)  # with the payload's own levels, past orjson's 1,024
_PADS = st.sampled_from((b" ", b"\n", b"\t\r\n ", b"\n" * 100))


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _render(value: Any, style: str = "compact") -> bytes:
    """JSON text of ``value``, with :class:`Raw` tokens as they are; ``escaped`` writes every key as
    ``\\uXXXX`` escapes (the same key to any parser), ``spaced`` puts whitespace between tokens."""
    sep = b", " if style == "spaced" else b","
    colon = b" : " if style == "spaced" else b":"
    match value:
        case Raw():
            return value.text
        case float() if not math.isfinite(value):
            raise ValueError("non-finite floats are written as Raw tokens")
        case dict():
            items = [_key(k, style) + colon + _render(v, style) for k, v in value.items()]
            return b"{" + sep.join(items) + b"}"
        case list():
            return b"[" + sep.join(_render(v, style) for v in value) + b"]"
        case int() if not isinstance(value, bool):
            return str(value).encode()
    return orjson.dumps(value)


def _key(key: str, style: str) -> bytes:
    if style != "escaped" or not key:
        return orjson.dumps(key)
    return b'"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else c for c in key).encode() + b'"'


def generate(count: int, asset: str, now: datetime, fuzz_seed: int) -> list[Case]:
    """``count`` cases for ``asset``'s topic, the same ones for the same seed (and clock)."""
    now_ms = int(now.timestamp() * 1000)
    out: list[Case] = []

    @seed(fuzz_seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(cases(asset, now_ms))
    def collect(case: Case) -> None:
        out.append(case)

    collect()
    return out
