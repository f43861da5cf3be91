"""``make bench``: every hop's benchmark and the end-to-end one, in one run, into one JSON.

Hops (each its own program, run here one after the other so they do not share the 2 cores):
ingest (gateway vs the same producer writing straight to Kafka), stream (Spark scoring vs the
same model offline), alerts (engine records/s, alert → work order latency) and the InfluxDB sink
(the sink's line building and batched writer vs posting prepared line protocol).

End to end, on the whole running pipeline (gateway, scoring job, engine, API as processes):
``throughput`` publishes a fleet as fast as the simulator can and times MQTT → `risk` from the
first publish to the Kafka timestamp of the last risk record; ``latency`` offers a steady rate in
real time (event time = publish time) and measures reading → risk as the risk record's Kafka
timestamp minus the reading's event time. CPU seconds and peak memory (VmHWM) per process.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from chain.fleetrun import FleetRun, Say
from chain.plan import plan
from chain.processes import group_usage
from chain.settings import DemoSettings
from forewarn.paths import project_root
from forewarn.settings import InfluxSettings, load

STACK_SERVICES = ("mosquitto", "kafka", "influxdb", "mlflow")


def _program(args: list[str], out: Path, timeout_s: float, say: Say) -> dict[str, Any]:
    """Run one hop benchmark that writes JSON to ``out``; its JSON, or what went wrong."""
    say(f"-- {' '.join(args)}")
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, *args, "--out", str(out)],
            cwd=project_root(),
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout_s:.0f} s"}
    if done.returncode != 0 or not out.exists():
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-5:]
        return {"error": f"exit {done.returncode}", "stderr_tail": tail}
    result: dict[str, Any] = orjson.loads(out.read_bytes())
    result["wall_s"] = round(time.monotonic() - started, 1)
    return result


def influx_sink_vs_raw(influx: InfluxSettings, readings: int = 50_000) -> dict[str, Any]:
    """The scoring job's InfluxDB telemetry sink against posting prepared line protocol, same points."""
    import httpx

    from forewarn.influx import InfluxWriter
    from streaming.sinks import telemetry_lines

    database = f"bench_{int(time.time())}"
    httpx.post(
        f"{influx.url}/query", params={"q": f'CREATE DATABASE "{database}"'}, timeout=10
    ).raise_for_status()
    target = influx.model_copy(update={"database": database})
    rng = np.random.default_rng(0)
    now_ms = int(time.time() * 1000) - readings
    rows = [
        {
            "site": "bench",
            "asset_id": f"pump-{i % 200:04d}",
            "ts": now_ms + i,
            "seq": i // 200,
            "settings": orjson.dumps({"load_frac": float(rng.random())}).decode(),
            "sensors": orjson.dumps({f"s{k}": float(v) for k, v in enumerate(rng.random(6))}).decode(),
        }
        for i in range(readings)
    ]
    try:
        started = time.perf_counter()
        with InfluxWriter(target, batch_lines=5000) as writer:
            writer.write(telemetry_lines(rows, None))  # type: ignore[arg-type]
        sink_s = time.perf_counter() - started
        body = [line for line in telemetry_lines(rows, None) if line]  # type: ignore[arg-type]
        started = time.perf_counter()
        with httpx.Client(timeout=30) as client:
            for i in range(0, len(body), 5000):
                client.post(
                    f"{influx.url}/write",
                    params={"db": database, "precision": "ms"},
                    content="\n".join(body[i : i + 5000]).encode(),
                ).raise_for_status()
        raw_s = time.perf_counter() - started
    finally:
        httpx.post(f"{influx.url}/query", params={"q": f'DROP DATABASE "{database}"'}, timeout=10)
    return {
        "points": readings,
        "sink_points_per_s": round(readings / sink_s, 1),
        "raw_points_per_s": round(readings / raw_s, 1),
        "ratio_sink_to_raw": round(raw_s / sink_s, 3),
    }


def _usage(run: FleetRun, state_dir: Path) -> dict[str, dict[str, float | None]]:
    usage: dict[str, dict[str, float | None]] = {}
    for name in run.supervisor.components:
        cpu, peak = run.supervisor.cpu_s(name), run.supervisor.peak_rss_mb(name)
        usage[name] = {"cpu_s": None if cpu is None else round(cpu, 1), "peak_rss_mb": _r(peak)}
    for service in STACK_SERVICES:
        try:
            pid = int((state_dir / "run" / f"{service}.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            continue
        cpu, peak = group_usage(pid)
        usage[service] = {"cpu_s": round(cpu, 1), "peak_rss_mb": _r(peak)}
    return usage


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _delta(
    after: dict[str, dict[str, float | None]], before: dict[str, dict[str, float | None]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, now in after.items():
        was = before.get(name, {}).get("cpu_s") or 0.0
        cpu = now["cpu_s"]
        out[name] = {"cpu_s": None if cpu is None else round(cpu - was, 1), "peak_rss_mb": now["peak_rss_mb"]}
    return out


def end_to_end(
    state_dir: Path, say: Say, assets: int, steps: int, rate: float, seconds: float
) -> dict[str, Any]:
    """Throughput then latency through the whole running pipeline (its own run: topics, store, model)."""
    settings = load(
        DemoSettings, state_dir, assets=assets, steps=steps, speed="max", batch=10, malformed=0.0,
        duplicates=0.0, train_assets=60, api_port=8911, progress_s=5.0,
    )  # fmt: skip
    run_id = "bench-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    latencies: list[float] = []

    def timed(records: list[tuple[bytes, int]]) -> None:
        for value, kafka_ts in records:
            record = orjson.loads(value)
            if str(record.get("asset_id", "")).startswith("lat-"):
                event = datetime.fromisoformat(record["event_ts"]).timestamp() * 1000
                latencies.append(kafka_ts - event)

    run = FleetRun(plan(state_dir, settings, run_id, None, f"bench-model-{run_id}"), say)
    run.risk_timed = timed
    try:
        run.prepare()
        say("-- end to end: training a small model")
        run.train()
        run.seed_catalogue()
        run.start_pipeline()
        result: dict[str, Any] = {"run": run_id}
        # throughput: as fast as the simulator publishes
        before = _usage(run, state_dir)
        sim = run.simulate()
        run.watch(sim, every_s=5.0)
        run.finish(sim)
        published = run.published(sim)
        verdict = run.settle(published, timeout_s=900, every_s=1.0)
        risk_tail, telemetry_tail = run.tails[2], run.tails[0]
        if risk_tail.last_ts_ms is None or telemetry_tail.last_ts_ms is None:
            raise RuntimeError("no telemetry or risk record arrived")
        start_s = sim.started_wall
        ingest_s = telemetry_tail.last_ts_ms / 1000 - start_s
        scored_s = risk_tail.last_ts_ms / 1000 - start_s
        result["throughput"] = {
            "readings": len(published.keys),
            "readings_per_message": settings.batch,
            "accounted": verdict.ok,
            "mqtt_to_telemetry_readings_per_s": round(len(published.keys) / ingest_s, 1),
            "mqtt_to_risk_readings_per_s": round(len(published.keys) / scored_s, 1),
            "simulator_publish_s": round((sim.summary or {}).get("elapsed_s", 0.0), 1),
            "processes": _delta(_usage(run, state_dir), before),
        }  # fmt: skip
        # latency: a steady real-time rate, event time = publish time
        steady = settings.model_copy(
            update={"assets": assets, "steps": max(30, int(seconds * rate / assets)),
                    "interval_s": assets / rate, "speed": "1", "batch": 1}
        )  # fmt: skip
        before = _usage(run, state_dir)
        sim = run.simulate(steady, prefix="lat")
        run.watch(sim, every_s=5.0)
        run.finish(sim)
        run.settle(run.published(sim), timeout_s=600, every_s=1.0)
        values = np.asarray(latencies)
        result["latency"] = {
            "offered_readings_per_s": rate,
            "seconds": seconds,
            "risk_records": int(values.size),
            "reading_to_risk_ms_p50": _r(float(np.percentile(values, 50))) if values.size else None,
            "reading_to_risk_ms_p99": _r(float(np.percentile(values, 99))) if values.size else None,
            "reading_to_risk_ms_max": _r(float(values.max())) if values.size else None,
            "processes": _delta(_usage(run, state_dir), before),
        }
        return result
    finally:
        run.supervisor.stop_all()
        run.close()


def run_bench(state_dir: Path, out: Path, say: Say, quick: bool = False) -> dict[str, Any]:
    """Every benchmark, one after the other; the combined JSON is written to ``out``."""
    work = state_dir / "bench" / "parts"
    work.mkdir(parents=True, exist_ok=True)
    n = 20_000 if quick else 50_000
    result: dict[str, Any] = {
        "benchmark": "forewarn",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
        "targets": {"mqtt_to_risk_readings_per_s": 100_000, "reading_to_risk_ms_p99_at_50k_per_s": 1000},
        "hops": {},
    }
    hops = result["hops"]
    hops["ingest"] = _program(
        ["-m", "bench.ingest", "--readings", str(n), "--batches", "1,10,50"], work / "ingest.json", 900, say
    )
    hops["stream"] = _program(["-m", "bench.stream"], work / "stream.json", 1200, say)
    hops["alerts"] = _program(
        ["-m", "bench.alerts", "--records", str(n // 2)], work / "alerts.json", 600, say
    )
    say("-- InfluxDB sink vs raw line protocol")
    hops["influx"] = influx_sink_vs_raw(load(InfluxSettings, state_dir), n)
    say("-- end to end")
    try:
        result["end_to_end"] = end_to_end(
            state_dir, say, assets=200, steps=100 if quick else 250, rate=1000.0, seconds=30 if quick else 60
        )
    except Exception as exc:
        result["end_to_end"] = {"error": f"{type(exc).__name__}: {exc}"}
    result["ratios"] = _ratios(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return result


def _ratios(result: dict[str, Any]) -> dict[str, Any]:
    hops = result["hops"]
    ingest = {
        f"{r['readings_per_message']}_per_message": r.get("ratio_gateway_to_direct")
        for r in hops["ingest"].get("results", [])
    }
    drain = {
        f"{r['readings_per_message']}_per_message": r.get("drain_ratio_gateway_to_direct")
        for r in hops["ingest"].get("results", [])
    }
    return {
        "gateway_to_raw_producer": ingest or None,
        "gateway_draining_to_raw_producer": drain or None,
        "spark_to_offline_sklearn": hops["stream"].get("ratio_stream_to_offline"),
        "influx_sink_to_raw_writes": hops["influx"].get("ratio_sink_to_raw"),
    }
