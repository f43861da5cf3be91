"""Settings of the scoring job (``forewarn stream``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from pydantic_settings import SettingsConfigDict

from forewarn.settings import ForewarnSettings


class StreamSettings(ForewarnSettings):
    """What the job scores with, how it keeps state and where it writes."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_STREAM_")

    model_name: str = "forewarn-rul"
    model_alias: str = "champion"
    # Each Python worker re-resolves the alias this often: a new champion is picked up live.
    alias_refresh_s: PositiveFloat = 30.0
    # Readings kept per asset; 0 = what the champion's features need (models.features.required_history).
    history_readings: int = 0
    top_features: PositiveInt = 3
    # Top contributing sensors for risk at or above this (the lowest alert threshold: what an alert
    # shows) and for each asset's latest reading of a micro-batch; other records carry none.
    explain_at: float = Field(0.5, ge=0.0, le=1.0)
    # Assets are hashed into this many state keys; each is one call of the Python step per
    # micro-batch. 0 = twice the state partitions (spark.sql.shuffle.partitions): measured best
    # here (streaming/README.md, knob table); bucket i runs on partition i mod partitions
    # (streaming.buckets). Fixed at a checkpoint's first run (the job refuses another value on it).
    state_buckets: NonNegativeInt = 0

    def buckets(self, shuffle_partitions: int) -> int:
        """The state buckets this job runs with (``state_buckets``, or twice the partitions)."""
        return self.state_buckets or 2 * shuffle_partitions

    checkpoint_dir: Path | None = None  # None = <state>/checkpoints/stream
    query_name: str = "forewarn-scoring"
    # How often a micro-batch starts; 0 = as soon as the previous one finished (lowest latency).
    trigger_interval_s: NonNegativeFloat = 1.0
    # Records (runs of readings) per micro-batch at most: bounds a catch-up batch's duration.
    max_offsets_per_trigger: PositiveInt = 200_000
    starting_offsets: Literal["earliest", "latest"] = "earliest"
    telemetry_to_influx: Literal["raw", "downsampled", "off"] = "raw"
    downsample_s: PositiveInt = 60
    influx_batch_lines: PositiveInt = 5000
    # A sink (Kafka or InfluxDB) that stays down this long fails the micro-batch; the query then
    # restarts from its checkpoint after restart_delay_s, up to max_restarts times (0 = forever).
    sink_retry_s: PositiveFloat = 120.0
    restart_delay_s: PositiveFloat = 5.0
    max_restarts: int = 0
