"""What ``forewarn dlq list|show`` print: dead letters chosen, counted and shown, as pure functions.

The commands read the dead-letter topics (:func:`chain.dlq.read_dead_letters`) and print these.
A letter is named by where it sits on Kafka (``kafka:<topic>/<partition>/<offset>``), which is what
``forewarn dlq show`` takes back.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from chain.dlq import Selection
from forewarn.contracts.dead_letter import DeadLetter
from forewarn.table import shorten, table, utc_text

Located = tuple[str, DeadLetter]
"""(``kafka:<topic>/<partition>/<offset>``, the dead letter there)."""
DETAIL_WIDTH = 70


def choose(letters: Iterable[Located], selection: Selection, limit: int) -> tuple[list[Located], int]:
    """The newest ``limit`` selected letters, oldest first, and how many were selected.

    Ordered by receive time; letters received in the same millisecond keep their order on Kafka.
    """
    chosen = sorted(
        ((where, letter) for where, letter in letters if selection.matches(letter)),
        key=lambda item: item[1].received_at,
    )
    return chosen[-limit:] if limit else [], len(chosen)


def letters_table(letters: Sequence[Located]) -> str:
    """One line per letter: where, stage, reason, received at, source, detail (shortened)."""
    rows = [
        (
            where,
            d.stage.value,
            d.reason.value,
            utc_text(d.received_at),
            d.source,
            shorten(d.detail, DETAIL_WIDTH),
        )
        for where, d in letters
    ]
    return table(("WHERE", "STAGE", "REASON", "RECEIVED", "SOURCE", "DETAIL"), rows)


def counts(letters: Iterable[Located], selection: Selection) -> dict[str, dict[str, int]]:
    """Selected letters counted by stage, then reason (both sorted)."""
    by = Counter((d.stage.value, d.reason.value) for _, d in letters if selection.matches(d))
    out: dict[str, dict[str, int]] = {}
    for (stage, reason), n in sorted(by.items()):
        out.setdefault(stage, {})[reason] = n
    return out


def counts_table(by_stage: dict[str, dict[str, int]]) -> str:
    """The counts as STAGE, REASON, LETTERS lines, most frequent reason first within a stage."""
    rows = [
        (stage, reason, str(n))
        for stage, reasons in by_stage.items()
        for reason, n in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    ]
    return table(("STAGE", "REASON", "LETTERS"), rows)


def payload_text(payload: bytes) -> tuple[str, str]:
    """(``utf-8`` | ``base64``, the payload as text): readable when it is UTF-8, exact either way."""
    try:
        return "utf-8", payload.decode("utf-8")
    except UnicodeDecodeError:
        return "base64", base64.b64encode(payload).decode("ascii")


def letter_data(where: str, letter: DeadLetter, *, with_payload: bool) -> dict[str, Any]:
    """A letter as JSON data; the payload (as :func:`payload_text`) only when asked for."""
    data: dict[str, Any] = {
        "where": where,
        "stage": letter.stage.value,
        "reason": letter.reason.value,
        "received_at": letter.received_at.isoformat(),
        "source": letter.source,
        "index": letter.index,
        "detail": letter.detail,
        "payload_bytes": len(letter.payload),
    }
    if with_payload:
        data["payload_encoding"], data["payload"] = payload_text(letter.payload)
    return data


def describe(where: str, letter: DeadLetter) -> str:
    """Every field of a letter, then its payload (as text when UTF-8, else base64)."""
    data = letter_data(where, letter, with_payload=True)
    payload = data.pop("payload")
    data["index"] = "-" if letter.index is None else letter.index
    width = max(len(k) for k in data)
    lines = [f"{key.ljust(width)}  {value}" for key, value in data.items()]
    return "\n".join([*lines, "payload:", payload])
