"""The one logging setup: the line formats, third-party loggers held at WARNING, the rate limiter."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from forewarn import logs
from forewarn.settings import LogFormat, LogLevel, LogSettings, SettingsError, load


@pytest.fixture(autouse=True)
def _restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """setup() changes process-wide levels, handlers and MLflow's variable: put them back afterwards."""
    monkeypatch.delenv("MLFLOW_LOGGING_LEVEL", raising=False)
    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    root = logging.getLogger()
    names = [*logs.OWN_PACKAGES, *logs.QUIET_LIBRARIES]
    levels = {name: logging.getLogger(name).level for name in names}
    root_level, handlers = root.level, list(root.handlers)
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(root_level)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _record(name: str, level: int, msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord(name, level, __file__, 1, msg, args, None)
    record.created = 1_796_194_800.123  # 2026-12-02T07:00:00.123Z
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_text_line_has_utc_time_level_component_and_words() -> None:
    line = logs.TextFormatter("gateway").format(_record("ingest.gateway", logging.INFO, "spool %d", 0))
    assert line == "2026-12-02T07:00:00.123Z INFO gateway: spool 0"


def test_text_line_of_a_library_names_its_logger() -> None:
    line = logs.TextFormatter("gateway").format(_record("kafka.conn", logging.WARNING, "broker gone"))
    assert line == "2026-12-02T07:00:00.123Z WARNING gateway (kafka.conn): broker gone"


def test_json_line_is_one_object_with_extras_and_traceback() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        import sys

        record = _record("alerts.engine.service", logging.ERROR, "failed %s", "x", reason="too_old")
        record.exc_info = sys.exc_info()
    line = logs.JsonFormatter("alerts").format(record)
    assert "\n" not in line
    item = orjson.loads(line)
    assert item["ts"] == "2026-12-02T07:00:00.123Z"
    assert (item["level"], item["component"], item["logger"]) == ("ERROR", "alerts", "alerts.engine.service")
    assert item["message"] == "failed x"
    assert item["reason"] == "too_old"
    assert "ValueError: bad" in item["exc"]


def test_setup_writes_ours_and_silences_library_chatter_at_info() -> None:
    out = io.StringIO()
    logs.setup("gateway", LogSettings(), stream=out)
    logging.getLogger("ingest.gateway").info("subscribed to forewarn/+/+/telemetry")
    logging.getLogger("httpx").info('HTTP Request: POST http://127.0.0.1:8086/write "HTTP/1.1 204"')
    logging.getLogger("py4j.clientserver").info("Closing down clientserver connection")
    logging.getLogger("some.new.library").info("chatter")
    logging.getLogger("kafka.conn").warning("broker gone")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith("INFO gateway: subscribed to forewarn/+/+/telemetry")
    assert lines[1].endswith("WARNING gateway (kafka.conn): broker gone")


def test_setup_again_replaces_its_handler_and_takes_json_and_level() -> None:
    first, second = io.StringIO(), io.StringIO()
    logs.setup("api", LogSettings(), stream=first)
    logs.setup("api", LogSettings(format=LogFormat.JSON, level=LogLevel.WARNING), stream=second)
    logging.getLogger("alerts.api").info("not shown at WARNING")
    logging.getLogger("alerts.api").warning("shown")
    assert first.getvalue() == ""
    assert [orjson.loads(x)["message"] for x in second.getvalue().splitlines()] == ["shown"]


def test_verbose_level_overrides_the_setting() -> None:
    out = io.StringIO()
    logs.setup("gateway", LogSettings(), level="DEBUG", stream=out)
    logging.getLogger("ingest.gateway").debug("details")
    logging.getLogger("httpx").debug("still silent")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].endswith("DEBUG gateway: details")


def test_log_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOREWARN_LOG_FORMAT", "json")
    monkeypatch.setenv("FOREWARN_LOG_LEVEL", "debug")
    settings = load(LogSettings)
    assert (settings.format, settings.level) == (LogFormat.JSON, LogLevel.DEBUG)
    monkeypatch.setenv("FOREWARN_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="FOREWARN_LOG_FORMAT"):
        load(LogSettings)


def test_settings_line_redacts_secrets() -> None:
    from forewarn.settings import InfluxSettings

    line = logs.settings_line(InfluxSettings(token="s3cret-token"))  # type: ignore[arg-type]
    assert "FOREWARN_INFLUX_TOKEN=**********" in line
    assert "s3cret" not in line


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_admits_limit_per_window_and_reports_the_rest_once() -> None:
    clock = FakeClock()
    limiter = logs.RateLimiter(limit=2, window_s=60, clock=clock)
    assert [limiter.admit("malformed_json") for _ in range(5)] == [True, True, False, False, False]
    assert limiter.admit("too_old")  # keys are counted apart
    clock.now += 30
    assert limiter.ended() == []  # the window is still open
    clock.now += 31
    assert limiter.ended() == [logs.Suppressed("malformed_json", 3, 61.0)]
    assert limiter.ended() == []  # reported once
    assert limiter.admit("malformed_json")  # a new window


def test_rate_limiter_keeps_the_count_when_a_new_window_opens_first() -> None:
    clock = FakeClock()
    limiter = logs.RateLimiter(limit=1, window_s=10, clock=clock)
    limiter.admit("k")
    limiter.admit("k")
    clock.now += 15
    assert limiter.admit("k")  # opens the next window before anyone asked for ended()
    assert limiter.ended() == [logs.Suppressed("k", 1, 15.0)]
    limiter.admit("k")
    assert limiter.pending() == [logs.Suppressed("k", 1, 0.0)]  # at shutdown: open windows too


def test_rate_limiter_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="limit"):
        logs.RateLimiter(limit=0)


def test_rate_limited_log_writes_the_first_lines_then_one_summary(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    logger = logging.getLogger("ingest.test_rate")
    limited = logs.RateLimitedLog(logger, noun="dead letters", limit=2, window_s=60, clock=clock)
    with caplog.at_level(logging.WARNING, logger="ingest.test_rate"):
        for i in range(122):
            limited.log(
                "malformed_json", "dead letter malformed_json from forewarn/site-1/pump-%d/telemetry", i
            )
        clock.now += 60
        limited.flush()
        limited.close()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "dead letter malformed_json from forewarn/site-1/pump-0/telemetry",
        "dead letter malformed_json from forewarn/site-1/pump-1/telemetry",
        "… and 120 more malformed_json dead letters in the last 60 s",
    ]
    assert {r.levelno for r in caplog.records} == {logging.WARNING}


def test_counts_text_largest_first() -> None:
    assert (
        logs.counts_text({"too_old": 8, "malformed_json": 12, "oversize": 0})
        == "malformed_json 12, too_old 8"
    )
    assert logs.counts_text({"b": 1_200, "a": 1_200}) == "a 1,200, b 1,200"
