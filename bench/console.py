"""Console benchmark (``make bench-console``): the alert board and the dispatch board with 500 open rows.

The goal (issue 16): a page of 500 open alerts or work orders renders in under a second. A fresh
SQLite store gets the default catalogue on four sites and ``--alerts`` risk alerts raised through
``alerts.effects.store_changes`` as the engine raises them, each opening its work order; a
dispatcher's console session is created in the store. ``forewarn api serve`` then runs as its own
process on a free loopback port, and for ``/console/alerts`` and ``/console/work-orders`` (asking
for every open row) the bench measures:

- **server**: the time from sending the request to the last byte of the page, over ``--requests``
  requests through the real HTTP server (after two warm-up requests), median and p95;
- **browser**: in Debian's chromium (Playwright), ``--loads`` navigations per page, each page's
  DOMContentLoaded and load times from the Navigation Timing API (from navigation start), median
  and p95, with the HTTP cache on as in a user's browser, and the JS errors the pages raised.

A page passes when its server p95 and its browser load p95 are under the goal.

Usage: ``python -m bench.console [--alerts N] [--requests N] [--loads N] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from alerts.api.deps import SESSION_COOKIE
from alerts.catalog import load_catalog, seed
from alerts.console.browser import Chromium, chromium
from alerts.effects import store_changes
from alerts.identity.roles import Role
from alerts.identity.users import add_user, create_session
from alerts.state import Alert, AlertChange, alert_id_for
from alerts.store.db import make_engine, migrate, session_factory, transaction
from forewarn.contracts.alert import AlertKind, AlertState, ChangeKind, Severity
from forewarn.paths import project_root

GOAL_MS = 1000.0
SITES = ("site-1", "site-2", "site-3", "site-4")
MODES = ("bearing_wear", "cavitation", "winding_insulation", "seal_leak")
SEVERITIES = (Severity.CRITICAL, Severity.MAJOR, Severity.MINOR)
# Every open row on one page: the boards' page size is asked for explicitly (the API caps it at 500).
PAGES = {"alerts": "/console/alerts?size=500", "work-orders": "/console/work-orders?size=500"}
DETAIL = {"alerts": re.compile(r'href="/console/alerts/([^"/?#]+)"'),
          "work-orders": re.compile(r'href="/console/work-orders/(\d+)"')}  # fmt: skip


def seed_store(database_url: str, alerts: int, now: datetime) -> str:
    """``alerts`` open risk alerts, each with its open work order, and a dispatcher; their cookie."""
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        seed(session, load_catalog(), SITES, actor="bench", now=now - timedelta(days=1))
    with transaction(sessions) as session:
        for i in range(alerts):
            at = now - timedelta(seconds=alerts - i)
            asset, mode = f"pump-{i:04d}", MODES[i % len(MODES)]
            alert = Alert(
                alert_id=alert_id_for(asset, mode, at), asset_id=asset, site=SITES[i % len(SITES)],
                failure_mode=mode, kind=AlertKind.RISK, severity=SEVERITIES[i % len(SEVERITIES)],
                state=AlertState.ACTIVE, first_seen=at, last_seen=at, occurrence_count=1 + i % 5,
                trigger_risk=0.5 + (i % 50) / 100, trigger_rul_cycles=float(10 + i % 200),
                model_name="forewarn-pumps", model_version=str(3 + i % 2), raised_at=at, last_notified_at=at,
            )  # fmt: skip
            store_changes(session, [AlertChange(ChangeKind.RAISED, alert, at)], actor="alert-engine", now=at)
    with transaction(sessions) as session:
        user = add_user(session, "bench-dispatcher", Role.DISPATCHER, "bench-password-not-secret-0",
                        actor="bench", now=now)  # fmt: skip
        cookie = create_session(session, user, now=now, ttl_h=2).cookie
    engine.dispose()
    return cookie


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def api_server(database_url: str, log: Path) -> Iterator[str]:
    """``forewarn api serve`` on a free loopback port, as its own process; its base URL."""
    port = _free_port()
    env = {**os.environ, "FOREWARN_API_DATABASE_URL": database_url, "FOREWARN_API_WRITE_INFLUX": "false"}
    cmd = [sys.executable, "-c", "from chain.cli import main; main()", "api", "serve", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=project_root())
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the API exited ({proc.returncode}); its log: {log}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not answer in 60 s; its log: {log}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _stats(values_ms: list[float]) -> dict[str, float | int]:
    a = np.asarray(values_ms)
    return {"median": round(float(np.median(a)), 1), "p95": round(float(np.percentile(a, 95)), 1),
            "max": round(float(a.max()), 1), "n": len(values_ms)}  # fmt: skip


def server_times(base: str, cookie: str, path: str, requests: int) -> dict[str, Any]:
    """Request → last byte of ``path``, ``requests`` times after two warm-ups; rows and size."""
    times: list[float] = []
    with httpx.Client(base_url=base, cookies={SESSION_COOKIE: cookie}, timeout=60) as client:
        for i in range(requests + 2):
            started = time.perf_counter()
            response = client.get(path)
            elapsed_ms = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            if i >= 2:
                times.append(elapsed_ms)
            body = response.text
    name = next(k for k, v in PAGES.items() if v == path)
    return {"rows": len(set(DETAIL[name].findall(body))), "bytes": len(body.encode()), "ms": _stats(times)}


def browser_times(browser: Chromium, base: str, cookie: str, path: str, loads: int) -> dict[str, Any]:
    """``loads`` navigations to ``path``: DOMContentLoaded and load from navigation start."""
    watched = browser.context(base, watch=False)  # routing would turn the HTTP cache off
    watched.context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": base}])
    dcl: list[float] = []
    load: list[float] = []
    try:
        page = watched.context.new_page()
        page.goto(path, wait_until="load")  # warm-up: the vendored scripts enter the cache
        for _ in range(loads):
            page.goto(path, wait_until="load")
            timing = page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return [n.domContentLoadedEventEnd - n.startTime, n.loadEventEnd - n.startTime]; }"
            )
            dcl.append(float(timing[0]))
            load.append(float(timing[1]))
    finally:
        watched.context.close()
    return {
        "dom_content_loaded_ms": _stats(dcl),
        "load_ms": _stats(load),
        "js_errors": watched.traffic.js_errors[:10],
        "console_errors": watched.traffic.console_errors[:10],
    }


def run(alerts: int, requests: int, loads: int) -> dict[str, Any]:
    """Seed, serve, measure; the result (see the module's docstring)."""
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="forewarn-bench-console-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'work_orders.db'}"
        started = time.perf_counter()
        cookie = seed_store(database_url, alerts, now)
        seed_s = time.perf_counter() - started
        pages: dict[str, Any] = {}
        with api_server(database_url, Path(tmp) / "api.log") as base, chromium() as browser:
            for name, path in PAGES.items():
                server = server_times(base, cookie, path, requests)
                in_browser = browser_times(browser, base, cookie, path, loads)
                passed = (
                    server["ms"]["p95"] < GOAL_MS
                    and in_browser["load_ms"]["p95"] < GOAL_MS
                    and not in_browser["js_errors"]
                )
                pages[name] = {"path": path, "server": server, "browser": in_browser, "pass": passed}
    return {
        "benchmark": "console",
        "at": now.isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
        "open_alerts": alerts,
        "open_work_orders": alerts,
        "seed_s": round(seed_s, 1),
        "goal": {"page_ms": GOAL_MS, "rule": "server p95 and browser load p95 under page_ms, no JS error"},
        "pages": pages,
        "pass": all(p["pass"] for p in pages.values()),
    }


def main() -> None:
    """Parse the options, run, write the JSON to ``--out`` and stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--alerts", type=int, default=500, help="open alerts (each with its work order)")
    parser.add_argument("--requests", type=int, default=30, help="server requests per page")
    parser.add_argument("--loads", type=int, default=10, help="browser navigations per page")
    parser.add_argument("--out", type=Path, default=Path(".state/bench/console.json"))
    args = parser.parse_args()
    result = run(args.alerts, args.requests, args.loads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
