"""``forewarn models retrain``: a challenger from the latest labels and the original source, judged
against the champion on recently labelled assets neither has seen, then promoted (MANAGED) or left
awaiting an engineer's approval (MANUAL).

The judge: a seeded share (``FOREWARN_LIFECYCLE_JUDGE_FRACTION``) of the labelled assets is held
out of training, split by asset and separately among assets with a confirmed fault and the others
(so the judge sees failures whenever there are some). Both models are scored there with
:func:`models.training.evaluate` and compared by :func:`models.registry.gate`; beside the gate's
scores, each model's false-alarm rate (the share of judged readings at least the horizon before any
failure, i.e. healthy, that it scores at risk >= 0.5) and missed failures (confirmed faults whose
life before them never reached risk 0.5: :func:`models.lead_time.lead_times`) are reported. Fewer
judge assets than ``MIN_JUDGE_ASSETS`` judge nothing: the gate does not pass, and the event says so.

Pure parts (:func:`split_judge`, :func:`judge`, :func:`verdict`, :func:`decide`) are tested
without services; :func:`retrain` is the I/O edge (InfluxDB, MLflow).
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
from models.lifecycle.settings import AUTO, NONE, LifecycleSettings, Policy
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

    def numbers(self, who: str) -> dict[str, float]:
        m = self.metrics
        return {
            f"{who}_rmse": m.rmse,
            f"{who}_phm08_score": m.phm08_score,
            f"{who}_pr_auc": m.pr_auc,
            f"{who}_false_alarm_rate": self.false_alarm_rate,
            f"{who}_missed_failures": self.missed_failures,
        }


def split_judge(
    labels: pd.DataFrame, assets: list[str], fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """(train assets, judge assets) among ``assets``, seeded, split apart among the assets with a
    confirmed fault and the others so that both kinds are judged when there are some."""
    from models.training import split_assets

    faulty = set(labels.loc[labels["failure_mode"] != NO_FAILURE, "asset_id"].astype(str))
    train: list[str] = []
    judge: list[str] = []
    for group in (sorted(a for a in assets if a in faulty), sorted(a for a in assets if a not in faulty)):
        if not group:
            continue
        if len(group) == 1:  # split_assets keeps one for training: a lone asset is judged on alternate seeds
            (judge if seed % 2 else train).extend(group)
            continue
        fit, held = split_assets(np.asarray(group), fraction, seed)
        train.extend(map(str, fit))
        judge.extend(map(str, held))
    return sorted(train), sorted(judge)


def judge(
    model: Any, frame: pd.DataFrame, labels: pd.DataFrame | None, step_s: float | None, cap: int, horizon: int
) -> JudgeScores:
    """Score ``model`` on the judge assets' readings with a known RUL (``frame``).

    RMSE/PHM08 where the true RUL is within ``cap``, PR-AUC of failing within the model's horizon
    (:func:`models.training.evaluate`); false alarms among readings more than ``horizon`` before a
    failure (or known healthy); missed failures from ``labels`` (timed faults) when readings have times.
    """
    from models import dataset, training
    from models.columns import TIME_MS
    from models.lead_time import lead_times
    from models.predictor import ASSET

    held = dataset.holdout_set(frame.reset_index(drop=True), cap)
    metrics = training.evaluate(model, held.readings, held.true_rul, held.points)
    risk = np.asarray(model.risk(model.predict_rul(model.features(held.readings))), dtype=np.float64)
    healthy = held.true_rul > horizon
    false_alarm_rate = float(np.mean(risk[healthy] >= WARN_RISK)) if healthy.any() else math.nan
    missed, failures = math.nan, 0
    if labels is not None and step_s and TIME_MS in held.readings.columns:
        leads = lead_times(held.readings.assign(risk=risk), labels, ASSET, TIME_MS, step_s, WARN_RISK)
        failures = len(leads)
        missed = float(leads["lead_steps"].isna().sum()) if failures else math.nan
    return JudgeScores(metrics, false_alarm_rate, missed, failures)


def verdict(
    challenger: JudgeScores | None,
    champion: JudgeScores | None,
    judge_assets: int,
    models: ModelsSettings,
    lifecycle: LifecycleSettings,
    note: str = "",
) -> registry.GateDecision:
    """The gate on the judge assets; too few of them (or no challenger score) never passes."""
    if challenger is None or judge_assets < lifecycle.min_judge_assets:
        why = (
            f"too few recently labelled assets to judge: {judge_assets} held out, "
            f"FOREWARN_LIFECYCLE_MIN_JUDGE_ASSETS={lifecycle.min_judge_assets}"
        )
        return registry.GateDecision(False, (), "; ".join(x for x in (why, note) if x))
    decision = registry.gate(challenger.metrics, None if champion is None else champion.metrics, models)
    if not decision.passed and math.isnan(challenger.metrics.pr_auc):
        note = "; ".join(
            x for x in (note, "no confirmed failure within the horizon on the judge assets") if x
        )
    return registry.GateDecision(decision.passed, decision.checks, note)


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
    _, judge_assets = split_judge(labels_data.labels, assets, lc.judge_fraction, lc.seed)
    too_few = len(judge_assets) < lc.min_judge_assets
    held_out = [] if too_few else judge_assets  # nothing to judge: every labelled asset trains
    spec, why_base = _base_spec(client, name, champion, lc)
    base = None
    if spec is not None:
        try:
            base = load_base(spec, req.models.rul_cap_cycles, lc.cmapss_data_dir, req.models.setting_decimals)
        except (SourceError, OSError, ValueError) as exc:
            why_base = f"{why_base} could not be rebuilt ({exc})"
    data, how = combine(base, _without(labels_data, held_out))
    if base is None:
        how = f"labels only ({why_base})"
    log.info("retraining %s on %s: %d labels, %d labelled assets, %d held out to judge", name, how,
             n_labels, len(assets), len(held_out))  # fmt: skip
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
        mine = judge(trained.result.model, judged, table, step_s, cap, horizon)
        if champion is not None:
            champ_tags = dict(client.get_model_version(name, champion).tags)
            own = {registry.INPUT_COLUMNS_TAG: json.dumps(pyfunc.input_columns(trained.result.model))}
            if registry.same_inputs(own, champ_tags):
                theirs = judge(tracking.load_fitted(name, champion), judged, table, step_s, cap, horizon)
            else:
                note = f"champion version {champion} takes other inputs: judged on the absolute ceilings"
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
         "note": decision.note}
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
