"""Drift of the live stream against a model's training reference: pure functions, no I/O.

**What is compared.** Each sensor the model normalises, as its regime-normalised value (the
z-score against its operating regime's training mean and sd, the ``<sensor>__last`` feature: the
model's input before windowing), and ``risk``, the predicted P(failure within the horizon).
Normalising per regime first means a fleet's usual mix of operating points (idle, normal, peak) is
not drift, while a reading unlike its regime (a recalibrated sensor, a duty point the model never
saw, which the normaliser assigns to the nearest learned regime) is; and it needs no history, so
any window of readings can be judged on its own.

**Statistic: the population stability index.** ``PSI = sum_b (a_b - e_b) ln(a_b / e_b)`` over
bins ``b``, ``e`` the reference's share of readings in a bin and ``a`` the live window's. It is the
credit-risk industry's drift index (and what model-monitoring tools default to), with thresholds
people already read: below 0.1 stable, 0.1 to 0.25 a moderate shift, at or above 0.25 a shift to
act on (``FOREWARN_DRIFT_PSI_THRESHOLD``); it is the symmetrised Kullback-Leibler divergence of
the binned distributions, so it sees a change of shape and spread as well as of the mean, and
``mean_shift_sd`` (live mean minus reference mean, in reference sds) beside it says which way.

Bins: :data:`DEFAULT_BINS` (10) with edges at the reference's deciles, so every reference bin
holds about a tenth of the readings; equal edges (a feature with a point mass) are merged, and the
outer bins are open-ended, so a live value outside the training range lands in an end bin instead
of being lost. An empty bin would make ``ln(a/e)`` infinite: shares are floored at
:data:`EPSILON` (1e-4, one reading in 10 000), which caps a bin's term at about ``a ln(a/1e-4)``
(0.5 ln 5000 = 4.3 for half the readings where training had none): large, finite, comparable.

**Weakness: PSI depends on the bins and on the sample size.** Without any drift, a window of
``n`` readings drawn from the reference itself has ``E[PSI] ~ (bins - 1) / n`` (plus the same term
for the reference's own size: it is a chi-square statistic over ``bins - 1`` degrees of freedom,
divided by ``n``): 0.09 for 100 readings, 0.018 for 500. Readings of one pump are not independent
(each pump has its own manufacturing offsets), so a window's effective size is nearer the number of
pumps than the number of readings. ``FOREWARN_DRIFT_MIN_ROWS`` keeps windows too small to judge
from raising an alarm; the figures measured on the simulated fleet and C-MAPSS are in
``models/README.md`` (section "Drift").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

DEFAULT_BINS = 10
EPSILON = 1e-4
"""Floor of a bin's share of readings, reference and live alike (see the module docstring)."""
RISK = "risk"
"""The feature name of the predicted risk (sensors go by their own names)."""
FLEET = "all"
"""The ``site`` of a fleet-wide result."""
REFERENCE_SCHEMA = 1
REFERENCE_ARTIFACT = "drift_reference.json"
"""The run artifact holding a version's reference (logged by ``models.tracking.log_training``)."""
REFERENCE_TAG = "forewarn.drift_reference"
"""Model-version tag naming that artifact: a version without it was registered before references."""


@dataclass(frozen=True)
class FeatureReference:
    """One feature's training distribution.

    Attributes:
        feature: a sensor name (its regime-normalised value) or ``risk``.
        edges: inner bin edges (ascending, distinct); bins are ``(-inf, e0], (e0, e1], ..., (e_last, inf)``.
        expected: the reference's share of readings per bin (``len(edges) + 1`` of them, summing to 1).
        mean: the reference mean.
        sd: the reference standard deviation (0 for a constant feature).
        rows: finite reference values it was built from (0: no reference, nothing is measured).
    """

    feature: str
    edges: tuple[float, ...]
    expected: tuple[float, ...]
    mean: float
    sd: float
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "edges": list(self.edges),
            "expected": list(self.expected),
            "mean": self.mean,
            "sd": self.sd,
            "rows": self.rows,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureReference:
        return cls(
            feature=str(data["feature"]),
            edges=tuple(float(v) for v in data["edges"]),
            expected=tuple(float(v) for v in data["expected"]),
            mean=float(data["mean"]),
            sd=float(data["sd"]),
            rows=int(data["rows"]),
        )


@dataclass(frozen=True)
class DriftReference:
    """A model version's training reference: one :class:`FeatureReference` per sensor, and risk.

    Stored with the version as the run artifact ``drift_reference.json`` (:meth:`to_json`).
    """

    sensors: tuple[FeatureReference, ...]
    risk: FeatureReference | None
    bins: int = DEFAULT_BINS

    @property
    def features(self) -> tuple[FeatureReference, ...]:
        """Every feature's reference, sensors first, then risk (when there is one)."""
        return (*self.sensors, *((self.risk,) if self.risk is not None else ()))

    def to_json(self) -> bytes:
        """JSON bytes (orjson; floats round-trip exactly)."""
        return orjson.dumps(
            {
                "schema": REFERENCE_SCHEMA,
                "bins": self.bins,
                "sensors": [s.to_dict() for s in self.sensors],
                "risk": self.risk.to_dict() if self.risk is not None else None,
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> DriftReference:
        """Rebuild from :meth:`to_json` output.

        Raises:
            ValueError: not a drift reference (bad JSON, another schema, a missing key).
        """
        try:
            parsed = orjson.loads(data)
            if parsed.get("schema") != REFERENCE_SCHEMA:
                raise ValueError(
                    f"drift reference schema {parsed.get('schema')!r}, expected {REFERENCE_SCHEMA}"
                )
            risk = parsed["risk"]
            return cls(
                sensors=tuple(FeatureReference.from_dict(s) for s in parsed["sensors"]),
                risk=FeatureReference.from_dict(risk) if risk is not None else None,
                bins=int(parsed["bins"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a drift reference: {exc}") from None


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one feature over one window, fleet-wide (``site="all"``) or on one site.

    Attributes:
        feature: a sensor name or ``risk``.
        site: the site, or ``all``.
        psi: population stability index against the reference (NaN: no live or reference values).
        mean_shift_sd: live mean minus reference mean, in reference sds (NaN when the reference sd is 0).
        rows: finite live values judged.
    """

    feature: str
    site: str
    psi: float
    mean_shift_sd: float
    rows: int


def feature_reference(feature: str, values: np.ndarray, bins: int = DEFAULT_BINS) -> FeatureReference:
    """The reference of one feature from its training values (non-finite values are left out)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return FeatureReference(feature, (), (1.0,), float("nan"), float("nan"), 0)
    # inner edges at the reference's quantiles 1/bins .. (bins-1)/bins, equal ones merged
    edges = np.unique(np.quantile(finite, np.arange(1, bins) / bins))
    counts = np.bincount(_bin(finite, edges), minlength=edges.size + 1)
    return FeatureReference(
        feature=feature,
        edges=tuple(float(e) for e in edges),
        expected=tuple(float(c) for c in counts / finite.size),
        mean=float(finite.mean()),
        sd=float(finite.std()),
        rows=int(finite.size),
    )


def _bin(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    # bin b holds (edges[b-1], edges[b]]: a value equal to an edge goes to the bin below it
    return np.searchsorted(edges, values, side="left")


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins, each floored at :data:`EPSILON`."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), EPSILON)
    a = np.maximum(np.asarray(actual, dtype=np.float64), EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def feature_drift(reference: FeatureReference, values: np.ndarray, site: str = FLEET) -> FeatureDrift:
    """Drift of one feature's live values (non-finite ones left out) against its reference."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0 or reference.rows == 0:
        return FeatureDrift(reference.feature, site, float("nan"), float("nan"), int(finite.size))
    edges = np.asarray(reference.edges)
    shares = np.bincount(_bin(finite, edges), minlength=edges.size + 1) / finite.size
    shift = (float(finite.mean()) - reference.mean) / reference.sd if reference.sd > 0 else float("nan")
    return FeatureDrift(
        reference.feature, site, psi(np.asarray(reference.expected), shares), shift, int(finite.size)
    )


def reference_from(
    model: Any, readings: pd.DataFrame, risk: np.ndarray | None, bins: int = DEFAULT_BINS
) -> DriftReference:
    """A model's drift reference from its training readings and the risk it gives them.

    Args:
        model: the fitted :class:`models.predictor.RulRiskModel` (its normaliser and sensors).
        readings: the training readings (settings and sensor columns).
        risk: the predicted risk of training rows (see ``models.tracking.log_training`` for which),
            or None for no risk reference.
        bins: bins per feature.
    """
    normalised = normalise(model, readings)
    sensors = tuple(feature_reference(name, normalised[name].to_numpy(), bins) for name in normalised.columns)
    risk_ref = feature_reference(RISK, risk, bins) if risk is not None else None
    return DriftReference(sensors, risk_ref, bins)


def normalise(model: Any, readings: pd.DataFrame) -> pd.DataFrame:
    """The model's sensors as regime z-scores (columns: the model's sensors), one row per reading.

    A reading lacking a setting (or with a non-finite one) cannot be given a regime: its row is all
    NaN; a missing sensor value gives NaN in that column only. Either is left out of the drift.
    """
    sensors = tuple(model.spec.sensors)
    normaliser = model.normaliser
    columns = {}
    for name in (*normaliser.settings, *sensors):
        columns[name] = (
            pd.to_numeric(readings[name], errors="coerce").to_numpy(dtype=np.float64)
            if name in readings.columns
            else np.full(len(readings), np.nan)
        )
    settings = (
        np.column_stack([columns[s] for s in normaliser.settings])
        if normaliser.settings
        else np.empty((len(readings), 0))
    )
    values = np.column_stack([columns[s] for s in sensors]) if sensors else np.empty((len(readings), 0))
    known = np.isfinite(settings).all(axis=1)
    out = np.full((len(readings), len(sensors)), np.nan)
    if known.any():
        out[known] = normaliser.normalise(settings[known], values[known], sensors)
    return pd.DataFrame(out, index=readings.index, columns=list(sensors))


def measure(
    reference: DriftReference, normalised: pd.DataFrame, risk: np.ndarray | None, site: str = FLEET
) -> list[FeatureDrift]:
    """Drift of every referenced feature over one window.

    Args:
        reference: the model version's reference.
        normalised: the window's sensors as regime z-scores (:func:`normalise`); a sensor missing
            from it is judged on no rows (NaN PSI).
        risk: the window's predicted risks, or None (no risk drift then).
        site: the site the window belongs to, or ``all``.
    """
    out = []
    for ref in reference.sensors:
        values = (
            normalised[ref.feature].to_numpy(dtype=np.float64) if ref.feature in normalised else np.empty(0)
        )
        out.append(feature_drift(ref, values, site))
    if reference.risk is not None and risk is not None:
        out.append(feature_drift(reference.risk, np.asarray(risk, dtype=np.float64), site))
    return out
