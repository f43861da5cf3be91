"""Settings of the model lifecycle: retraining, the judge, the promotion policy, the watch service
(``FOREWARN_LIFECYCLE_*``)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, field_validator
from pydantic_settings import SettingsConfigDict

from forewarn.settings import ForewarnSettings


class Policy(StrEnum):
    """What happens to a challenger that passes the gate (Lookout for Equipment's two modes)."""

    MANAGED = "MANAGED"  # promoted at once; the scoring job picks it up at its next @champion lookup
    MANUAL = "MANUAL"  # tagged awaiting approval; `forewarn models approve VERSION` promotes it


class Phm08Gate(StrEnum):
    """When the gate holds a challenger to the champion's PHM08 score (see ``retrain.operational_checks``)."""

    AUTO = "auto"  # only when the judge could not count missed failures (they measure lateness directly)
    ALWAYS = "always"  # always, beside missed failures


AUTO = "auto"
NONE = "none"


class LifecycleSettings(ForewarnSettings):
    """How challengers are built, judged and promoted, and when the watch service acts.

    ``base_source``: the original training source mixed into every retrain. ``auto`` (default):
    the champion's own (its ``forewarn.base_source`` tag, else ``forewarn.source``, with its run's
    parameters); ``none``: labels only; or a source in ``forewarn.source`` form
    (``fleet:assets=200,steps=400,interval_s=1,seed=0`` or ``cmapss:FD001`` with ``cmapss_data_dir``).
    """

    model_config = SettingsConfigDict(env_prefix="FOREWARN_LIFECYCLE_")

    policy: Policy = Policy.MANAGED
    # watch: a drift check every drift_interval_s; a scheduled retrain every retrain_every_s (0 = off)
    drift_interval_s: PositiveFloat = 60.0
    retrain_every_s: NonNegativeFloat = 0.0
    # a drift alarm retrains once this many labels arrived since the champion's training
    min_new_labels: NonNegativeInt = 5
    # one drift alarm event per cooldown, and no drift-triggered retrain within it of the last one
    cooldown_s: NonNegativeFloat = 1800.0
    # the judge: this share of the labelled assets (split by asset, seeded) is held out of training
    # and both models are scored there; fewer than min_judge_assets assets judge nothing
    judge_fraction: float = Field(default=0.3, gt=0.0, lt=0.9)
    min_judge_assets: PositiveInt = 3
    # the gate, beside FOREWARN_MODELS_GATE_*: no more missed failures than the champion on the judge
    # assets, a false-alarm rate at most this much above its; PHM08 gated always or only without them.
    # The rate is over readings of a handful of assets, and one asset's readings are not independent:
    # 0 tolerance refused a challenger better on every other figure at 0.125 against 0.119 (3 Dec).
    # A challenger that misses strictly fewer failures may alarm more (a never-alarming champion)
    max_false_alarm_rise: float = Field(default=0.02, ge=0.0, le=1.0)
    phm08_gate: Phm08Gate = Phm08Gate.AUTO
    seed: int = 0
    base_source: str = AUTO
    cmapss_data_dir: Path | None = None
    # a label file instead of the work-order store (`forewarn labels export` output); None: the store
    labels_file: Path | None = None
    # how long an unreachable InfluxDB is retried for one model event before it is logged as lost there
    event_retry_budget_s: NonNegativeFloat = 10.0
    # after a failed tick the watch waits this long, doubling up to max_backoff_s
    backoff_s: PositiveFloat = 5.0
    max_backoff_s: PositiveFloat = 300.0
    # the watch service's nice value (and its session's): its drift checks and retrains yield the
    # CPU to the path to `risk` under load (forewarn/cpu_share.py); 0: an equal share
    nice: int = Field(default=5, ge=0, le=19)

    @field_validator("base_source")
    @classmethod
    def _source(cls, value: str) -> str:
        value = value.strip()
        kind = value.split(":", 1)[0]
        if value not in (AUTO, NONE) and kind not in ("fleet", "cmapss"):
            raise ValueError(f"must be 'auto', 'none', 'fleet:...' or 'cmapss:<subset>', got {value!r}")
        return value
