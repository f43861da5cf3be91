"""Accounting of a run from its topics: conservation, duplicates, losses, unscored readings."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from chain.ledger import Ledger, Published, account
from forewarn.contracts import dead_letter
from forewarn.contracts.dead_letter import REASONS, DeadLetter


def _run(asset: str, seqs: list[int]) -> bytes:
    return orjson.dumps([{"asset_id": asset, "seq": s, "ts": 1, "site": "s"} for s in seqs])


def _letter(reason: str, source: str, payload: object, index: int | None = None) -> bytes:
    """A dead letter as its stage writes it (the contract's encoder; the stage follows the reason)."""
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    stage = dead_letter.infer_stage(reason, source)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return dead_letter.encode(DeadLetter(stage, REASONS[stage](reason), "why", source, raw, at, index))


def _risk(asset: str, seq: int) -> bytes:
    return orjson.dumps({"asset_id": asset, "seq": seq, "risk": 0.1})


KEYS = frozenset({("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1)})


def _full_ledger() -> Ledger:
    ledger = Ledger()
    ledger.add_telemetry([_run("a", [0, 1]), _run("a", [2]), _run("b", [0, 1])])
    ledger.add_dead_letters([_letter("malformed_json", "forewarn/s/a/telemetry", b"{nope")])
    ledger.add_risk([_risk(a, s) for a, s in KEYS])
    return ledger


def test_a_clean_run_balances_exactly() -> None:
    verdict = account(Published(KEYS, readings=5, malformed_messages=1), _full_ledger(), exact=True)
    assert verdict.ok, verdict.failures
    assert verdict.numbers["telemetry_readings"] == 5
    assert verdict.numbers["gateway_dead_letters"] == 1


def test_a_lost_reading_is_named() -> None:
    ledger = Ledger()
    ledger.add_telemetry([_run("a", [0, 1]), _run("b", [0, 1])])
    ledger.add_dead_letters([_letter("malformed_json", "forewarn/s/a/telemetry", b"{")])
    ledger.add_risk([_risk(a, s) for a, s in KEYS - {("a", 2)}])
    verdict = account(Published(KEYS, readings=5, malformed_messages=1), ledger, exact=False)
    assert not verdict.ok
    assert verdict.numbers["missing_readings"] == 1
    assert "a#2" in verdict.failures[0]


def test_duplicates_pass_at_least_once_but_not_exact() -> None:
    ledger = _full_ledger()
    ledger.add_telemetry([_run("a", [1, 2])])  # a gateway killed before its MQTT ack re-sends these
    published = Published(KEYS, readings=5, malformed_messages=1)
    assert account(published, ledger, exact=False).ok
    assert account(published, ledger, exact=False).numbers["telemetry_duplicate_readings"] == 2
    exact = account(published, ledger, exact=True)
    assert not exact.ok
    assert "7 + 1" in exact.failures[0]


def test_a_reading_neither_scored_nor_dead_lettered_fails() -> None:
    ledger = Ledger()
    ledger.add_telemetry([_run("a", [0, 1, 2]), _run("b", [0, 1])])
    ledger.add_risk([_risk("a", 0), _risk("a", 1), _risk("b", 0)])
    # the scoring job dead-lettered b#1 (late), with its Kafka coordinates as the source
    ledger.add_dead_letters(
        [_letter("late_for_state", "kafka:t/asset/b/seq/1", [{"asset_id": "b", "seq": 1}], 0)]
    )
    verdict = account(Published(KEYS, readings=5, malformed_messages=0), ledger, exact=True)
    assert verdict.numbers["stream_dead_letters"] == 1
    assert verdict.numbers["unscored_readings"] == 1
    assert any("a#2" in f for f in verdict.failures)


def test_undecodable_records_are_counted_not_raised() -> None:
    ledger = _full_ledger()
    ledger.add_telemetry([b"not json"])
    ledger.add_risk([b"{}"])
    ledger.add_dead_letters([orjson.dumps({"reason": "malformed_json"})])  # not the contract's format
    verdict = account(Published(KEYS, readings=5, malformed_messages=1), ledger, exact=False)
    assert dict(ledger.unreadable) == {"telemetry": 1, "risk": 1, "dlq": 1}
    assert not verdict.ok


def test_fewer_dead_letters_than_malformed_messages_fails() -> None:
    verdict = account(Published(KEYS, readings=5, malformed_messages=3), _full_ledger(), exact=False)
    assert not verdict.ok


def test_other_fleets_on_the_same_topics_are_left_out() -> None:
    ledger = _full_ledger()
    ledger.add_telemetry([_run("stranger", [0, 1, 2])])
    ledger.add_dead_letters([_letter("malformed_json", "forewarn/x/stranger/telemetry", b"{")])
    verdict = account(Published(KEYS, readings=5, malformed_messages=1), ledger, exact=True)
    assert verdict.ok, verdict.failures
    assert verdict.numbers["other_fleets_readings"] == 3
