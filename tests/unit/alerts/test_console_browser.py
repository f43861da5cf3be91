"""What the browser harness lets through and how it launches chromium (the real browser runs in
``tests/integration/console``)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from alerts.console.browser import BrowserSettings, ChromiumMissingError, chromium, is_loopback, launch_args
from alerts.console.screenshots import CaptureReport, Shot


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8900/console/alerts",
        "http://127.9.9.9/x",
        "http://localhost:1/static/vendor/htmx/htmx.min.js",
        "http://[::1]:8900/docs",
        "ws://127.0.0.1:8900/live",
        "data:image/png;base64,AAAA",
        "blob:http://127.0.0.1:8900/1234",
        "about:blank",
    ],
)
def test_loopback_and_local_schemes_stay(url: str) -> None:
    assert is_loopback(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css",
        "https://fonts.googleapis.com/css?family=Roboto",
        "http://10.0.0.5:8900/console",
        "http://192.168.1.2/",
        "http://localhost.example.com/",
        "http://127.0.0.1.nip.io/",
        "ftp://127.0.0.1/x",
        "chrome-extension://abc/x.js",
    ],
)
def test_everything_else_is_outside(url: str) -> None:
    assert not is_loopback(url)


def test_no_sandbox_only_as_root() -> None:
    assert launch_args(running_as_root=True) == ["--no-sandbox"]
    assert launch_args(running_as_root=False) == []


def test_a_missing_chromium_says_to_run_setup(tmp_path: Path) -> None:
    settings = BrowserSettings(chromium=tmp_path / "no-chromium")
    expected = r"FOREWARN_CONSOLE_CHROMIUM.*make setup"
    with pytest.raises(ChromiumMissingError, match=expected), chromium(settings):
        pass


def test_the_chromium_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FOREWARN_CONSOLE_CHROMIUM", str(tmp_path / "chromium"))
    assert BrowserSettings().chromium == tmp_path / "chromium"


def test_a_capture_report_is_plain_data_and_ok_only_when_clean(tmp_path: Path) -> None:
    png = tmp_path / "alerts.png"
    good = Shot("alerts", "http://127.0.0.1:1/console/alerts", 200, png, 12_345)
    report = CaptureReport("dispatcher", (good,))
    assert report.ok
    data = orjson.loads(orjson.dumps(report.to_json()))
    assert data["shots"] == [{"name": "alerts", "url": good.url, "status": 200, "png": str(png),
                              "png_bytes": 12_345, "problem": None}]  # fmt: skip
    assert data["ok"] is True
    missing = Shot("asset", None, None, None, 0, "no link to /console/assets/… on the pages before")
    assert not CaptureReport("dispatcher", (good, missing)).ok
    assert not CaptureReport("dispatcher", (good,), outside=("GET https://cdn.example/x.js",)).ok
    assert not CaptureReport("dispatcher", (good,), js_errors=("x: boom",)).ok
    assert not CaptureReport("dispatcher", (), problem="login as 'dispatcher' refused").ok
