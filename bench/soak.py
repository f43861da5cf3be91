"""``make soak``: the pipeline at a steady rate for a set time, sampled so that leaks show.

Runs the demo's chain (gateway, Spark scoring job, alert engine, API, model watch: ``FleetRun`` and
its supervisor, as the demo and ``bench.chain`` do) with a real-time fleet publishing ``--rate``
readings/s for ``--seconds``. Every ``--every-s`` it samples each process's resident memory and open
file descriptors from ``/proc`` (the scoring job as its Python driver, its JVM and each of pyspark's
Python workers, one row each) and the lags ``telemetry`` → scoring and ``risk`` → engine. At the end it
writes the samples and the summary (:mod:`bench.soak_report`: first/last/peak RSS, RSS and fd slope
per hour, max lag) as JSON and prints the table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.chain import _drop_topics_and_model
from bench.procfs import status_kb
from bench.soak_report import Sample, summarize, table
from chain.fleetrun import FleetRun, Say
from chain.plan import plan
from chain.settings import DemoSettings
from chain.topics import group_lag
from forewarn.settings import StackSettings, load
from infra.stack import process

COMPONENTS = ("gateway", "stream", "engine", "api", "watch")


def process_rows(run: FleetRun) -> dict[str, tuple[float, int]]:
    """``name -> (rss_mb, fds)`` for every pipeline process and the scoring job's JVM and workers."""
    rows: dict[str, tuple[float, int]] = {}
    for name in COMPONENTS:
        pid = run.supervisor.pid(name)
        if pid is None:
            continue
        _add(rows, name, pid)
        if name == "stream":  # python driver → JVM → pyspark daemon and workers
            for child in process.descendants(pid):
                comm = _comm(child)
                label = "stream/jvm" if comm == "java" else f"stream/{comm}-{child}"
                _add(rows, label, child)
    return rows


def _add(rows: dict[str, tuple[float, int]], name: str, pid: int) -> None:
    with contextlib.suppress(OSError):  # ended between listing and reading: not in this sample
        rows[name] = (status_kb(pid, "VmRSS") / 1024, len(os.listdir(f"/proc/{pid}/fd")))


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def lags(run: FleetRun) -> dict[str, int | None]:
    """Records not yet processed: ``telemetry`` by the scoring job (from its checkpoint), ``risk`` by
    the engine (its consumer group)."""
    from streaming.progress import lag

    kafka = run.plan.kafka
    out: dict[str, int | None] = {}
    checkpoint = Path(run.plan.env["FOREWARN_STREAM_CHECKPOINT_DIR"]) / "scoring"
    try:
        out["telemetry→scoring"] = lag(checkpoint, kafka).total
    except Exception:  # no checkpoint yet, or Kafka busy: a missing point, not a failed soak
        out["telemetry→scoring"] = None
    try:
        out["risk→engine"] = group_lag(kafka, run.plan.engine_group, kafka.risk_topic)
    except Exception:
        out["risk→engine"] = None
    return out


def soak(
    state_dir: Path, say: Say, rate: float, seconds: float, every_s: float, assets: int
) -> dict[str, object]:
    """The soak run; its samples and summary."""
    settings = load(DemoSettings, state_dir, api_port=8912, progress_s=30.0)
    fleet = settings.model_copy(
        update={"assets": assets, "steps": max(1, round(rate * seconds / assets)),
                "interval_s": assets / rate,
                "speed": "1", "batch": 1, "malformed": 0.01, "duplicates": 0.01, "out_of_order": 0.0}
    )  # fmt: skip
    run_id = "soak-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run = FleetRun(plan(state_dir, settings, run_id, f"soak-{run_id}", f"soak-model-{run_id}"), say)
    samples: list[Sample] = []
    try:
        run.prepare()
        say(f"-- soak {run_id}: training the demo's model, starting the pipeline")
        run.train()
        run.seed_catalogue()
        run.start_pipeline()
        say(
            f"-- soak: {rate:g} readings/s from {assets} assets for {seconds:g} s,"
            f" a sample every {every_s:g} s"
        )
        sim = run.simulate(fleet, prefix="soak")
        started = time.monotonic()
        while sim.proc.poll() is None:
            for tail in run.tails:
                tail.catch_up()
            samples.append(Sample(round(time.monotonic() - started, 1), process_rows(run), lags(run)))
            last = samples[-1]
            shown = [f"{k} {v[0]:.0f} MB/{v[1]} fds" for k, v in last.processes.items() if "/" not in k]
            say(f"   {last.t_s:6.0f} s  " + ", ".join(shown))
            time.sleep(max(0.0, every_s - (time.monotonic() - started - last.t_s)))
        run.finish(sim)
        summary = summarize(samples)
        offered = {"readings_per_s": rate, "seconds": seconds, "assets": assets, "every_s": every_s}
        rows = [{"t_s": s.t_s, "processes": s.processes, "lags": s.lags} for s in samples]
        return {"run": run_id, "offered": offered, "summary": summary, "samples": rows}
    finally:
        run.supervisor.stop_all()
        run.close()
        _drop_topics_and_model(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="readings/s offered")
    parser.add_argument("--seconds", type=float, default=900.0, help="how long the fleet publishes")
    parser.add_argument("--every-s", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--assets", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.rate <= 0 or args.seconds <= 0 or args.every_s <= 0 or args.assets < 1:
        parser.error("--rate, --seconds, --every-s and --assets must be positive")

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    result = {
        "benchmark": "soak",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.soak " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
        **soak(load(StackSettings).state_dir, say, args.rate, args.seconds, args.every_s, args.assets),
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    summary = result["summary"]
    assert isinstance(summary, dict)
    print(table(summary))


if __name__ == "__main__":
    main()
