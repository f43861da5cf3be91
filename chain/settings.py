"""Settings of a whole-system run: the demo, the end-to-end test and the drill (``FOREWARN_DEMO_*``)."""

from __future__ import annotations

from pydantic import Field, PositiveFloat, PositiveInt, field_validator
from pydantic_settings import SettingsConfigDict

from forewarn.settings import ForewarnSettings
from ingest.fleet import FleetChange


class DemoSettings(ForewarnSettings):
    """The simulated fleet, the model trained for it and the pipeline that watches it.

    The demo compresses a pump's life: each pump reports once a simulated minute and the fleet runs
    ``speed`` times faster than real time, so a few wall minutes hold hours of degradation. The
    model is trained on a fleet of the same kind (another seed, more pumps) before the run.
    """

    model_config = SettingsConfigDict(env_prefix="FOREWARN_DEMO_")

    assets: PositiveInt = 60
    sites: list[str] = Field(default=["site-1", "site-2"], min_length=1)
    seed: int = 7
    steps: PositiveInt = 300
    interval_s: PositiveFloat = 60.0
    speed: str = "60"
    batch: PositiveInt = 1
    failing_share: float = Field(default=0.6, ge=0.0, le=1.0)
    malformed: float = Field(default=0.01, ge=0.0, le=1.0)
    duplicates: float = Field(default=0.01, ge=0.0, le=1.0)
    out_of_order: float = Field(default=0.0, ge=0.0, le=1.0)
    train_assets: PositiveInt = 200
    train_seed: int = 1001
    retrain: bool = True  # False: keep the current champion when there is one
    model_name: str = "forewarn-pumps"
    api_port: PositiveInt = 8900
    # the warning horizon: a work order is in time when raised at least this many readings (20
    # simulated minutes) before the failure, the notice a crew needs to plan parts and a visit
    min_lead_readings: PositiveInt = 20
    # ... and a false alarm when no failure of its asset follows within this many readings
    max_lead_readings: PositiveInt = 150
    progress_s: PositiveFloat = 5.0
    settle_timeout_s: PositiveFloat = 600.0
    # the closed loop (`forewarn demo --drift`, chain.closed_loop): a change on one site mid-run,
    # drift seen by `forewarn models watch`, a retrain on the crews' labels, a managed promotion, a
    # second fleet judged against the first; it runs in real time (one reading a second per pump)
    drift: bool = False
    drift_change: str = "site-2@100:duty_point"
    # after phase 1, for the watch to retrain and promote (a retrain of the demo's model: 1-3 min)
    drift_wait_s: PositiveFloat = 300.0
    swap_wait_s: PositiveFloat = 40.0  # after a promotion: the scoring job re-resolves @champion every 30 s
    # the watch's drift window, in readings per pump (x interval_s of event time)
    drift_window_readings: PositiveInt = 100

    @field_validator("drift_change")
    @classmethod
    def _change(cls, value: str) -> str:
        FleetChange.parse(value)
        return value
