"""Nothing a site can publish stops the chain: hostile readings through MQTT → gateway → Kafka → Spark.

Each run publishes hostile messages (``tests/hostile.py``: names with control characters, separators,
backslashes, quotes, ``=``, spaces, emoji, 129+ characters, ``time``; every float and its extremes,
huge integers, strings, booleans, null, nested values; thousands of sensors; duplicate and huge
``seq``; weird ``ts``), each on its own asset's topic, with a site's credentials to a running
gateway, interleaved with good C-MAPSS-shaped readings of other assets and followed by more; then the
scoring job runs once (``availableNow``) on a C-MAPSS champion. It must finish; every good reading
is scored; and every hostile reading is accounted for, exactly: a gateway dead letter (its
message's topic, its index or the whole message), or forwarded and then scored (a ``risk`` record)
or a scoring-stage dead letter (its ``asset/seq``, or its whole record's Kafka coordinate).

Topics with a control character or a noncharacter cannot be published: Mosquitto drops the
connection ("malformed packet"); the contract's unit tests cover those asset ids.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forewarn.contracts import dead_letter
from forewarn.contracts.dead_letter import DeadLetter, Stage
from forewarn.contracts.risk import RiskRecord, decode_risk
from infra.stack.service import StackContext
from streaming.job import JobConfig, start
from streaming.settings import StreamSettings
from tests import hostile
from tests.integration.ingest.conftest import IngestEnv, Publisher, read_topic
from tests.integration.streaming.conftest import TrainedModel

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.slow]

GOOD_ASSETS = 3
GOOD_BEFORE = 4  # good readings per good asset published before and between the hostile messages
GOOD_AFTER = 4  # and after them: these must be scored whatever came before
TOPIC_SUFFIXES = (
    "",
    "",
    "",
    " with space",
    "a,b=c",
    '"q"',
    "🔥",
    "\u2028",
    "ends\\",
    "x" * 130,
    "time",
    "_x",
)
"""Asset-id endings Mosquitto accepts in a topic; some the gateway refuses (``bad_name``)."""
READING_SOURCE = re.compile(r"kafka:[^/]+/asset/(?P<asset>[^/]*)/seq/(?P<seq>\d+)")


@dataclass
class Message:
    """One hostile MQTT message: its asset (its own topic) and its payload."""

    asset: str
    payload: bytes
    elements: int  # readings in it (1 for an object, the array's length, 1 for what is no JSON)


@dataclass
class Outcome:
    """What the chain made of one run, read back from Kafka."""

    forwarded: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    records: dict[tuple[int, int], list[dict[str, Any]]] = field(default_factory=dict)
    gateway_letters: list[DeadLetter] = field(default_factory=list)
    scoring_letters: list[DeadLetter] = field(default_factory=list)
    risk: list[RiskRecord] = field(default_factory=list)


def cmapss_good(asset: str, seq: int, now_ms: int) -> dict[str, Any]:
    return {**hostile.scorable(seq, now_ms - 200_000 + seq * 10), "asset_id": asset}  # rising, none ahead


STORABLE = ("time", "_x", "back\\slash", '"q"', "a=b", "with space", "a,b", " ", "sensor.x", "🔥")
FINITE_EXTREMES = hostile.EXTREME_FLOATS[:8]


def seed_corpus(prefix: str, now_ms: int, only: str | None = None) -> list[Message]:
    """Explicit nasty cases, the one that looped the job first (``only``: the case of that name)."""

    def shaped(asset: str, seq: int = 1, **extra: Any) -> dict[str, Any]:
        reading = cmapss_good(asset, seq, now_ms)
        reading["settings"] = {**reading["settings"], **extra.pop("settings", {})}
        reading["sensors"] = {**reading["sensors"], **extra.pop("sensors", {})}
        return {**reading, **extra}

    cases: list[tuple[str, Any]] = [
        ("newline", shaped("", sensors={"a\nb": 1.0})),
        ("names", shaped("", sensors={n: 1.0 for n in hostile.NASTY_NAMES})),
        ("storable-names", shaped("", sensors={n: 2.0 for n in STORABLE})),
        ("extremes", [shaped("", seq=s, sensors={"sensor_11": v}) for s, v in enumerate(FINITE_EXTREMES)]),
        ("extreme-extra", shaped("", sensors={f"x{i}": v for i, v in enumerate(FINITE_EXTREMES)})),
        ("huge-int", shaped("", sensors={"x": 10**400})),
        ("huge-int-64", shaped("", sensors={"x": 2**64})),
        ("nan", shaped("", sensors={"x": float("nan")})),
        ("bool", shaped("", sensors={"x": True})),
        ("nested", shaped("", settings={"x": {"y": [1, 2]}})),
        ("thousands", shaped("", sensors={f"s{i}": float(i) for i in range(4000)})),
        ("dup-seq", [shaped("", seq=7), shaped("", seq=7), shaped("", seq=2**63 - 1)]),
        ("ts-beyond-influx", shaped("", ts=9_223_372_036_855)),
        ("ts-1969", shaped("", ts="1969-12-31T23:59:59Z")),
        ("sep\u2028", shaped("")),
        ("ends\\", shaped("")),
        ("x" * 130, shaped("")),
        ("emoji 🔥,a=b", shaped("")),
    ]  # fmt: skip
    messages = []
    for i, (name, document) in enumerate(cases):
        if only is not None and name != only:
            continue
        asset = f"{prefix}s{i}-{name}"
        elements = document if isinstance(document, list) else [document]
        for element in elements:
            element["asset_id"] = asset
        messages.append(Message(asset, hostile.dumps(document), len(elements)))
    return messages


def drawn(data: st.DataObject, prefix: str, now_ms: int, count: int) -> list[Message]:
    messages = []
    for i in range(count):
        asset = f"{prefix}h{i}-" + data.draw(st.sampled_from(TOPIC_SUFFIXES), label="asset suffix")
        elements = data.draw(st.lists(hostile.readings(asset, now_ms), min_size=1, max_size=3), label=asset)
        as_array = len(elements) > 1 or data.draw(st.booleans(), label="as array")
        payload = hostile.dumps(elements if as_array else elements[0])
        messages.append(Message(asset, payload, len(elements)))
    return messages


def run_chain(
    stack: StackContext,
    spark: Any,
    new_topic: Any,
    champion: TrainedModel,
    influx_database: str,
    tmp: Path,
    messages: list[Message],
    prefix: str,
) -> tuple[Outcome, list[str], Any]:
    """Publish ``messages`` with good readings around them, let the gateway forward them, stop it, run
    the scoring job once; return what came out, the good assets, and the job's exception (or None)."""
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    good = [f"{prefix}good-{i}" for i in range(GOOD_ASSETS)]
    tmp.mkdir(parents=True)
    env = IngestEnv(
        stack=stack,
        telemetry=new_topic("telemetry", partitions=3),
        dlq=new_topic("dlq"),
        tmp=tmp,
        assets=good + [m.asset for m in messages],
        site=stack.stack.sites[0],
    )
    gateway = env.gateway()
    publisher = Publisher(stack, env.site)
    try:
        for seq in range(1, GOOD_BEFORE + 1):
            for asset in good:
                publisher.publish(asset, cmapss_good(asset, seq, now_ms))
        for n, message in enumerate(messages):
            publisher.publish(message.asset, message.payload)
            if n % 10 == 0:  # interleaved
                asset = good[n // 10 % GOOD_ASSETS]
                publisher.publish(asset, cmapss_good(asset, GOOD_BEFORE + 1 + n, now_ms))
        for seq in range(1000, 1000 + GOOD_AFTER):
            for asset in good:
                publisher.publish(asset, cmapss_good(asset, seq, now_ms))
    finally:
        publisher.close()

    outcome = Outcome()
    total = sum(m.elements for m in messages)
    deadline = time.monotonic() + 120
    while True:  # until the gateway accounts for every hostile element and forwarded every good one
        outcome = read_back(stack, env)
        if accounted_at_gateway(outcome, messages, env.site) == total and all(
            len(outcome.forwarded[a]) >= GOOD_BEFORE + GOOD_AFTER for a in good
        ):
            break
        assert time.monotonic() < deadline, (
            f"the gateway did not account for every reading:\n{gateway.text()}"
        )
        time.sleep(1)
    assert gateway.terminate() == 0, gateway.text()

    risk = new_topic("risk", 2)
    config = JobConfig(
        stream=StreamSettings(model_name=champion.name, alias_refresh_s=3600, top_features=1,
                              sink_retry_s=20),
        kafka=stack.kafka.model_copy(update={"telemetry_topic": env.telemetry, "risk_topic": risk,
                                             "dlq_topic": env.dlq}),
        influx=stack.influx.model_copy(update={"database": influx_database}),
        mlflow=stack.mlflow,
        checkpoint_dir=tmp / f"checkpoints-{prefix}",
    )  # fmt: skip
    failure: object = None
    for query in start(spark, config, once=True):
        try:
            finished = query.awaitTermination(timeout=600)
            failure = None if finished else "the job did not finish in 600 s"
        except Exception as exc:  # the query failed: a micro-batch raised (in production: a restart loop)
            failure = exc
        if query.isActive:
            query.stop()
    return read_back(stack, env, risk), good, failure


def read_back(stack: StackContext, env: IngestEnv, risk_topic: str = "") -> Outcome:
    """Everything on the run's topics now: telemetry readings by asset, dead letters, risk records."""
    outcome = Outcome()
    for record in read_topic(stack, env.telemetry, expected=10**9, timeout_s=2, settle_s=0):
        run = orjson.loads(record.value)
        outcome.records[(record.partition, record.offset)] = run
        for reading in run:
            outcome.forwarded[reading["asset_id"]].append(reading)
    for record in read_topic(stack, env.dlq, expected=10**9, timeout_s=2, settle_s=0):
        letter = dead_letter.decode(record.value)
        (outcome.gateway_letters if letter.stage is Stage.GATEWAY else outcome.scoring_letters).append(letter)
    if risk_topic:
        for record in read_topic(stack, risk_topic, expected=10**9, timeout_s=3, settle_s=0):
            decoded = decode_risk(record.value)
            assert isinstance(decoded, RiskRecord), decoded
            outcome.risk.append(decoded)
    return outcome


def accounted_at_gateway(outcome: Outcome, messages: list[Message], site: str) -> int:
    """Hostile elements the gateway forwarded or dead-lettered (a whole-message letter counts them all)."""
    letters = defaultdict(list)
    for letter in outcome.gateway_letters:
        letters[letter.source].append(letter)
    count = 0
    for message in messages:
        mine = letters[f"forewarn/{site}/{message.asset}/telemetry"]
        whole = any(letter.index is None for letter in mine)
        count += message.elements if whole else len(mine) + len(outcome.forwarded.get(message.asset, []))
    return count


def check(outcome: Outcome, messages: list[Message], good: list[str], failure: Any, site: str) -> None:
    """The issue's assertions, with every problem listed at once (the report names the cases)."""
    problems: list[str] = []
    if failure is not None:
        problems.append(f"the job failed: {str(failure)[:2000]}")
    scored = Counter((r.asset_id, r.seq) for r in outcome.risk)
    problems += [f"scored twice: {key}" for key, n in scored.items() if n > 1]
    letter_keys: set[tuple[str, int]] = set()
    for letter in outcome.scoring_letters:
        match = READING_SOURCE.fullmatch(letter.source)
        if match:
            letter_keys.add((match["asset"], int(match["seq"])))
        elif letter.source.startswith("kafka:"):
            _, partition, offset = dead_letter.parse_kafka_source(letter.source)
            letter_keys |= {(r["asset_id"], r["seq"]) for r in outcome.records.get((partition, offset), [])}
    for asset in good:
        missing = [r["seq"] for r in outcome.forwarded[asset] if (asset, r["seq"]) not in scored]
        if missing:
            problems.append(f"good asset {asset}: readings {missing} not scored")
    by_source = defaultdict(list)
    for letter in outcome.gateway_letters:
        by_source[letter.source].append(letter)
    for message in messages:
        letters = by_source[f"forewarn/{site}/{message.asset}/telemetry"]
        forwarded = outcome.forwarded.get(message.asset, [])
        whole = [letter for letter in letters if letter.index is None]
        if whole and (len(letters) > 1 or forwarded):
            problems.append(f"{message.asset!r}: a whole-message letter and more")
        elif not whole and len(letters) + len(forwarded) != message.elements:
            problems.append(f"{message.asset!r}: {message.elements} readings, {len(letters)} letters, "
                            f"{len(forwarded)} forwarded")  # fmt: skip
        unaccounted = sorted(
            {r["seq"] for r in forwarded} - {s for a, s in scored if a == message.asset}
            - {s for a, s in letter_keys if a == message.asset}
        )  # fmt: skip
        if unaccounted:
            problems.append(
                f"{message.asset!r}: forwarded seq {unaccounted[:10]} not scored nor dead-lettered"
            )
    letters = outcome.gateway_letters + outcome.scoring_letters
    problems += [f"a letter without a reason or detail: {d}" for d in letters if not (d.reason and d.detail)]
    assert not problems, "\n".join(problems)


@pytest.fixture
def chain(
    stack: StackContext, spark: Any, new_topic: Any, champion_model: TrainedModel, influx_database: str,
    tmp_path: Path,
) -> Any:  # fmt: skip
    def go(messages_for: Any) -> None:
        prefix = f"x{uuid.uuid4().hex[:6]}-"
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        messages = messages_for(prefix, now_ms)
        outcome, good, failure = run_chain(
            stack, spark, new_topic, champion_model, influx_database, tmp_path / prefix, messages, prefix
        )
        reasons = Counter(f"{d.stage}/{d.reason}" for d in outcome.gateway_letters + outcome.scoring_letters)
        print(f"{len(messages)} hostile messages, {sum(m.elements for m in messages)} readings; "
              f"risk {len(outcome.risk)}; dead letters {dict(reasons)}")  # fmt: skip
        check(outcome, messages, good, failure, stack.stack.sites[0])

    return go


def test_the_seed_corpus_is_accounted_for_and_the_job_survives_it(chain: Any) -> None:
    chain(seed_corpus)


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_hostile_readings_are_accounted_for_and_the_job_survives_them(
    chain: Any, data: st.DataObject
) -> None:
    chain(lambda prefix, now_ms: drawn(data, prefix, now_ms, count=30))
