"""``make bench``: every hop's benchmark and the end-to-end one, in one run, into one JSON.

Each is its own program (``python -m bench.<name> --out FILE``), run here one after the other so
they do not share the 2 cores: ingest (gateway vs the same producer writing straight to Kafka),
stream (the Spark scoring job on both workload shapes vs the same code path offline, and the
latency knobs), alerts (engine records/s, alert → work order latency), the InfluxDB sink (the
sink's line building and batched writer vs posting prepared line protocol), and end to end (MQTT
publish → risk through the whole running pipeline at a sustained rate, ``bench.chain``); and the
console's boards with 500 open alerts and work orders (``bench.console``: server and chromium times).
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

from chain.fleetrun import Say
from forewarn.paths import project_root
from forewarn.settings import InfluxSettings, load


def _program(args: list[str], out: Path, timeout_s: float, say: Say) -> dict[str, Any]:
    """Run one benchmark program that writes JSON to ``out``; its JSON, or what went wrong."""
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
    from forewarn.influx_admin import create_database, drop_database
    from streaming.sinks import telemetry_lines

    database = f"bench_{int(time.time())}"
    create_database(influx, database)  # as the admin, granting the writer and the reader
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
        with httpx.Client(timeout=30, headers=influx.auth_headers()) as client:
            for i in range(0, len(body), 5000):
                client.post(
                    f"{influx.url}/write",
                    params={"db": database, "precision": "ms"},
                    content="\n".join(body[i : i + 5000]).encode(),
                ).raise_for_status()
        raw_s = time.perf_counter() - started
    finally:
        drop_database(influx, database)
    return {
        "points": readings,
        "sink_points_per_s": round(readings / sink_s, 1),
        "raw_points_per_s": round(readings / raw_s, 1),
        "ratio_sink_to_raw": round(raw_s / sink_s, 3),
    }


def run_bench(state_dir: Path, out: Path, say: Say, quick: bool = False) -> dict[str, Any]:
    """Every benchmark, one after the other; the combined JSON is written to ``out``."""
    work = state_dir / "bench" / "parts"
    work.mkdir(parents=True, exist_ok=True)
    n = 20_000 if quick else 50_000
    result: dict[str, Any] = {
        "benchmark": "forewarn",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
        "targets": {
            "spark_capacity_readings_per_s": 20_000,
            "spark_to_offline_ratio": 0.7,
            "mqtt_to_risk_readings_per_s_sustained_60_s": 10_000,
            "reading_to_risk_ms_p99_at_5000_per_s": 5000,
            "console_page_of_500_open_rows_ms": 1000,
        },
        "hops": {},
    }
    hops = result["hops"]
    hops["ingest"] = _program(
        ["-m", "bench.ingest", "--readings", str(n), "--batches", "1,10,50"], work / "ingest.json", 900, say
    )
    stream = ["--backlog-readings", "50000", "--seconds", "15", "--sweep-seconds", "10",
              "--sweep-backlog-readings", "20000"] if quick else []  # fmt: skip
    hops["stream"] = _program(["-m", "bench.stream", "--sweep", *stream], work / "stream.json", 10800, say)
    hops["alerts"] = _program(
        ["-m", "bench.alerts", "--records", str(n // 2)], work / "alerts.json", 600, say
    )
    say("-- InfluxDB sink vs raw line protocol")
    hops["influx"] = influx_sink_vs_raw(load(InfluxSettings, state_dir), n)
    console = ["--requests", "10", "--loads", "5"] if quick else []
    result["console"] = _program(["-m", "bench.console", *console], work / "console.json", 900, say)
    chain = ["--seconds", "30", "--rate", "5000"] if quick else []
    result["end_to_end"] = _program(["-m", "bench.chain", *chain], work / "chain.json", 3600, say)
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
    shapes = hops["stream"].get("shapes", {})
    return {
        "gateway_to_raw_producer": ingest or None,
        "gateway_draining_to_raw_producer": drain or None,
        "spark_to_offline": {s: r.get("ratio_stream_to_offline") for s, r in shapes.items()} or None,
        "spark_to_offline_cpu": {s: r.get("ratio_stream_to_offline_cpu") for s, r in shapes.items()} or None,
        "influx_sink_to_raw_writes": hops["influx"].get("ratio_sink_to_raw"),
    }
