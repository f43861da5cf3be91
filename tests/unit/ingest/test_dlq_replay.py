"""Dead-letter replay, the pure part: selection, rewrite, re-validation, indexed elements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from ingest.contract import ContractPolicy, DeadLetter, UnknownSensorPolicy, decode
from ingest.dlq_replay import Selection, load_rewrite, replay
from ingest.reasons import Reason
from ingest.records import decode_run

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOPIC = "forewarn/site-1/pump-7/telemetry"
STRICT = ContractPolicy(known_sensors=frozenset({"v"}), unknown_sensors=UnknownSensorPolicy.REJECT)
LOOSE = ContractPolicy()


def reading(seq: int, **sensors: float) -> dict[str, object]:
    return {"schema": 1, "asset_id": "pump-7", "ts": "2026-03-01T11:00:00Z", "seq": seq, "sensors": sensors}


def letters_of(payload: bytes, policy: ContractPolicy, at: datetime = NOW) -> list[tuple[str, DeadLetter]]:
    return [(f"kafka:dlq/0/{i}", d) for i, d in enumerate(decode(payload, TOPIC, at, policy).dead_letters)]


def test_a_fixed_policy_revives_letters_and_the_rest_stay_dead() -> None:
    letters = letters_of(orjson.dumps(reading(1, v=1.0, new=2.0)), STRICT) + letters_of(b"{oops", STRICT)
    outcome = replay(letters, Selection(), LOOSE, NOW)
    assert (outcome.selected, outcome.revived, outcome.readings) == (2, 1, 1)
    (record,) = outcome.records
    assert [r.sensors for r in decode_run(record.value)] == [{"v": 1.0, "new": 2.0}]
    assert dict(record.headers)["gateway_id"] == b"dlq-replay"
    (dead,) = outcome.still_dead
    assert dead.reasons == [Reason.MALFORMED_JSON]
    assert outcome.summary()["still_dead_by_reason"] == {"malformed_json": 1}


def test_selection_by_reason_and_receive_time() -> None:
    old = letters_of(b"{", LOOSE, at=NOW - timedelta(days=2))
    new = letters_of(orjson.dumps(reading(1, v=1.0, x=1.0)), STRICT)
    assert replay(old + new, Selection(reasons=frozenset({Reason.UNKNOWN_SENSOR})), LOOSE, NOW).selected == 1
    assert replay(old + new, Selection(since=NOW - timedelta(days=1)), LOOSE, NOW).selected == 1
    assert replay(old + new, Selection(until=NOW - timedelta(days=1)), LOOSE, NOW).selected == 1
    assert replay(old + new, Selection(), LOOSE, NOW).selected == 2


def test_only_the_rejected_element_of_a_batch_is_replayed() -> None:
    batch = [reading(1, v=1.0), reading(2, v=1.0, x=3.0), reading(3, v=2.0)]
    letters = letters_of(orjson.dumps(batch), STRICT)
    assert [d.index for _, d in letters] == [1]
    outcome = replay(letters, Selection(), LOOSE, NOW)
    assert [r.seq for r in decode_run(outcome.records[0].value)] == [2]


def test_a_rewrite_hook_fixes_bytes_and_a_failing_hook_keeps_the_letter() -> None:
    letters = letters_of(b"{'schema': 1}", LOOSE)

    def fix(payload: bytes) -> bytes:
        return orjson.dumps(reading(9, v=1.0))

    def broken(payload: bytes) -> bytes:
        raise RuntimeError("cannot")

    assert replay(letters, Selection(), LOOSE, NOW, rewrite=fix).revived == 1
    failed = replay(letters, Selection(), LOOSE, NOW, rewrite=broken)
    assert failed.revived == 0
    assert "RuntimeError: cannot" in failed.still_dead[0].where


def test_age_is_judged_now_or_at_receive_time() -> None:
    letters = letters_of(orjson.dumps({**reading(1, v=1.0), "ts": "2026-03-01T12:30:00Z"}), STRICT)
    assert letters[0][1].reason is Reason.TOO_FAR_IN_FUTURE
    later = NOW + timedelta(hours=1)
    assert replay(letters, Selection(), STRICT, later).revived == 1
    assert replay(letters, Selection(), STRICT, later, at_receive_time=True).revived == 0


def test_load_rewrite_names_what_is_wrong() -> None:
    assert load_rewrite("orjson:loads") is orjson.loads
    with pytest.raises(ValueError, match=r"package\.module:function"):
        load_rewrite("nocolon")
    with pytest.raises(ValueError, match="no_such"):
        load_rewrite("orjson:no_such")
