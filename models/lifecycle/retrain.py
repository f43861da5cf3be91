"""``forewarn models retrain``: a challenger from the latest labels and the original source, judged
against the champion on recently labelled assets neither has seen, then promoted (MANAGED) or left
awaiting an engineer's approval (MANUAL).

The judge is cross-fitted: the challenger trains on every label, and every labelled asset is also
judged by the same recipe fitted without it. The labelled assets are dealt into
``round(1 / FOREWARN_LIFECYCLE_JUDGE_FRACTION)`` seeded folds (assets with a confirmed fault and the
others dealt apart, so each fold holds both); per fold the challenger's family is refitted on the
original source plus the other folds' labels and predicts that fold. The champion never saw any
labelled asset (they come from the fleet after its training) and is scored on all of them. A single
held-out share judged RUL on the one or two failures it happened to hold (a closed-loop run's gate
compared the models on one pump's life); out of fold, every confirmed fault counts, for the price of
one fit per fold. Both are scored by :func:`models.training.scores` and compared by
:func:`models.registry.gate`; beside the gate's
scores, each model's false-alarm rate (the share of judged readings at least the horizon before any
failure, i.e. healthy, that it scores at risk >= 0.5) and missed failures (confirmed faults whose
life before them never reached risk 0.5: :func:`models.lead_time.lead_times`) are reported. Fewer
judge assets than ``MIN_JUDGE_ASSETS`` judge nothing: the gate does not pass, and the event says so.

Pure parts (:func:`judge_folds`, :func:`judge`, :func:`scored`, :func:`cross_fitted`,
:func:`verdict`, :func:`decide`) are tested without services; :func:`retrain` is the I/O edge
(InfluxDB, MLflow).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forewarn.contracts.labels import NO_FAILURE
from forewarn.settings import InfluxSettings, MlflowSettings
from models import registry
from models.events import ModelAction, ModelEvent, record
from models.lifecycle.base import BASE_SOURCE_TAG, BaseSpec, champion_base, combine, load_base, parse_source
from models.lifecycle.settings import AUTO, NONE, LifecycleSettings, Phm08Gate, Policy
from models.metrics import EvalMetrics
from models.settings import ModelsSettings
from models.sources import SourceError, TrainingData
from models.tracking import CHAMPION

log = logging.getLogger(__name__)

WARN_RISK = 0.5
"""The risk that counts as a warning when false alarms and missed failures are counted."""
LABELS_PARAM = "labels"
"""The run parameter of a labels-trained version: how many labels its label file held."""
RETRAIN_TAG = "forewarn.retrain"


class Decision(StrEnum):
    """What a retrain did with its challenger."""

    PROMOTED = "promoted"
    AWAITING_APPROVAL = "awaiting_approval"
    REFUSED = "refused"


@dataclass(frozen=True)
class JudgeScores:
    """One model on the judge assets: the gate's scores and the operator's counts."""

    metrics: EvalMetrics
    false_alarm_rate: float  # NaN: no healthy reading judged
    missed_failures: float  # NaN: no timed failure judged
    failures: int
    per_asset: dict[str, dict[str, float]] = field(default_factory=dict)  # points, rmse, phm08, worst_late

    def numbers(self, who: str) -> dict[str, float]:
        m = self.metrics
        return {
            f"{who}_rmse": m.rmse,
            f"{who}_phm08_score": m.phm08_score,
            f"{who}_pr_auc": m.pr_auc,
            f"{who}_false_alarm_rate": self.false_alarm_rate,
            f"{who}_missed_failures": self.missed_failures,
        }


def judge_folds(labels: pd.DataFrame, assets: list[str], fraction: float, seed: int) -> list[list[str]]:
    """``assets`` dealt into ``round(1 / fraction)`` folds (at least 2), seeded, the assets with a
    confirmed fault dealt first and the others after them, so that each fold holds its share of both.

    Every labelled asset is judged once, by a challenger fitted without its fold (cross-fitting):
    a single held-out share judged the RUL on one or two failures (a closed-loop run's gate compared
    the models on one pump's life), which a coin could have decided as well.
    """
    k = max(2, round(1 / fraction))
    faulty = set(labels.loc[labels["failure_mode"] != NO_FAILURE, "asset_id"].astype(str))
    rng = np.random.default_rng(seed)
    folds: list[list[str]] = [[] for _ in range(k)]
    dealt = 0
    for group in (sorted(a for a in assets if a in faulty), sorted(a for a in assets if a not in faulty)):
        for i in rng.permutation(len(group)):
            folds[dealt % k].append(group[int(i)])
            dealt += 1
    return [sorted(f) for f in folds if f]


@dataclass(frozen=True)
class Predictions:
    """A model's RUL and risk for each judged reading (``held``: rows with a known RUL)."""

    held: Any  # models.dataset.EvalSet
    rul: np.ndarray
    risk: np.ndarray


def predict(model: Any, frame: pd.DataFrame, cap: int) -> Predictions:
    """``model`` on the judge assets' readings with a known RUL (``frame``)."""
    from models import dataset

    held = dataset.holdout_set(frame.reset_index(drop=True), cap)
    rul = np.asarray(model.predict_rul(model.features(held.readings)), dtype=np.float64)
    return Predictions(held, rul, np.asarray(model.risk(rul), dtype=np.float64))


def judge(
    model: Any, frame: pd.DataFrame, labels: pd.DataFrame | None, step_s: float | None, cap: int, horizon: int
) -> JudgeScores:
    """Score ``model`` on the judge assets' readings with a known RUL (``frame``): :func:`scored`."""
    return scored(predict(model, frame, cap), labels, step_s, cap, horizon)


def scored(
    p: Predictions, labels: pd.DataFrame | None, step_s: float | None, cap: int, horizon: int
) -> JudgeScores:
    """The judge's scores of predictions, whichever model (or models, one per fold) made them.

    RMSE/PHM08 where the true RUL is within ``cap``, PR-AUC of failing within the horizon
    (:func:`models.training.scores`); false alarms among readings more than ``horizon`` before a
    failure (or known healthy); missed failures from ``labels`` (timed faults) when readings have times.
    """
    from models import training
    from models.columns import TIME_MS
    from models.lead_time import lead_times
    from models.predictor import ASSET

    held, rul, risk = p.held, p.rul, p.risk
    assets = held.readings[ASSET].astype(str).to_numpy()
    metrics = training.scores(rul, risk, held.true_rul, held.points, cap, horizon, len(set(assets)))
    healthy = held.true_rul > horizon
    false_alarm_rate = float(np.mean(risk[healthy] >= WARN_RISK)) if healthy.any() else math.nan
    missed, failures = math.nan, 0
    if labels is not None and step_s and TIME_MS in held.readings.columns:
        leads = lead_times(held.readings.assign(risk=risk), labels, ASSET, TIME_MS, step_s, WARN_RISK)
        failures = len(leads)
        missed = float(leads["lead_steps"].isna().sum()) if failures else math.nan
    per_asset = by_asset(assets, rul, held.true_rul, held.points)
    return JudgeScores(metrics, false_alarm_rate, missed, failures, per_asset)


def cross_fitted(fits: list[tuple[Any, pd.DataFrame]], cap: int) -> Predictions:
    """One prediction set from several (model, its fold's readings) pairs: each fold's readings
    predicted by the model fitted without them, in one frame (the folds' assets are disjoint)."""
    from models import dataset

    parts = [predict(model, frame, cap) for model, frame in fits if len(frame)]
    if not parts:
        return predict(fits[0][0], fits[0][1], cap)
    frame = pd.concat([p.held.readings for p in parts], ignore_index=True)
    return Predictions(
        dataset.holdout_set(frame, cap),
        np.concatenate([p.rul for p in parts]),
        np.concatenate([p.risk for p in parts]),
    )


def by_asset(
    assets: np.ndarray, rul: np.ndarray, true_rul: np.ndarray, points: np.ndarray
) -> dict[str, dict[str, float]]:
    """Each judged asset's share of the scores: points, RMSE, PHM08, and ``worst_late``, the most
    cycles its RUL was predicted beyond the truth.

    The gate's PHM08 sums an exponential over every judged reading, so one asset predicted far too
    late can outweigh all the others; the breakdown (in the verdict tag) shows the engineer which.
    """
    from models.metrics import phm08_score, rmse

    out: dict[str, dict[str, float]] = {}
    for asset in sorted(set(assets[points])):
        rows = points & (assets == asset)
        d = rul[rows] - true_rul[rows]
        out[str(asset)] = {
            "points": float(rows.sum()),
            "rmse": rmse(rul[rows], true_rul[rows]),
            "phm08": phm08_score(rul[rows], true_rul[rows]),
            "worst_late": float(d.max()),
        }
    return out


WORST_ASSETS = 5
"""How many judged assets the verdict tag details: those that cost each model most (a tag is bounded)."""


def worst_assets(mine: JudgeScores | None, theirs: JudgeScores | None) -> dict[str, dict[str, Any]]:
    """Per model, the ``WORST_ASSETS`` judged assets with the highest PHM08 share, and the other
    model's figures on the same assets (so the tag stays small however many assets were judged)."""
    scores = {
        "challenger": {} if mine is None else mine.per_asset,
        "champion": {} if theirs is None else theirs.per_asset,
    }
    picked: set[str] = set()
    for per_asset in scores.values():
        picked |= set(sorted(per_asset, key=lambda a: -per_asset[a]["phm08"])[:WORST_ASSETS])
    return {
        who: {a: per_asset[a] for a in sorted(picked) if a in per_asset} for who, per_asset in scores.items()
    }


def verdict(
    challenger: JudgeScores | None,
    champion: JudgeScores | None,
    judge_assets: int,
    models: ModelsSettings,
    lifecycle: LifecycleSettings,
    note: str = "",
) -> registry.GateDecision:
    """The gate on the judge assets; too few of them (or no challenger score) never passes."""
    if judge_assets < lifecycle.min_judge_assets:
        why = (
            f"too few recently labelled assets to judge: {judge_assets} judged, "
            f"FOREWARN_LIFECYCLE_MIN_JUDGE_ASSETS={lifecycle.min_judge_assets}"
        )
        return registry.GateDecision(False, (), "; ".join(x for x in (why, note) if x))
    if challenger is None:
        return registry.GateDecision(False, (), note or "the challenger was not scored on the judge assets")
    decision = registry.gate(challenger.metrics, None if champion is None else champion.metrics, models)
    checks = decision.checks
    if champion is not None:
        checks = operational_checks(challenger, champion, decision.checks, lifecycle)
    passed = bool(checks) and all(ok for _, ok, _ in checks)
    if not passed and math.isnan(challenger.metrics.pr_auc):
        note = "; ".join(
            x for x in (note, "no confirmed failure within the horizon on the judge assets") if x
        )
    return registry.GateDecision(passed, checks, note)


def operational_checks(
    challenger: JudgeScores,
    champion: JudgeScores,
    score_checks: tuple[tuple[str, bool, str], ...],
    lifecycle: LifecycleSettings,
) -> tuple[tuple[str, bool, str], ...]:
    """The gate's score checks plus what the operators pay for, on the same judge readings.

    - ``missed_failures``: the challenger misses no more of the judged failures than the champion;
    - ``false_alarm_rate``: at most ``max_false_alarm_rise`` above the champion's, unless the
      challenger misses strictly fewer failures: warnings of failures are bought with some alarms,
      and a champion that never alarms (a mean baseline) misses every failure at a rate of 0 that
      no useful challenger could match. RMSE and PR-AUC still judge such a challenger.

    Each is checked when both models could be counted (a judge without timed failures or healthy
    readings has no such figure). PHM08 (``phm08_gate``): its exponential late penalty is a stand-in
    for what a late prediction costs, a missed failure; when the judge counted missed failures
    (``auto``), that count decides and PHM08 is reported, not gated. Summed over every judged
    reading, PHM08 is ruled by the few assets predicted latest: a closed-loop run refused a
    challenger better on RMSE, PR-AUC and false alarms, and missing none, for 50 to 65 readings of
    lateness on three pumps whose failures it still warned of in time.
    """
    counted = not (math.isnan(challenger.missed_failures) or math.isnan(champion.missed_failures))
    out: list[tuple[str, bool, str]] = []
    for metric, ok, rule in score_checks:
        if metric == "phm08_score" and counted and lifecycle.phm08_gate is Phm08Gate.AUTO:
            out.append((metric, True, f"{rule}: reported, not gated (missed failures were counted)"))
        else:
            out.append((metric, ok, rule))
    catches_more = False
    if counted:
        mine, theirs = challenger.missed_failures, champion.missed_failures
        catches_more = mine < theirs
        out.append(("missed_failures", mine <= theirs, f"{mine:g} <= {theirs:g} of {challenger.failures}"))
    mine, theirs = challenger.false_alarm_rate, champion.false_alarm_rate
    if not (math.isnan(mine) or math.isnan(theirs)):
        limit = theirs + lifecycle.max_false_alarm_rise
        if catches_more and mine > limit:
            rule = f"{mine:.3f} > {limit:.3f}, allowed: misses fewer failures than the champion"
            out.append(("false_alarm_rate", True, rule))
        else:
            out.append(("false_alarm_rate", mine <= limit, f"{mine:.3f} <= {limit:.3f}"))
    return tuple(out)


def decide(passed: bool, policy: Policy) -> Decision:
    """A passed gate promotes under MANAGED and waits for approval under MANUAL; else refused."""
    if not passed:
        return Decision.REFUSED
    return Decision.PROMOTED if policy is Policy.MANAGED else Decision.AWAITING_APPROVAL


@dataclass(frozen=True)
class RetrainRequest:
    """Everything one retrain needs (settings read at the edge)."""

    name: str
    labels_path: Path
    models: ModelsSettings
    lifecycle: LifecycleSettings
    influx: InfluxSettings
    mlflow: MlflowSettings
    who: str
    why: str


@dataclass
class RetrainReport:
    """What a retrain did, printed as one JSON line."""

    registered_model: str
    version: str
    run_id: str
    champion_version: str | None
    decision: Decision
    policy: Policy
    gate_passed: bool
    note: str
    labels: int
    new_labels: int
    labelled_assets: int
    judge_assets: int
    train_source: str
    numbers: dict[str, float] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "registered_model": self.registered_model,
            "version": self.version,
            "run_id": self.run_id,
            "champion_version": self.champion_version,
            "decision": self.decision.value,
            "policy": self.policy.value,
            "gate_passed": self.gate_passed,
            "note": self.note,
            "labels": self.labels,
            "new_labels": self.new_labels,
            "labelled_assets": self.labelled_assets,
            "judge_assets": self.judge_assets,
            "source": self.train_source,
            **{k: (None if math.isnan(v) else round(v, 4)) for k, v in self.numbers.items()},
            "events": self.events,
        }


def labels_seen(client: Any, name: str, version: str | None) -> int:
    """How many labels ``version`` was trained on (its run's ``labels`` parameter; 0 if none)."""
    if version is None:
        return 0
    run_id = client.get_model_version(name, version).run_id
    if not run_id:
        return 0
    try:
        return int(client.get_run(run_id).data.params.get(LABELS_PARAM, 0))
    except ValueError:
        return 0


def champion_seen(client: Any, name: str, version: str | None) -> set[str]:
    """The labelled assets ``version`` was fitted on (its run's ``labelled_assets.json``; none for a
    version trained on a fleet or C-MAPSS, or registered before the artifact was written)."""
    import tempfile

    from mlflow.exceptions import MlflowException

    from models.lifecycle.challenger import LABELLED_ASSETS_ARTIFACT

    if version is None:
        return set()
    run_id = client.get_model_version(name, version).run_id
    if not run_id:
        return set()
    with tempfile.TemporaryDirectory(prefix="forewarn-seen-") as folder:
        try:
            path = client.download_artifacts(run_id, LABELLED_ASSETS_ARTIFACT, folder)
        except (MlflowException, OSError):
            return set()
        return {str(a) for a in json.loads(Path(path).read_text())["assets"]}


def _base_spec(
    client: Any, name: str, champion: str | None, lifecycle: LifecycleSettings
) -> tuple[BaseSpec | None, str]:
    if lifecycle.base_source == NONE:
        return None, "FOREWARN_LIFECYCLE_BASE_SOURCE=none"
    if lifecycle.base_source != AUTO:
        return parse_source(lifecycle.base_source), f"FOREWARN_LIFECYCLE_BASE_SOURCE={lifecycle.base_source}"
    if champion is None:
        return None, "no champion to take the original source from"
    version = client.get_model_version(name, champion)
    params = client.get_run(version.run_id).data.params if version.run_id else {}
    return champion_base(dict(version.tags), dict(params))


def _without(data: TrainingData, assets: list[str]) -> TrainingData:
    """The labels' training data minus the judge assets (their label rows too)."""
    frame = data.frame[~data.frame["asset_id"].isin(assets)].reset_index(drop=True)
    table = None if data.labels is None else data.labels[~data.labels["asset_id"].isin(assets)]
    params = {**data.params, "judge_assets": len(assets)}
    return TrainingData(frame, data.columns, data.source, params, labels=table, step_s=data.step_s)


def fold_fits(
    base: TrainingData | None,
    labels: TrainingData,
    folds: list[list[str]],
    family: str,
    models: ModelsSettings,
    judged: pd.DataFrame,
    step: Callable[[str], None],
) -> list[tuple[Any, pd.DataFrame]]:
    """The challenger's recipe fitted once per fold without that fold's labelled assets (the family
    the full challenger picked, so no family search per fold); each with the fold's judged readings.

    Raises:
        ValueError: a fold's training failed.
    """
    from models import training

    settings = models.model_copy(update={"families": (family,)})
    fits = []
    for k, fold in enumerate(folds):
        step(f"judge: fit without fold {k + 1}/{len(folds)}")
        data, _ = combine(base, _without(labels, fold))
        result = training.train(data.frame, settings, data.columns)
        fits.append((result.model, judged[judged["asset_id"].isin(fold)]))
    return fits


def retrain(
    request: RetrainRequest,
    client: Any,
    step: Callable[[str], None] = lambda _: None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RetrainReport:
    """Build, register, judge and (by policy) promote a challenger; every step a model event.

    Raises:
        SourceError: the labels cannot give training data (no labels, no telemetry...).
        ValueError: training failed.
    """
    from models import feedback, pyfunc, tracking
    from models.lifecycle.challenger import train_and_register

    req, lc, name = request, request.lifecycle, request.name
    champion = registry.version_by_alias(client, name, CHAMPION)
    labels_data = feedback.labels_source(req.labels_path, req.influx, req.models.rul_cap_cycles)
    assert labels_data.labels is not None  # the labels source always has its label table
    n_labels = len(labels_data.labels)
    new_labels = max(n_labels - labels_seen(client, name, champion), 0)
    assets = sorted(labels_data.frame["asset_id"].astype(str).unique())
    seen = champion_seen(client, name, champion)  # judging the champion on these would flatter it
    fresh = [a for a in assets if a not in seen]
    folds = judge_folds(labels_data.labels, fresh, lc.judge_fraction, lc.seed)
    judgeable = len(fresh) >= lc.min_judge_assets and len(folds) >= 2
    held_out = fresh if judgeable else []  # each judged out of fold; the challenger trains on all
    spec, why_base = _base_spec(client, name, champion, lc)
    base = None
    if spec is not None:
        try:
            base = load_base(spec, req.models.rul_cap_cycles, lc.cmapss_data_dir, req.models.setting_decimals)
        except (SourceError, OSError, ValueError) as exc:
            why_base = f"{why_base} could not be rebuilt ({exc})"
    data, how = combine(base, labels_data)
    if base is None:
        how = f"labels only ({why_base})"
    log.info("retraining %s on %s: %d labels, %d labelled assets, %d judged out of fold in %d folds",
             name, how, n_labels, len(assets), len(held_out), len(folds) if held_out else 0)  # fmt: skip
    trained = train_and_register(data, req.models, req.mlflow, step)
    version = trained.registered.version
    if base is not None:
        client.set_model_version_tag(name, version, BASE_SOURCE_TAG, base.source)
    client.set_model_version_tag(
        name, version, RETRAIN_TAG,
        json.dumps({"why": req.why, "by": req.who, "how": how, "judge_assets": held_out[:200]}),
    )  # fmt: skip
    events: list[str] = []

    def event(action: ModelAction, note: str, numbers: dict[str, float], on: str = version) -> None:
        record(ModelEvent(name, on, action, note, clock(), numbers), req.influx, client,
               retry_budget_s=lc.event_retry_budget_s)  # fmt: skip
        events.append(action.value)

    counts = {
        "labels": float(n_labels),
        "new_labels": float(new_labels),
        "labelled_assets": float(len(assets)),
        "train_assets": float(data.frame["asset_id"].nunique()),
        "base_assets": float(0 if base is None else base.frame["asset_id"].nunique()),
        "judge_assets": float(len(held_out)),
        "train_seconds": float(trained.result.train_seconds),
    }
    event(ModelAction.RETRAIN, f"retrained ({req.why}, by {req.who}) on {how}", counts)

    step_s, cap, horizon = labels_data.step_s, req.models.rul_cap_cycles, req.models.horizon_cycles
    judged = labels_data.frame[labels_data.frame["asset_id"].isin(held_out)]
    judged = judged[judged["rul_cycles"].notna()]
    table = labels_data.labels[labels_data.labels["asset_id"].isin(held_out)]
    mine = theirs = None
    note = ""
    if held_out:
        try:
            fits = fold_fits(base, labels_data, folds, trained.result.model.family, req.models, judged, step)
            mine = scored(cross_fitted(fits, cap), table, step_s, cap, horizon)
        except ValueError as exc:  # a fold without what training needs (e.g. no failure to calibrate on)
            note = f"the challenger could not be fitted without each fold of judge assets: {exc}"
        if champion is not None:
            champ_tags = dict(client.get_model_version(name, champion).tags)
            own = {registry.INPUT_COLUMNS_TAG: json.dumps(pyfunc.input_columns(trained.result.model))}
            if registry.same_inputs(own, champ_tags):
                theirs = judge(tracking.load_fitted(name, champion), judged, table, step_s, cap, horizon)
            else:
                other = f"champion version {champion} takes other inputs: judged on the absolute ceilings"
                note = "; ".join(x for x in (note, other) if x)
    decision = verdict(mine, theirs, len(held_out), req.models, lc, note)
    numbers: dict[str, float] = {"judge_assets": float(len(held_out))}
    if mine is not None:
        numbers |= mine.numbers("challenger") | {"judged_failures": float(mine.failures)}
    if theirs is not None:
        numbers |= theirs.numbers("champion")
    checks = "; ".join(f"{m} {'ok' if ok else 'FAIL'} {rule}" for m, ok, rule in decision.checks)
    gate_note = " | ".join(x for x in (checks, decision.note) if x) or "-"
    verdict_json = json.dumps(
        {"passed": decision.passed, "champion_version": champion, "judge_assets": len(held_out),
         "numbers": {k: v for k, v in numbers.items() if not math.isnan(v)},
         "checks": [{"metric": m, "passed": ok, "rule": r} for m, ok, r in decision.checks],
         "note": decision.note,
         "assets": worst_assets(mine, theirs)}
    )  # fmt: skip
    client.set_model_version_tag(name, version, registry.JUDGED, verdict_json)
    against = f"champion v{champion}" if champion else "no champion"
    if decision.passed:
        event(ModelAction.GATE_PASSED, f"gate passed against {against}: {gate_note}", numbers)
    else:
        event(ModelAction.GATE_REFUSED, f"gate refused against {against}: {gate_note}", numbers)
    outcome = decide(decision.passed, lc.policy)
    if outcome is Decision.PROMOTED:
        registry.promote_version(
            client, name, version, champion, req.who, f"{req.why} (MANAGED)", verdict_json, clock
        )
        event(
            ModelAction.PROMOTED,
            f"v{version} promoted to champion (was {champion or 'none'}) by policy MANAGED: {req.why}",
            numbers,
        )
    elif outcome is Decision.AWAITING_APPROVAL:
        client.set_model_version_tag(name, version, registry.AWAITING, clock().isoformat())
        event(
            ModelAction.AWAITING_APPROVAL,
            f"v{version} passed the gate; policy MANUAL: `forewarn models approve {version} --reason ...`",
            numbers,
        )
    else:
        registry.record_refusal(client, name, version, req.who, req.why, verdict_json, clock)
    return RetrainReport(
        name, version, trained.registered.run_id, champion, outcome, lc.policy, decision.passed,
        " | ".join(x for x in (how, decision.note) if x), n_labels, new_labels, len(assets), len(held_out),
        data.source, numbers, events,
    )  # fmt: skip
