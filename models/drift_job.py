"""The drift check: the champion's training reference against the last window of live telemetry.

:func:`check_drift` is one pass of a periodic job (``forewarn models watch`` calls it every interval,
``forewarn models drift`` once): it resolves the model version (the ``champion`` alias unless one
is named), loads the fitted model and its ``drift_reference.json`` (both cached per version: the
loop calls every ~30 s), reads the window's ``telemetry`` and that version's ``risk`` points from
InfluxDB, normalises the sensors with the model's own regime normaliser, measures drift fleet-wide
(``site=all``) and per site (:mod:`models.drift`), writes one ``feature_drift`` point per (site,
feature) and returns a :class:`DriftReport` with the alarm verdict.

**The window is in event time.** Readings carry their own times (the demo's simulated clock runs
ahead of or behind the wall), so the window ends at the latest ``telemetry`` point's time, looking
no further than ``now_ms`` + :attr:`DriftSettings.max_skew_s` (a reading from a clock far in the
future must not drag the window away from the fleet), and starts ``window_s`` before that.

**The alarm.** Any sensor's PSI at or above ``psi_threshold`` on a window (a site's or the
fleet's) of at least ``min_rows`` readings. The predicted risk's drift is measured and written but
does not raise the alarm by default (``FOREWARN_DRIFT_ALARM_ON_RISK``): risk is meant to move when
the fleet's health moves, and on the simulated fleet with no change at all its window PSI reaches
2 to 3 (``models/README.md``, "Drift").

Errors: InfluxDB or MLflow unreachable raises :class:`DriftUnavailableError` (the loop logs it and tries
again next interval); a version without a reference (registered before references existed), no
champion, or no telemetry in the window is a report with ``skipped`` set, not an error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, PositiveFloat, PositiveInt
from pydantic_settings import SettingsConfigDict

from forewarn.contracts.influx_schema import (
    FEATURE_DRIFT,
    RISK,
    SENSOR_PREFIX,
    SETTING_PREFIX,
    TELEMETRY,
    parse_value_field,
)
from forewarn.influx import InfluxQueryError, InfluxWriteError, InfluxWriter, query, quote_ident
from forewarn.settings import ForewarnSettings, InfluxSettings, load
from models import drift
from models.drift import FLEET, REFERENCE_TAG, DriftReference, FeatureDrift

CHAMPION = "champion"


class DriftSettings(ForewarnSettings):
    """How drift is judged (``FOREWARN_DRIFT_*``).

    The defaults are measured, not the textbook 0.25: on the simulated pump fleet (a model trained
    on 200 pumps, live fleets of 60 pumps on two sites, three seeds), windows of an unchanged fleet
    reach PSI 1.2 over 100 readings per pump (1.7 over 60): each pump's manufacturing offsets make
    its readings move together, so a site of 30 pumps is a sample of 30, not of 3 000, and the
    fleet's health mix (how many pumps are degrading) changes from window to window. A recalibrated
    site or a new duty point gives 2.9 to 6.3. ``models/README.md`` ("Drift") has the figures.
    """

    model_config = SettingsConfigDict(env_prefix="FOREWARN_DRIFT_")

    window_s: PositiveFloat = 6000.0  # event-time seconds: 100 readings per pump at one a minute
    psi_threshold: PositiveFloat = 2.0
    min_rows: PositiveInt = 500
    bins: int = Field(default=drift.DEFAULT_BINS, ge=2, le=100)  # read at training time (drift_bins)
    include_risk: bool = True
    alarm_on_risk: bool = False
    max_skew_s: float = Field(default=300.0, ge=0.0)
    # the window's latest readings (and risk points) read at most: a fleet of 2,000 pumps at five
    # readings a second put 600,000 points in a window; reading them all every check timed out
    # against InfluxDB and took a core beside the scoring job (bench.chain, 4 Dec 2026). The latest
    # 20,000 still hold every pump of such a fleet, and all of the demo's 6,000.
    max_readings: PositiveInt = 20_000
    write_retry_budget_s: PositiveFloat = 10.0


def drift_bins() -> int:
    """Bins of a reference built now (``FOREWARN_DRIFT_BINS``); a reference keeps its own bins."""
    return load(DriftSettings).bins


class DriftUnavailableError(RuntimeError):
    """InfluxDB or MLflow could not be reached or refused a request: try again next interval."""


@dataclass(frozen=True)
class DriftReport:
    """One drift check: what was judged, the results, and the verdict.

    Attributes:
        model_name, model_version: the version judged (version empty when none could be resolved).
        window_start_ms, window_end_ms: the event-time window (0 when skipped before reading).
        rows: telemetry readings judged (all sites): the window's, at most ``max_readings``.
        results: one per (site, feature): the fleet (``site=all``) first, then each site with at
            least ``min_rows`` readings.
        alarm: whether any alarming feature reached ``threshold`` on a window of ``min_rows``.
        threshold: the PSI threshold applied.
        worst: the alarming result with the highest PSI (None when nothing was measured).
        skipped: why nothing was measured (None when measured).
    """

    model_name: str
    model_version: str
    window_start_ms: int
    window_end_ms: int
    rows: int
    results: tuple[FeatureDrift, ...]
    alarm: bool
    threshold: float
    worst: FeatureDrift | None
    skipped: str | None = None

    def note(self) -> str:
        """One line for a person: the worst feature and whether it alarms, or why nothing was judged."""
        who = f"{self.model_name} v{self.model_version or '?'}"
        if self.skipped is not None:
            return f"{who}: drift not measured: {self.skipped}"
        if self.worst is None:
            return f"{who}: no feature could be judged over {self.rows:,} readings"
        w = self.worst
        where = "fleet" if w.site == FLEET else w.site
        verdict = f">= {self.threshold:g}" if self.alarm else f"< {self.threshold:g}"
        return f"{who}: {where} {w.feature} PSI {w.psi:.2f} ({verdict}) over {w.rows:,} readings"


@dataclass(frozen=True)
class LoadedVersion:
    """What a drift check needs of a model version: the fitted model and its reference (or why not)."""

    model: Any
    reference: DriftReference | None
    missing: str | None = None


VersionLoader = Callable[[str, str], LoadedVersion]


@functools.lru_cache(maxsize=8)
def load_version(model_name: str, version: str) -> LoadedVersion:
    """The fitted model and drift reference of a registered version (cached: versions do not change).

    Raises:
        DriftUnavailableError: MLflow could not be reached or could not load the model.
    """
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from models.tracking import load_fitted

    try:
        registered = MlflowClient().get_model_version(model_name, version)
        artifact = registered.tags.get(REFERENCE_TAG)
        model = load_fitted(model_name, version)
        if artifact is None:
            return LoadedVersion(
                model, None, f"version {version} has no drift reference (trained before drift references)"
            )
        text = mlflow.artifacts.load_text(f"runs:/{registered.run_id}/{artifact}")
    except (MlflowException, OSError) as exc:
        raise DriftUnavailableError(f"cannot load {model_name} v{version} from MLflow: {exc}") from None
    try:
        return LoadedVersion(model, DriftReference.from_json(text))
    except ValueError as exc:
        return LoadedVersion(model, None, f"version {version}'s {artifact} is unreadable: {exc}")


def champion_version(model_name: str) -> str | None:
    """The version the ``champion`` alias points at (None without one).

    Raises:
        DriftUnavailableError: MLflow could not be reached.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return str(MlflowClient().get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}:
            return None
        raise DriftUnavailableError(f"cannot resolve {model_name}@{CHAMPION} in MLflow: {exc}") from None


def check_drift(
    model_name: str,
    influx: InfluxSettings,
    settings: DriftSettings,
    now_ms: int,
    version: str | None = None,
    *,
    load: VersionLoader = load_version,
) -> DriftReport:
    """Measure drift of ``model_name`` (its champion, or ``version``) over the last window and write it.

    The caller has pointed MLflow at the registry (``models.tracking.connect``). ``load`` is the
    seam for tests that bring a fitted model without registering it.

    Raises:
        DriftUnavailableError: InfluxDB (read or write) or MLflow unreachable or refusing.
    """
    threshold = settings.psi_threshold

    def skipped(why: str, version: str = "", start: int = 0, end: int = 0, rows: int = 0) -> DriftReport:
        return DriftReport(model_name, version, start, end, rows, (), False, threshold, None, why)

    if version is None:
        version = champion_version(model_name)
        if version is None:
            return skipped(f"{model_name} has no {CHAMPION}")
    loaded = load(model_name, version)
    if loaded.reference is None:
        return skipped(loaded.missing or f"version {version} has no drift reference", version)
    reference, model = loaded.reference, loaded.model
    until_ms = now_ms + int(settings.max_skew_s * 1000)
    # bounded below: an unbounded last() reads every telemetry series the database ever held
    end_ms = _latest_telemetry_ms(influx, now_ms - int(2 * settings.window_s * 1000), until_ms)
    if end_ms is None:
        return skipped(f"no telemetry in the {2 * settings.window_s:.0f} s before now", version)
    start_ms = end_ms - int(settings.window_s * 1000)
    inputs = [*model.normaliser.settings, *model.normaliser.sensors]
    readings = _telemetry(influx, start_ms, end_ms, inputs, settings.max_readings)
    if readings.empty:
        return skipped("no telemetry in the window", version, start_ms, end_ms)
    risk = (
        _risk(influx, model_name, version, start_ms, end_ms, settings.max_readings)
        if settings.include_risk
        else None
    )
    results = measure_window(reference, model, readings, risk, settings.min_rows)
    alarming = [
        r
        for r in results
        if r.rows >= settings.min_rows
        and np.isfinite(r.psi)
        and (r.feature != drift.RISK or settings.alarm_on_risk)
    ]
    worst = max(alarming, key=lambda r: r.psi, default=None)
    alarm = worst is not None and worst.psi >= threshold
    _write(influx, settings, model_name, version, end_ms, results)
    return DriftReport(
        model_name, version, start_ms, end_ms, len(readings), tuple(results), alarm, threshold, worst
    )


def measure_window(
    reference: DriftReference, model: Any, readings: pd.DataFrame, risk: pd.DataFrame | None, min_rows: int
) -> list[FeatureDrift]:
    """Drift fleet-wide, then per site with at least ``min_rows`` readings (sites in name order).

    Args:
        readings: the window's readings: ``site``, the settings and sensors by the readings' names.
        risk: the window's risk points (``site``, ``risk``), or None.
    """
    normalised = drift.normalise(model, readings)
    sites = readings["site"].astype(str).to_numpy()
    risk_sites = risk["site"].astype(str).to_numpy() if risk is not None else np.empty(0, dtype=str)
    risk_values = risk["risk"].to_numpy(dtype=np.float64) if risk is not None else None
    results = drift.measure(reference, normalised, risk_values, FLEET)
    for site in sorted(set(sites.tolist())):
        here = sites == site
        if int(here.sum()) < min_rows:
            continue
        site_risk = risk_values[risk_sites == site] if risk_values is not None else None
        results.extend(drift.measure(reference, normalised[here], site_risk, site))
    return results


def _select(
    influx: InfluxSettings, statement: str, params: dict[str, str | int | float] | None = None
) -> Any:
    try:
        return query(influx, statement, params=params)
    except InfluxQueryError as exc:
        raise DriftUnavailableError(str(exc)) from None


def _latest_telemetry_ms(influx: InfluxSettings, since_ms: int, until_ms: int) -> int | None:
    """The latest telemetry point's time in ``(since_ms, until_ms]``, or None."""
    # the time of last() is the latest point's own time; seq is on every telemetry point
    series = _select(
        influx,
        f'SELECT last("seq") FROM "{TELEMETRY.name}" WHERE time > {since_ms}ms AND time <= {until_ms}ms',  # noqa: S608
    )
    rows = [row for s in series for row in s.values]
    return int(rows[0][0]) if rows else None


def _telemetry(
    influx: InfluxSettings, start_ms: int, end_ms: int, inputs: list[str], limit: int
) -> pd.DataFrame:
    """The window's latest ``limit`` readings: ``site`` and one column per setting and sensor (the
    readings' names).

    Only the model's ``inputs`` are read (each as a setting and as a sensor field): ``SELECT *``
    returns a column for every field the measurement's shard ever saw, and one fleet that once sent
    thousands of sensor names makes every window of every other fleet that wide.
    """
    fields = [quote_ident(f"{prefix}{name}") for name in inputs for prefix in (SETTING_PREFIX, SENSOR_PREFIX)]
    series = _select(
        influx,
        f'SELECT "site", {", ".join(fields)} FROM "{TELEMETRY.name}"'  # noqa: S608
        f" WHERE time > {start_ms}ms AND time <= {end_ms}ms ORDER BY time DESC LIMIT {int(limit)}",
    )
    frames = [pd.DataFrame(list(s.values), columns=list(s.columns)) for s in series if s.values]
    if not frames:
        return pd.DataFrame(columns=["site"])
    points = pd.concat(frames, ignore_index=True)
    # a field no point of the window has (each input is asked for as a setting and as a sensor)
    points = points.loc[:, [c for c in points.columns if c == "site" or points[c].notna().any()]]
    names: dict[str, str] = {}
    for column in points.columns:
        parsed = parse_value_field(str(column))
        if parsed is not None:
            names[str(column)] = parsed[1]
    # a sensor and a setting of one name: the sensor wins, as the scoring job merges them
    sensors_first = sorted(names, key=lambda c: not c.startswith("sensor."))
    keep: dict[str, str] = {}
    for column in sensors_first:
        if names[column] not in keep.values():
            keep[column] = names[column]
    if "site" not in points.columns:
        points["site"] = None
    frame = points.loc[:, ["site", *keep]].rename(columns=keep)
    return frame[frame["site"].notna()].reset_index(drop=True)


def _risk(
    influx: InfluxSettings, model_name: str, version: str, start_ms: int, end_ms: int, limit: int
) -> pd.DataFrame:
    """The window's latest ``limit`` risk points of the version: ``time``, ``risk``, ``site``."""
    series = _select(
        influx,
        f'SELECT "risk", "site" FROM "{RISK.name}" WHERE "model_name" = $name AND "model_version" = $version '  # noqa: S608
        f"AND time > {start_ms}ms AND time <= {end_ms}ms ORDER BY time DESC LIMIT {int(limit)}",
        {"name": model_name, "version": version},
    )
    rows = [dict(zip(s.columns, row, strict=True)) for s in series for row in s.values]
    frame = pd.DataFrame(rows, columns=["time", "risk", "site"])
    frame["risk"] = pd.to_numeric(frame["risk"], errors="coerce")
    return frame


def feature_drift_lines(
    model_name: str, version: str, ts_ms: int, results: list[FeatureDrift]
) -> list[str | None]:
    """One ``feature_drift`` point per result (NaN fields are left out; a point with none is None)."""
    return [
        FEATURE_DRIFT.point(
            {"model_name": model_name, "model_version": version, "feature": r.feature, "site": r.site},
            {"psi": r.psi, "mean_shift_sd": r.mean_shift_sd, "rows": r.rows},
            ts_ms,
        )
        for r in results
    ]


def _write(
    influx: InfluxSettings, settings: DriftSettings, model_name: str, version: str, ts_ms: int,
    results: list[FeatureDrift],
) -> None:  # fmt: skip
    try:
        with InfluxWriter(influx, retry_budget_s=settings.write_retry_budget_s) as writer:
            writer.write(feature_drift_lines(model_name, version, ts_ms, results))
    except InfluxWriteError as exc:
        raise DriftUnavailableError(str(exc)) from None
