"""Debian's chromium driven by Playwright, watching what the console's pages do.

The console must work on a machine without internet: every page, script, style and font comes from
the API itself. :func:`chromium` launches the system's browser (``FOREWARN_CONSOLE_CHROMIUM``,
Debian's ``/usr/bin/chromium``; Playwright never downloads one here) and
:meth:`Chromium.context` opens a browser context that lets loopback requests through and aborts and
records every other one, and records the pages' uncaught JS errors and console errors. Tests assert
those lists are empty; ``make demo``'s screenshots report them.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Route, WebError, sync_playwright
from pydantic import Field, PositiveFloat
from pydantic_settings import SettingsConfigDict

from forewarn.settings import ForewarnSettings


class BrowserSettings(ForewarnSettings):
    """Which chromium drives the console's browser tests and screenshots (``FOREWARN_CONSOLE_*``)."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_CONSOLE_")

    chromium: Path = Path("/usr/bin/chromium")  # Debian's package (make setup installs it)
    browser_timeout_s: PositiveFloat = Field(default=30.0)  # per navigation or action


class ChromiumMissingError(RuntimeError):
    """The configured chromium is not there; the message says how to get it."""


_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(url: str) -> bool:
    """Whether ``url`` stays on this machine: a loopback host, or no network at all (``data:``...)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https", "ws", "wss"}:
        return parts.scheme in {"data", "blob", "about"}
    host = (parts.hostname or "").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Traffic:
    """What the pages of one browser context did that they should not have.

    ``outside``: every request to a host other than loopback (aborted, never sent);
    ``js_errors``: uncaught exceptions in a page (``<page url>: <error>``);
    ``console_errors``: ``console.error`` messages and failed resource loads the browser logged.
    """

    outside: list[str] = field(default_factory=list)
    js_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def clear(self) -> None:
        """Forget what was recorded (between the steps a test checks one by one)."""
        self.outside.clear()
        self.js_errors.clear()
        self.console_errors.clear()


@dataclass(frozen=True)
class Watched:
    """A browser context and what its pages did (:class:`Traffic`)."""

    context: BrowserContext
    traffic: Traffic


@dataclass(frozen=True)
class Chromium:
    """A running chromium; each :meth:`context` is a separate user (own cookies, own session)."""

    browser: Browser
    settings: BrowserSettings

    def context(self, base_url: str | None = None, *, watch: bool = True, **options: Any) -> Watched:
        """A new context; with ``watch`` only loopback requests leave it (the others are recorded).

        Playwright turns the HTTP cache off in a routed context: ``watch=False`` is for timing pages
        as a user's browser loads them (the benchmark), with the JS and console errors still recorded.
        """
        traffic = Traffic()
        defaults: dict[str, Any] = {"viewport": {"width": 1440, "height": 900}, "service_workers": "block"}
        if base_url is not None:
            defaults["base_url"] = base_url
        context = self.browser.new_context(**{**defaults, **options})
        context.set_default_timeout(self.settings.browser_timeout_s * 1000)

        def route(r: Route) -> None:
            if is_loopback(r.request.url):
                r.continue_()
            else:
                traffic.outside.append(f"{r.request.method} {r.request.url}")
                r.abort("blockedbyclient")

        def on_error(error: WebError) -> None:
            where = error.page.url if error.page is not None else "?"
            traffic.js_errors.append(f"{where}: {error.error}")

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                where = message.page.url if message.page is not None else "?"
                traffic.console_errors.append(f"{where}: {message.text}")

        if watch:
            context.route("**/*", route)
        context.on("weberror", on_error)
        context.on("console", on_console)
        return Watched(context, traffic)


def launch_args(running_as_root: bool) -> list[str]:
    """Chromium's flags: its sandbox cannot run as root, so ``--no-sandbox`` then and only then."""
    return ["--no-sandbox"] if running_as_root else []


@contextmanager
def chromium(settings: BrowserSettings | None = None) -> Iterator[Chromium]:
    """Launch the system's chromium, headless, through Playwright; closed on exit.

    Raises:
        ChromiumMissingError: the configured executable does not exist (``make setup`` installs it).
    """
    settings = settings or BrowserSettings()
    executable = settings.chromium
    if not (executable.is_file() and os.access(executable, os.X_OK)):
        raise ChromiumMissingError(
            f"no chromium at {executable} ({BrowserSettings.env_name('chromium')}): run `make setup`, "
            "which installs Debian's chromium package (Playwright never downloads a browser here)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=launch_args(os.geteuid() == 0)
        )
        try:
            yield Chromium(browser, settings)
        finally:
            browser.close()
