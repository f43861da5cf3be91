"""The fleet simulator's run: fleet → batched messages → injected faults, and the ground-truth log.

The ground truth is JSON lines: a ``run`` header (everything needed to reproduce the run), one
line per ``failure`` inside the run and per ``censored`` life still running at its end, and an
``injected`` summary counting each fault kind with the reason the gateway must give it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson

from ingest.assets import Asset
from ingest.fleet import SENSORS, SETTINGS, Fleet, FleetConfig
from ingest.messages import FaultInjector, FaultRates, Message, batches


def default_start(now: datetime, steps: int, interval_s: float, speed: float | None) -> datetime:
    """The first event time so that no reading is ever in the future when it is published.

    At ``speed`` x real time, step k is published ``k·interval/speed`` after the start of the run,
    so starting ``duration·(1 - 1/speed)`` before now keeps every event time ≤ its publish time:
    real time starts now, ``max`` speed replays the history that ends now.
    """
    duration_s = steps * interval_s
    lead = duration_s if speed is None else duration_s * (1 - 1 / speed) if speed > 1 else 0.0
    return now - timedelta(seconds=lead)


class SimulationRun:
    """One simulator run: iterate :meth:`messages`, then write the truth with :meth:`write_truth`."""

    def __init__(self, config: FleetConfig, batch: int, rates: FaultRates) -> None:
        self.config = config
        self.batch = batch
        self.rates = rates
        self.fleet = Fleet(config)
        self.injector = FaultInjector(rates, config.seed)

    def assets(self, now: datetime) -> list[Asset]:
        """The fleet as register entries (type ``pump``, by ``simulator``): registered before the
        first message, so a gateway that dead-letters unknown assets takes every reading."""
        return [Asset(a.asset_id, a.site, "pump", None, now, "simulator") for a in self.fleet.assets]

    def messages(self) -> Iterator[Message]:
        """Every message in publish order."""
        readings = ((asset.site, reading) for asset, reading in self.fleet.readings())
        return self.injector.apply(batches(readings, self.batch))

    def header(self) -> dict[str, Any]:
        return {
            "event": "run",
            **{k: v for k, v in asdict(self.config).items() if k != "start"},
            "start": self.config.start.isoformat(),
            "batch": self.batch,
            "faults": asdict(self.rates),
            "sensors": SENSORS,
            "settings": SETTINGS,
        }

    def write_truth(self, out: IO[bytes]) -> None:
        """The ground-truth log (call after the messages were consumed)."""
        lines = [self.header(), *(event.as_json() for event in self.fleet.truth)]
        lines.append({"event": "injected", "counts": dict(sorted(self.injector.injected.items()))})
        for line in lines:
            out.write(orjson.dumps(line) + b"\n")


def truth_path(state_dir: Path, seed: int) -> Path:
    return state_dir / "ingest" / f"truth-seed{seed}.jsonl"
