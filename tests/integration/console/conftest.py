"""The console as operators meet it: the real API (uvicorn on a loopback port) on a seeded store and
a fresh InfluxDB database, and Debian's chromium driven by Playwright (one browser per module)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Page

from alerts.api.app import create_app
from alerts.console.browser import Chromium, Watched, chromium
from alerts.console.screenshots import log_in
from alerts.settings import ApiSettings
from forewarn.settings import load
from infra.stack.service import StackContext
from tests.integration.console.seed import Story, seed_influx, seed_store, utc_now


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on a free loopback port; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="console-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the API did not start (its error is above)"
        assert time.monotonic() < deadline, "the API did not start in 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@dataclass(frozen=True)
class Console:
    """A running console and the story seeded into it."""

    base_url: str
    story: Story
    database_url: str


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    """One chromium for the module's tests (each test opens its own contexts: its own users)."""
    with chromium() as running:
        yield running


@pytest.fixture
def console(stack: StackContext, influx_database: str, tmp_path: Path) -> Iterator[Console]:
    """The API with its console on a fresh store and InfluxDB database, both seeded."""
    now = utc_now()
    database_url = f"sqlite:///{tmp_path / 'work_orders.db'}"
    story = seed_store(database_url, now)
    influx = stack.influx.model_copy(update={"database": influx_database})
    seed_influx(influx, now)
    settings = load(ApiSettings, database_url=database_url, write_influx=True, influx_flush_interval_s=0.5)
    with serve(create_app(settings, influx=influx)) as base_url:
        yield Console(base_url, story, database_url)


@dataclass(frozen=True)
class User:
    """A logged-in browser user: their context (with what its pages did) and an open page."""

    name: str
    watched: Watched
    page: Page


@pytest.fixture
def login(browser: Chromium, console: Console) -> Iterator[Callable[[str], User]]:
    """``login(name)``: a new browser context logged in as ``name`` through the form."""
    opened: list[Watched] = []

    def make(name: str) -> User:
        watched = browser.context(console.base_url)
        opened.append(watched)
        page = watched.context.new_page()
        refused = log_in(page, console.base_url, name, console.story.users.password)
        assert refused is None, refused
        return User(name, watched, page)

    yield make
    for watched in opened:
        watched.context.close()
