"""`forewarn api serve` as a real process: uvicorn on a loopback port, spoken to over HTTP."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from alerts.identity.credentials import read_credentials

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


FOREWARN = [sys.executable, "-c", "from chain.cli import main; main()"]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOREWARN_API_")}
    return {**env, "FOREWARN_API_DATABASE_URL": f"sqlite:///{tmp_path / 'state' / 'wo.db'}"}


@contextlib.contextmanager
def _serving(tmp_path: Path, env: dict[str, str]) -> Iterator[str]:
    """``forewarn api serve`` on a free port until the block ends; its base URL."""
    port = _free_port()
    log = (tmp_path / "api.log").open("wb")
    proc = subprocess.Popen([*FOREWARN, "api", "serve", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "api.log").read_text()
            with contextlib.suppress(httpx.TransportError):  # not listening yet
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, (tmp_path / "api.log").read_text()
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def test_served_api_lifecycle_over_http(tmp_path: Path) -> None:
    env = _env(tmp_path)
    creds, token_file = tmp_path / "credentials.txt", tmp_path / "token"
    for args in (
        ["users", "add", "ops", "--role", "dispatcher", "--credentials-file", str(creds)],
        ["users", "token", "ops", "--label", "test", "--out", str(token_file)],
    ):
        done = subprocess.run([*FOREWARN, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    token = token_file.read_text().strip()
    auth = {"Authorization": f"Bearer {token}"}
    with _serving(tmp_path, env) as base, httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/work-orders").status_code == 401
        body = {
            "asset_id": "pump-1",
            "site": "site-1",
            "failure_mode": "seal",
            "severity": "CRITICAL",
        }
        created = http.post("/work-orders", json=body, headers=auth)
        assert created.status_code == 201, created.text
        wo = created.json()
        assert (wo["priority"], wo["created_by"]) == ("P1", "ops")
        assert http.post("/work-orders", json=body, headers=auth).status_code == 200
        assert http.post(f"/work-orders/{wo['id']}/start", json={}, headers=auth).status_code == 409
        approved = http.post(f"/work-orders/{wo['id']}/approve", json={}, headers=auth)
        assert approved.json()["status"] == "approved"
        listed = http.get("/work-orders", params={"asset_id": "pump-1"}, headers=auth).json()
        assert [w["id"] for w in listed["items"]] == [wo["id"]]
        assert "/work-orders/{work_order_id}/complete" in http.get("/openapi.json").json()["paths"]
        assert http.get("/docs").status_code == 200
    output = (tmp_path / "api.log").read_text()
    assert token not in output
    assert read_credentials(creds)["ops"] not in output
    assert "no users yet" not in output


def test_serve_without_users_warns_and_lets_nobody_in(tmp_path: Path) -> None:
    env = {**_env(tmp_path), "FOREWARN_API_TOKEN": "the-old-shared-token-is-gone"}
    with _serving(tmp_path, env) as base:
        refused = httpx.get(f"{base}/kpis", headers={"Authorization": "Bearer the-old-shared-token-is-gone"})
        assert refused.status_code == 401
    assert "no users yet: create one with `forewarn users add`" in (tmp_path / "api.log").read_text()
