"""A full-page screenshot of every console page, as a logged-in user sees it in Debian's chromium.

``make demo`` saves them under the run's folder and the browser tests under their temp folder, so a
person can look at what the pages show. :func:`capture` logs in through the login form, walks the
pages (the detail pages through the first link of their board), waits for each to go quiet on the
network, and reports, per page, the HTTP status and the PNG, and for the whole walk every request
that tried to leave the machine and every JS error: problems come back as data, never as a crash
halfway through the walk.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from alerts.console.browser import Chromium, chromium
from alerts.console.web import PREFIX

# (name, where it is): a path, or the board whose first matching link leads to it.
PAGES: tuple[tuple[str, str], ...] = (
    ("alerts", f"{PREFIX}/alerts"),
    ("alert", f"link:{PREFIX}/alerts/"),
    ("work-orders", f"{PREFIX}/work-orders"),
    ("work-order", f"link:{PREFIX}/work-orders/"),
    ("plan", f"{PREFIX}/plan"),
    ("fleet", f"{PREFIX}/fleet"),
    ("asset", f"link:{PREFIX}/assets/"),
    ("kpis", f"{PREFIX}/kpis"),
    ("pipeline", f"{PREFIX}/pipeline"),
    ("docs", "/docs"),
)


@dataclass(frozen=True)
class Shot:
    """One page: where, its HTTP status, its PNG (None when it could not be taken) and any problem."""

    name: str
    url: str | None
    status: int | None
    png: Path | None
    png_bytes: int
    problem: str | None = None


@dataclass(frozen=True)
class CaptureReport:
    """Every page's shot and what the pages did that they should not have."""

    user: str
    shots: tuple[Shot, ...]
    outside: tuple[str, ...] = ()  # requests to other hosts than loopback (aborted)
    js_errors: tuple[str, ...] = ()  # uncaught exceptions
    console_errors: tuple[str, ...] = ()  # console.error and failed loads
    problem: str | None = None  # the walk itself failed (login refused...)

    @property
    def ok(self) -> bool:
        """Logged in, every page answered 200 with a PNG, nothing left the machine, no JS error."""
        return (
            self.problem is None
            and all(s.status == 200 and s.png is not None and s.problem is None for s in self.shots)
            and not self.outside
            and not self.js_errors
        )

    def to_json(self) -> dict[str, Any]:
        """Plain data (paths as strings) for a summary file."""
        data = asdict(self)
        data["shots"] = [{**s, "png": str(s["png"]) if s["png"] else None} for s in data["shots"]]
        data["ok"] = self.ok
        return data


def _links(page: Page, under: str) -> list[str]:
    """Absolute URLs of the page's links to ``under<one segment>`` (detail pages), in page order."""
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    one = re.compile(rf"^{re.escape(under)}[^/?#]+/?$")
    return [h for h in hrefs if one.match(urlsplit(h).path)]


def _settle(page: Page, idle_timeout_ms: float, settle_ms: float) -> str | None:
    """Wait until the page is quiet on the network (charts drawn); a note when it never was."""
    note = None
    try:
        page.wait_for_load_state("networkidle", timeout=idle_timeout_ms)
    except PlaywrightError:
        note = f"network not idle after {idle_timeout_ms / 1000:g} s (shot taken anyway)"
    page.evaluate("document.fonts ? document.fonts.ready.then(() => true) : true")
    page.wait_for_timeout(settle_ms)  # chart libraries animate their first draw
    return note


def _shoot(page: Page, name: str, url: str, out_dir: Path, idle_ms: float, settle_ms: float) -> Shot:
    try:
        response = page.goto(url, wait_until="load")
        note = _settle(page, idle_ms, settle_ms)
        png = out_dir / f"{name}.png"
        page.screenshot(path=str(png), full_page=True)
    except PlaywrightError as exc:
        return Shot(name, url, None, None, 0, f"{type(exc).__name__}: {exc.message.splitlines()[0]}")
    status = response.status if response is not None else None
    return Shot(name, page.url, status, png, png.stat().st_size, note)


def log_in(page: Page, base_url: str, username: str, password: str) -> str | None:
    """Log in through the console's form; None when logged in, else what the page said."""
    page.goto(f"{base_url}{PREFIX}/login", wait_until="load")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation(wait_until="load"):
        page.press("input[name=password]", "Enter")
    if urlsplit(page.url).path.startswith(f"{PREFIX}/login"):
        said = page.locator("[role=alert], .error, .flash").all_inner_texts()
        return f"login as {username!r} refused: {' '.join(said).strip() or 'still on the login page'}"
    return None


@contextmanager
def _browser(given: Chromium | None) -> Iterator[Chromium]:
    if given is not None:
        yield given
    else:
        with chromium() as launched:
            yield launched


def capture(
    base_url: str,
    username: str,
    password: str,
    out_dir: Path,
    *,
    browser: Chromium | None = None,
    idle_timeout_s: float = 10.0,
    settle_s: float = 0.6,
) -> CaptureReport:
    """Log in as ``username`` and save ``<out_dir>/<page>.png`` for the login page and every page.

    Args:
        base_url: the API's address, e.g. ``http://127.0.0.1:8900``.
        browser: a running :func:`~alerts.console.browser.chromium` to reuse (tests share one per
            module); None launches one for this call.
        idle_timeout_s: how long to wait for a page to go quiet on the network.
        settle_s: a last pause before each shot (charts animate their first draw).
    """
    base_url = base_url.rstrip("/")
    out_dir.mkdir(parents=True, exist_ok=True)
    idle_ms, settle_ms = idle_timeout_s * 1000, settle_s * 1000
    with _browser(browser) as running:
        watched = running.context(base_url)
        try:
            page = watched.context.new_page()
            shots = [_shoot(page, "login", f"{base_url}{PREFIX}/login", out_dir, idle_ms, settle_ms)]
            try:
                refused = log_in(page, base_url, username, password)
            except PlaywrightError as exc:  # no login form: a console that is not there or broken
                refused = f"login as {username!r} failed: {exc.message.splitlines()[0]}"
            if refused is None:
                shots += _walk(page, base_url, out_dir, idle_ms, settle_ms)
        finally:
            watched.context.close()
    t = watched.traffic
    return CaptureReport(
        username, tuple(shots), tuple(t.outside), tuple(t.js_errors), tuple(t.console_errors), refused
    )


def _walk(page: Page, base_url: str, out_dir: Path, idle_ms: float, settle_ms: float) -> list[Shot]:
    shots: list[Shot] = []
    seen: dict[str, list[str]] = {}  # detail prefix -> links found on the pages so far
    for name, where in PAGES:
        if where.startswith("link:"):
            under = where.removeprefix("link:")
            found = seen.get(under, [])
            if not found:
                shots.append(Shot(name, None, None, None, 0, f"no link to {under}… on the pages before"))
                continue
            url = found[0]
        else:
            url = f"{base_url}{where}"
        shot = _shoot(page, name, url, out_dir, idle_ms, settle_ms)
        shots.append(shot)
        if shot.png is not None:
            for _, other in PAGES:
                if other.startswith("link:"):
                    under = other.removeprefix("link:")
                    seen.setdefault(under, [])
                    seen[under] += _links(page, under)
    return shots
