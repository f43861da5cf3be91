"""InfluxDB's doors: nobody without a password, a wrong one refused, the reader reads and never writes.

Against the stack's own InfluxDB with ``auth-enabled`` and the users ``forewarn stack up`` made; each
test writes into a fresh database the admin created with the roles' grants (``influx_database``).
"""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from forewarn.influx import InfluxQueryError, InfluxWriteError, InfluxWriter, query
from forewarn.settings import InfluxRole, InfluxSettings
from infra.stack.service import StackContext

pytestmark = pytest.mark.integration

POINT = "door,site=s1 value=1i 1700000000000"


@pytest.fixture
def influx(stack: StackContext) -> InfluxSettings:
    if not stack.influx.users:
        pytest.fail("the stack has no generated InfluxDB users: auth is off")
    return stack.influx


def _write(settings: InfluxSettings, database: str) -> int:
    """POST one point to ``/write`` as ``settings``' user (the header every client sends); the status."""
    return httpx.post(
        f"{settings.url}/write",
        params={"db": database, "precision": "ms"},
        content=POINT,
        headers=settings.auth_headers(),
        timeout=5,
    ).status_code


def _count(settings: InfluxSettings, database: str) -> int:
    series = query(settings, 'SELECT count("value") FROM "door"', database=database)
    return int(series[0].values[0][1]) if series else 0


def test_no_credentials_are_refused(influx: InfluxSettings, influx_database: str) -> None:
    url = influx.url
    anonymous_read = httpx.post(f"{url}/query", data={"q": "SHOW DATABASES"}, timeout=5)
    anonymous_write = httpx.post(
        f"{url}/write", params={"db": influx_database, "precision": "ms"}, content=POINT, timeout=5
    )
    assert (anonymous_read.status_code, anonymous_write.status_code) == (401, 401)
    assert _count(influx, influx_database) == 0


def test_a_wrong_password_is_refused(influx: InfluxSettings, influx_database: str) -> None:
    for role in InfluxRole:
        wrong = influx.for_role(role).model_copy(update={"password": SecretStr("not-the-password")})
        with pytest.raises(InfluxQueryError, match="401"):
            query(wrong, "SHOW DATABASES")
        assert _write(wrong, influx_database) == 401


def test_the_reader_reads_and_cannot_write(influx: InfluxSettings, influx_database: str) -> None:
    writer, reader = influx.for_role(InfluxRole.WRITER), influx.for_role(InfluxRole.READER)
    assert _write(writer, influx_database) == 204
    assert _write(reader, influx_database) == 403
    sink = InfluxWriter(reader, database=influx_database, retry_budget_s=0)
    with sink, pytest.raises(InfluxWriteError):  # the pipeline's writer class as the reader: refused
        sink.write([POINT])
    assert _count(reader, influx_database) == 1  # it read the writer's point; its own never landed


def test_the_writer_writes_and_reads_back_but_administers_nothing(
    influx: InfluxSettings, influx_database: str
) -> None:
    writer = influx.for_role(InfluxRole.WRITER)
    with InfluxWriter(writer, database=influx_database, retry_budget_s=0) as sink:
        assert sink.write([POINT]) == 1
    assert _count(writer, influx_database) == 1
    refused = httpx.post(
        f"{influx.url}/query",
        data={"q": 'CREATE DATABASE "door_not_allowed"'},
        headers=writer.auth_headers(),
        timeout=5,
    )
    assert refused.status_code in (401, 403)
    assert "door_not_allowed" not in {row[0] for s in query(influx, "SHOW DATABASES") for row in s.values}


def test_roles_are_refused_on_a_database_nobody_granted(influx: InfluxSettings) -> None:
    """Grants are per database: a database the admin made without them is closed to both roles."""
    from forewarn.influx_admin import drop_database, execute

    name = "door_ungranted"
    execute(influx, f'CREATE DATABASE "{name}"')  # no grants, unlike create_database
    try:
        assert _write(influx.for_role(InfluxRole.WRITER), name) == 403
        with pytest.raises(InfluxQueryError, match="403"):
            query(influx.for_role(InfluxRole.READER), 'SELECT * FROM "door"', database=name)
        assert _write(influx, name) == 204  # the admin can
    finally:
        drop_database(influx, name)


def test_credentials_never_travel_in_the_query_string(influx: InfluxSettings) -> None:
    """Basic auth in a header: the URL (what access logs keep) carries no password."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    writer = influx.for_role(InfluxRole.WRITER)
    with InfluxWriter(writer, retry_budget_s=0, transport=httpx.MockTransport(record)) as sink:
        sink.write([POINT])
    [request] = seen
    password = writer.password.get_secret_value() if writer.password else "?"
    assert password not in str(request.url)
    assert request.headers["Authorization"].startswith("Basic ")
