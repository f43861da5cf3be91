"""InfluxDB 1.x administration: databases with their grants, and users.

Run as the admin (settings loaded plainly): creating a database needs admin rights, and each new
database must grant the pipeline's writer ``ALL`` (it writes and reads back) and the dashboards'
reader ``READ``, or the components narrowed to those roles are refused on it.

Every statement goes in the POST body with the credentials in the ``Authorization`` header: a
password in the query string would land in every access log on the way.
"""

from __future__ import annotations

import re

import httpx

from forewarn.settings import InfluxRole, InfluxSettings, role_user

# What each role may do on a project database (InfluxQL privileges).
GRANTS: dict[InfluxRole, str] = {InfluxRole.WRITER: "ALL", InfluxRole.READER: "READ"}


_STRING = re.compile(r"'(?:[^'\\]|\\.)*'")


class InfluxAdminError(RuntimeError):
    """InfluxDB refused an administrative statement or could not be reached."""


def quote_ident(name: str) -> str:
    """A user or database name as an InfluxQL identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """A password as an InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def execute(settings: InfluxSettings, statement: str, *, anonymous: bool = False) -> httpx.Response:
    """POST one statement to ``/query`` (in the body); raise unless InfluxDB accepted it.

    ``anonymous``: without credentials (only the first admin can be created that way).
    """
    headers = {} if anonymous else settings.auth_headers()
    try:
        response = httpx.post(
            f"{settings.url}/query", data={"q": statement}, headers=headers, timeout=settings.timeout_s
        )
    except httpx.HTTPError as exc:
        raise InfluxAdminError(f"InfluxDB at {settings.url} did not answer: {exc}") from None
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    errors = [r["error"] for r in body.get("results", []) if r.get("error")] if isinstance(body, dict) else []
    if response.status_code != 200 or errors or (isinstance(body, dict) and body.get("error")):
        detail = errors or body.get("error") or response.text[:300]
        shown = _STRING.sub("'***'", statement)  # the only string literals here are passwords
        raise InfluxAdminError(f"InfluxDB refused {shown!r}: HTTP {response.status_code} {detail}")
    return response


def grant_roles(admin: InfluxSettings, database: str) -> None:
    """Grant the writer and the reader their privileges on ``database`` (when they exist here)."""
    for role, privilege in GRANTS.items():
        if role.value in admin.users:
            execute(admin, f"GRANT {privilege} ON {quote_ident(database)} TO {quote_ident(role_user(role))}")


def create_database(admin: InfluxSettings, database: str) -> None:
    """Create ``database`` if missing (idempotent) and grant the roles on it."""
    execute(admin, f"CREATE DATABASE {quote_ident(database)}")
    grant_roles(admin, database)


def drop_database(admin: InfluxSettings, database: str) -> None:
    """Drop ``database`` (no error when it does not exist)."""
    execute(admin, f"DROP DATABASE {quote_ident(database)}")
