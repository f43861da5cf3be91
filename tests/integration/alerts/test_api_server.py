"""`forewarn api serve` as a real process: uvicorn on a loopback port, spoken to over HTTP."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.unit.alerts.api_scenarios import AUTH, TOKEN

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_served_api_lifecycle_over_http(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "FOREWARN_API_DATABASE_URL": f"sqlite:///{tmp_path / 'state' / 'wo.db'}",
        "FOREWARN_API_TOKEN": TOKEN,
    }
    log = (tmp_path / "api.log").open("wb")
    cmd = [sys.executable, "-c", "from chain.cli import main; main()", "api", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
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
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/work-orders").status_code == 401
            body = {
                "by": "ops",
                "asset_id": "pump-1",
                "site": "site-1",
                "failure_mode": "seal",
                "severity": "CRITICAL",
            }
            created = http.post("/work-orders", json=body, headers=AUTH)
            assert created.status_code == 201, created.text
            wo = created.json()
            assert wo["priority"] == "P1"
            assert http.post("/work-orders", json=body, headers=AUTH).status_code == 200
            assert (
                http.post(f"/work-orders/{wo['id']}/start", json={"by": "x"}, headers=AUTH).status_code == 409
            )
            approved = http.post(f"/work-orders/{wo['id']}/approve", json={"by": "sup"}, headers=AUTH)
            assert approved.json()["status"] == "approved"
            listed = http.get("/work-orders", params={"asset_id": "pump-1"}, headers=AUTH).json()
            assert [w["id"] for w in listed["items"]] == [wo["id"]]
            assert "/work-orders/{work_order_id}/complete" in http.get("/openapi.json").json()["paths"]
            assert http.get("/docs").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
    output = (tmp_path / "api.log").read_text()
    assert "FOREWARN_API_TOKEN=**********" in output
    assert TOKEN not in output


def test_serve_without_token_fails_naming_the_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FOREWARN_API_TOKEN"}
    env["FOREWARN_API_DATABASE_URL"] = f"sqlite:///{tmp_path / 'wo.db'}"
    cmd = [sys.executable, "-c", "from chain.cli import main; main()", "api", "serve"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "FOREWARN_API_TOKEN" in result.stderr
