"""Users, API tokens and console sessions in the store, inside the caller's transaction.

Every function takes the caller's ``Session`` and ``now`` (the clock is the caller's) and records
its change in ``audit_log`` (entity ``user``: create, password, enable/disable, login, logout, failed
login, lock; entity ``api_token``: issue, revoke): never a password, a hash or a token, only who,
what and when. Tokens and cookie values are random (``secrets``) and
only their SHA-256 is stored: a leaked database does not let anyone in. Refusals a caller expects
(wrong password, locked account) are returned as data; bad input raises :class:`IdentityError`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from alerts.identity import passwords
from alerts.identity.roles import Principal, Role
from alerts.store.tables import ApiTokenRow, TechnicianRow, UserRow, WebSessionRow
from alerts.workorders.audit import record

TOKEN_PREFIX = "fw_"  # noqa: S105 (a marker, not a secret)
_PREFIX_SHOWN = 10  # "fw_" and 7 random characters: enough to tell tokens apart in a list
_TOKEN_TOUCH_S = 60  # last_used_at is rewritten at most once a minute: a read stays a read
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


class IdentityErrorCode(StrEnum):
    """Why a user or token operation was refused."""

    NOT_FOUND = "not_found"
    EXISTS = "exists"
    INVALID = "invalid"


class IdentityError(Exception):
    """A refused user or token operation: a reason code and what to do about it."""

    def __init__(self, code: IdentityErrorCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class LoginRefused(StrEnum):
    """Why a login failed (the console shows one message for both: a name's state is not told)."""

    BAD_CREDENTIALS = "bad_credentials"  # unknown name, wrong password or a disabled account
    LOCKED = "locked"  # too many failures: locked until ``locked_until``


@dataclass(frozen=True)
class IssuedToken:
    """A new API token: ``token`` is shown once and never stored."""

    id: int
    token: str
    prefix: str


@dataclass(frozen=True)
class NewSession:
    """A new console session: ``cookie`` goes to the browser; the store keeps its hash."""

    cookie: str
    csrf_token: str
    expires_at: datetime


def digest(secret: str) -> str:
    """The SHA-256 (hex) a token or cookie value is stored and looked up by."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _principal(user: UserRow, via: Literal["token", "session"], csrf: str | None = None) -> Principal:
    return Principal(
        user_id=user.id,
        name=user.name,
        role=Role(user.role),
        technician_id=user.technician_id,
        via=via,
        csrf_token=csrf,
    )


def _public(user: UserRow) -> dict[str, object]:
    """What the audit shows of a user (no hash)."""
    return {
        "name": user.name,
        "role": user.role,
        "technician_id": user.technician_id,
        "active": user.active,
    }


def get_user(session: Session, name: str) -> UserRow:
    """The user called ``name``, or :class:`IdentityError` ``not_found``."""
    user = session.scalar(select(UserRow).where(UserRow.name == name))
    if user is None:
        raise IdentityError(IdentityErrorCode.NOT_FOUND, f"no user {name!r} (`forewarn users list`)")
    return user


def _check_technician(session: Session, role: Role, technician_id: int | None) -> None:
    if role is Role.TECHNICIAN and technician_id is None:
        raise IdentityError(
            IdentityErrorCode.INVALID,
            "a technician user needs --technician-id: the technician record whose work orders they do",
        )
    if technician_id is not None and session.get(TechnicianRow, technician_id) is None:
        raise IdentityError(IdentityErrorCode.NOT_FOUND, f"technician {technician_id} does not exist")


def add_user(
    session: Session,
    name: str,
    role: Role,
    password: str,
    *,
    technician_id: int | None = None,
    actor: str,
    now: datetime,
) -> UserRow:
    """Create a user; ``technician_id`` (required for a technician) names their technician record."""
    if not _NAME.match(name):
        raise IdentityError(
            IdentityErrorCode.INVALID,
            f"a user name is 1 to 100 letters, digits or . _ @ - (starting with a letter or digit): {name!r}",
        )
    if session.scalar(select(UserRow.id).where(UserRow.name == name)) is not None:
        raise IdentityError(IdentityErrorCode.EXISTS, f"user {name!r} already exists")
    _check_technician(session, role, technician_id)
    try:
        hashed = passwords.hash_password(password)
    except passwords.PasswordRuleError as exc:
        raise IdentityError(IdentityErrorCode.INVALID, str(exc)) from None
    user = UserRow(
        name=name,
        role=role.value,
        password_hash=hashed,
        technician_id=technician_id,
        active=True,
        created_at=now,
        failed_logins=0,
        locked_until=None,
    )
    session.add(user)
    session.flush()
    record(
        session,
        entity="user",
        entity_id=user.id,
        action="create",
        actor=actor,
        at=now,
        before=None,
        after=_public(user),
    )
    return user


def set_password(session: Session, name: str, password: str, *, actor: str, now: datetime) -> UserRow:
    """Replace a user's password; unlocks the account and ends its console sessions."""
    user = get_user(session, name)
    try:
        user.password_hash = passwords.hash_password(password)
    except passwords.PasswordRuleError as exc:
        raise IdentityError(IdentityErrorCode.INVALID, str(exc)) from None
    user.failed_logins = 0
    user.locked_until = None
    session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user.id))
    record(
        session,
        entity="user",
        entity_id=user.id,
        action="set_password",
        actor=actor,
        at=now,
        before=None,
        after=None,
    )
    return user


def set_active(session: Session, name: str, active: bool, *, actor: str, now: datetime) -> UserRow:
    """Enable or disable a user; a disabled user's tokens and sessions stop working at once."""
    user = get_user(session, name)
    before = _public(user)
    user.active = active
    if not active:
        session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user.id))
    else:
        user.failed_logins = 0
        user.locked_until = None
    record(
        session,
        entity="user",
        entity_id=user.id,
        action="enable" if active else "disable",
        actor=actor,
        at=now,
        before=before,
        after=_public(user),
    )
    return user


def list_users(session: Session) -> list[UserRow]:
    """Every user, by name."""
    return list(session.scalars(select(UserRow).order_by(UserRow.name)))


def active_users(session: Session) -> int:
    """How many users can log in (the API warns at start when none can)."""
    return session.scalar(select(func.count()).select_from(UserRow).where(UserRow.active)) or 0


def issue_token(session: Session, name: str, *, label: str, actor: str, now: datetime) -> IssuedToken:
    """A new API token for ``name``: the plain token is in the result, once; the store keeps its hash."""
    user = get_user(session, name)
    if not 1 <= len(label) <= 200 or "\x00" in label:
        raise IdentityError(IdentityErrorCode.INVALID, "a token label is 1 to 200 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiTokenRow(
        user_id=user.id,
        label=label,
        token_hash=digest(token),
        prefix=token[:_PREFIX_SHOWN],
        created_at=now,
        last_used_at=None,
        revoked_at=None,
    )
    session.add(row)
    session.flush()
    record(
        session,
        entity="api_token",
        entity_id=row.id,
        action="issue",
        actor=actor,
        at=now,
        before=None,
        after={"user": user.name, "label": label, "prefix": row.prefix},
    )
    return IssuedToken(row.id, token, row.prefix)


def revoke_token(session: Session, token_id: int, *, actor: str, now: datetime) -> ApiTokenRow:
    """Revoke a token by id (idempotent: a revoked token stays revoked at its first time)."""
    row = session.get(ApiTokenRow, token_id)
    if row is None:
        raise IdentityError(IdentityErrorCode.NOT_FOUND, f"no API token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now
        record(
            session,
            entity="api_token",
            entity_id=row.id,
            action="revoke",
            actor=actor,
            at=now,
            before=None,
            after={"prefix": row.prefix, "label": row.label},
        )
    return row


def list_tokens(session: Session, name: str | None = None) -> list[tuple[ApiTokenRow, str]]:
    """Tokens (with their user's name), oldest first; only ``name``'s when given."""
    q = select(ApiTokenRow, UserRow.name).join(UserRow, UserRow.id == ApiTokenRow.user_id)
    if name is not None:
        q = q.where(UserRow.name == name)
    return [(t, n) for t, n in session.execute(q.order_by(ApiTokenRow.id))]


def principal_from_token(session: Session, token: str, *, now: datetime) -> Principal | None:
    """The principal of a live token of an active user; None for anything else."""
    found = session.execute(
        select(ApiTokenRow, UserRow)
        .join(UserRow, UserRow.id == ApiTokenRow.user_id)
        .where(ApiTokenRow.token_hash == digest(token))
    ).first()
    if found is None:
        return None
    row, user = found
    if row.revoked_at is not None or not user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at >= timedelta(seconds=_TOKEN_TOUCH_S):
        row.last_used_at = now
    return _principal(user, "token")


def authenticate(
    session: Session,
    name: str,
    password: str,
    *,
    now: datetime,
    max_failures: int,
    lockout_s: float,
) -> UserRow | LoginRefused:
    """Check a name and password; the user, or why not.

    An unknown name is verified against a dummy hash (the answer takes as long). ``max_failures``
    wrong passwords in a row lock the account for ``lockout_s``; while locked even the right password
    is refused. The caller commits either way: failures count.
    """
    user = session.scalar(select(UserRow).where(UserRow.name == name)) if len(name) <= 200 else None
    if user is None:
        passwords.verify(passwords.dummy_hash(), password)
        return LoginRefused.BAD_CREDENTIALS
    if user.locked_until is not None and user.locked_until > now:
        passwords.verify(passwords.dummy_hash(), password)
        return LoginRefused.LOCKED
    if not passwords.verify(user.password_hash, password) or not user.active:
        user.failed_logins += 1
        action = "login_failed"
        if user.failed_logins >= max_failures:
            user.failed_logins = 0
            user.locked_until = now + timedelta(seconds=lockout_s)
            action = "locked"
        until = user.locked_until.isoformat() if user.locked_until else None
        record(
            session,
            entity="user",
            entity_id=user.id,
            action=action,
            actor=user.name,
            at=now,
            before=None,
            after={"locked_until": until},
        )
        return LoginRefused.LOCKED if action == "locked" else LoginRefused.BAD_CREDENTIALS
    user.failed_logins = 0
    user.locked_until = None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def create_session(session: Session, user: UserRow, *, now: datetime, ttl_h: float) -> NewSession:
    """A console session for ``user`` lasting ``ttl_h`` hours (expired sessions are swept here)."""
    session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at <= now))
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=ttl_h)
    session.add(
        WebSessionRow(id=digest(cookie), user_id=user.id, csrf_token=csrf, created_at=now, expires_at=expires)
    )
    record(
        session,
        entity="user",
        entity_id=user.id,
        action="login",
        actor=user.name,
        at=now,
        before=None,
        after={"expires_at": expires.isoformat()},
    )
    return NewSession(cookie, csrf, expires)


def principal_from_session(session: Session, cookie: str, *, now: datetime) -> Principal | None:
    """The principal of a live session of an active user; None for anything else."""
    found = session.execute(
        select(WebSessionRow, UserRow)
        .join(UserRow, UserRow.id == WebSessionRow.user_id)
        .where(WebSessionRow.id == digest(cookie))
    ).first()
    if found is None:
        return None
    row, user = found
    if row.expires_at <= now or not user.active:
        return None
    return _principal(user, "session", row.csrf_token)


def end_session(session: Session, cookie: str, *, now: datetime) -> bool:
    """Log out: delete the session of ``cookie``; whether there was one."""
    row = session.get(WebSessionRow, digest(cookie))
    if row is None:
        return False
    user = session.get(UserRow, row.user_id)
    session.delete(row)
    session.flush()
    record(
        session,
        entity="user",
        entity_id=row.user_id,
        action="logout",
        actor=user.name if user else str(row.user_id),
        at=now,
        before=None,
        after=None,
    )
    return True
