"""``forewarn dlq``: dead letters of every stage (gateway, scoring job, alert engine): list, show, replay.

Settings are read here and passed inward; the replay itself is :mod:`chain.dlq`, what list and show
print is :mod:`chain.dlq_view`. Bad options exit 2, Kafka not answering or a refused read exit 1, each
with one line on stderr.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from forewarn.contracts.dead_letter import REASONS, Stage
from forewarn.exits import ExitCode
from forewarn.settings import KafkaSettings, SettingsError, StackSettings, load
from ingest.cli import utc_option

if TYPE_CHECKING:
    from chain.dlq import Revived, Selection, Target
    from forewarn.contracts.dead_letter import DeadLetter
    from ingest.settings import GatewaySettings

dlq_app = typer.Typer(help="Inspect and replay dead letters of every stage.", no_args_is_help=True)


@dlq_app.callback()
def _dlq() -> None:
    """Inspect and replay dead letters of every stage."""


def _fail(message: str, code: int = 1) -> typer.Exit:
    """Print one ``error:`` line on stderr; the exit to raise (2: bad option, 1: Kafka or a refused read)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _utc(value: str | None, option: str) -> datetime | None:
    """The shared date-time option parser (it prints the error line); a bad value is bad usage: exit 2."""
    try:
        return utc_option(value, option)
    except typer.Exit:
        raise typer.Exit(2) from None


def _selection(
    reason: list[str] | None, stage: list[str] | None, since: str | None, until: str | None
) -> Selection:
    """The letters the options choose, or one line naming the bad option and exit 2."""
    from chain.dlq import Selection

    known = {r.value for reasons in REASONS.values() for r in reasons}
    if set(reason or []) - known:
        raise _fail(f"--reason must be among: {', '.join(sorted(known))}", 2)
    try:
        stages = frozenset(Stage(s) for s in stage or [])
    except ValueError:
        raise _fail(f"--stage must be among: {', '.join(s.value for s in Stage)}", 2) from None
    return Selection(frozenset(reason or []), stages, _utc(since, "--since"), _utc(until, "--until"))


@contextmanager
def _consumer(kafka: KafkaSettings) -> Iterator[Any]:
    """A consumer in no group (reading commits nothing), or one line saying Kafka does not answer."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    library = logging.getLogger("kafka")
    level = library.level
    library.setLevel(logging.CRITICAL)  # its retry lines while connecting: this says it in one line
    try:
        consumer = KafkaConsumer(**kafka.client_config(), enable_auto_commit=False, group_id=None)
    except KafkaError as exc:
        raise _fail(
            f"Kafka at {kafka.bootstrap_servers} does not answer ({type(exc).__name__} after "
            f"{kafka.bootstrap_timeout_s:g} s); start it with `forewarn stack up` or set "
            "FOREWARN_KAFKA_BOOTSTRAP_SERVERS",
            ExitCode.UNREACHABLE,
        ) from None
    finally:
        library.setLevel(level)
    try:
        yield consumer
    finally:
        consumer.close()


def _read_all(kafka: KafkaSettings, topics: list[str]) -> list[tuple[str, DeadLetter | None]]:
    """Every record of the dead-letter topics up to their current end, decoded (None: not a letter)."""
    from chain.dlq import read_dead_letters

    with _consumer(kafka) as consumer:
        try:
            return [item for name in topics for item in read_dead_letters(consumer, name)]
        except ValueError as exc:
            raise _fail(f"{exc} (choose the dead-letter topics with --topic)") from None


def _kafka() -> KafkaSettings:
    try:
        return load(KafkaSettings, load(StackSettings).state_dir)
    except SettingsError as exc:
        raise _fail(str(exc), 2) from None


Reasons = Annotated[
    list[str] | None,
    typer.Option("--reason", help="Only these reasons (repeatable), of any stage; default all."),
]
Stages = Annotated[
    list[str] | None,
    typer.Option(
        "--stage", help="Only letters refused by these stages (repeatable): gateway, scoring, alerts."
    ),
]
Topics = Annotated[
    list[str] | None,
    typer.Option(
        "--topic", help="Dead-letter topics to read (repeatable); default telemetry.dlq and risk.dlq."
    ),
]
Since = Annotated[str | None, typer.Option("--since", help="Received at or after (ISO 8601 with offset).")]
Until = Annotated[str | None, typer.Option("--until", help="Received before (ISO 8601 with offset).")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@dlq_app.command("list")
def dlq_list(
    reason: Reasons = None,
    stage: Stages = None,
    topic: Topics = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option(min=1, help="Show the newest this many (oldest first).")] = 50,
    summary: Annotated[
        bool, typer.Option("--summary", help="Only count the letters by stage and reason.")
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """List dead letters, one line each: where it sits, stage, reason, when, source, what was wrong."""
    from chain import dlq_view

    selection = _selection(reason, stage, since, until)
    kafka = _kafka()
    topics = topic or [kafka.dlq_topic, kafka.risk_dlq()]
    records = _read_all(kafka, topics)
    letters = [(where, letter) for where, letter in records if letter is not None]
    unreadable = [where for where, letter in records if letter is None]
    if summary:
        by_stage = dlq_view.counts(letters, selection)
        total = sum(n for reasons in by_stage.values() for n in reasons.values())
        if json_out:
            document = {"topics": topics, "total": total, "by_stage": by_stage, "unreadable": unreadable}
            typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
            return
        if by_stage:
            typer.echo(dlq_view.counts_table(by_stage))
        typer.echo(f"{total} dead letters in {', '.join(topics)}", err=True)
    else:
        shown, total = dlq_view.choose(letters, selection, limit)
        if json_out:
            document = {
                "topics": topics,
                "total": total,
                "letters": [dlq_view.letter_data(w, d, with_payload=False) for w, d in shown],
                "unreadable": unreadable,
            }
            typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
            return
        if shown:
            typer.echo(dlq_view.letters_table(shown))
        more = f" (the newest {len(shown)} shown; --limit for more)" if total > len(shown) else ""
        typer.echo(
            f"{total} dead letters in {', '.join(topics)}{more}; `forewarn dlq show WHERE` for one", err=True
        )
    if unreadable:
        typer.echo(f"{len(unreadable)} records are not dead letters: {', '.join(unreadable[:5])}", err=True)


@dlq_app.command("show")
def dlq_show(
    where: Annotated[
        str,
        typer.Argument(
            metavar="WHERE", help="kafka:<topic>/<partition>/<offset>, as `forewarn dlq list` prints."
        ),
    ],
    json_out: JsonOut = False,
) -> None:
    """Show one dead letter in full, with its payload (as text when it is UTF-8, else base64)."""
    from chain import dlq_view
    from chain.dlq import read_dead_letter
    from forewarn.contracts.dead_letter import parse_kafka_source

    try:
        topic, partition, offset = parse_kafka_source(where)
    except ValueError as exc:
        raise _fail(f"{exc}; copy WHERE from `forewarn dlq list`", 2) from None
    kafka = _kafka()
    with _consumer(kafka) as consumer:
        try:
            letter = read_dead_letter(consumer, topic, partition, offset)
        except (ValueError, TimeoutError) as exc:
            raise _fail(str(exc)) from None
    if letter is None:
        raise _fail(f"the record at {where} is not a dead letter")
    if json_out:
        document = dlq_view.letter_data(where, letter, with_payload=True)
        typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        return
    typer.echo(dlq_view.describe(where, letter))


@dlq_app.command("replay")
def dlq_replay(
    reason: Reasons = None,
    stage: Stages = None,
    topic: Topics = None,
    since: Since = None,
    until: Until = None,
    rewrite: Annotated[
        str | None, typer.Option(help="package.module:function fixing payload bytes before validation.")
    ] = None,
    at_receive_time: Annotated[
        bool, typer.Option(help="Judge a gateway letter's age and skew at its receive time, not now.")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Report only; send nothing.")] = False,
    show: Annotated[int, typer.Option(help="List at most this many of the letters that stay dead.")] = 20,
) -> None:
    """Send dead letters that pass their stage's contract now back; report what stays dead and why.

    Gateway letters are validated with today's gateway settings (FOREWARN_GATEWAY_*) and go to
    `telemetry`; scoring-job letters must be canonical telemetry and go to `telemetry`; alert-engine
    letters must pass the risk contract and go to `risk`. A fixed limit or a rewrite hook revives
    letters. The dead-letter topics themselves are left as they are (the audit trail).
    """
    from chain.dlq import REPLAY_GATEWAY_ID, Target, load_rewrite, replay
    from forewarn import logs
    from ingest.settings import GatewaySettings

    logs.setup("dlq")
    selection = _selection(reason, stage, since, until)
    try:
        hook = load_rewrite(rewrite) if rewrite else None
        state_dir = load(StackSettings).state_dir
        settings = load(GatewaySettings, state_dir, gateway_id=REPLAY_GATEWAY_ID)
        kafka = load(KafkaSettings, state_dir)
    except (ValueError, SettingsError) as exc:
        raise _fail(str(exc), 2) from None
    topics = topic or [kafka.dlq_topic, kafka.risk_dlq()]
    letters = _read_all(kafka, topics)
    readable = [(where, letter) for where, letter in letters if letter is not None]
    outcome = replay(readable, selection, settings.policy(), datetime.now(UTC), hook, at_receive_time)
    outcome.unreadable = [where for where, letter in letters if letter is None]
    destinations = {Target.TELEMETRY: kafka.telemetry_topic, Target.RISK: kafka.risk_topic}
    failed = 0 if dry_run else _send(outcome.records, destinations, settings, kafka)
    summary: dict[str, Any] = {
        **outcome.summary(),
        "dry_run": dry_run,
        "send_failures": failed,
        "topics_read": topics,
        "topics": {target.value: name for target, name in destinations.items()},
    }
    summary["still_dead_examples"] = [
        {"where": d.where, "stage": d.letter.stage.value, "reason_then": d.letter.reason.value,
         "reasons_now": [str(r) for r in d.reasons], "detail_now": d.detail, "source": d.letter.source}
        for d in outcome.still_dead[:show]
    ]  # fmt: skip
    typer.echo(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    if failed:
        raise _fail(
            f"{failed} records did not reach Kafka; nothing is lost (the dead letters stay), run again"
        )


def _send(
    records: list[Revived], destinations: dict[Target, str], settings: GatewaySettings, kafka: KafkaSettings
) -> int:
    """Produce ``records`` (acks=all, the gateway's producer settings); how many failed."""
    from kafka import KafkaProducer

    from ingest.kafka_out import producer_config

    if not records:
        return 0
    producer = KafkaProducer(**producer_config(settings, kafka))
    try:
        futures = [
            producer.send(destinations[r.target], key=r.key, value=r.value, headers=r.headers)
            for r in records
        ]
        producer.flush(timeout=settings.delivery_timeout_s)
        failed = 0
        for future in futures:
            try:
                future.get(timeout=settings.delivery_timeout_s)
            except Exception:  # every failure counts the same: not delivered
                failed += 1
        return failed
    finally:
        producer.close(timeout=5)
