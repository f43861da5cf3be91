"""The tick lease on a real SQLite store: one holder at a time, renewal, expiry, hand-over, one escalation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from alerts.config import RuleConfig
from alerts.engine.batch import EngineContext, RiskMessage, TickLease, process_batch, process_tick
from alerts.store.db import make_engine, migrate, session_factory, transaction
from alerts.store.lease import TICK_LEASE, holder_of, release, try_acquire
from alerts.workorders.lifecycle import DEFAULT_SLA_H
from forewarn.contracts.alert import ChangeKind
from tests.unit.alerts.helpers import at, series


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'lease.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def acquire(sessions: sessionmaker[Session], holder: str, t_s: float, lease_s: float = 30) -> bool:
    with transaction(sessions) as s:
        return try_acquire(s, TICK_LEASE, holder, at(t_s), lease_s)


def test_one_holder_until_expiry_then_hand_over(sessions: sessionmaker[Session]) -> None:
    assert acquire(sessions, "a", 0)
    assert not acquire(sessions, "b", 1)
    assert acquire(sessions, "a", 20)  # renewal: now held until 50
    assert not acquire(sessions, "b", 49)
    assert not acquire(sessions, "b", 50)  # expires_at is still "now": not yet free
    assert acquire(sessions, "b", 50.001)  # a stopped renewing: b takes over
    assert not acquire(sessions, "a", 51)
    with transaction(sessions) as s:
        assert holder_of(s, TICK_LEASE, at(51)) == "b"


def test_release_hands_over_at_once(sessions: sessionmaker[Session]) -> None:
    assert acquire(sessions, "a", 0)
    with transaction(sessions) as s:
        assert not release(s, TICK_LEASE, "b", at(1))  # only the holder can release
        assert release(s, TICK_LEASE, "a", at(1))
    with transaction(sessions) as s:
        assert holder_of(s, TICK_LEASE, at(1)) is None
    assert acquire(sessions, "b", 1)


def test_concurrent_first_acquisition_has_one_winner(sessions: sessionmaker[Session]) -> None:
    barrier = threading.Barrier(6)
    results: dict[int, bool] = {}

    def contend(i: int) -> None:
        barrier.wait()
        results[i] = acquire(sessions, f"h{i}", 0)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [False] * 5 + [True]


def test_two_engines_tick_once(sessions: sessionmaker[Session]) -> None:
    rules = RuleConfig(persistence_s=0, stale_after_s=600, ack_timeout_s=300, repeat_s=300)
    ctx = EngineContext(sessions, rules, "engine", DEFAULT_SLA_H)
    records = series([0.96] * 2) + series([0.2], asset="fan-1")
    process_batch(ctx, [RiskMessage(r.encode(), f"risk/0/{i}") for i, r in enumerate(records)], at(60))
    one, two = TickLease("engine-1", 30), TickLease("engine-2", 30)
    kinds: list[tuple[str, ChangeKind, str]] = []
    ran = {"engine-1": 0, "engine-2": 0}
    for t_s in range(60, 60 + 900, 5):  # both tick every 5 s for 15 minutes
        for lease in (two, one) if t_s % 2 else (one, two):
            changes = process_tick(ctx, at(t_s), lease)
            if changes is None:
                continue
            ran[lease.holder] += 1
            kinds += [(c.alert.asset_id, c.kind, c.alert.failure_mode) for c in changes]
    assert ran == {"engine-1": 180, "engine-2": 0}  # the first taker keeps renewing
    escalations = [k for k in kinds if k[1] is ChangeKind.ESCALATED]
    assert len(escalations) == 2  # on-call → supervisor at 360 s, → manager at 660 s: once each
    stale = [k for k in kinds if k[1] is ChangeKind.RAISED]
    assert sorted(stale) == [("fan-1", ChangeKind.RAISED, "stale"), ("pump-1", ChangeKind.RAISED, "stale")]


def test_the_other_engine_takes_over_when_the_holder_stops(sessions: sessionmaker[Session]) -> None:
    ctx = EngineContext(sessions, RuleConfig(stale_after_s=None), "engine", DEFAULT_SLA_H)
    one, two = TickLease("engine-1", 30), TickLease("engine-2", 30)
    assert process_tick(ctx, at(0), one) == []
    assert process_tick(ctx, at(5), two) is None
    # engine-1 dies (no release): engine-2 ticks once the lease ran out
    assert process_tick(ctx, at(30), two) is None
    assert process_tick(ctx, at(31), two) == []
    assert process_tick(ctx, at(32), one) is None
