"""One logging setup for every forewarn process, and a rate limit for lines that can come in floods.

Every command that runs a component calls :func:`setup` once at its edge (the CLI), with the
component's short name. A line then reads the same in every log of a run::

    2026-12-02T07:00:00.123Z INFO gateway: subscribed to $share/forewarn/forewarn/+/+/telemetry
    2026-12-02T07:00:10.456Z WARNING gateway (kafka.conn): <a library's line names its logger>

or, with ``FOREWARN_LOG_FORMAT=json``, one JSON object per line for a log shipper::

    {"ts": "2026-12-02T07:00:00.123Z", "level": "INFO", "component": "gateway",
     "logger": "ingest.gateway", "message": "subscribed to ..."}

forewarn's own loggers write from ``FOREWARN_LOG_LEVEL`` (INFO by default); every other library
writes only WARNING and above: httpx logs each request at INFO (the gateway's metrics every 10 s),
Kafka, py4j, MLflow and uvicorn's access log are as chatty, and none of it tells a person what the
pipeline did.

:class:`RateLimitedLog` keeps per-record warnings (dead letters) readable when a bad sender floods:
the first few of each kind per minute, then one line saying how many more there were.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from forewarn.settings import ForewarnSettings, LogFormat, LogSettings, load

OWN_PACKAGES: tuple[str, ...] = (
    "forewarn",
    "infra",
    "ingest",
    "streaming",
    "models",
    "alerts",
    "dashboards",
    "chain",
    "bench",
    "__main__",
)
"""Top-level packages whose loggers write from ``FOREWARN_LOG_LEVEL``; every other logger from WARNING."""
QUIET_LIBRARIES: tuple[str, ...] = (
    "httpx",
    "httpcore",
    "kafka",
    "py4j",
    "mlflow",
    "urllib3",
    "paho",
    "uvicorn",
    "uvicorn.access",
    "uvicorn.error",
    "alembic",
    "sqlalchemy",
    "matplotlib",
    "PIL",
    "git",
    "asyncio",
)
"""Libraries held at WARNING explicitly, because they (or their users) set their own level."""
_HANDLER_MARK = "_forewarn_handler"
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def utc_timestamp(created: float) -> str:
    """A log record's time as RFC 3339 UTC with milliseconds: ``2026-12-02T07:00:00.123Z``."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _own(logger_name: str) -> bool:
    return logger_name.split(".", 1)[0] in OWN_PACKAGES


class TextFormatter(logging.Formatter):
    """``<UTC time> <LEVEL> <component>: <message>``; a library's line also names its logger."""

    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        origin = "" if _own(record.name) else f" ({record.name})"
        head = f"{utc_timestamp(record.created)} {record.levelname} {self.component}{origin}"
        text = f"{head}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``component``, ``logger``, ``message``, then any
    ``extra={...}`` fields of the call, and ``exc`` (the formatted traceback) when there is one."""

    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": utc_timestamp(record.created),
            "level": record.levelname,
            "component": self.component,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update((k, v) for k, v in vars(record).items() if k not in _RECORD_FIELDS and k not in out)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(out, default=str).decode()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a line is written: a test runner that swaps it for
    one command (typer's CliRunner) and closes it afterwards must not leave a handler on a closed
    stream."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def formatter(component: str, fmt: LogFormat) -> logging.Formatter:
    """The formatter of ``fmt`` for ``component``'s lines."""
    return JsonFormatter(component) if fmt is LogFormat.JSON else TextFormatter(component)


def setup(
    component: str,
    settings: LogSettings | None = None,
    *,
    level: str | None = None,
    stream: IO[str] | None = None,
) -> None:
    """Send every log line of this process to stderr in ``settings.format``; call once per command.

    Args:
        component: the short name each line carries (``gateway``, ``scoring``, ``alerts``, ``api``...).
        settings: the log settings; read from ``FOREWARN_LOG_*`` when None (SettingsError if bad).
        level: overrides ``settings.level`` (a ``--verbose`` option passes ``DEBUG``).
        stream: where lines go (stderr by default; tests pass a buffer).

    Calling it again replaces the handler it installed before (not other handlers, e.g. pytest's).
    """
    settings = settings or load(LogSettings)
    own_level = logging.getLevelNamesMapping()[(level or settings.level).upper()]
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(formatter(component, settings.format))
    setattr(handler, _HANDLER_MARK, True)
    reset()
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in OWN_PACKAGES:
        logging.getLogger(name).setLevel(own_level)
    quiet = max(logging.WARNING, own_level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(quiet)
    # MLflow sets its own logger's level (and handler) when it is first imported, which the
    # commands do lazily, after this: its own variable is the one way to keep it at WARNING.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", logging.getLevelName(quiet))
    if not sys.stderr.isatty():  # MLflow's own progress bars: carriage returns in a log file
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def reset() -> None:
    """Remove the handler :func:`setup` installed (tests that run several commands in one process)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()


def settings_line(*settings: ForewarnSettings) -> str:
    """Settings as ``VARIABLE=value`` pairs on one line, secrets redacted (for a start line)."""
    return " ".join(f"{key}={value}" for s in settings for key, value in s.redacted().items())


@dataclass(frozen=True)
class Suppressed:
    """Events of one key left out during a window that has ended."""

    key: str
    count: int
    seconds: float


@dataclass
class _Window:
    started: float
    admitted: int = 0
    left_out: int = 0


class RateLimiter:
    """At most ``limit`` events per key in each ``window_s`` seconds; the rest are counted.

    Pure apart from the clock, which is injected (monotonic seconds): a window opens at a key's
    first event and ends ``window_s`` later; :meth:`ended` hands back, once, how many events of
    each ended window were left out.
    """

    def __init__(self, limit: int = 5, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        if limit < 1 or window_s <= 0:
            raise ValueError(f"limit must be >= 1 and window_s > 0, got {limit} and {window_s}")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._ended: list[Suppressed] = []

    def admit(self, key: str) -> bool:
        """Whether the event of ``key`` happening now may be logged."""
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now - window.started >= self.window_s:
            if window is not None and window.left_out:
                self._ended.append(Suppressed(key, window.left_out, now - window.started))
            window = self._windows[key] = _Window(now)
        if window.admitted < self.limit:
            window.admitted += 1
            return True
        window.left_out += 1
        return False

    def ended(self) -> list[Suppressed]:
        """The keys whose window has ended with events left out (each once), sorted by key."""
        now = self._clock()
        for key, window in list(self._windows.items()):
            if now - window.started >= self.window_s:
                del self._windows[key]
                if window.left_out:
                    self._ended.append(Suppressed(key, window.left_out, now - window.started))
        out, self._ended = sorted(self._ended, key=lambda s: s.key), []
        return out

    def pending(self) -> list[Suppressed]:
        """Everything left out so far, ended windows or not (each once): for a last line at shutdown."""
        now = self._clock()
        out = self.ended()
        windows = sorted(self._windows.items())
        out += [Suppressed(k, w.left_out, now - w.started) for k, w in windows if w.left_out]
        self._windows.clear()
        return out


class RateLimitedLog:
    """A logger for events that can flood (dead letters): the first ``limit`` lines of each key per
    ``window_s``, then one line ``… and 120 more malformed_json dead letters in the last 60 s``.

    :meth:`flush` writes the summary lines of ended windows; each :meth:`log` call does too, and a
    component calls it now and then (each metrics interval) and :meth:`close` at its end.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        noun: str = "",
        limit: int = 5,
        window_s: float = 60.0,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.noun = noun
        self.level = level
        self.limiter = RateLimiter(limit, window_s, clock)

    def log(self, key: str, message: str, *args: object) -> bool:
        """Log ``message % args`` unless ``key`` had its ``limit`` lines in this window; True if logged."""
        self._summaries(self.limiter.ended())
        if not self.limiter.admit(key):
            return False
        self.logger.log(self.level, message, *args, stacklevel=2)  # the caller's line, not this one
        return True

    def flush(self) -> None:
        """Log how many lines each ended window left out."""
        self._summaries(self.limiter.ended())

    def close(self) -> None:
        """Log how many lines were left out, ended windows or not (at shutdown)."""
        self._summaries(self.limiter.pending())

    def _summaries(self, left_out: Iterable[Suppressed]) -> None:
        noun = f" {self.noun}" if self.noun else ""
        for s in left_out:
            self.logger.log(
                self.level, "… and %d more %s%s in the last %.0f s", s.count, s.key, noun, s.seconds
            )


def counts_text(counts: Mapping[str, int]) -> str:
    """``malformed_json 12, too_old 8``: non-zero counts, largest first (ties by name)."""
    ordered = sorted(((k, n) for k, n in counts.items() if n), key=lambda kn: (-kn[1], kn[0]))
    return ", ".join(f"{k} {n:,}" for k, n in ordered)
