"""Every console page in Debian's chromium: filled from the store and InfluxDB, nothing fetched from
outside the machine, no JS error, and a full-page screenshot of each (``screenshots.capture``, what
``make demo`` runs) saved in the test's folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from alerts.console.browser import Chromium
from alerts.console.screenshots import PAGES, capture
from tests.integration.console.conftest import Console, User
from tests.integration.console.seed import ALERTS, HEALTHY

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_every_page_renders_offline_and_is_captured(
    browser: Chromium, console: Console, tmp_path: Path
) -> None:
    users = console.story.users
    report = capture(console.base_url, users.dispatcher, users.password, tmp_path / "shots", browser=browser)

    assert report.problem is None
    assert [s.name for s in report.shots] == ["login", *(name for name, _ in PAGES)]
    for shot in report.shots:
        assert (shot.status, shot.problem) == (200, None), shot
        assert shot.png is not None
        assert shot.png.read_bytes().startswith(PNG_MAGIC)
        assert shot.png_bytes > 10_000, f"{shot.name}: a {shot.png_bytes}-byte screenshot is an empty page"
    by_name = {s.name: s for s in report.shots}
    assert by_name["alert"].url is not None
    assert by_name["alert"].url.endswith(tuple(console.story.alert_ids))
    assert by_name["work-order"].url is not None
    assert by_name["work-order"].url.endswith(tuple(f"/{i}" for i in console.story.work_order_ids))
    assert report.outside == ()
    assert report.js_errors == ()
    assert report.console_errors == ()
    assert report.ok


def test_the_pages_show_the_store_and_influxdb(console: Console, login: Callable[[str], User]) -> None:
    page = login(console.story.users.viewer).page
    assets = [a for a, *_ in ALERTS] + [a for a, _ in HEALTHY]
    page.goto("/console/fleet")
    for asset in assets:  # every asset scored in InfluxDB, ranked by risk
        expect(page.locator("tbody tr", has_text=asset)).to_have_count(1)
    page.goto("/console/work-orders")
    for wo in console.story.work_order_ids:
        expect(page.locator(f'tbody a[href$="/work-orders/{wo}"]').first).to_be_visible()
    page.goto("/console/assets/pump-101")
    expect(page.locator("canvas").first).to_be_visible()  # risk, RUL and sensors, drawn by uPlot
    assert page.locator("canvas").count() >= 2
    expect(page.get_by_text("forewarn-pumps v4").first).to_be_visible()
    page.goto("/console/pipeline")
    expect(page.get_by_text("malformed_json").first).to_be_visible()
    expect(page.get_by_text("gw-1").first).to_be_visible()
