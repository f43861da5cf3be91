"""InfluxDB line protocol and a writer with retries: what every forewarn sink shares; and a small
InfluxQL reader (:func:`query`) for what reads the points back (``forewarn report asset``).

Line protocol on ``/write`` with InfluxQL on ``/query`` is the one API InfluxDB 1.x, 2.x (v1
compatibility) and 3.x all accept, so the sinks speak only that.
"""

from __future__ import annotations

import functools
import logging
import math
import numbers
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from forewarn.settings import InfluxSettings

log = logging.getLogger(__name__)

FieldValue = float | int | bool | str


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes (a field or tag name in a ``SELECT``), escaped."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@functools.lru_cache(maxsize=65_536)
def escape_tag(value: str) -> str:
    """Escape a measurement, tag key or tag value (commas, equals signs, spaces, backslashes).

    Cached: the same few names and asset ids come back with every point, and four ``replace``
    calls per name were a third of a telemetry point's formatting time.
    """
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _field(value: object) -> str | None:
    """A field value other than a plain float (:func:`line` writes those inline) in line protocol."""
    if isinstance(value, bool):  # before int: a bool is an int
        return "true" if value else "false"
    # numpy's scalars count as numbers.Integral/Real; their repr (``np.float64(1.5)``) is no line
    # protocol, so they are converted first
    if isinstance(value, numbers.Integral):
        return f"{int(value)}i"
    if isinstance(value, numbers.Real):
        number = float(value)
        return repr(number) if math.isfinite(number) else None  # line protocol has no NaN
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    # null, a list, an object: line protocol cannot hold them, and a bad payload must not crash a sink
    return None


def line(
    measurement: str, tags: Mapping[str, str], fields: Mapping[str, FieldValue], ts_ms: int
) -> str | None:
    """One point in line protocol at millisecond precision; None when no field is writable.

    Tags are sorted (InfluxDB's preferred order); empty tag values are left out, as InfluxDB would
    reject them; non-finite floats, nulls, lists and objects are left out of the fields.
    """
    tag_part = "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(tags.items()) if v)
    parts = []
    for key, value in fields.items():
        # a float inline: a reading's every value is one, and a call and a generator step per field
        # were a sixth of a telemetry point's formatting time
        if type(value) is float:
            if math.isfinite(value):
                parts.append(f"{escape_tag(key)}={value!r}")
        else:
            text = _field(value)
            if text is not None:
                parts.append(f"{escape_tag(key)}={text}")
    if not parts:
        return None
    return f"{escape_tag(measurement)}{tag_part} {','.join(parts)} {ts_ms}"


class InfluxWriteError(RuntimeError):
    """InfluxDB refused a batch or stayed unreachable for longer than the retry budget."""


REFUSING_STATUSES = frozenset({400, 413, 422})
"""HTTP statuses by which InfluxDB refuses points rather than the request: 400 (1.x and 3.x: "unable
to parse", "partial write: field type conflict ... dropped=N", "time outside range"), 413 (a body, so
possibly one line, too large) and 422 (2.x: unprocessable points). Other 4xx (401, 403, 404: no
such database) are about the writer, not its lines: :meth:`InfluxWriter.write_checked` raises."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """One line InfluxDB refused on its own.

    Attributes:
        index: its position among the lines given to :meth:`InfluxWriter.write_checked` (``None``
            entries counted), so the caller finds the record it came from without a lookup.
        line: the line as sent.
        error: InfluxDB's answer to that line alone (status and body).
    """

    index: int
    line: str
    error: str


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """What :meth:`InfluxWriter.write_checked` did: lines written, and every line refused."""

    written: int
    refused: list[Refusal] = field(default_factory=list)


class InfluxWriter:
    """Batched line-protocol writes with exponential back-off.

    :meth:`write`: a refused batch (HTTP 4xx other than 429) is a bug in the points and raises at
    once. :meth:`write_checked`: a batch refused for its points is split until every refused line
    stands alone, and those are returned (the caller dead-letters their records); the rest is
    written. Either way an unreachable or overloaded server (connection error, 5xx, 429) is retried
    until ``retry_budget_s`` is spent, then raises so the caller can fail its unit of work and retry
    it from its own checkpoint (nothing is lost).
    """

    def __init__(
        self,
        settings: InfluxSettings,
        *,
        database: str | None = None,
        batch_lines: int = 5000,
        retry_budget_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.database = database or settings.database
        self.batch_lines = batch_lines
        self.retry_budget_s = retry_budget_s
        self._sleep = sleep
        self._client = httpx.Client(
            timeout=settings.timeout_s, headers=settings.auth_headers(), transport=transport
        )

    def write(self, lines: Iterable[str | None]) -> int:
        """Write every line (``None`` entries are skipped); return how many were written."""
        batch: list[str] = []
        written = 0
        for entry in lines:
            if entry is None:
                continue
            batch.append(entry)
            if len(batch) >= self.batch_lines:
                written += self._post(batch)
                batch = []
        if batch:
            written += self._post(batch)
        return written

    def write_checked(self, lines: Iterable[str | None]) -> WriteOutcome:
        """Write every line (``None`` entries are skipped); return how many were written and the lines
        InfluxDB refused, each with its error, instead of raising for them.

        A batch refused for its points (:data:`REFUSING_STATUSES`) is halved, and each half written
        or halved again, down to the single lines refused: k bad lines among n cost about
        2·k·log2(n/k) more requests, and none when all are good. InfluxDB 1.x may have written a
        refused batch's good lines already; writing them again overwrites the same points.

        Raises:
            InfluxWriteError: InfluxDB stayed unreachable or overloaded for ``retry_budget_s``, or
                refused the request itself (401, 403, 404...): the caller's unit of work fails whole.
        """
        refused: list[Refusal] = []
        written = 0
        batch: list[tuple[int, str]] = []
        for index, entry in enumerate(lines):
            if entry is None:
                continue
            batch.append((index, entry))
            if len(batch) >= self.batch_lines:
                written += self._bisect(batch, refused)
                batch = []
        if batch:
            written += self._bisect(batch, refused)
        refused.sort(key=lambda refusal: refusal.index)
        return WriteOutcome(written, refused)

    def write_checked_chunks(self, chunks: Iterable[str]) -> WriteOutcome:
        """:meth:`write_checked` for lines that come already joined, ``\n`` between them (a chunk
        of at most ``batch_lines`` lines: the scoring step's ``points`` rows). Each chunk is one
        request as it is; only a chunk InfluxDB refuses is split into its lines and halved. Indexes
        count lines across the chunks.

        Splitting every chunk into lines and joining them again per request cost the scoring job's
        InfluxDB sink 4 % of its Python CPU, for lines that are nearly always all good.
        """
        refused: list[Refusal] = []
        written = 0
        base = 0
        for chunk in chunks:
            if not isinstance(chunk, str) or not chunk:  # a missing value of a pandas column too
                continue
            count = chunk.count("\n") + 1
            if count > self.batch_lines:
                lines = chunk.split("\n")
                for start in range(0, count, self.batch_lines):
                    part = list(enumerate(lines[start : start + self.batch_lines], base + start))
                    written += self._bisect(part, refused)
            else:
                answer = self._send_body(chunk.encode())
                if answer is None:
                    written += count
                else:
                    written += self._halves(list(enumerate(chunk.split("\n"), base)), answer, refused)
            base += count
        refused.sort(key=lambda refusal: refusal.index)
        return WriteOutcome(written, refused)

    def _bisect(self, batch: list[tuple[int, str]], refused: list[Refusal]) -> int:
        answer = self._send([entry for _, entry in batch])
        if answer is None:
            return len(batch)
        return self._halves(batch, answer, refused)

    def _halves(self, batch: list[tuple[int, str]], answer: tuple[int, str], refused: list[Refusal]) -> int:
        """``batch`` was refused with ``answer``: one refused line stands alone, more are halved."""
        status, text = answer
        if status not in REFUSING_STATUSES:
            raise InfluxWriteError(f"InfluxDB refused the write (HTTP {status}): {text[:300]}")
        if len(batch) == 1:
            index, entry = batch[0]
            refused.append(Refusal(index, entry, f"HTTP {status}: {text[:1000]}"))
            return 0
        half = len(batch) // 2
        return self._bisect(batch[:half], refused) + self._bisect(batch[half:], refused)

    def _post(self, batch: list[str]) -> int:
        answer = self._send(batch)
        if answer is not None:
            raise InfluxWriteError(f"InfluxDB refused {len(batch)} points: {answer[1][:300]}")
        return len(batch)

    def _send(self, batch: list[str]) -> tuple[int, str] | None:
        """POST one batch: None when written, (status, body) when refused (4xx but 429); an outage is
        retried with back-off until the budget is spent, then raises :class:`InfluxWriteError`."""
        return self._send_body("\n".join(batch).encode())

    def _send_body(self, body: bytes) -> tuple[int, str] | None:
        params = {"db": self.database, "precision": "ms"}
        deadline = time.monotonic() + self.retry_budget_s
        delay_s = 0.2
        while True:
            try:
                response = self._client.post(f"{self.settings.url}/write", params=params, content=body)
                if response.status_code == 204:
                    return None
                if 400 <= response.status_code < 500 and response.status_code != 429:
                    return response.status_code, response.text
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if time.monotonic() + delay_s > deadline:
                raise InfluxWriteError(f"InfluxDB write failed for {self.retry_budget_s:.0f}s: {problem}")
            log.warning("InfluxDB write failed (%s); retrying in %.1fs", problem, delay_s)
            self._sleep(delay_s)
            delay_s = min(delay_s * 2, 10.0)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> InfluxWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InfluxQueryError(RuntimeError):
    """InfluxDB refused a query (the message has its error) or did not answer."""


@dataclass(frozen=True)
class Series:
    """One series of a query's answer: ``name``, its ``tags`` (with ``GROUP BY``), ``columns`` and rows
    of ``values`` (``time`` first, epoch milliseconds)."""

    name: str
    tags: dict[str, str]
    columns: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]

    def rows(self) -> list[dict[str, Any]]:
        """Each row as ``{column: value}``."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.values]


def query(
    settings: InfluxSettings,
    statement: str,
    *,
    params: Mapping[str, str | int | float] | None = None,
    database: str | None = None,
) -> list[Series]:
    """Run a read-only InfluxQL statement (``SELECT``, ``SHOW``) with ``GET /query``; every series of
    its answer, times in epoch milliseconds.

    Values reach InfluxDB as bound parameters (``WHERE "asset_id" = $asset`` with
    ``params={"asset": "pump 1"}``), never pasted into the statement.

    Raises:
        InfluxQueryError: InfluxDB unreachable, refused the statement, or answered with an error.
    """
    request = {
        "db": database or settings.database,
        "q": statement,
        "epoch": "ms",
    }
    if params:
        request["params"] = orjson.dumps(dict(params)).decode()
    try:
        response = httpx.get(
            f"{settings.url}/query",
            params=request,
            headers=settings.auth_headers(),
            timeout=settings.timeout_s,
        )
    except httpx.HTTPError as exc:
        problem = f"{type(exc).__name__}: {exc}"
        raise InfluxQueryError(f"InfluxDB at {settings.url} did not answer ({problem})") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    if response.status_code != 200 or error:
        problem = error or response.text[:300]
        raise InfluxQueryError(f"InfluxDB refused the query (HTTP {response.status_code}): {problem}")
    out: list[Series] = []
    for result in body.get("results", []):
        if result.get("error"):
            raise InfluxQueryError(f"InfluxDB refused the query: {result['error']}")
        for series in result.get("series", []):
            out.append(
                Series(
                    series.get("name", ""),
                    dict(series.get("tags") or {}),
                    tuple(series.get("columns", [])),
                    tuple(tuple(row) for row in series.get("values", [])),
                )
            )
    return out
