"""Users, tokens, sessions and logins in the store (``alerts.identity.users``), on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.identity import passwords, users
from alerts.identity.roles import Role
from alerts.identity.users import IdentityError, IdentityErrorCode, LoginRefused
from alerts.store.db import make_engine, migrate, session_factory, transaction
from alerts.store.tables import AuditRow, Base, TechnicianRow
from tests.unit.alerts.helpers import T0, at

PASSWORD = "correct horse battery staple"
ANY_TEXT = st.text(max_size=300)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """One migrated store for the module: each test uses its own user names."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('identity') / 'wo.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def _add(sessions: sessionmaker[Session], name: str, role: Role = Role.DISPATCHER, **kw: object) -> None:
    with transaction(sessions) as s:
        users.add_user(s, name, role, PASSWORD, actor="test", now=T0, **kw)  # type: ignore[arg-type]


def _login(sessions: sessionmaker[Session], name: str, password: str, t_s: float) -> object:
    with transaction(sessions) as s:
        found = users.authenticate(s, name, password, now=at(t_s), max_failures=3, lockout_s=300)
        return found if isinstance(found, LoginRefused) else found.name


def test_the_migrations_build_exactly_the_tables(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wo.db'}")
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_a_password_is_stored_hashed_and_checked(sessions: sessionmaker[Session]) -> None:
    _add(sessions, "hash-me")
    with transaction(sessions) as s:
        user = users.get_user(s, "hash-me")
        assert PASSWORD not in user.password_hash
        assert user.password_hash.startswith("$argon2id$")
    assert _login(sessions, "hash-me", PASSWORD, 0) == "hash-me"
    assert _login(sessions, "hash-me", PASSWORD + "!", 0) is LoginRefused.BAD_CREDENTIALS
    assert _login(sessions, "nobody-here", PASSWORD, 0) is LoginRefused.BAD_CREDENTIALS


@pytest.mark.parametrize(
    ("name", "role", "password", "technician_id", "code"),
    [
        ("", Role.VIEWER, PASSWORD, None, IdentityErrorCode.INVALID),
        ("has space", Role.VIEWER, PASSWORD, None, IdentityErrorCode.INVALID),
        ("x" * 101, Role.VIEWER, PASSWORD, None, IdentityErrorCode.INVALID),
        ("short-pw", Role.VIEWER, "eleven char", None, IdentityErrorCode.INVALID),
        ("huge-pw", Role.VIEWER, "x" * 1025, None, IdentityErrorCode.INVALID),
        ("tech-without-record", Role.TECHNICIAN, PASSWORD, None, IdentityErrorCode.INVALID),
        ("tech-unknown-record", Role.TECHNICIAN, PASSWORD, 999, IdentityErrorCode.NOT_FOUND),
        ("dup", Role.VIEWER, PASSWORD, None, IdentityErrorCode.EXISTS),
    ],
)
def test_bad_users_are_refused(
    sessions: sessionmaker[Session],
    name: str,
    role: Role,
    password: str,
    technician_id: int | None,
    code: IdentityErrorCode,
) -> None:
    if code is IdentityErrorCode.EXISTS:
        _add(sessions, name)
    with pytest.raises(IdentityError) as refused, transaction(sessions) as s:
        users.add_user(s, name, role, password, technician_id=technician_id, actor="t", now=T0)
    assert refused.value.code is code
    assert password not in refused.value.detail


def test_lockout_after_failures_then_release_by_the_clock(sessions: sessionmaker[Session]) -> None:
    _add(sessions, "locky")
    assert _login(sessions, "locky", "wrong-password-1", 0) is LoginRefused.BAD_CREDENTIALS
    assert _login(sessions, "locky", "wrong-password-2", 1) is LoginRefused.BAD_CREDENTIALS
    assert _login(sessions, "locky", "wrong-password-3", 2) is LoginRefused.LOCKED  # the third locks
    assert _login(sessions, "locky", PASSWORD, 3) is LoginRefused.LOCKED  # even the right one
    assert _login(sessions, "locky", PASSWORD, 2 + 299) is LoginRefused.LOCKED
    assert _login(sessions, "locky", PASSWORD, 2 + 300) == "locky"  # lockout_s later
    with transaction(sessions) as s:
        user = users.get_user(s, "locky")
        assert (user.failed_logins, user.locked_until) == (0, None)
        actions = s.scalars(
            select(AuditRow.action).where(AuditRow.entity == "user", AuditRow.entity_id == str(user.id))
        ).all()
    assert actions == ["create", "login_failed", "login_failed", "locked"]


def test_a_success_resets_the_failure_count(sessions: sessionmaker[Session]) -> None:
    _add(sessions, "forgetful")
    for t_s in (0, 1):
        _login(sessions, "forgetful", "wrong-password", t_s)
    assert _login(sessions, "forgetful", PASSWORD, 2) == "forgetful"
    for t_s in (3, 4):  # two more failures: not three in a row
        assert _login(sessions, "forgetful", "wrong-password", t_s) is LoginRefused.BAD_CREDENTIALS
    assert _login(sessions, "forgetful", PASSWORD, 5) == "forgetful"


def test_a_disabled_user_cannot_log_in_and_loses_sessions_and_tokens(sessions: sessionmaker[Session]) -> None:
    _add(sessions, "leaver")
    with transaction(sessions) as s:
        token = users.issue_token(s, "leaver", label="script", actor="t", now=T0).token
        cookie = users.create_session(s, users.get_user(s, "leaver"), now=T0, ttl_h=12).cookie
        users.set_active(s, "leaver", False, actor="admin", now=at(1))
    with transaction(sessions) as s:
        assert users.principal_from_token(s, token, now=at(2)) is None
        assert users.principal_from_session(s, cookie, now=at(2)) is None
    assert _login(sessions, "leaver", PASSWORD, 3) is LoginRefused.BAD_CREDENTIALS
    with transaction(sessions) as s:
        users.set_active(s, "leaver", True, actor="admin", now=at(4))
        assert users.principal_from_token(s, token, now=at(5)) is not None
        assert users.principal_from_session(s, cookie, now=at(5)) is None  # sessions ended for good


def test_tokens_name_their_user_until_revoked(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        s.add(TechnicianRow(name="ana", skills=["bearing"], site="site-1", territory=[], active=True))
        s.flush()
        tech_id = s.scalars(select(TechnicianRow.id).where(TechnicianRow.name == "ana")).one()
    _add(sessions, "ana-tech", Role.TECHNICIAN, technician_id=tech_id)
    with transaction(sessions) as s:
        issued = users.issue_token(s, "ana-tech", label="phone", actor="t", now=T0)
    assert issued.token.startswith("fw_")
    assert len(issued.token) >= 40
    assert issued.token.startswith(issued.prefix)
    with transaction(sessions) as s:
        principal = users.principal_from_token(s, issued.token, now=at(10))
        assert principal is not None
        assert (principal.name, principal.role, principal.technician_id, principal.via) == (
            "ana-tech", Role.TECHNICIAN, tech_id, "token",
        )  # fmt: skip
        assert principal.actor == "ana-tech"
        (row, owner), *_ = [(t, n) for t, n in users.list_tokens(s, "ana-tech")]
        assert (owner, row.label, row.last_used_at, row.token_hash) == (
            "ana-tech", "phone", at(10), users.digest(issued.token),
        )  # fmt: skip
        users.revoke_token(s, issued.id, actor="admin", now=at(20))
    with transaction(sessions) as s:
        assert users.principal_from_token(s, issued.token, now=at(30)) is None
        audit = s.scalars(select(AuditRow).where(AuditRow.entity == "api_token")).all()
    assert [a.action for a in audit if a.entity_id == str(issued.id)] == ["issue", "revoke"]
    assert all(issued.token not in str(a.after) for a in audit)


def test_sessions_expire_by_the_clock(sessions: sessionmaker[Session]) -> None:
    _add(sessions, "shift")
    with transaction(sessions) as s:
        new = users.create_session(s, users.get_user(s, "shift"), now=T0, ttl_h=12)
    assert new.expires_at == T0 + timedelta(hours=12)
    with transaction(sessions) as s:
        live = users.principal_from_session(s, new.cookie, now=at(12 * 3600 - 1))
        assert live is not None
        assert (live.csrf_token, live.via) == (new.csrf_token, "session")
        assert users.principal_from_session(s, new.cookie, now=at(12 * 3600)) is None


def test_logout_ends_the_session(sessions: sessionmaker[Session]) -> None:
    _add(sessions, "goodbye")
    with transaction(sessions) as s:
        cookie = users.create_session(s, users.get_user(s, "goodbye"), now=T0, ttl_h=1).cookie
    with transaction(sessions) as s:
        assert users.end_session(s, cookie, now=at(1))
        assert not users.end_session(s, cookie, now=at(2))
        assert users.principal_from_session(s, cookie, now=at(3)) is None


def test_a_new_password_ends_sessions_and_unlocks(sessions: sessionmaker[Session]) -> None:
    _add(sessions, "resetme")
    for t_s in (0, 1, 2):
        _login(sessions, "resetme", "wrong-password", t_s)
    with transaction(sessions) as s:
        cookie = users.create_session(s, users.get_user(s, "resetme"), now=T0, ttl_h=1).cookie
        users.set_password(s, "resetme", "a brand new passphrase", actor="admin", now=at(3))
    assert _login(sessions, "resetme", "a brand new passphrase", 4) == "resetme"
    with transaction(sessions) as s:
        assert users.principal_from_session(s, cookie, now=at(5)) is None


def test_the_audit_never_holds_a_secret(sessions: sessionmaker[Session]) -> None:
    _add(sessions, "audited")
    with transaction(sessions) as s:
        token = users.issue_token(s, "audited", label="x", actor="t", now=T0).token
        new = users.create_session(s, users.get_user(s, "audited"), now=T0, ttl_h=1)
        users.set_password(s, "audited", "another passphrase!", actor="t", now=T0)
        stored = users.get_user(s, "audited").password_hash
    _login(sessions, "audited", "wrong password here", 1)
    with transaction(sessions) as s:
        text = " ".join(f"{a.before} {a.after} {a.actor}" for a in s.scalars(select(AuditRow)))
    for secret in (PASSWORD, "another passphrase!", "wrong password here", token, new.cookie, stored):
        assert secret not in text
    assert new.csrf_token not in text


@pytest.fixture(scope="module")
def live(sessions: sessionmaker[Session]) -> tuple[str, str]:
    """A live token and session cookie of user ``hypo``."""
    _add(sessions, "hypo", Role.ADMIN)
    with transaction(sessions) as s:
        token = users.issue_token(s, "hypo", label="x", actor="t", now=T0).token
        cookie = users.create_session(s, users.get_user(s, "hypo"), now=T0, ttl_h=1).cookie
    return token, cookie


@settings(max_examples=200, deadline=None)
@given(guess=ANY_TEXT)
def test_any_other_string_is_no_token_and_no_session(
    sessions: sessionmaker[Session], live: tuple[str, str], guess: str
) -> None:
    token, cookie = live
    with transaction(sessions) as s:
        assert (users.principal_from_token(s, guess, now=at(1)) is None) == (guess != token)
        assert (users.principal_from_session(s, guess, now=at(1)) is None) == (guess != cookie)


def test_near_misses_are_no_token_and_no_session(
    sessions: sessionmaker[Session], live: tuple[str, str]
) -> None:
    token, cookie = live
    with transaction(sessions) as s:
        assert users.principal_from_token(s, token, now=at(1)) is not None
        assert users.principal_from_session(s, cookie, now=at(1)) is not None
        for near in (
            token[:-1],
            token + "x",
            token.upper(),
            f" {token}",
            cookie[:-1],
            cookie.swapcase(),
            cookie,
        ):
            assert users.principal_from_token(s, near, now=at(1)) is None
        for near in (cookie[:-1], cookie + "=", cookie.upper(), f"{cookie} ", token):
            assert users.principal_from_session(s, near, now=at(1)) is None


def test_generated_passwords_pass_the_rules_and_differ() -> None:
    made = {passwords.generate() for _ in range(20)}
    assert len(made) == 20
    for password in made:
        passwords.check_rules(password)
        assert len(password) >= 32
