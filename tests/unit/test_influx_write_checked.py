"""``InfluxWriter.write_checked`` against an in-process fake of InfluxDB 1.x's ``/write``: refused
lines come back alone with their error and every other line is written; an outage is retried and
then raises. The same behaviour against the real InfluxDB:
``tests/integration/test_influx_write_checked.py``."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pytest

from forewarn.influx import InfluxWriteError, InfluxWriter, Refusal
from forewarn.settings import InfluxSettings


@dataclass
class FakeInflux:
    """``/write`` as InfluxDB 1.x answers it: a line holding ``BAD`` is refused (HTTP 400, "partial
    write"), the batch's good lines are stored anyway; ``outages`` answers come first."""

    outages: list[int | Exception] = field(default_factory=list)
    status_for_bad: int = 400
    stored: list[str] = field(default_factory=list)
    requests: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.outages:
            outage = self.outages.pop(0)
            if isinstance(outage, Exception):
                raise outage
            return httpx.Response(outage, text='{"error":"overloaded"}')
        lines = request.content.decode().split("\n")
        bad = [entry for entry in lines if "BAD" in entry]
        self.stored.extend(entry for entry in lines if "BAD" not in entry)
        if bad:
            error = f'{{"error":"partial write: unable to parse \'{bad[0]}\': invalid dropped={len(bad)}"}}'
            return httpx.Response(self.status_for_bad, text=error)
        return httpx.Response(204)


def writer(fake: FakeInflux, sleeps: list[float] | None = None, budget_s: float = 60.0) -> InfluxWriter:
    return InfluxWriter(
        InfluxSettings(url="http://influx.test:8086", database="fake"),
        batch_lines=256,
        retry_budget_s=budget_s,
        sleep=(sleeps if sleeps is not None else []).append,
        transport=httpx.MockTransport(fake),
    )


def test_a_batch_with_bad_lines_writes_every_good_one_and_returns_the_bad_alone() -> None:
    fake = FakeInflux()
    lines: list[str | None] = [f"m,asset_id=a{i} f={i}.5 {1_767_225_600_000 + i}" for i in range(1000)]
    for i in (3, 500, 999):
        lines[i] = f"m BAD{i}"
    lines.insert(10, None)  # skipped, but counted in the indices
    outcome = writer(fake).write_checked(lines)
    assert outcome.written == 997
    assert [(r.index, r.line) for r in outcome.refused] == [
        (3, "m BAD3"),
        (501, "m BAD500"),
        (1000, "m BAD999"),
    ]
    assert all(r.error.startswith("HTTP 400: ") and r.line in r.error for r in outcome.refused)
    good = {entry for entry in lines if entry is not None and "BAD" not in entry}
    assert set(fake.stored) == good
    assert fake.requests < 100, "bisection, not a request per line"


def test_good_lines_cost_one_request_per_batch() -> None:
    fake = FakeInflux()
    outcome = writer(fake).write_checked(f"m f={i}.0 {i}" for i in range(512))
    assert (outcome.written, outcome.refused, fake.requests) == (512, [], 2)


@pytest.mark.parametrize("status", [413, 422])
def test_other_statuses_that_refuse_points_are_bisected_too(status: int) -> None:
    outcome = writer(FakeInflux(status_for_bad=status)).write_checked(["m f=1.0 1", "m BAD", "m f=2.0 2"])
    assert outcome.written == 2
    assert outcome.refused == [Refusal(1, "m BAD", outcome.refused[0].error)]
    assert outcome.refused[0].error.startswith(f"HTTP {status}: ")


def test_an_outage_is_retried_with_back_off_and_nothing_is_refused() -> None:
    sleeps: list[float] = []
    fake = FakeInflux(outages=[503, httpx.ConnectError("refused"), 429, 500])
    outcome = writer(fake, sleeps).write_checked(["m f=1.0 1", "m f=2.0 2"])
    assert (outcome.written, outcome.refused) == (2, [])
    assert sleeps == [0.2, 0.4, 0.8, 1.6]


def test_an_outage_longer_than_the_budget_raises() -> None:
    fake = FakeInflux(outages=[503] * 5)
    with pytest.raises(InfluxWriteError, match="HTTP 503"):
        writer(fake, budget_s=0.0).write_checked(["m f=1.0 1"])


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_refusal_of_the_request_itself_raises_rather_than_blaming_every_line(status: int) -> None:
    fake = FakeInflux(outages=[status])
    with pytest.raises(InfluxWriteError, match=f"HTTP {status}"):
        writer(fake).write_checked(["m f=1.0 1", "m f=2.0 2"])
    assert fake.requests == 1


def test_write_still_raises_on_a_refused_batch() -> None:
    with pytest.raises(InfluxWriteError, match="refused 2 points"):
        writer(FakeInflux()).write(["m f=1.0 1", "m BAD"])


def chunked(lines: list[str], size: int) -> list[str]:
    return ["\n".join(lines[i : i + size]) for i in range(0, len(lines), size)]


@pytest.mark.parametrize("size", [1, 7, 256, 600])
def test_chunks_refuse_the_same_lines_as_the_lines_themselves(size: int) -> None:
    """``write_checked_chunks`` (the scoring job's points, joined by the step) against
    ``write_checked`` on the same lines: the same written count, refusals and stored points;
    a chunk over ``batch_lines`` (600 > 256) is cut to batches."""
    lines = [f"m,asset_id=a{i} f={i}.5 {1_767_225_600_000 + i}" for i in range(1000)]
    for i in (0, 3, 255, 256, 500, 999):
        lines[i] = f"m BAD{i}"
    by_lines, by_chunks = FakeInflux(), FakeInflux()
    expected = writer(by_lines).write_checked(lines)
    got = writer(by_chunks).write_checked_chunks(["", *chunked(lines, size)])
    assert (got.written, got.refused) == (expected.written, expected.refused) == (994, expected.refused)
    assert [r.index for r in got.refused] == [0, 3, 255, 256, 500, 999]
    # InfluxDB 1.x stores a refused batch's good lines too: the same points, written again
    assert set(by_chunks.stored) == set(by_lines.stored) == {x for x in lines if "BAD" not in x}


def test_good_chunks_cost_one_request_each_and_are_sent_as_they_are() -> None:
    fake = FakeInflux()
    lines = [f"m f={i}.0 {i}" for i in range(500)]
    outcome = writer(fake).write_checked_chunks([*chunked(lines, 250), None])  # type: ignore[list-item]
    assert (outcome.written, outcome.refused, fake.requests) == (500, [], 2)
    assert fake.stored == lines


def test_an_outage_during_chunks_is_retried_then_raises() -> None:
    sleeps: list[float] = []
    fake = FakeInflux(outages=[503, httpx.ConnectError("refused")])
    assert writer(fake, sleeps).write_checked_chunks(["m f=1.0 1\nm f=2.0 2"]).written == 2
    assert sleeps == [0.2, 0.4]
    with pytest.raises(InfluxWriteError, match="HTTP 503"):
        writer(FakeInflux(outages=[503] * 5), budget_s=0.0).write_checked_chunks(["m f=1.0 1"])
