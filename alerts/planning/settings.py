"""Settings of crew planning (``FOREWARN_PLAN_*``): the horizon, the solver's budget, and the numbers
that turn a prediction into a latest safe start."""

from __future__ import annotations

from pydantic import Field, PositiveFloat, PositiveInt
from pydantic_settings import SettingsConfigDict

from forewarn.settings import ForewarnSettings


class PlanSettings(ForewarnSettings):
    """Crew planning (``forewarn plan crew``, ``POST /plan/crew``)."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_PLAN_")

    horizon_days: PositiveInt = Field(default=14, le=92)  # plan this far ahead
    time_limit_s: PositiveFloat = 10.0  # the CP-SAT solver's budget
    workers: PositiveInt = 2  # the solver's threads (the target machine has 2 cores)
    max_overtime_min: int = Field(default=60, ge=0, le=720)  # a job may run this far past a shift's end
    # latest safe start = predicted failure - repair duration - this margin
    safety_margin_min: int = Field(default=240, ge=0)
    # Seconds of the store's clock one RUL step (the model's "cycle") lasts, when the model version's
    # registry tag ``forewarn.step_s`` is not read or not there. The demo's fleet reports once a
    # simulated minute (60); at 60x real time a simulated minute lasts one second of the store's clock.
    rul_step_s: PositiveFloat = 60.0
    rul_step_from_registry: bool = False  # read ``forewarn.step_s`` from MLflow (FOREWARN_MLFLOW_*)
    default_repair_min: PositiveInt = Field(default=120, le=24 * 60)  # a failure mode without a duration
    # Parts demand from predictions (``forewarn plan parts``, ``GET /plan/parts``; P3). The RUL step
    # above also turns the risk's ``horizon_cycles`` into days.
    parts_service_level: float = Field(default=0.95, ge=0.5, lt=1.0)  # P(no stock-out over a lead time)
    parts_lead_time_days: float = Field(default=14.0, ge=0.0, le=365.0)  # a SKU/site without a policy
    parts_review_days: float = Field(default=7.0, ge=0.0, le=92.0)  # until the plan is looked at again
    parts_risk_window_h: PositiveFloat = 24.0  # the latest risk of assets scored this far back
