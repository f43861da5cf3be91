"""Expected failures of any command, as the one line a person reads and the exit status a script reads.

A command that meets a missing service or a bad setting should say so in one line, not in a
60-line traceback. :func:`expected` recognises those failures whichever command raised them;
anything it does not recognise is a bug and keeps its traceback. A library's exception classes
are looked up only if the library is already imported (a command that never touched MLflow
cannot have raised MLflow's exception), so recognising costs no import.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from forewarn.exits import ExitCode
from forewarn.settings import SettingsError

_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
START_IT = "is it running? `forewarn status` shows what answers, `make up` starts the local stack"


@dataclass(frozen=True)
class Failure:
    """What to print (one line, without the ``error:`` prefix) and the status to exit with."""

    code: ExitCode
    message: str


def _class(module: str, name: str) -> type[BaseException] | None:
    found = getattr(sys.modules.get(module), name, None)
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


def _is(exc: BaseException, module: str, name: str) -> bool:
    cls = _class(module, name)
    return cls is not None and isinstance(exc, cls)


def one_line(text: str, width: int = 400) -> str:
    """``text`` with its whitespace (newlines too) folded to single spaces, cut at ``width``."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _without_query(url: str) -> str:
    # a query may carry credentials (InfluxDB 1.x takes u= and p=): never print it
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def reason(text: str) -> str:
    """The words of the operating system's error inside a library's message, else the message."""
    found = _ERRNO.search(text)
    return found.group(1).strip() if found else one_line(text, 160)


def _unreachable(what: str, detail: str, setting: str) -> Failure:
    return Failure(
        ExitCode.UNREACHABLE, f"cannot reach {what} ({reason(detail)}): {START_IT}, or set {setting}"
    )


def expected(exc: BaseException) -> Failure | None:
    """The one-line failure ``exc`` stands for, or None when it is not an expected failure (a bug)."""
    if isinstance(exc, SettingsError):
        return Failure(ExitCode.USAGE, f"{one_line(str(exc))} (`forewarn settings` shows every setting)")
    for check in (_kafka, _mlflow, _http, _database):
        failure = check(exc)
        if failure is not None:
            return failure
    if isinstance(exc, RuntimeError) and "`make setup`" in str(exc):  # jars or tools not installed yet
        return Failure(ExitCode.FAILED, one_line(str(exc)))
    if isinstance(exc, ConnectionError):  # sockets: refused, reset
        return Failure(ExitCode.UNREACHABLE, f"a service did not answer ({one_line(str(exc))}): {START_IT}")
    return None


def _kafka(exc: BaseException) -> Failure | None:
    # kafka-python 3 says KafkaTimeoutError ("Unable to bootstrap from …"); 2.x said NoBrokersAvailable
    if not any(
        _is(exc, "kafka.errors", n)
        for n in ("NoBrokersAvailable", "KafkaTimeoutError", "KafkaConnectionError")
    ):
        return None
    return _unreachable(
        f"Kafka at {_kafka_servers()}", str(exc) or type(exc).__name__, "FOREWARN_KAFKA_BOOTSTRAP_SERVERS"
    )


def _kafka_servers() -> str:
    from forewarn.settings import KafkaSettings, load

    try:
        return load(KafkaSettings).bootstrap_servers
    except SettingsError:
        return "FOREWARN_KAFKA_BOOTSTRAP_SERVERS"


def _mlflow(exc: BaseException) -> Failure | None:
    if not _is(exc, "mlflow.exceptions", "MlflowException"):
        return None
    message = str(getattr(exc, "message", "") or exc)
    if "Max retries exceeded" in message or "Failed to establish a new connection" in message:
        return _unreachable(
            f"MLflow at {_mlflow_uri()}", message.rsplit("Caused by", 1)[-1], "FOREWARN_MLFLOW_TRACKING_URI"
        )
    return Failure(ExitCode.FAILED, f"MLflow: {one_line(message)}")


def _mlflow_uri() -> str:
    from forewarn.settings import MlflowSettings, load

    try:
        return load(MlflowSettings).tracking_uri
    except SettingsError:
        return "FOREWARN_MLFLOW_TRACKING_URI"


def _http(exc: BaseException) -> Failure | None:
    if _is(exc, "httpx", "TransportError"):
        try:
            url: str | None = str(exc.request.url)  # type: ignore[attr-defined]
        except RuntimeError:  # raised without a request
            url = None
    elif _is(exc, "requests.exceptions", "ConnectionError"):
        request = getattr(exc, "request", None)
        url = getattr(request, "url", None)
    else:
        return None
    where = _without_query(url) if url else "a service"
    return _unreachable(where, str(exc) or type(exc).__name__, _setting_of(where))


def _setting_of(url: str) -> str:
    """The variable that points at ``url`` (InfluxDB, MLflow), else a hint at the family of them."""
    from forewarn.settings import InfluxSettings, MlflowSettings, load

    try:
        known = {
            load(InfluxSettings).url: "FOREWARN_INFLUX_URL",
            load(MlflowSettings).tracking_uri: "FOREWARN_MLFLOW_TRACKING_URI",
        }
    except SettingsError:
        known = {}
    return next((name for base, name in known.items() if url.startswith(base)), "its FOREWARN_*_URL setting")


def _database(exc: BaseException) -> Failure | None:
    if not _is(exc, "sqlalchemy.exc", "OperationalError"):
        return None
    cause = one_line(str(getattr(exc, "orig", None) or exc).splitlines()[0], 200)
    connecting = any(
        w in cause.lower() for w in ("connect", "unable to open", "refused", "timeout", "resolve")
    )
    if connecting:
        return Failure(
            ExitCode.UNREACHABLE,
            f"cannot open the work-order database ({cause}): is it running? check FOREWARN_*_DATABASE_URL",
        )
    return Failure(ExitCode.FAILED, f"the work-order database refused: {cause}")
