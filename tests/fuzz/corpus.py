"""The seed corpus: hand-picked nasty payloads a generator rarely hits, each with its exact outcome.

Each seed is built for the test's asset and clock (timestamps must be fresh), so it is a function,
not a file. Oversize payloads are left to ``test_oversize.py`` (a dead letter of 1 MiB needs a
dead-letter topic configured for it).
"""

from __future__ import annotations

from dataclasses import dataclass

from forewarn.contracts.dead_letter import GatewayReason as R
from tests.fuzz.cases import Case


@dataclass(frozen=True, slots=True)
class Seed:
    """A named payload template: ``{A}`` becomes the asset id, ``{T}`` a fresh epoch-ms timestamp."""

    name: str
    template: bytes
    seqs: tuple[int, ...] = ()
    letters: tuple[tuple[int | None, R], ...] = ()


def _whole(reason: R) -> tuple[tuple[int | None, R], ...]:
    return ((None, reason),)


_OK = b'{"schema":1,"asset_id":"{A}","ts":{T},"seq":7,"sensors":{"v":1.5}}'
SEEDS: tuple[Seed, ...] = (
    Seed("nan token", b'{"schema":1,"asset_id":"{A}","ts":{T},"seq":1,"sensors":{"v":NaN}}',
         letters=_whole(R.NON_FINITE)),
    Seed("infinity token", b'{"schema":1,"asset_id":"{A}","ts":{T},"seq":1,"sensors":{"v":Infinity}}',
         letters=_whole(R.NON_FINITE)),
    Seed("minus infinity", b'{"schema":1,"asset_id":"{A}","ts":{T},"seq":1,"sensors":{"v":-Infinity}}',
         letters=_whole(R.NON_FINITE)),
    Seed("printf nan", b'{"schema":1,"asset_id":"{A}","ts":{T},"seq":1,"sensors":{"v":-nan}}',
         letters=_whole(R.NON_FINITE)),
    Seed("1e999", b'{"schema":1,"asset_id":"{A}","ts":{T},"seq":1,"sensors":{"v":1e999}}',
         letters=_whole(R.NON_FINITE)),
    Seed("400 digits", b'{"schema":1,"asset_id":"{A}","ts":{T},"seq":1,"sensors":{"v":' + b"9" * 400 + b"}}",
         letters=_whole(R.NON_FINITE)),
    Seed("nan seq in a batch",
         b"[" + _OK + b',{"schema":1,"asset_id":"{A}","ts":{T},"seq":NaN,"sensors":{}}]',
         letters=_whole(R.NON_FINITE)),
    Seed("latin-1 name", '{"schema":1,"asset_id":"{A}","ts":{T},"seq":1,"sensors":{"température":1}}'
         .encode("latin-1"), letters=_whole(R.NOT_UTF8)),
    Seed("utf-16", '{"schema":1}'.encode("utf-16"), letters=_whole(R.NOT_UTF8)),
    Seed("overlong slash", b'{"schema":1,"asset_id":"{A}\xc0\xaf"}', letters=_whole(R.NOT_UTF8)),
    Seed("raw surrogate bytes", b'{"a":"\xed\xa0\x80"}', letters=_whole(R.NOT_UTF8)),
    Seed("binary", bytes(range(256)), letters=_whole(R.NOT_UTF8)),
    Seed("empty", b"", letters=_whole(R.MALFORMED_JSON)),
    Seed("blank", b" \n\t ", letters=_whole(R.MALFORMED_JSON)),
    Seed("nul", b"\x00", letters=_whole(R.MALFORMED_JSON)),
    Seed("bom", b"\xef\xbb\xbf" + _OK, letters=_whole(R.MALFORMED_JSON)),
    Seed("trailing comma", _OK[:-2] + b",}}", letters=_whole(R.MALFORMED_JSON)),
    Seed("single quotes", _OK.replace(b'"', b"'"), letters=_whole(R.MALFORMED_JSON)),
    Seed("two documents", _OK + _OK, letters=_whole(R.MALFORMED_JSON)),
    Seed("comment", b"/* hi */" + _OK, letters=_whole(R.MALFORMED_JSON)),
    Seed("lone surrogate escape", _OK.replace(b'"v"', b'"\\ud800"'), letters=_whole(R.MALFORMED_JSON)),
    Seed("deep", b"[" * 100_000 + b"]" * 100_000, letters=_whole(R.NOT_A_READING)),
    Seed("deep object", b'{"a":' * 2000 + b"1" + b"}" * 2000, letters=_whole(R.NOT_A_READING)),
    Seed("null", b"null", letters=_whole(R.NOT_A_READING)),
    Seed("string", b'"{A}"', letters=_whole(R.NOT_A_READING)),
    Seed("nested batch", b"[[" + _OK + b"]]", letters=((0, R.NOT_A_READING),)),
    Seed("empty batch", b"[]", letters=_whole(R.EMPTY_BATCH)),
    Seed("nul in a name", _OK.replace(b'"v"', b'"v\\u0000"'), letters=_whole(R.BAD_NAME)),
    Seed("escaped newline name", _OK.replace(b'"v"', b'"a\\nb"'), letters=_whole(R.BAD_NAME)),
    Seed("seq 2^63", _OK.replace(b'"seq":7', b'"seq":9223372036854775808'), letters=_whole(R.WRONG_TYPE)),
    Seed("seq 2^64", _OK.replace(b'"seq":7', b'"seq":18446744073709551616'), letters=_whole(R.WRONG_TYPE)),
    Seed("seq 2^63-1", _OK.replace(b'"seq":7', b'"seq":9223372036854775807'), seqs=(2**63 - 1,)),
    Seed("bool sensor", _OK.replace(b"1.5", b"true"), letters=_whole(R.WRONG_TYPE)),
    Seed("ts end of time", _OK.replace(b"{T}", b'"2262-04-11T23:47:16.854Z"'),
         letters=_whole(R.TOO_FAR_IN_FUTURE)),
    Seed("ts epoch", _OK.replace(b"{T}", b"0"), letters=_whole(R.TOO_OLD)),
    Seed("ts 30 february", _OK.replace(b"{T}", b'"2026-02-30T00:00:00Z"'), letters=_whole(R.BAD_TIMESTAMP)),
    Seed("zero-width asset", _OK.replace(b'"{A}"', b'"{A}\\u200b"'), letters=_whole(R.ASSET_MISMATCH)),
    Seed("duplicate key, last wins", _OK.replace(b'"seq":7', b'"seq":"x","seq":8'), seqs=(8,)),
    Seed("escaped keys", _OK.replace(b'"seq"', b'"\\u0073\\u0065\\u0071"'), seqs=(7,)),
    Seed("denormal and -0", _OK.replace(b"1.5", b'5e-324,"w":-0.0,"u":1e-999'), seqs=(7,)),
    Seed("4,000 sensors", _OK.replace(b'"v":1.5', b",".join(b'"s%d":%d' % (i, i) for i in range(4000))),
         seqs=(7,)),
    Seed("a batch of 1,000", b"[" + b",".join(_OK.replace(b'"seq":7', b'"seq":%d' % i) for i in range(1000))
         + b"]", seqs=tuple(range(1000))),
    Seed("mixed batch", b"[" + _OK + b",{}," + _OK.replace(b"1.5", b"null") + b"]",
         seqs=(7,), letters=((1, R.MISSING_FIELD), (2, R.WRONG_TYPE))),
)  # fmt: skip


def corpus(asset: str, now_ms: int) -> list[Case]:
    """The seeds as cases for ``asset``'s topic, stamped ``now_ms`` (a minute old, so never ahead)."""
    stamp = str(now_ms - 60_000).encode()
    return [Case(asset, s.template.replace(b"{A}", asset.encode()).replace(b"{T}", stamp), s.seqs, s.letters)
            for s in SEEDS]  # fmt: skip
