"""``forewarn gateway``, ``forewarn simulate`` and ``forewarn replay``.

``forewarn simulate`` is a single command (``simulate_command``), the others are groups.
``forewarn dlq`` (dead letters of every stage) sits above the components, in ``chain/dlq_cli.py``.

Settings are read here and passed inward. Heavy imports (pandas) happen inside commands.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Annotated

import orjson
import typer

from forewarn.exits import ExitCode
from forewarn.settings import (
    InfluxRole,
    InfluxSettings,
    KafkaRole,
    KafkaSettings,
    MqttSettings,
    SettingsError,
    StackSettings,
    load,
)

gateway_app = typer.Typer(help="MQTT → Kafka gateway with validation, dead letters and store-and-forward.")
replay_app = typer.Typer(help="Replay recorded run-to-failure data (C-MAPSS) over MQTT.")

GatewayIdOption = Annotated[
    str | None,
    typer.Option(help="Gateway id (header, MQTT client id).", envvar="FOREWARN_GATEWAY_GATEWAY_ID"),
]


def _logging(component: str, verbose: bool = False) -> None:
    from forewarn import logs

    logs.setup(component, level="DEBUG" if verbose else None)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("forewarn").info("signal %s: flushing and stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _exit_hard_after_stop(stop: threading.Event, grace_s: float) -> None:
    """Bound the shutdown: ``grace_s`` after a stop signal, dump every thread's stack and exit 70.

    The clean shutdown settles Kafka within ``shutdown_timeout_s`` and stops the producer within
    ``request_timeout_s``; this is the net under both. It caught the one hang seen so far (CPython's
    ``SimpleQueue.get(timeout)`` never returning after a signal; see the gateway's inbox). Exiting
    here loses nothing (the spool is on disk, unacknowledged MQTT messages are delivered again to
    the next start), but it is a bug, so the exit status says so (70, EX_SOFTWARE) and tests notice.
    """

    def watch() -> None:
        stop.wait()
        time.sleep(grace_s)
        log = logging.getLogger("forewarn.gateway")
        log.error(
            "shutdown still running after %.0f s: exiting now (spool and MQTT session keep all)", grace_s
        )
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(70)

    threading.Thread(target=watch, name="shutdown-watchdog", daemon=True).start()


def _fail(message: str, code: ExitCode = ExitCode.FAILED) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@gateway_app.command("run")
def gateway_run(
    gateway_id: GatewayIdOption = None,
    spool_dir: Annotated[
        Path | None, typer.Option(help="Store-and-forward folder.", envvar="FOREWARN_GATEWAY_SPOOL_DIR")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the gateway until SIGTERM/SIGINT, then flush, acknowledge and exit cleanly."""
    from forewarn import logs
    from ingest.gateway import Gateway, GatewayError
    from ingest.settings import GatewaySettings

    _logging("gateway", verbose)
    overrides = {k: v for k, v in {"gateway_id": gateway_id, "spool_dir": spool_dir}.items() if v is not None}
    state_dir = load(StackSettings).state_dir
    settings = load(GatewaySettings, state_dir, **overrides)
    kafka = load(KafkaSettings, state_dir).for_role(KafkaRole.GATEWAY)  # its own user and ACLs
    mqtt_settings = load(MqttSettings, state_dir)
    influx = load(InfluxSettings, state_dir).for_role(InfluxRole.WRITER)  # its metrics
    log = logging.getLogger("forewarn.gateway")
    for cls_settings in (settings, kafka, mqtt_settings, influx):
        log.info("settings %s: %s", type(cls_settings).__name__, logs.settings_line(cls_settings))
    stop = _stop_on_signals()
    _exit_hard_after_stop(stop, settings.shutdown_timeout_s + settings.request_timeout_s + 3.0)
    try:
        Gateway(settings, mqtt_settings, kafka, influx, state_dir).run(stop)
    except GatewayError as exc:
        raise _fail(str(exc)) from None


@gateway_app.command("leave")
def gateway_leave(
    gateway_id: GatewayIdOption = None,
) -> None:
    """End a stopped gateway's broker session: the broker drops what it queued for it and stops queueing.

    What the session holds is lost (the broker does not hand it to the share group's other gateways):
    for a gateway that will not come back and whose queue is not needed. A gateway that only restarts
    should keep its session: it holds what arrived while the gateway was away.
    """
    from ingest.session import SessionError, end_session
    from ingest.settings import GatewaySettings

    state_dir = load(StackSettings).state_dir
    overrides = {"gateway_id": gateway_id} if gateway_id is not None else {}
    settings = load(GatewaySettings, state_dir, **overrides)
    try:
        end_session(settings.client_id(), load(MqttSettings, state_dir))
    except SessionError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"ended the broker session of {settings.client_id()}")


def utc_option(value: str | None, option: str) -> datetime | None:
    """A date-time option with a UTC offset (ISO 8601), or one line on stderr and exit 1."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"{option} {value!r} is not an ISO 8601 date-time", ExitCode.USAGE) from None
    if parsed.tzinfo is None:
        raise _fail(f"{option} {value!r} needs a UTC offset, e.g. 2026-01-01T00:00:00Z", ExitCode.USAGE)
    return parsed


def _speed(value: str) -> float | None:
    if value == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        raise _fail(f"--speed must be a positive number or 'max', got {value!r}", ExitCode.USAGE) from None
    if not speed > 0:
        raise _fail(f"--speed must be a positive number or 'max', got {value!r}", ExitCode.USAGE)
    return speed


def simulate_command(
    assets: Annotated[int, typer.Option(min=1, help="Number of assets.")] = 20,
    sites: Annotated[
        list[str] | None, typer.Option("--site", help="Site (MQTT user) to deal assets to; repeatable.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Everything random derives from it.")] = 1,
    steps: Annotated[int, typer.Option(min=1, help="Readings per asset.")] = 1440,
    interval_s: Annotated[float, typer.Option(min=0.001, help="Simulated seconds between readings.")] = 60.0,
    speed: Annotated[str, typer.Option(help="Simulated seconds per wall second, or 'max'.")] = "max",
    batch: Annotated[int, typer.Option(min=1, help="Readings of one asset per MQTT message.")] = 10,
    start: Annotated[
        str | None, typer.Option(help="First event time (RFC 3339); default: so nothing is in the future.")
    ] = None,
    failing_share: Annotated[
        float, typer.Option(min=0, max=1, help="Share of assets failing in the run.")
    ] = 0.5,
    malformed: Annotated[
        float, typer.Option(min=0, max=1, help="Share of messages with a malformed twin.")
    ] = 0.0,
    duplicates: Annotated[float, typer.Option(min=0, max=1, help="Share of messages sent twice.")] = 0.0,
    out_of_order: Annotated[float, typer.Option(min=0, max=1, help="Share of messages sent late.")] = 0.0,
    truth: Annotated[Path | None, typer.Option(help="Ground-truth log; default <state>/ingest/.")] = None,
    asset_prefix: Annotated[str, typer.Option(help="Asset ids are <prefix>-0001, ...")] = "pump",
    change: Annotated[
        str | None,
        typer.Option(
            help="A mid-run change on one site, SITE@STEP:KIND with KIND recalibration (sensors read"
            " with a bias) or duty_point (new speed setpoints), e.g. site-2@100:duty_point.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Generate and count, publish nothing.")] = False,
) -> None:
    """Simulate a pump fleet degrading towards hidden failures and publish it over MQTT (QoS 1)."""
    from ingest.assets_cli import RegisterError, register_before_publishing
    from ingest.fleet import FleetChange, FleetConfig
    from ingest.gateway import utc_now
    from ingest.messages import FaultRates
    from ingest.mqtt_out import PublishError, publish_all
    from ingest.simulate import SimulationRun, default_start, truth_path

    _logging("simulate")
    pace = _speed(speed)
    site_names = tuple(sites or ["site-1", "site-2"])
    first = utc_option(start, "--start") or default_start(utc_now(), steps, interval_s, pace)
    try:
        shift = None if change is None else FleetChange.parse(change)
    except ValueError as exc:
        raise _fail(f"--change: {exc}", ExitCode.USAGE) from None
    if shift is not None and shift.site not in site_names:
        known = list(site_names)
        raise _fail(f"--change: site {shift.site!r} is not one of the sites {known}", ExitCode.USAGE)
    config = FleetConfig(
        assets, site_names, seed, first, interval_s, steps, failing_share, asset_prefix=asset_prefix,
        change=shift,
    )  # fmt: skip
    run = SimulationRun(config, batch, FaultRates(malformed, duplicates, out_of_order))
    state_dir = load(StackSettings).state_dir
    truth_file = truth or truth_path(state_dir, seed)
    if dry_run:
        messages = list(run.messages())
        summary: dict[str, object] = {
            "messages": len(messages),
            "readings": sum(m.readings for m in messages),
        }
    else:
        try:
            register_before_publishing(state_dir, run.assets(utc_now()))
            stats = publish_all(load(MqttSettings, state_dir), run.messages(), site_names, pace)
        except (PublishError, SettingsError, RegisterError) as exc:
            raise _fail(str(exc)) from None
        summary = stats.as_json()
    truth_file.parent.mkdir(parents=True, exist_ok=True)
    with truth_file.open("wb") as out:
        run.write_truth(out)
    summary |= {"truth": str(truth_file), "injected": dict(run.injector.injected), "start": first.isoformat()}
    typer.echo(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    if not dry_run and stats.refused:
        raise _fail(f"the broker refused messages: {dict(stats.refused)}")


@replay_app.command("cmapss")
def replay_cmapss(
    data_dir: Annotated[Path, typer.Option(help="Folder with train_/test_/RUL_FDxxx.txt(.gz).")],
    subset: Annotated[str, typer.Option(help="FD001, FD002, ...")],
    split: Annotated[str, typer.Option(help="train (run to failure) or test (cut runs).")] = "test",
    speed: Annotated[str, typer.Option(help="Event seconds per wall second, or 'max'.")] = "max",
    cycle_s: Annotated[float, typer.Option(min=0.001, help="Event-time seconds per cycle.")] = 60.0,
    batch: Annotated[int, typer.Option(min=1, help="Cycles of one engine per MQTT message.")] = 1,
    site: Annotated[str, typer.Option(help="Publishing site (MQTT user).")] = "cmapss",
    asset_prefix: Annotated[str, typer.Option(help="Prefix of the asset ids <subset>-<split>-<unit>.")] = "",
    start: Annotated[str | None, typer.Option(help="Event time of cycle 1 (RFC 3339).")] = None,
    truth: Annotated[Path | None, typer.Option(help="Ground-truth log; default <state>/ingest/.")] = None,
) -> None:
    """Publish a C-MAPSS subset over MQTT: each engine an asset, each cycle one reading."""
    from ingest.assets_cli import RegisterError, register_before_publishing
    from ingest.cmapss import CmapssFormatError, read_rul, read_run, subset_files
    from ingest.gateway import utc_now
    from ingest.messages import batches
    from ingest.mqtt_out import PublishError, publish_all
    from ingest.replay import SPLITS, ReplayConfig, readings
    from ingest.replay import assets as replay_assets
    from ingest.replay import truth as replay_truth
    from ingest.simulate import default_start

    _logging("replay")
    if split not in SPLITS:
        raise _fail(f"--split must be train or test, got {split!r}", ExitCode.USAGE)
    pace = _speed(speed)
    try:
        files = subset_files(data_dir, subset)
        path = files.train if split == "train" else files.test
        if path is None:
            raise CmapssFormatError(f"{data_dir}: no test_{files.subset}.txt(.gz)")
        frame = read_run(path)
        final_rul = read_rul(files.rul) if split == "test" and files.rul is not None else None
    except CmapssFormatError as exc:
        raise _fail(str(exc)) from None
    cycles = int(frame["cycle"].max())
    first = utc_option(start, "--start") or default_start(utc_now(), cycles, cycle_s, pace)
    config = ReplayConfig(files.subset, split, site, first, cycle_s, asset_prefix)
    state_dir = load(StackSettings).state_dir
    try:
        register_before_publishing(state_dir, replay_assets(frame, config, utc_now()))
        stats = publish_all(
            load(MqttSettings, state_dir), batches(readings(frame, config), batch), [site], pace
        )
    except (PublishError, SettingsError, RegisterError) as exc:
        raise _fail(str(exc)) from None
    truth_file = truth or state_dir / "ingest" / f"truth-{files.subset.lower()}-{split}.jsonl"
    truth_file.parent.mkdir(parents=True, exist_ok=True)
    truth_file.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in replay_truth(frame, config, final_rul)))
    summary = {**stats.as_json(), "rows": len(frame), "engines": int(frame["unit"].nunique()),
               "start": first.isoformat(), "truth": str(truth_file)}  # fmt: skip
    typer.echo(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    if stats.refused:
        raise _fail(f"the broker refused messages: {dict(stats.refused)}")
