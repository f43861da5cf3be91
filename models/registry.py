"""Promotion gate, promotion and rollback of registered models (MLflow aliases).

``challenger`` is set by every training; ``champion`` is what scorers load. :func:`gate` is a pure
decision on two sets of scores from the same held-out assets; :func:`promote` and
:func:`rollback` move the alias and record on the model versions who did what, when, why and
with which numbers (tags ``forewarn.promoted_*``, ``forewarn.rolled_back_*``, ...).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from models.metrics import EvalMetrics
from models.settings import ModelsSettings
from models.tracking import CHALLENGER, CHAMPION

Clock = Callable[[], datetime]
Evaluator = Callable[[str], EvalMetrics]
PREVIOUS = "forewarn.previous_champion"


class RegistryError(RuntimeError):
    """A registry action that cannot be done (no challenger, nothing to roll back to, ...)."""


class Outcome(StrEnum):
    """What a promotion attempt did."""

    PROMOTED = "promoted"
    REFUSED = "refused"


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict with every check it made."""

    passed: bool
    checks: tuple[tuple[str, bool, str], ...]  # (metric, passed, explanation)
    note: str = ""


def gate(challenger: EvalMetrics, champion: EvalMetrics | None, settings: ModelsSettings) -> GateDecision:
    """Does the challenger beat the champion (or, with none, meet the absolute ceilings)?

    RMSE and PHM08 are lower-is-better, PR-AUC higher-is-better; a NaN score never passes.
    """
    checks: list[tuple[str, bool, str]] = []
    if champion is None:
        limit = settings.gate_max_rmse
        checks.append(
            ("rmse", challenger.rmse <= limit, f"{challenger.rmse:.3f} <= {limit:.3f} (no champion)")
        )
        floor = settings.gate_min_pr_auc
        checks.append(
            ("pr_auc", challenger.pr_auc >= floor, f"{challenger.pr_auc:.3f} >= {floor:.3f} (no champion)")
        )
    else:
        limit = champion.rmse * settings.gate_max_rmse_ratio
        checks.append(("rmse", challenger.rmse <= limit, f"{challenger.rmse:.3f} <= {limit:.3f}"))
        limit = champion.phm08_score * settings.gate_max_phm08_ratio
        checks.append(
            ("phm08_score", challenger.phm08_score <= limit, f"{challenger.phm08_score:.3f} <= {limit:.3f}")
        )
        floor = champion.pr_auc - settings.gate_max_pr_auc_drop
        checks.append(("pr_auc", challenger.pr_auc >= floor, f"{challenger.pr_auc:.3f} >= {floor:.3f}"))
    return GateDecision(all(ok for _, ok, _ in checks), tuple(checks))


def side_by_side(challenger: EvalMetrics, champion: EvalMetrics | None, decision: GateDecision) -> str:
    """A small table of both models' scores and each check, for the terminal."""
    lines = [f"{'metric':<12} {'challenger':>12} {'champion':>12}  check"]
    verdicts = {metric: ("pass" if ok else "FAIL") + f"  {why}" for metric, ok, why in decision.checks}
    for metric in ("rmse", "phm08_score", "pr_auc", "n_assets", "n_points"):
        mine = getattr(challenger, metric)
        theirs = "-" if champion is None else f"{getattr(champion, metric):.3f}"
        lines.append(f"{metric:<12} {mine:>12.3f} {theirs:>12}  {verdicts.get(metric, '')}")
    if decision.note:
        lines.append(decision.note)
    return "\n".join(lines)


INPUT_COLUMNS_TAG = "forewarn.input_columns"


def same_inputs(challenger_tags: dict[str, str], champion_tags: dict[str, str]) -> bool:
    """Whether two versions score the same kind of readings, so their scores can be compared.

    By their recorded input columns; versions registered before those were recorded compare
    their source kind (``cmapss`` in ``cmapss:FD001``, ``fleet``...).
    """
    mine, theirs = challenger_tags.get(INPUT_COLUMNS_TAG), champion_tags.get(INPUT_COLUMNS_TAG)
    if mine is not None and theirs is not None:
        # by name: the model picks its columns from the readings by name, so their order is no matter
        return sorted(json.loads(mine)) == sorted(json.loads(theirs))

    def kind(tags: dict[str, str]) -> str:
        return tags.get("forewarn.source", "").split(":", 1)[0]

    return kind(challenger_tags) == kind(champion_tags)


@dataclass(frozen=True)
class PromotionResult:
    """Outcome of :func:`promote`, with the numbers it was based on."""

    outcome: Outcome
    challenger_version: str
    champion_version: str | None
    challenger: EvalMetrics
    champion: EvalMetrics | None
    decision: GateDecision


NOT_THERE = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")
"""MLflow's error codes for no such model and for no such alias on it."""


def _version_by_alias(client: Any, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code not in NOT_THERE:
            raise  # a refused login (401, 403) or a server error is not "no such alias"
        return None


def version_by_alias(client: Any, name: str, alias: str) -> str | None:
    """The version holding ``alias`` (``champion``, ``challenger``), or None (no such alias or model).

    Any other MLflow error is raised: read as "no champion", a 401 once hid every promotion from
    the closed loop, and would let a retrain promote without comparing.
    """
    return _version_by_alias(client, name, alias)


def _record(client: Any, name: str, version: str, prefix: str, values: dict[str, str]) -> None:
    for key, value in values.items():
        client.set_model_version_tag(name, version, f"forewarn.{prefix}_{key}", value)


def promote(
    client: Any,
    name: str,
    settings: ModelsSettings,
    evaluate: Evaluator,
    who: str,
    why: str,
    clock: Clock = lambda: datetime.now(UTC),
) -> PromotionResult:
    """Give ``champion`` to the ``challenger`` version only if it passes the gate.

    Both versions are scored by ``evaluate`` (same held-out assets). Either way the attempt is
    recorded on the challenger version; a promotion also records the previous champion, so
    :func:`rollback` can return to it.

    Raises:
        RegistryError: there is no challenger, or it already is the champion.
    """
    challenger_version = _version_by_alias(client, name, CHALLENGER)
    if challenger_version is None:
        raise RegistryError(f"registered model {name!r} has no {CHALLENGER!r} version: train one first")
    champion_version = _version_by_alias(client, name, CHAMPION)
    if champion_version == challenger_version:
        raise RegistryError(f"version {challenger_version} of {name!r} already is the champion")
    note = ""
    compared = champion_version
    if champion_version is not None and not same_inputs(
        dict(client.get_model_version(name, challenger_version).tags),
        dict(client.get_model_version(name, champion_version).tags),
    ):
        # a champion that reads other columns (another source) cannot be scored on the same assets
        note = (
            f"champion version {champion_version} takes other inputs: not comparable, "
            "the challenger is judged on the absolute ceilings"
        )
        compared = None
    challenger = evaluate(challenger_version)
    champion = evaluate(compared) if compared is not None else None
    decision = gate(challenger, champion, settings)
    if note:
        decision = GateDecision(decision.passed, decision.checks, note)
    numbers = json.dumps(
        {
            "challenger": {"version": challenger_version, **challenger.model_dump()},
            "champion": None if champion is None else {"version": champion_version, **champion.model_dump()},
            "checks": [{"metric": m, "passed": ok, "rule": r} for m, ok, r in decision.checks],
            "note": decision.note,
        }
    )
    if not decision.passed:
        record_refusal(client, name, challenger_version, who, why, numbers, clock)
        return PromotionResult(
            Outcome.REFUSED, challenger_version, champion_version, challenger, champion, decision
        )
    promote_version(client, name, challenger_version, champion_version, who, why, numbers, clock)
    return PromotionResult(
        Outcome.PROMOTED, challenger_version, champion_version, challenger, champion, decision
    )


def record_refusal(
    client: Any,
    name: str,
    version: str,
    who: str,
    why: str,
    numbers: str,
    clock: Clock = lambda: datetime.now(UTC),
) -> None:
    """Record on ``version`` that the gate refused it (``forewarn.gate_refused_*``; ``numbers`` a JSON)."""
    record = {"at": clock().isoformat(), "by": who, "why": why, "metrics": numbers}
    _record(client, name, version, "gate_refused", record)


def promote_version(
    client: Any,
    name: str,
    version: str,
    champion_version: str | None,
    who: str,
    why: str,
    numbers: str,
    clock: Clock = lambda: datetime.now(UTC),
) -> None:
    """Move ``champion`` to ``version`` (whose gate passed) and record who, why and the numbers.

    The previous champion is recorded on the new one (:data:`PREVIOUS`), so :func:`rollback` can
    return to it; scorers that resolve ``@champion`` pick the new version up at their next lookup.
    """
    record = {"at": clock().isoformat(), "by": who, "why": why, "metrics": numbers}
    client.set_registered_model_alias(name, CHAMPION, version)
    _record(client, name, version, "promoted", record)
    client.set_model_version_tag(name, version, PREVIOUS, champion_version or "")
    if champion_version is not None:
        _record(client, name, champion_version, "replaced", {"at": record["at"], "by": who, "why": why})


JUDGED = "forewarn.judged"
"""A retrained version's verdict: JSON ``{"passed", "champion_version", "judge_assets", "challenger",
"champion", "checks", "note"}`` (see :mod:`models.lifecycle.retrain`)."""
AWAITING = "forewarn.awaiting_approval"
"""Set on a version whose gate passed under the MANUAL policy; removed when it is approved."""


def approve(
    client: Any, name: str, version: str, who: str, why: str, clock: Clock = lambda: datetime.now(UTC)
) -> tuple[str | None, dict[str, Any]]:
    """Promote a version that awaits approval (its gate passed against the current champion).

    Returns:
        (the champion it replaced, the recorded verdict).

    Raises:
        RegistryError: the version was not judged, its gate did not pass, it already is the
            champion, or the champion changed since it was judged (judge it again: retrain).
    """
    from mlflow.exceptions import MlflowException

    try:
        tags = dict(client.get_model_version(name, version).tags)
    except MlflowException as exc:
        raise RegistryError(f"registered model {name!r} has no version {version}: {exc.message}") from None
    champion_version = _version_by_alias(client, name, CHAMPION)
    if champion_version == version:
        raise RegistryError(f"version {version} of {name!r} already is the champion")
    if JUDGED not in tags:
        raise RegistryError(
            f"version {version} of {name!r} was not judged by `forewarn models retrain`: "
            "promote a trained challenger with `forewarn models promote`"
        )
    verdict = json.loads(tags[JUDGED])
    if not verdict.get("passed"):
        raise RegistryError(f"version {version} of {name!r} did not pass its gate: {verdict.get('note', '')}")
    judged_against = verdict.get("champion_version") or None
    if judged_against != champion_version:
        raise RegistryError(
            f"version {version} was judged against champion {judged_against or '(none)'}, "
            f"but the champion now is {champion_version or '(none)'}: retrain to judge it again"
        )
    promote_version(client, name, version, champion_version, who, why, tags[JUDGED], clock)
    if AWAITING in tags:
        client.delete_model_version_tag(name, version, AWAITING)
    return champion_version, verdict


def rollback(
    client: Any, name: str, who: str, why: str, clock: Clock = lambda: datetime.now(UTC)
) -> tuple[str, str]:
    """Give ``champion`` back to the version it had before the current champion's promotion.

    Returns:
        (version rolled back from, version now champion).

    Raises:
        RegistryError: no champion, or the champion was the first one (nothing to return to).
    """
    current = _version_by_alias(client, name, CHAMPION)
    if current is None:
        raise RegistryError(f"registered model {name!r} has no {CHAMPION!r}: nothing to roll back")
    previous = client.get_model_version(name, current).tags.get(PREVIOUS, "")
    if not previous:
        raise RegistryError(
            f"champion version {current} of {name!r} has no previous champion to roll back to"
        )
    client.set_registered_model_alias(name, CHAMPION, previous)
    at = clock().isoformat()
    _record(client, name, current, "rolled_back", {"at": at, "by": who, "why": why, "to": previous})
    _record(client, name, previous, "restored", {"at": at, "by": who, "why": why, "from": current})
    # the restored champion's own history stays: rolling back again goes one further step back
    return current, previous


def list_versions(client: Any, name: str) -> list[dict[str, Any]]:
    """Every version of ``name`` with its aliases, family and recorded held-out scores, newest first."""
    # search_model_versions leaves aliases empty; the registered model has them
    aliases: dict[str, list[str]] = {}
    for alias, number in client.get_registered_model(name).aliases.items():
        aliases.setdefault(str(number), []).append(alias)
    rows = []
    for version in client.search_model_versions(f"name = '{name}'"):
        tags = dict(version.tags)
        rows.append(
            {
                "version": str(version.version),
                "aliases": sorted(aliases.get(str(version.version), [])),
                "family": tags.get("forewarn.family", ""),
                "source": tags.get("forewarn.source", ""),
                "metrics": json.loads(tags.get("forewarn.metrics", "{}")),
                "promoted_at": tags.get("forewarn.promoted_at", ""),
                "created": datetime.fromtimestamp(version.creation_timestamp / 1000, tz=UTC).isoformat(),
            }
        )
    return sorted(rows, key=lambda r: int(r["version"]), reverse=True)
