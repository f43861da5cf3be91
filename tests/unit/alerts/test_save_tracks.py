"""``alert_repo.save_tracks`` on a migrated SQLite store: new tracks inserted, known ones updated,
a key given twice stored once (the last), batches larger than one query's keys; what
``load_state`` reads back is what was saved, and for given keys exactly those tracks plus the ones
behind their assets' open alerts; ``alert_rows`` finds stored alerts by id."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from alerts.config import RuleConfig
from alerts.rules import EngineState
from alerts.state import Track
from alerts.store import alert_repo
from alerts.store.db import make_engine, migrate, session_factory, transaction
from alerts.store.tables import TrackRow
from tests.unit.alerts.helpers import T0, risk, run


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'alerts.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def track(i: int, mode: str = "bearing", seen: int = 0) -> Track:
    return Track(f"pump-{i:05d}", mode, "site-1", last_event_ts=T0 + timedelta(seconds=seen),
                 window=(True, False)[: 1 + seen % 2], was_above=bool(seen % 2))  # fmt: skip


def test_tracks_are_inserted_then_updated_and_read_back(store: sessionmaker[Session]) -> None:
    many = alert_repo.TRACK_KEYS_PER_QUERY * 2 + 7  # more keys than one query takes
    first = [track(i, mode) for i in range(many) for mode in ("bearing", "seal")]
    with transaction(store) as session:
        alert_repo.save_tracks(session, first)
    second = [track(i, "seal", seen=5) for i in range(0, many, 3)] + [track(many + 1, "bearing", seen=2)]
    # a key given twice in one call (and already stored): the last one is what stays
    second += [track(0, "seal", seen=9)]
    with transaction(store) as session:
        alert_repo.save_tracks(session, second)
        alert_repo.save_tracks(session, [])
    expected = {t.key: t for t in [*first, *second]}
    with transaction(store) as session:
        assert session.scalar(select(func.count()).select_from(TrackRow)) == len(expected)
        state = alert_repo.load_state(session)
    assert state.tracks == expected
    assert state.tracks[("pump-00000", "seal")] == replace(track(0, "seal", seen=9))


def test_a_new_key_given_twice_in_one_call_is_inserted_once(store: sessionmaker[Session]) -> None:
    with transaction(store) as session:
        alert_repo.save_tracks(session, [track(1), track(1, seen=3)])
    with transaction(store) as session:
        assert alert_repo.load_state(session).tracks == {track(1).key: track(1, seen=3)}


def test_load_state_for_keys_reads_them_and_the_tracks_behind_open_alerts(
    store: sessionmaker[Session],
) -> None:
    many = alert_repo.TRACK_KEYS_PER_QUERY * 2 + 7
    tracks = [track(i, mode) for i in range(many) for mode in ("bearing", "seal")]
    state, _ = run([risk(0, 0.95, asset="pump-00003", mode="seal")], RuleConfig(persistence_s=0))
    (alert,) = state.alerts.values()
    with transaction(store) as session:
        alert_repo.save_tracks(session, tracks)
        alert_repo.save_alert(session, alert)
    wanted = {track(i).key for i in range(0, many, 2)}
    wanted |= {("pump-00003", "bearing"), ("pump-99999", "bearing")}
    with transaction(store) as session:
        loaded = alert_repo.load_state(session, wanted)
        rows = alert_repo.alert_rows(session, [alert.alert_id, "no-such-alert", alert.alert_id])
        assert alert_repo.load_state(session, []) == EngineState()
    by_key = {t.key: t for t in tracks}
    behind_alert = ("pump-00003", "seal")  # not asked for: the open alert of an asked-for asset
    assert loaded.tracks == {k: by_key[k] for k in wanted | {behind_alert} if k in by_key}
    assert loaded.alerts == {behind_alert: alert}
    assert list(rows) == [alert.alert_id]
    assert alert_repo.row_to_alert(rows[alert.alert_id]) == alert
