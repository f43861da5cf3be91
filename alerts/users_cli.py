"""``forewarn users``: the named users of the console and the API, their roles and API tokens.

Mounted by ``chain/cli.py`` as ``forewarn users``. Works on the store directly (schema migrated,
created when new), so the first users exist before the API ever ran. Secrets never reach the
terminal unasked: a generated password goes to a mode-600 credentials file, a token to a mode-600
file with ``--out`` (else printed once on stdout, for a pipe, like ``gh auth token``). Errors are
one line on stderr: exit 2 for bad input (an unknown user, a weak password), 1 for a store that
fails.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from alerts.identity.roles import Role
from forewarn.settings import SettingsError, load

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

users_app = typer.Typer(
    help="Console and API users: add, passwords, enable/disable, roles, per-user API tokens.",
    no_args_is_help=True,
)


@users_app.callback()
def _users() -> None:
    """Console and API users: add, passwords, enable/disable, roles, per-user API tokens."""


DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="The work-order store (sqlite:///path or postgresql+psycopg://…); created and migrated if new.",
        envvar="FOREWARN_API_DATABASE_URL",
        show_default=False,
    ),
]
NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The user's name (their login).")]
PasswordFile = Annotated[
    Path | None,
    typer.Option(
        help="Read the password from this file's first line (never from the command line).",
        show_default=False,
    ),
]
CredentialsFile = Annotated[
    Path | None,
    typer.Option(
        help="Without --password-file: generate a password and append `NAME ROLE PASSWORD` here (mode 600).",
        show_default=False,
    ),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _actor() -> str:
    """Who ran the command, as the audit records it."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@contextmanager
def _session(database_url: str | None) -> Iterator[Session]:
    """One transaction on the store (created and migrated first); refusals become one line."""
    from sqlalchemy.exc import SQLAlchemyError

    from alerts.identity.users import IdentityError
    from alerts.settings import ApiSettings, ensure_sqlite_dir
    from alerts.store.db import make_engine, migrate, session_factory, transaction

    overrides: dict[str, Any] = {"database_url": database_url} if database_url else {}
    try:
        settings = load(ApiSettings, **overrides)
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    ensure_sqlite_dir(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        with transaction(session_factory(engine)) as session:
            yield session
    except IdentityError as exc:
        raise _fail(exc.detail) from None
    except SQLAlchemyError as exc:
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise _fail(f"the store failed: {first}", 1) from None
    finally:
        engine.dispose()


def _private_file(path: Path, *, append: bool) -> int:
    """A file descriptor on ``path``, created mode 600 (and made 600 if it existed)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise _fail(f"cannot write {path}: {exc.strerror}") from None
    os.fchmod(fd, 0o600)
    return fd


def _write_private(path: Path, text: str, *, append: bool) -> None:
    fd = _private_file(path, append=append)
    with os.fdopen(fd, "a" if append else "w", encoding="utf-8") as out:
        out.write(text)


def _append_credentials(path: Path, name: str, role: str, password: str) -> None:
    from alerts.identity.credentials import CredentialsFileError, append_credentials

    try:
        append_credentials(path, name, role, password)
    except (OSError, CredentialsFileError) as exc:
        raise _fail(f"cannot write {path}: {exc}") from None


def _password(password_file: Path | None, credentials_file: Path | None) -> tuple[str, bool]:
    """The password to set and whether it was generated (then it goes to ``credentials_file``)."""
    from alerts.identity import passwords

    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail(f"cannot read --password-file {password_file}: {exc}") from None
        return (lines[0] if lines else ""), False
    if credentials_file is None:
        raise _fail("give --password-file FILE, or --credentials-file FILE to get a generated password")
    return passwords.generate(), True


@users_app.command("add")
def add(
    name: NameArg,
    role: Annotated[Role, typer.Option(help="What the user may do.", case_sensitive=False)],
    technician_id: Annotated[
        int | None,
        typer.Option(help="A technician user's technician record (whose work orders they do).", min=1),
    ] = None,
    password_file: PasswordFile = None,
    credentials_file: CredentialsFile = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a user with a role; the password comes from a file or is generated into a mode-600 file."""
    from alerts.clock import SystemClock
    from alerts.identity import users

    password, generated = _password(password_file, credentials_file)
    with _session(database_url) as session:
        users.add_user(
            session, name, role, password, technician_id=technician_id, actor=_actor(),
            now=SystemClock().now(),
        )  # fmt: skip
        if generated and credentials_file is not None:
            _append_credentials(credentials_file, name, role.value, password)
    where = f"; password in {credentials_file}" if generated else ""
    typer.echo(f"added {name} ({role.value}){where}", err=True)


@users_app.command("passwd")
def passwd(
    name: NameArg,
    password_file: PasswordFile = None,
    credentials_file: CredentialsFile = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set a new password (from a file, or generated into a mode-600 file); ends the user's sessions."""
    from alerts.clock import SystemClock
    from alerts.identity import users

    password, generated = _password(password_file, credentials_file)
    with _session(database_url) as session:
        user = users.set_password(session, name, password, actor=_actor(), now=SystemClock().now())
        if generated and credentials_file is not None:
            _append_credentials(credentials_file, name, str(user.role), password)
    where = f"; password in {credentials_file}" if generated else ""
    typer.echo(f"new password for {name}{where}", err=True)


def _set_active(name: str, active: bool, database_url: str | None) -> None:
    from alerts.clock import SystemClock
    from alerts.identity import users

    with _session(database_url) as session:
        users.set_active(session, name, active, actor=_actor(), now=SystemClock().now())
    typer.echo(f"{'enabled' if active else 'disabled'} {name}", err=True)


@users_app.command("disable")
def disable(name: NameArg, database_url: DatabaseUrl = None) -> None:
    """Disable a user: their sessions end and their tokens stop working at once."""
    _set_active(name, False, database_url)


@users_app.command("enable")
def enable(name: NameArg, database_url: DatabaseUrl = None) -> None:
    """Enable a disabled user again (and unlock them)."""
    _set_active(name, True, database_url)


@users_app.command("list")
def list_users(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Every user with role, technician, state and their API tokens (prefix and label only)."""
    from alerts.identity import users

    with _session(database_url) as session:
        tokens: dict[str, list[dict[str, Any]]] = {}
        for token, owner in users.list_tokens(session):
            tokens.setdefault(owner, []).append(
                {
                    "id": token.id,
                    "prefix": token.prefix,
                    "label": token.label,
                    "created_at": token.created_at.isoformat(),
                    "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
                    "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
                }
            )
        rows: list[dict[str, Any]] = [
            {
                "name": u.name,
                "role": u.role,
                "technician_id": u.technician_id,
                "active": u.active,
                "locked_until": u.locked_until.isoformat() if u.locked_until else None,
                "created_at": u.created_at.isoformat(),
                "tokens": tokens.get(u.name, []),
            }
            for u in users.list_users(session)
        ]
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no users yet: `forewarn users add NAME --role ROLE --credentials-file FILE`", err=True)
        return
    typer.echo(f"{'NAME':<24} {'ROLE':<11} {'TECH':>5} {'STATE':<9} TOKENS (id prefix… label)")
    for r in rows:
        state = "active" if r["active"] else "disabled"
        if r["locked_until"]:
            state = "locked"
        live = [t for t in r["tokens"] if t["revoked_at"] is None]
        shown = ", ".join(f"{t['id']} {t['prefix']}… {t['label']}" for t in live) or "-"
        tech = r["technician_id"] if r["technician_id"] is not None else "-"
        typer.echo(f"{r['name']:<24} {r['role']:<11} {tech:>5} {state:<9} {shown}")


@users_app.command("token")
def token(
    name: NameArg,
    label: Annotated[str, typer.Option(help="What the token is for (shown in lists).")] = "api",
    out: Annotated[
        Path | None,
        typer.Option(help="Write the token to this file (mode 600) instead of stdout.", show_default=False),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Issue an API token for a user (``Authorization: Bearer <token>``); it is shown this once only."""
    from alerts.clock import SystemClock
    from alerts.identity import users

    with _session(database_url) as session:
        issued = users.issue_token(session, name, label=label, actor=_actor(), now=SystemClock().now())
        if out is not None:
            _write_private(out, issued.token + "\n", append=False)
    if out is None:
        typer.echo(issued.token)
    where = f" in {out}" if out is not None else ""
    typer.echo(f"token {issued.id} ({issued.prefix}…) for {name}{where}", err=True)


@users_app.command("revoke-token")
def revoke_token(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id (`forewarn users list`).")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke an API token: it stops working at once."""
    from alerts.clock import SystemClock
    from alerts.identity import users

    with _session(database_url) as session:
        row = users.revoke_token(session, token_id, actor=_actor(), now=SystemClock().now())
        prefix = row.prefix
    typer.echo(f"revoked token {token_id} ({prefix}…)", err=True)
