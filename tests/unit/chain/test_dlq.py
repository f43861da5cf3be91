"""Dead-letter replay, the pure part: each stage's letters judged by that stage's contract, selection,
rewrite, indexed elements, and the per-reason report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from chain.dlq import Selection, Target, load_rewrite, replay
from forewarn.contracts.dead_letter import DeadLetter, GatewayReason, ScoringReason, Stage
from forewarn.contracts.risk import RiskRejection, RiskRejectReason, decode_risk
from forewarn.contracts.telemetry import Reading, decode_run, encode_run
from ingest.contract import ContractPolicy, UnknownSensorPolicy, decode

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOPIC = "forewarn/site-1/pump-7/telemetry"
STRICT = ContractPolicy(known_sensors=frozenset({"v"}), unknown_sensors=UnknownSensorPolicy.REJECT)
LOOSE = ContractPolicy()


def reading(seq: int, **sensors: float) -> dict[str, object]:
    return {"schema": 1, "asset_id": "pump-7", "ts": "2026-03-01T11:00:00Z", "seq": seq, "sensors": sensors}


def letters_of(payload: bytes, policy: ContractPolicy, at: datetime = NOW) -> list[tuple[str, DeadLetter]]:
    return [(f"kafka:dlq/0/{i}", d) for i, d in enumerate(decode(payload, TOPIC, at, policy).dead_letters)]


def scoring_letter(reason: ScoringReason, payload: bytes, at: datetime = NOW) -> tuple[str, DeadLetter]:
    """A letter as the scoring job writes it: a canonical run as the payload, a Kafka coordinate as source."""
    return "kafka:dlq/0/9", DeadLetter(Stage.SCORING, reason, "why", "kafka:telemetry/-1@5", payload, at)


def risk_letter(raw: bytes) -> tuple[str, DeadLetter]:
    rejection = decode_risk(raw)
    assert isinstance(rejection, RiskRejection)
    letter = DeadLetter(Stage.ALERTS, rejection.reason, rejection.detail, "kafka:risk/0/3", raw, NOW)
    return "kafka:risk.dlq/0/0", letter


RUN = encode_run([Reading("pump-7", "site-1", 1_772_362_800_000, 5, {"load": 0.8}, {"v": 1.0})])
RISK = {
    "schema": 1, "asset_id": "pump-7", "site": "site-1", "event_ts": "2026-03-01T11:00:00Z", "seq": 5,
    "risk": 0.9, "horizon_cycles": 30.0, "model_name": "m", "model_version": "1",
}  # fmt: skip


def test_a_fixed_policy_revives_gateway_letters_and_the_rest_stay_dead() -> None:
    letters = letters_of(orjson.dumps(reading(1, v=1.0, new=2.0)), STRICT) + letters_of(b"{oops", STRICT)
    outcome = replay(letters, Selection(), LOOSE, NOW)
    assert (outcome.selected, outcome.revived) == (2, 1)
    (record,) = outcome.records
    assert (record.target, record.key, record.readings) == (Target.TELEMETRY, b"pump-7", 1)
    assert [r.sensors for r in decode_run(record.value)] == [{"v": 1.0, "new": 2.0}]
    assert dict(record.headers)["gateway_id"] == b"dlq-replay"
    (dead,) = outcome.still_dead
    assert dead.reasons == [GatewayReason.MALFORMED_JSON]
    summary = outcome.summary()
    assert summary["still_dead_by_reason"] == {"malformed_json": 1}
    assert summary["by_reason"] == {
        "gateway/malformed_json": {"selected": 1, "revived": 0, "still_dead": {"malformed_json": 1}},
        "gateway/unknown_sensor": {"selected": 1, "revived": 1, "still_dead": {}},
    }


def test_a_scoring_letter_is_judged_as_canonical_telemetry_not_as_an_mqtt_message() -> None:
    """Its source is a Kafka coordinate and its payload has ``site``: the gateway's rules would
    refuse it for good (``bad_topic``, ``unknown_field``); the canonical contract revives it."""
    letters = [
        scoring_letter(ScoringReason.UNSCORABLE, RUN),
        scoring_letter(ScoringReason.NOT_CANONICAL, b"junk"),
    ]
    outcome = replay(letters, Selection(), STRICT, NOW + timedelta(days=365))
    assert (outcome.selected, outcome.revived) == (2, 1)
    (record,) = outcome.records
    assert (record.target, record.key, record.value, record.readings) == (Target.TELEMETRY, b"pump-7", RUN, 1)
    headers = dict(record.headers)
    assert (headers["site"], headers["gateway_id"]) == (b"site-1", b"dlq-replay")
    (dead,) = outcome.still_dead
    assert dead.reasons == [ScoringReason.NOT_CANONICAL]
    assert "not JSON" in dead.detail
    assert outcome.summary()["by_reason"]["scoring/unscorable"] == {
        "selected": 1,
        "revived": 1,
        "still_dead": {},
    }


def test_a_rewrite_adds_the_missing_sensor_to_an_unscorable_reading() -> None:
    def add_sensor(payload: bytes) -> bytes:
        return orjson.dumps([{**r, "sensors": {**r["sensors"], "w": 2.0}} for r in orjson.loads(payload)])

    outcome = replay([scoring_letter(ScoringReason.UNSCORABLE, RUN)], Selection(), LOOSE, NOW, add_sensor)
    assert [r.sensors for r in decode_run(outcome.records[0].value)] == [{"v": 1.0, "w": 2.0}]


def test_risk_letters_pass_the_risk_contract_and_go_back_to_risk() -> None:
    fixed = orjson.dumps(RISK)
    letters = [risk_letter(orjson.dumps({**RISK, "risk": 1.5})), risk_letter(b"{oops")]

    def clamp(payload: bytes) -> bytes:
        return fixed if payload.startswith(b"{") and payload != b"{oops" else payload

    outcome = replay(letters, Selection(), LOOSE, NOW, clamp)
    (record,) = outcome.records
    assert (record.target, record.key, record.value) == (Target.RISK, b"pump-7", fixed)
    assert [d.reasons for d in outcome.still_dead] == [[RiskRejectReason.NOT_JSON]]
    unfixed = replay(letters[:1], Selection(), LOOSE, NOW)
    assert [d.reasons for d in unfixed.still_dead] == [[RiskRejectReason.INVALID]]
    assert unfixed.summary()["by_reason"] == {
        "alerts/invalid": {"selected": 1, "revived": 0, "still_dead": {"invalid": 1}}
    }


def test_selection_by_reason_stage_and_receive_time() -> None:
    old = letters_of(b"{", LOOSE, at=NOW - timedelta(days=2))
    new = letters_of(orjson.dumps(reading(1, v=1.0, x=1.0)), STRICT)
    scoring = [scoring_letter(ScoringReason.LATE_FOR_STATE, RUN, at=NOW - timedelta(days=2))]
    everything = old + new + scoring
    assert replay(everything, Selection(reasons=frozenset({"unknown_sensor"})), LOOSE, NOW).selected == 1
    assert replay(everything, Selection(stages=frozenset({Stage.SCORING})), LOOSE, NOW).selected == 1
    assert replay(everything, Selection(since=NOW - timedelta(days=1)), LOOSE, NOW).selected == 1
    assert replay(everything, Selection(until=NOW - timedelta(days=1)), LOOSE, NOW).selected == 2
    assert replay(everything, Selection(), LOOSE, NOW).selected == 3


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
    assert failed.summary()["still_dead_by_reason"] == {"rewrite_failed": 1}


def test_age_is_judged_now_or_at_receive_time() -> None:
    letters = letters_of(orjson.dumps({**reading(1, v=1.0), "ts": "2026-03-01T12:30:00Z"}), STRICT)
    assert letters[0][1].reason is GatewayReason.TOO_FAR_IN_FUTURE
    later = NOW + timedelta(hours=1)
    assert replay(letters, Selection(), STRICT, later).revived == 1
    assert replay(letters, Selection(), STRICT, later, at_receive_time=True).revived == 0


def test_load_rewrite_names_what_is_wrong() -> None:
    assert load_rewrite("orjson:loads") is orjson.loads
    with pytest.raises(ValueError, match=r"package\.module:function"):
        load_rewrite("nocolon")
    with pytest.raises(ValueError, match="no_such"):
        load_rewrite("orjson:no_such")
