"""``forewarn dlq``: dead letters of every stage (gateway, scoring job, alert engine), replayed.

Settings are read here and passed inward; the replay itself is :mod:`chain.dlq`.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from forewarn.contracts.dead_letter import REASONS, Stage
from forewarn.settings import KafkaSettings, SettingsError, StackSettings, load
from ingest.cli import utc_option

if TYPE_CHECKING:
    from chain.dlq import Revived, Target
    from ingest.settings import GatewaySettings

dlq_app = typer.Typer(help="Inspect and replay dead letters of every stage.")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@dlq_app.command("replay")
def dlq_replay(
    reason: Annotated[
        list[str] | None, typer.Option(help="Only these reasons (repeatable), of any stage; default all.")
    ] = None,
    stage: Annotated[
        list[str] | None,
        typer.Option(help="Only letters refused by these stages (repeatable): gateway, scoring, alerts."),
    ] = None,
    topic: Annotated[
        list[str] | None,
        typer.Option(help="Dead-letter topics to read (repeatable); default telemetry.dlq and risk.dlq."),
    ] = None,
    since: Annotated[str | None, typer.Option(help="Received at or after (RFC 3339).")] = None,
    until: Annotated[str | None, typer.Option(help="Received before (RFC 3339).")] = None,
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
    from kafka import KafkaConsumer

    from chain.dlq import REPLAY_GATEWAY_ID, Selection, Target, load_rewrite, read_dead_letters, replay
    from ingest.settings import GatewaySettings

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    known = {r.value for reasons in REASONS.values() for r in reasons}
    if set(reason or []) - known:
        raise _fail(f"--reason must be among: {', '.join(sorted(known))}")
    try:
        stages = frozenset(Stage(s) for s in stage or [])
    except ValueError:
        raise _fail(f"--stage must be among: {', '.join(s.value for s in Stage)}") from None
    selection = Selection(
        frozenset(reason or []), stages, utc_option(since, "--since"), utc_option(until, "--until")
    )
    try:
        hook = load_rewrite(rewrite) if rewrite else None
        state_dir = load(StackSettings).state_dir
        settings = load(GatewaySettings, state_dir, gateway_id=REPLAY_GATEWAY_ID)
        kafka = load(KafkaSettings, state_dir)
    except (ValueError, SettingsError) as exc:
        raise _fail(str(exc)) from None
    topics = topic or [kafka.dlq_topic, kafka.risk_dlq()]
    consumer = KafkaConsumer(**kafka.client_config(), enable_auto_commit=False, group_id=None)
    try:
        letters = [item for name in topics for item in read_dead_letters(consumer, name)]
    except ValueError as exc:
        raise _fail(f"{exc} (choose the dead-letter topics with --topic)") from None
    finally:
        consumer.close()
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
