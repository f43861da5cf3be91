"""Settings of training, the registry and the promotion gate (``FOREWARN_MODELS_*``)."""

from __future__ import annotations

from pydantic import Field, PositiveFloat, PositiveInt, field_validator
from pydantic_settings import SettingsConfigDict

from forewarn.settings import ForewarnSettings

FAMILIES = ("dummy", "ridge", "extra_trees", "hgb", "hgb_avg")


class ModelsSettings(ForewarnSettings):
    """How models are trained, named and promoted.

    The gate: a challenger becomes champion only if, on the same held-out assets, its RMSE and
    PHM08 score are at most ``gate_max_rmse_ratio`` / ``gate_max_phm08_ratio`` times the
    champion's and its PR-AUC is at least the champion's minus ``gate_max_pr_auc_drop``; with no
    champion yet, it must meet the absolute ceilings ``gate_max_rmse`` and ``gate_min_pr_auc``.
    """

    model_config = SettingsConfigDict(env_prefix="FOREWARN_MODELS_")

    registered_model: str = "forewarn-rul"
    experiment: str = "forewarn-training"
    rul_cap_cycles: PositiveInt = 125
    horizon_cycles: PositiveInt = 30
    # Feature windows in readings. The long ones (100, 200) reach back to the engine's own healthier
    # past: engines start with different initial wear, and a recent mean compared with the mean over
    # most of the history measures the degradation of this engine rather than its distance from the
    # fleet's average. Capped cut RMSE (the CV below, hgb, 3 folds, fold seeds 0/1/2, every pair on the
    # same folds and cuts; training files only), FD001 / FD003: (5, 15, 30, 50) 11.26 [10.96-11.54] /
    # 11.52 [11.24-11.68]; + 100: 10.42 [10.18-10.65] / 10.99 [10.41-11.43] (per seed -0.52 to -1.36 /
    # -0.22 to -0.82); + 100, 200: 10.15 [10.06-10.30] / 10.66 [10.36-10.89] (per seed -0.66 to -1.43 /
    # -0.76 to -0.94: beyond the fold noise on every seed of both); `forewarn benchmark cmapss` once
    # after: capped RMSE FD001 10.81, FD003 9.38 (11.78, 11.30 before). The streaming state keeps
    # max(windows) readings per asset (models.features.required_history); a row before that age uses
    # the readings there are. Not better, same CV (FD003, 3 seeds, unless FD001 is named): temporal
    # smoothing of the prediction (mean of prediction(t-j) - j over the last 3/5/10 readings, median,
    # line fit) -0.03 to +0.6 (FD001 +0.03 to +2.3); a ridge health index as an extra hgb input +0.75;
    # an MLP (64, 32) alone +1.76, averaged with hgb +0.04.
    windows: tuple[PositiveInt, ...] = (5, 15, 30, 50, 100, 200)
    families: tuple[str, ...] = ("ridge", "extra_trees", "hgb")
    cv_folds: int = Field(default=3, ge=2)
    # benchmark-like CV (models.training.truncation_points): each held-out asset cut at this many
    # random cycles with at least cv_min_history_cycles of history and a true RUL up to
    # cv_max_rul_cycles, judged on the true RUL there both capped at rul_cap_cycles (cut_rmse_capped:
    # the published convention, it picks the family) and uncapped (cut_rmse, logged).
    # Searched on the capped cut RMSE, C-MAPSS training files only (hgb, 3 folds, mean of fold seeds
    # 0 and 1; one seed to the other moves a figure by 0.25 on FD001, up to 0.8 on FD003), FD001 / FD003:
    # the defaults 11.41 / 11.41; hgb without early stopping 11.25 / 11.50, also 1000 iterations
    # 11.26 / -, also min_samples_leaf 200 11.34 / 11.55, also rows with true RUL > 150 weighted 0.3
    # 11.30 / 11.34; exponentially weighted means (50 readings, half-lives 5 and 15) added to the
    # features 11.35 / -. None beats the defaults on both subsets by more than the fold noise, so
    # they stay (`forewarn benchmark cmapss` once after: capped RMSE FD001 11.78, FD003 11.30).
    cv_cuts_per_asset: PositiveInt = 10
    cv_min_history_cycles: PositiveInt = 30
    cv_max_rul_cycles: PositiveInt = 150
    holdout_fraction: float = Field(default=0.2, ge=0.0, lt=0.9)
    setting_decimals: tuple[int, ...] = (0, 2, 0)
    regime_min_rows: PositiveInt = 30
    top_features: PositiveInt = 3
    # tree families (models.training.BOUNDED_FAMILIES) fit on readings from this cycle of an
    # asset's history on (1 = all); earlier rows are still predicted (their windows are partial and
    # their RUL is at the cap anyway). Chosen by
    # the benchmark-like CV (3 folds, 10 cuts per engine, hgb), C-MAPSS training files only:
    # cut RMSE FD001 13.82 (all rows) / 13.57 (from cycle 15) / 13.33 (from 30);
    # FD003 14.11 / 13.96 / 13.80. Cap 120 was worse on both (14.04, 14.49), 130 within noise
    # (13.77, 14.08); an extra-trees + hgb blend worse (14.42, 14.90). Averaging three hgb seeds
    # (family hgb_avg) from cycle 30: 13.26 and 13.77, within noise of one hgb for three times
    # the training time, so ``families`` keeps hgb.
    fit_min_history_cycles: PositiveInt = 30
    # fit on every n-th reading at or above the RUL cap (1 = all; features still see every reading)
    healthy_stride: PositiveInt = 1
    seed: int = 0
    gate_max_rmse_ratio: PositiveFloat = 1.0
    gate_max_phm08_ratio: PositiveFloat = 1.0
    gate_max_pr_auc_drop: float = Field(default=0.0, ge=0.0)
    gate_max_rmse: PositiveFloat = 40.0
    gate_min_pr_auc: float = Field(default=0.3, ge=0.0, le=1.0)

    @field_validator("families")
    @classmethod
    def _known(cls, families: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [f for f in families if f not in FAMILIES]
        if unknown or not families:
            raise ValueError(f"families must be a non-empty subset of {list(FAMILIES)}, got {list(families)}")
        return families
