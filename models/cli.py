"""``forewarn train``, ``forewarn models promote|rollback|list``, ``forewarn benchmark cmapss|fleet``.

Settings are read here and passed inward; heavy libraries load inside the commands. Results go
to stdout as one JSON line (benchmark, train) or a table (list, promote); logs and the progress
bar go to stderr. Errors are one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import getpass
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from forewarn.exits import ExitCode
from forewarn.settings import MlflowSettings, load

log = logging.getLogger("forewarn.models")

models_app = typer.Typer(
    help="Promote, roll back, retrain, approve and watch registered models.", no_args_is_help=True
)
benchmark_app = typer.Typer(help="Benchmarks on recorded datasets.", no_args_is_help=True)

DataDir = Annotated[
    Path, typer.Option("--data-dir", envvar="FOREWARN_MODELS_DATA_DIR", help="Folder with C-MAPSS files.")
]
Subset = Annotated[
    str, typer.Option("--subset", envvar="FOREWARN_MODELS_SUBSET", help="C-MAPSS subset, e.g. FD001.")
]
Families = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated families to compare: dummy, ridge, extra_trees, hgb, hgb_avg "
        "(default: FOREWARN_MODELS_FAMILIES, a JSON list).",
        show_default=False,
    ),
]
Name = Annotated[
    str | None,
    typer.Option(
        "--name", envvar="FOREWARN_MODELS_REGISTERED_MODEL", help="Registered model name.", show_default=False
    ),
]
MaxUnits = Annotated[
    int | None, typer.Option(help="Use only the first N engines (quick runs, tests).", min=2)
]


def _logging() -> None:
    from forewarn import logs

    logs.setup("models")


def _settings(source: Any = None, **options: Any) -> Any:
    """Models settings: options win over the environment, which wins over the source's defaults."""
    from models.settings import ModelsSettings
    from models.sources import SOURCE_DEFAULTS

    overrides = {k: v for k, v in options.items() if v is not None}
    if "families" in overrides:
        overrides["families"] = tuple(f.strip() for f in overrides["families"].split(",") if f.strip())
    settings = load(ModelsSettings, **overrides)
    if source is None:
        return settings
    defaults = {k: v for k, v in SOURCE_DEFAULTS[source].items() if k not in settings.model_fields_set}
    return settings.model_copy(update=defaults) if defaults else settings


def _finite(value: float) -> float | None:
    """JSON has no NaN: a score that cannot be computed (no positives) prints as null."""
    return None if math.isnan(value) else round(value, 4)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _progress(total: int) -> Any:
    from tqdm import tqdm

    # a bar only on a terminal: in a log file (the demo's train.log) it was carriage returns; there
    # each step is a log line instead
    terminal = sys.stderr.isatty()
    bar = tqdm(total=total, file=sys.stderr, unit="step", dynamic_ncols=True, disable=not terminal)
    started = [0]

    def step(what: str) -> None:
        # called as a step starts: the previous one is done now
        if started[0]:
            bar.update(1)
        started[0] += 1
        bar.set_description(what)
        if not terminal:
            log.info("step %d of %d: %s", started[0], total, what)

    return bar, step


def _done(bar: Any) -> None:
    bar.update(bar.total - bar.n)
    bar.close()


SourceOption = Annotated[
    str,
    typer.Option(
        "--source",
        envvar="FOREWARN_MODELS_SOURCE",
        help="cmapss (--data-dir/--subset), fleet (simulated pumps: --assets/--steps/--interval-s/--seed) "
        "or labels (--labels FILE with the assets' telemetry from InfluxDB; implied by --labels).",
    ),
]


def train_command(
    source: SourceOption = "cmapss",
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", envvar="FOREWARN_MODELS_DATA_DIR", help="cmapss: folder with C-MAPSS files."
        ),
    ] = None,
    subset: Annotated[
        str | None,
        typer.Option("--subset", envvar="FOREWARN_MODELS_SUBSET", help="cmapss: subset, e.g. FD001."),
    ] = None,
    assets: Annotated[int, typer.Option(min=4, help="fleet: simulated pumps.")] = 200,
    steps: Annotated[int, typer.Option(min=20, help="fleet: readings per pump.")] = 400,
    interval_s: Annotated[
        float, typer.Option(min=0.001, help="fleet: simulated seconds between readings (one RUL step).")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="fleet: simulation seed.")] = 0,
    failing_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="fleet: share of pumps failing inside the run.")
    ] = 0.5,
    labels: Annotated[
        Path | None,
        typer.Option("--labels", help="labels: label file from `forewarn labels export` (CSV or Parquet)."),
    ] = None,
    rul_cap: Annotated[
        int | None,
        typer.Option(min=1, help="RUL cap in cycles/steps (default per source).", show_default=False),
    ] = None,
    horizon: Annotated[
        int | None,
        typer.Option(min=1, help="Risk horizon in cycles/steps (default per source).", show_default=False),
    ] = None,
    name: Name = None,
    families: Families = None,
    cv_folds: Annotated[int | None, typer.Option(min=2, help="Folds, grouped by asset.")] = None,
    holdout_fraction: Annotated[float | None, typer.Option(help="Share of assets held out.")] = None,
    max_units: MaxUnits = None,
) -> None:
    """Train on a source's run-to-failure history, log one MLflow run, register the challenger.

    Prints one JSON line: run id, registered version, chosen family and held-out scores.
    """
    _logging()
    from ingest.cmapss import CmapssFormatError
    from models import sources, tracking

    chosen = _source(source, labels)
    settings = _settings(
        source=chosen, registered_model=name, families=families, cv_folds=cv_folds,
        holdout_fraction=holdout_fraction, rul_cap_cycles=rul_cap, horizon_cycles=horizon,
    )  # fmt: skip
    mlflow_settings = load(MlflowSettings)
    try:
        if chosen is sources.Source.CMAPSS:
            if data_dir is None or subset is None:
                raise _fail("--source cmapss needs --data-dir and --subset", ExitCode.USAGE)
            data = sources.cmapss(data_dir, subset, max_units, settings.setting_decimals)
        elif chosen is sources.Source.FLEET:
            data = sources.fleet(assets, steps, interval_s, seed, failing_share, settings.rul_cap_cycles)
        else:
            assert labels is not None
            data = _labels_source(labels, settings)
    except (CmapssFormatError, sources.SourceError) as exc:
        raise _fail(str(exc)) from None
    registered, result, metrics, extra = _train_and_register(data, settings, mlflow_settings)
    typer.echo(
        json.dumps(
            {
                "run_id": registered.run_id,
                "registered_model": registered.name,
                "version": registered.version,
                "alias": tracking.CHALLENGER,
                "source": data.source,
                "family": result.model.family,
                "failure_modes": list(result.model.modes),
                "train_seconds": round(result.train_seconds, 1),
                **{f"{p}_{k}": _finite(v) for p, m in metrics.items() for k, v in m.model_dump().items()},
                **{k: _finite(v) for k, v in extra.items()},
            }
        )
    )


def _source(source: str, labels: Path | None) -> Any:
    from models.sources import Source

    if labels is not None:
        return Source.LABELS
    try:
        chosen = Source(source.lower())
    except ValueError:
        raise _fail(
            f"unknown --source {source!r}; choose one of {[s.value for s in Source]}", ExitCode.USAGE
        ) from None
    if chosen is Source.LABELS:
        raise _fail("--source labels needs --labels FILE", ExitCode.USAGE)
    return chosen


def _labels_source(path: Path, settings: Any) -> Any:
    from forewarn.settings import InfluxRole, InfluxSettings
    from models import feedback

    influx = load(InfluxSettings).for_role(InfluxRole.READER)  # reads the labelled assets' telemetry
    return feedback.labels_source(path, influx, settings.rul_cap_cycles)


def _train_and_register(data: Any, settings: Any, mlflow_settings: MlflowSettings) -> tuple[Any, ...]:
    """Hold out assets, train, score, log the run and register the challenger (any source)."""
    from models.lifecycle import challenger

    bar, step = _progress(challenger.step_count(data, settings))
    try:
        trained = challenger.train_and_register(data, settings, mlflow_settings, step)
    except ValueError as exc:
        bar.close()
        raise _fail(f"training failed: {exc}") from None
    _done(bar)
    return trained.registered, trained.result, trained.metrics, trained.extra


def _evaluator(name: str, data_dir: Path | None, subset: str | None, max_units: int | None) -> Any:
    """Scores per version: on the subset's test engines when given, else the version's recorded holdout."""
    from models import dataset, tracking, training
    from models.metrics import EvalMetrics

    if data_dir is not None and subset is not None:
        test = dataset.evaluation_engines(data_dir, subset, max_units)

        def on_test_set(version: str) -> EvalMetrics:
            model = tracking.load_fitted(name, version)
            return training.evaluate(model, test.readings, test.true_rul, test.points)

        return on_test_set

    from mlflow import MlflowClient

    def recorded(version: str) -> EvalMetrics:
        tags = MlflowClient().get_model_version(name, version).tags
        scores = json.loads(tags.get("forewarn.metrics", "{}")).get("holdout")
        if scores is None:
            raise _fail(
                f"version {version} of {name!r} has no recorded holdout metrics: pass --data-dir/--subset"
            )
        return EvalMetrics(**scores)

    log.warning("no --data-dir/--subset: comparing each version's own recorded holdout scores")
    return recorded


@models_app.command("promote")
def promote(
    name: Name = None,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (recorded on the version).")
    ] = "scheduled promotion",
    by: Annotated[str | None, typer.Option("--by", help="Who (default: the current user).")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="FOREWARN_MODELS_DATA_DIR",
            help="Score both models on this C-MAPSS subset's test engines (else: recorded holdout scores).",
        ),
    ] = None,
    subset: Annotated[str | None, typer.Option("--subset", envvar="FOREWARN_MODELS_SUBSET")] = None,
    max_units: MaxUnits = None,
) -> None:
    """Make the challenger the champion if it passes the gate; otherwise refuse (exit 1)."""
    _logging()
    from mlflow import MlflowClient

    from models import registry, tracking

    settings = _settings(registered_model=name)
    tracking.connect(load(MlflowSettings))
    model_name = settings.registered_model
    try:
        result = registry.promote(
            MlflowClient(),
            model_name,
            settings,
            _evaluator(model_name, data_dir, subset, max_units),
            by or getpass.getuser(),
            reason,
        )
    except registry.RegistryError as exc:
        raise _fail(str(exc)) from None
    _promotion_event(model_name, result, by or getpass.getuser(), reason)
    typer.echo(registry.side_by_side(result.challenger, result.champion, result.decision))
    if result.outcome is registry.Outcome.REFUSED:
        raise _fail(
            f"gate refused version {result.challenger_version}; champion stays "
            f"{result.champion_version or '(none)'}"
        )
    typer.echo(f"promoted {model_name} version {result.challenger_version} to champion "
               f"(was {result.champion_version or 'none'})")  # fmt: skip


@models_app.command("rollback")
def rollback(
    name: Name = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded on both versions).")] = "rollback",
    by: Annotated[str | None, typer.Option("--by", help="Who (default: the current user).")] = None,
) -> None:
    """Give champion back to the previous champion version."""
    _logging()
    from mlflow import MlflowClient

    from models import registry, tracking

    settings = _settings(registered_model=name)
    tracking.connect(load(MlflowSettings))
    try:
        old, new = registry.rollback(
            MlflowClient(), settings.registered_model, by or getpass.getuser(), reason
        )
    except registry.RegistryError as exc:
        raise _fail(str(exc)) from None
    who = by or getpass.getuser()
    _event(settings.registered_model, old, "rolled_back", f"champion v{old} -> v{new} by {who}: {reason}")
    typer.echo(f"rolled back {settings.registered_model}: champion {old} -> {new}")


@models_app.command("list")
def list_models(
    name: Name = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list instead of the table.")] = False,
) -> None:
    """Every version of the registered model: aliases, family, source and held-out scores, newest first."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from forewarn.table import table
    from models import registry, tracking

    settings = _settings(registered_model=name)
    mlflow_settings = load(MlflowSettings)
    tracking.connect(mlflow_settings)
    client = MlflowClient()
    model = settings.registered_model
    try:
        rows = registry.list_versions(client, model)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        recent = client.search_registered_models(order_by=["last_updated_timestamp DESC"], max_results=10)
        names = ", ".join(m.name for m in recent) + (" …" if recent.token else "")
        raise _fail(
            f"MLflow at {mlflow_settings.tracking_uri} has no registered model {model!r}; it has "
            f"{names or 'none yet (forewarn train)'}: choose one with --name or "
            "FOREWARN_MODELS_REGISTERED_MODEL",
            ExitCode.USAGE,
        ) from None
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo(f"{model} has no versions yet (forewarn train)")
        return
    holdout = [r["metrics"].get("holdout", {}) for r in rows]
    cells = [
        [r["version"], ",".join(r["aliases"]) or "-", r["family"] or "-", r["source"] or "-",
         _score(h.get("rmse")), _score(h.get("pr_auc")), r["created"][:19].replace("T", " ")]
        for r, h in zip(rows, holdout, strict=True)
    ]  # fmt: skip
    typer.echo(f"{model} ({mlflow_settings.tracking_uri})")
    typer.echo(
        table(
            ["version", "aliases", "family", "source", "holdout rmse", "holdout pr_auc", "created (UTC)"],
            cells,
        )
    )


def _event(name: str, version: str, action: str, note: str, numbers: dict[str, float] | None = None) -> None:
    """Record a model event (registry tag, then InfluxDB ``model_events``; never fails the command)."""
    from datetime import UTC, datetime

    from forewarn.settings import InfluxRole, InfluxSettings
    from models.events import ModelAction, ModelEvent, record
    from models.lifecycle.settings import LifecycleSettings

    budget = load(LifecycleSettings).event_retry_budget_s
    event = ModelEvent(name, version, ModelAction(action), note, datetime.now(UTC), numbers or {})
    record(event, load(InfluxSettings).for_role(InfluxRole.WRITER), retry_budget_s=budget)


def _promotion_event(name: str, result: Any, who: str, why: str) -> None:
    """``promoted`` or ``gate_refused`` for a ``forewarn models promote``, with both models' scores."""
    from models import registry

    numbers = {
        f"challenger_{k}": float(getattr(result.challenger, k)) for k in ("rmse", "phm08_score", "pr_auc")
    }
    if result.champion is not None:
        numbers |= {
            f"champion_{k}": float(getattr(result.champion, k)) for k in ("rmse", "phm08_score", "pr_auc")
        }
    was = result.champion_version or "none"
    if result.outcome is registry.Outcome.PROMOTED:
        note = f"v{result.challenger_version} promoted to champion (was {was}) by {who}: {why}"
        _event(name, result.challenger_version, "promoted", note, numbers)
    else:
        checks = "; ".join(f"{m} {'ok' if ok else 'FAIL'} {r}" for m, ok, r in result.decision.checks)
        note = f"gate refused v{result.challenger_version} against champion {was} ({who}: {why}): {checks}"
        _event(name, result.challenger_version, "gate_refused", note, numbers)


Policy = Annotated[
    str | None,
    typer.Option(
        "--policy", help="MANAGED (promote when the gate passes) or MANUAL (wait for `forewarn models "
        "approve`); default FOREWARN_LIFECYCLE_POLICY.", show_default=False,
    ),
]  # fmt: skip
StoreUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", envvar="FOREWARN_ALERTS_DATABASE_URL",
        help="The work-order store the labels come from (as `forewarn labels export`).", show_default=False,
    ),
]  # fmt: skip


def _lifecycle(policy: str | None = None, labels: Path | None = None) -> Any:
    from models.lifecycle.settings import LifecycleSettings

    overrides: dict[str, Any] = {}
    if policy is not None:
        overrides["policy"] = policy.upper()
    if labels is not None:
        overrides["labels_file"] = labels
    return load(LifecycleSettings, **overrides)


@models_app.command("retrain")
def retrain(
    name: Name = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels", help="A label file instead of the work-order store (FOREWARN_LIFECYCLE_LABELS_FILE)."
        ),
    ] = None,
    database_url: StoreUrl = None,
    policy: Policy = None,
    why: Annotated[
        str, typer.Option("--why", help="Why (recorded on the version and the events).")
    ] = "manual retrain",
    by: Annotated[str | None, typer.Option("--by", help="Who (default: the current user).")] = None,
    families: Families = None,
    rul_cap: Annotated[int | None, typer.Option(min=1, show_default=False)] = None,
    horizon: Annotated[int | None, typer.Option(min=1, show_default=False)] = None,
    cv_folds: Annotated[int | None, typer.Option(min=2, help="Folds, grouped by asset.")] = None,
) -> None:
    """Retrain from the latest labels + the champion's original source; judge, then promote or wait.

    The challenger is judged against the champion on recently labelled assets it was not trained on
    (FOREWARN_LIFECYCLE_*); every step is a model event. Prints one JSON line (`decision`:
    promoted, awaiting_approval or refused); exit 0 whenever the retrain ran.
    """
    _logging()
    from mlflow import MlflowClient

    from forewarn.settings import InfluxRole, InfluxSettings
    from ingest.cmapss import CmapssFormatError
    from models import tracking
    from models.lifecycle import retrain as lifecycle_retrain
    from models.lifecycle.service import latest_labels
    from models.sources import Source, SourceError

    settings = _settings(source=Source.LABELS, registered_model=name, families=families,
                         rul_cap_cycles=rul_cap, horizon_cycles=horizon, cv_folds=cv_folds)  # fmt: skip
    lifecycle = _lifecycle(policy, labels)
    mlflow_settings = load(MlflowSettings)
    tracking.connect(mlflow_settings)
    bar, step = _progress(_training_steps(settings) + 2)
    try:
        with latest_labels(lifecycle, database_url) as path:
            request = lifecycle_retrain.RetrainRequest(settings.registered_model, path, settings, lifecycle,
                                                       load(InfluxSettings).for_role(InfluxRole.WRITER),
                                                       mlflow_settings,
                                                       by or getpass.getuser(), why)  # fmt: skip
            report = lifecycle_retrain.retrain(request, MlflowClient(), step)
    except (SourceError, CmapssFormatError, ValueError) as exc:
        bar.close()
        raise _fail(f"retrain failed: {exc}") from None
    _done(bar)
    typer.echo(json.dumps(report.as_json()))


def _training_steps(settings: Any) -> int:
    from models import training

    return training.steps(settings)


@models_app.command("approve")
def approve(
    version: Annotated[str, typer.Argument(help="The version awaiting approval (its gate passed).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded on the version).")],
    name: Name = None,
    by: Annotated[str | None, typer.Option("--by", help="Who (default: the current user).")] = None,
) -> None:
    """Promote a retrained version that passed its gate and awaits approval (policy MANUAL)."""
    _logging()
    from mlflow import MlflowClient

    from models import registry, tracking

    settings = _settings(registered_model=name)
    tracking.connect(load(MlflowSettings))
    model = settings.registered_model
    who = by or getpass.getuser()
    try:
        previous, verdict = registry.approve(MlflowClient(), model, version, who, reason)
    except registry.RegistryError as exc:
        raise _fail(str(exc)) from None
    numbers = {k: float(v) for k, v in verdict.get("numbers", {}).items()}
    _event(model, version, "approved", f"v{version} approved by {who}: {reason}", numbers)
    was = previous or "none"
    note = f"v{version} promoted to champion (was {was}) on approval by {who}: {reason}"
    _event(model, version, "promoted", note, numbers)
    typer.echo(f"approved {model} version {version}: champion {previous or 'none'} -> {version}")


@models_app.command("watch")
def watch(
    name: Name = None,
    database_url: StoreUrl = None,
    policy: Policy = None,
) -> None:
    """The lifecycle service: drift checks, drift alarms, retrains on drift or schedule (until SIGTERM)."""
    _logging()
    from forewarn import cpu_share
    from forewarn.settings import InfluxRole, InfluxSettings
    from models.lifecycle import service

    settings = _settings(registered_model=name)
    lifecycle = _lifecycle(policy)
    cpu = cpu_share.yield_cpu(lifecycle.nice)  # before any thread starts: threads inherit it
    log.info("CPU: %s (FOREWARN_LIFECYCLE_NICE=%d)", cpu.describe(), lifecycle.nice)
    # the service writes drift and model events; it promotes, so MLflow as the admin
    influx, mlflow_settings = load(InfluxSettings).for_role(InfluxRole.WRITER), load(MlflowSettings)
    log.info("watching %s: %s", settings.registered_model, json.dumps(lifecycle.redacted(), default=str))
    stop = service.stop_event()
    service.watcher(settings.registered_model, lifecycle, influx, mlflow_settings, database_url, stop).run()


@models_app.command("drift")
def drift(
    name: Name = None,
    version: Annotated[
        str | None, typer.Option("--version", help="A version (default: the champion).")
    ] = None,
) -> None:
    """Check drift once (FOREWARN_DRIFT_*); print the report as one JSON line (exit 0; a skip says why)."""
    _logging()
    import dataclasses
    import time as clock

    from forewarn.settings import InfluxRole, InfluxSettings
    from models import tracking
    from models.drift_job import DriftSettings, DriftUnavailableError, check_drift

    settings = _settings(registered_model=name)
    tracking.connect(load(MlflowSettings))
    try:
        influx = load(InfluxSettings).for_role(InfluxRole.WRITER)  # writes feature_drift
        report = check_drift(settings.registered_model, influx, load(DriftSettings),
                             int(clock.time() * 1000), version)  # fmt: skip
    except DriftUnavailableError as exc:
        raise _fail(str(exc), ExitCode.UNREACHABLE) from None
    body = dataclasses.asdict(report)
    typer.echo(json.dumps({**_nan_free(body), "note": report.note()}, default=str))


def _nan_free(value: Any) -> Any:
    """JSON has no NaN: a score that cannot be computed prints as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_free(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_free(v) for v in value]
    return value


def _score(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3f}"


def _calibration(model: Any) -> dict[str, Any]:
    """The benchmark's calibration keys: method and both out-of-fold Brier scores (null when unknown)."""
    report = getattr(model.calibrator, "report", None)
    if report is None:  # a bare logistic calibrator (versions trained before the choice existed)
        return {"calibration_method": "logistic", "cv_brier_logistic": None, "cv_brier_isotonic": None}
    return {
        "calibration_method": report.method.value,
        "cv_brier_logistic": _finite(report.cv_brier_logistic),
        "cv_brier_isotonic": _finite(report.cv_brier_isotonic),
    }


@benchmark_app.command("cmapss")
def benchmark_cmapss(
    data_dir: DataDir,
    subset: Subset,
    families: Families = None,
    cv_folds: Annotated[int | None, typer.Option(min=2, help="Folds, grouped by asset.")] = None,
    max_units: MaxUnits = None,
) -> None:
    """Train on train_FDxxx, predict each test engine's last cycle, score against RUL_FDxxx.

    Prints exactly one JSON line on stdout (null where a score cannot be computed):
    ``subset``; ``rmse`` and ``phm08_score`` (sum over engines) against the true RUL of RUL_FDxxx;
    ``rmse_capped`` and ``phm08_capped`` against it capped at ``rul_cap_cycles`` (the published
    convention); ``pr_auc`` and ``brier`` of the risk over every row of the test histories
    (failure within ``horizon_cycles``); ``calibration_method`` (logistic or isotonic) with
    ``cv_brier_logistic`` and ``cv_brier_isotonic``, the out-of-fold Brier scores that chose it;
    ``family``, ``n_test_units``, ``train_seconds``.
    """
    _logging()
    from ingest.cmapss import CmapssFormatError
    from models import dataset, training

    settings = _settings(families=families, cv_folds=cv_folds)
    try:
        frame = dataset.training_frame(data_dir, subset, max_units)
        test = dataset.evaluation_engines(data_dir, subset, max_units)
    except CmapssFormatError as exc:
        raise _fail(str(exc)) from None
    started = time.perf_counter()
    bar, step = _progress(training.steps(settings))
    result = training.train(frame, settings, dataset.cmapss_columns(settings.setting_decimals), step)
    _done(bar)
    train_seconds = time.perf_counter() - started
    scores = training.evaluate(result.model, test.readings, test.true_rul, test.points)
    log.info("cv by family: %s; chosen %s", json.dumps(result.cv), result.model.family)
    typer.echo(
        json.dumps(
            {
                "subset": subset.upper(),
                "rul_cap_cycles": result.model.rul_cap_cycles,
                "horizon_cycles": result.model.horizon_cycles,
                "rmse": round(scores.rmse, 3),
                "rmse_capped": round(scores.rmse_capped, 3),
                "phm08_score": round(scores.phm08_score, 1),
                "phm08_capped": round(scores.phm08_capped, 1),
                "n_test_units": scores.n_points,
                "train_seconds": round(train_seconds, 1),
                "family": result.model.family,
                "pr_auc": _finite(scores.pr_auc),
                "brier": _finite(scores.brier),
                **_calibration(result.model),
            }
        )
    )


@benchmark_app.command("fleet")
def benchmark_fleet(
    assets: Annotated[int, typer.Option(min=4, help="Simulated pumps to train on.")] = 200,
    steps: Annotated[int, typer.Option(min=20, help="Readings per pump.")] = 400,
    interval_s: Annotated[float, typer.Option(min=0.001, help="Simulated seconds between readings.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Simulation seed of the training fleet.")] = 0,
    eval_seed: Annotated[
        int, typer.Option(help="Simulation seed of the evaluation fleet (use another).")
    ] = 1,
    eval_assets: Annotated[int, typer.Option(min=1, help="Simulated pumps to evaluate on.")] = 100,
    failing_share: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.5,
    families: Families = None,
    rul_cap: Annotated[int | None, typer.Option(min=1, show_default=False)] = None,
    horizon: Annotated[int | None, typer.Option(min=1, show_default=False)] = None,
) -> None:
    """Train on one simulated fleet, score another seed's fleet (same steps and interval).

    Prints one JSON line: RMSE (readings within the RUL cap of a failure, so the true RUL there is
    the capped one: one convention only), PR-AUC and Brier score of the risk on every reading with a
    known RUL, ``calibration_method`` with ``cv_brier_logistic``/``cv_brier_isotonic`` (as ``benchmark
    cmapss``), failure-mode accuracy within the horizon, and the warning lead times (steps between risk
    first reaching 0.5 and each failure; ``missed`` = failures it never reached 0.5 before).
    """
    _logging()
    from models import sources, training

    settings = _settings(source=sources.Source.FLEET, families=families, rul_cap_cycles=rul_cap,
                         horizon_cycles=horizon)  # fmt: skip
    started = time.perf_counter()
    data = sources.fleet(assets, steps, interval_s, seed, failing_share, settings.rul_cap_cycles)
    simulated = time.perf_counter()
    bar, step = _progress(training.steps(settings))
    result = training.train(data.frame, settings, data.columns, step)
    _done(bar)
    trained = time.perf_counter()
    other = sources.fleet(eval_assets, steps, interval_s, eval_seed, failing_share, settings.rul_cap_cycles)
    known = other.frame[other.frame["rul_cycles"].notna()].reset_index(drop=True)
    true_rul = known["rul_cycles"].to_numpy()
    scores = training.evaluate(result.model, known, true_rul, true_rul <= settings.rul_cap_cycles)
    extra = training.extra_scores(result.model, other.frame, other.labels, other.step_s)
    log.info("cv by family: %s; chosen %s", json.dumps(result.cv), result.model.family)
    typer.echo(
        json.dumps(
            {
                "train_source": data.source,
                "eval_source": other.source,
                "family": result.model.family,
                "rul_cap_steps": settings.rul_cap_cycles,
                "horizon_steps": settings.horizon_cycles,
                "rmse": round(scores.rmse, 3),
                "pr_auc": _finite(scores.pr_auc),
                "brier": _finite(scores.brier),
                **_calibration(result.model),
                **{k.removeprefix("holdout_"): _finite(v) for k, v in extra.items()},
                "simulate_seconds": round(simulated - started, 1),
                "train_seconds": round(trained - simulated, 1),
            }
        )
    )
