"""Request bodies have a size limit, and a 422 never echoes a large input: on the real app, any body.

The app runs with a small limit (4 KiB) so that hypothesis reaches both sides of it cheaply; one test
sends 20 MB at the default limit, and one speaks to the app under uvicorn over a socket with a
chunked body (no Content-Length).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.api.limits import MAX_ERRORS, MAX_INPUT_CHARS
from alerts.store.tables import AuditRow
from tests.unit.alerts.conftest import Api, make_api

LIMIT = 4096


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    app = make_api(f"sqlite:///{tmp_path_factory.mktemp('limits') / 'wo.db'}", max_body_bytes=LIMIT)
    yield app
    app.client.close()
    app.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _chunks(body: bytes, size: int = 1000) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


def _check(response: httpx.Response, sent: int) -> None:
    """The answer to a body of ``sent`` bytes: never a 500, 413 past the limit, a short 422."""
    assert response.status_code < 500, response.text[:500]
    if sent > LIMIT:
        assert response.status_code == 413
        assert response.json()["code"] == "too_large"
        return
    assert response.status_code != 413
    if response.status_code == 422:
        problem = response.json()
        assert isinstance(problem["detail"], list | str)
        if isinstance(problem["detail"], list):  # request validation: each input cut, few errors
            assert len(problem["detail"]) <= MAX_ERRORS
            for error in problem["detail"]:
                echoed = error.get("input")
                text = echoed if isinstance(echoed, str) else orjson.dumps(echoed).decode()
                assert len(text) <= MAX_INPUT_CHARS + 1
                assert all(len(str(part)) <= MAX_INPUT_CHARS + 1 for part in error["loc"])
        assert len(response.content) <= MAX_ERRORS * 4 * (MAX_INPUT_CHARS + 100)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=40) | st.dictionaries(st.text(max_size=30), inner, max_size=20),
    max_leaves=200,
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),  # NaN and integers past 64 bits too
    st.binary(max_size=2 * LIMIT),
    st.builds(
        lambda s, n: orjson.dumps({"parts": {s * n: 0}}),
        st.text(min_size=1, max_size=3),
        st.integers(1, 3000),
    ),
    st.builds(lambda n: orjson.dumps({"reason": "x", "until": "y" * n}), st.integers(0, 2 * LIMIT)),
)
targets = st.sampled_from(
    [
        ("post", "/work-orders"),
        ("put", "/parts/kits/bearing"),
        ("put", "/parts/stock"),
        ("post", "/alerts/some-alert/snooze"),
        ("post", "/technicians"),
        ("post", "/work-orders/1/schedule"),
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, target=targets, chunked=st.booleans())
def test_any_body_is_answered_without_500_and_without_a_long_echo(
    api: Api, body: bytes, target: tuple[str, str], chunked: bool
) -> None:
    method, path = target
    content: Any = _chunks(body) if chunked else body
    response = api.client.request(method, path, content=content, headers={"content-type": "application/json"})
    _check(response, len(body))


def test_a_declared_length_over_the_limit_is_refused_before_the_app_runs(api: Api) -> None:
    with api.client.app.state.store.sessions() as session:  # type: ignore[attr-defined]
        before = session.query(AuditRow).count()
    body = orjson.dumps({"name": "x" * LIMIT, "skills": ["bearing"], "site": "site-1"})
    refused = api.client.post("/technicians", content=body, headers={"content-type": "application/json"})
    assert refused.status_code == 413
    assert refused.json() == {
        "code": "too_large",
        "detail": f"the request body is larger than {LIMIT} bytes (FOREWARN_API_MAX_BODY_BYTES)",
    }
    # even without credentials: 413, not 401 (nothing was read, nobody was asked)
    anonymous = api.client.post("/technicians", content=body, headers={"authorization": ""})
    assert anonymous.status_code == 413
    with api.client.app.state.store.sessions() as session:  # type: ignore[attr-defined]
        assert session.query(AuditRow).count() == before


def test_a_body_without_length_is_counted(api: Api) -> None:
    body = orjson.dumps({"name": "x" * 2 * LIMIT, "skills": ["bearing"], "site": "site-1"})
    response = api.client.post(
        "/technicians", content=_chunks(body, 512), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers  # sent chunked
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    small = orjson.dumps({"name": "ana", "skills": ["bearing"], "site": "site-1"})
    created = api.client.post(
        "/technicians", content=_chunks(small, 7), headers={"content-type": "application/json"}
    )
    assert created.status_code == 201, created.text


def test_many_errors_are_counted_not_listed(api: Api) -> None:
    parts = {f"S{i}": "x" for i in range(300)}  # 3 KB: under the limit
    response = api.client.put("/parts/kits/bearing", json={"parts": parts})
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid_request"
    assert (len(problem["detail"]), problem["errors"]) == (MAX_ERRORS, 300)
    assert problem["detail"][0]["loc"] == ["body", "parts", "S0"]
    assert problem["detail"][0]["input"] == "x"  # short inputs come back as they were


def test_twenty_megabytes_at_the_default_limit(tmp_path: Path) -> None:
    app = make_api(f"sqlite:///{tmp_path / 'wo.db'}")
    try:
        body = orjson.dumps({"reason": "x" * 20_000_000, "until": "2026-01-01T00:00:00Z"})
        response = app.client.post(
            "/alerts/a/snooze", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert "1048576 bytes" in response.json()["detail"]
        # just under the limit: read and validated, the 422 echoes 200 characters of the 1 MB input
        body = orjson.dumps({"reason": "x" * 1_000_000, "until": "soon"})
        response = app.client.post(
            "/alerts/a/snooze", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert len(response.content) < 2000
    finally:
        app.client.close()
        app.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_over_a_socket_with_uvicorn(api: Api) -> None:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(api.client.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        headers = {**api.admin, "content-type": "application/json"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10, headers=headers) as http:
            big = orjson.dumps({"name": "x" * 3 * LIMIT, "skills": ["bearing"], "site": "site-1"})
            declared = http.post("/technicians", content=big)
            assert (declared.status_code, declared.json()["code"]) == (413, "too_large")
            chunked = http.post("/technicians", content=_chunks(big, 1024))
            assert (chunked.status_code, chunked.json()["code"]) == (413, "too_large")
            fine = http.post(
                "/technicians", content=_chunks(b'{"name": "bo", "skills": ["seal"], "site": "s"}', 5)
            )
            assert fine.status_code == 201, fine.text
    finally:
        server.should_exit = True
        thread.join(timeout=10)
