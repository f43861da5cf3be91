"""The champion model in each Python worker: loaded once, its alias re-resolved on an interval.

Spark reuses Python workers across micro-batches, so a module-level cache means one load per
worker, and a promotion in the registry reaches every worker within ``alias_refresh_s`` without
restarting the query. Every score carries the name and version of the model that made it: a
bucket's call (``streaming.step``) resolves the champion once and scores all its rows with it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from forewarn.contracts.risk import FAILURE_MODE_MAX_CHARS, UNSPECIFIED_FAILURE_MODE

log = logging.getLogger(__name__)


@dataclass
class Champion:
    """A loaded model version and when its alias was last checked."""

    name: str
    alias: str
    version: str
    model: Any  # models.predictor.RulRiskModel
    checked_at_s: float

    @property
    def horizon_cycles(self) -> float:
        return float(self.model.horizon_cycles)


@dataclass(frozen=True)
class ModelRef:
    """Which registered model to score with, and where the registry is.

    ``client_env``: the ``MLFLOW_*`` variables of the scoring job's registry user (the reader),
    set in each Python worker before it talks to MLflow. They travel inside the pickled task (not
    in the Spark conf the UI shows, not on a command line), so executors on a cluster get them too.
    ``compiled_dir``: where workers cache the C library that walks the champion's trees
    (``models.occlusion``); None scores with the regressor as trained.
    ``model_cache_dir``: where workers keep each loaded version ready to unpickle
    (``streaming.model_cache``); None loads every time from MLflow.
    """

    tracking_uri: str
    registry_uri: str
    name: str
    alias: str
    refresh_s: float
    client_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    compiled_dir: Path | None = None
    model_cache_dir: Path | None = None


_CACHE: dict[ModelRef, Champion] = {}


def _load(ref: ModelRef, version: str) -> Any:
    """The version as a worker scores with it: from this machine's model cache when a worker
    loaded it before (``streaming.model_cache``: no MLflow client, no download), else from MLflow.
    The cache is keyed by what the registry's REST API says of the version, so a registry that is
    not a tracking server always loads through MLflow's client."""
    from streaming import model_cache

    if ref.model_cache_dir is None or not model_cache.over_rest(ref.registry_uri):
        model = _from_mlflow(ref, version)
    else:
        key = model_cache.version_key(ref.registry_uri, ref.name, version, dict(ref.client_env))
        model = model_cache.cached(ref.model_cache_dir, key, lambda: _from_mlflow(ref, version))
    return worker_model(model, ref.compiled_dir)


def _from_mlflow(ref: ModelRef, version: str) -> Any:
    """The registered model inside the version's pyfunc, loaded by MLflow's client."""
    import mlflow

    os.environ.update(ref.client_env)  # MLflow's client reads its user from the environment
    mlflow.set_tracking_uri(ref.tracking_uri)
    mlflow.set_registry_uri(ref.registry_uri)
    # suppress_warnings: no check of the model's pip requirements against every installed
    # distribution, which cost each worker 0.4-0.5 s of CPU at every load (py-spy, three C-MAPSS
    # drains, 5 Dec 2026: 44 of the 277 samples its loads took); the job runs from the environment
    # the champion was trained and registered in (``forewarn train``), in every worker alike
    pyfunc = mlflow.pyfunc.load_model(f"models:/{ref.name}/{version}", suppress_warnings=True)
    return pyfunc.unwrap_python_model().model


def worker_model(model: Any, compiled_dir: Path | None) -> Any:
    """The loaded model as a worker scores with it: :func:`single_threaded`, and, when
    ``compiled_dir`` is set, its regressor replaced by its trees walked in C (``models.occlusion``,
    scikit-learn's predictions to the bit):

    - boosted trees: ``predict`` and the explanations' occluded predicts (measured on the FD001
      champion, 600 trees: 5.8-6.1 µs a row against 16.7-20.9 for the same trees compiled by
      tl2cgen and 43 for scikit-learn; 16 sensors explained in the time of 8 predicts);
    - a forest: its occluded predicts (2.5x faster for 6 sensors); ``predict`` stays scikit-learn's.

    A regressor that cannot be walked stays as it is (logged).
    """
    model = single_threaded(model)
    regressor = getattr(model, "regressor", None)
    if compiled_dir is None or regressor is None or not dataclasses.is_dataclass(model):
        return model
    from models import occlusion

    if occlusion.unsupported(regressor) is not None:
        return model
    groups = list(model.sensor_groups().values())  # type: ignore[union-attr]
    walked = occlusion.occluding(regressor, compiled_dir, groups)
    return model if walked is None else dataclasses.replace(model, regressor=walked)  # type: ignore[type-var]


def one_thread_per_worker() -> None:
    """Limit OpenMP and BLAS to one thread in this process (a Spark Python worker).

    Spark already runs a task per core. scikit-learn's histogram gradient boosting predicts with
    an OpenMP team of one thread per core, and on cores that are busy (they are: every task is)
    OpenMP's spinning threads wait on each other: measured on 2 busy cores, one ``predict`` of
    625 rows took 4.2 s with the team and 54 ms without it.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def single_threaded(model: Any) -> Any:
    """Set every ``n_jobs`` of the model's regressor and classifiers to 1 (same predictions).

    Spark already runs one task per core; a joblib thread pool per ``predict`` call on top of
    that only adds start-up cost and oversubscribes the cores (measured: 2x slower per asset).
    """
    for part in (getattr(model, "regressor", None), getattr(model, "mode_classifier", None)):
        if part is None or not hasattr(part, "get_params"):
            continue
        jobs = {key: 1 for key in part.get_params(deep=True) if key == "n_jobs" or key.endswith("__n_jobs")}
        if jobs:
            part.set_params(**jobs)
    return model


def _alias_version(ref: ModelRef) -> str:
    """The version the alias points at: over MLflow's REST API when the registry is a tracking
    server (importing MLflow's client cost a new worker 1.1 s of CPU), else by that client."""
    from streaming import model_cache

    if model_cache.over_rest(ref.registry_uri):
        return model_cache.alias_version(ref.registry_uri, ref.name, ref.alias, dict(ref.client_env))
    from mlflow import MlflowClient

    os.environ.update(ref.client_env)
    client = MlflowClient(tracking_uri=ref.tracking_uri, registry_uri=ref.registry_uri)
    return str(client.get_model_version_by_alias(ref.name, ref.alias).version)


def champion(
    ref: ModelRef,
    clock: Callable[[], float] = time.monotonic,
    resolve: Callable[[ModelRef], str] = _alias_version,
    load: Callable[[ModelRef, str], Any] = _load,
) -> Champion:
    """The model ``ref`` points at, reloading only when the alias moved.

    If the registry cannot be reached but a model is loaded, scoring goes on with it (logged);
    with nothing loaded the error propagates and fails the micro-batch, which is then retried.
    """
    now = clock()
    cached = _CACHE.get(ref)
    if cached is not None and now - cached.checked_at_s < ref.refresh_s:
        return cached
    try:
        version = resolve(ref)
    except Exception:
        if cached is None:
            raise
        log.warning("cannot resolve %s@%s; scoring on with version %s", ref.name, ref.alias, cached.version)
        cached.checked_at_s = now
        return cached
    if cached is not None and cached.version == version:
        cached.checked_at_s = now
        return cached
    if not _CACHE:
        one_thread_per_worker()
    loaded = Champion(ref.name, ref.alias, version, load(ref, version), now)
    if cached is not None:
        log.info("%s@%s moved from version %s to %s", ref.name, ref.alias, cached.version, version)
    _CACHE[ref] = loaded
    return loaded


def required_history(model: Any) -> int:
    """Readings per asset the model's features need (models.features.required_history)."""
    from models.features import required_history as needed

    return int(needed(model.spec))


def feature_names(model: Any) -> list[str]:
    """The model's feature columns, in the order its regressor reads them."""
    from models.features import feature_names as names

    return list(names(model.spec))


def failure_modes(model: Any, features: pd.DataFrame) -> np.ndarray:
    """Most likely failure mode per row; ``unspecified`` where the model names none.

    Models without ``failure_modes`` (registered before modes existed, or trained on a source
    with a single mode) score every row ``unspecified``, as the risk contract's default does.
    A mode the contract would refuse (empty, too long, NUL) is also ``unspecified``.
    """
    method = getattr(model, "failure_modes", None)
    if method is None:
        return np.full(len(features), UNSPECIFIED_FAILURE_MODE, dtype=object)
    modes = method(features)
    if isinstance(modes, tuple):  # (mode, probability)
        modes = modes[0]
    names = [str(m) if m is not None else "" for m in np.asarray(modes, dtype=object)]
    return np.asarray(
        [
            n if 0 < len(n) <= FAILURE_MODE_MAX_CHARS and "\x00" not in n else UNSPECIFIED_FAILURE_MODE
            for n in names
        ],
        dtype=object,
    )


def top_features_json(effects: pd.DataFrame, top_k: int) -> list[str]:
    """Per row, the ``top_k`` largest effects by size as JSON ``[{"name", "contribution"}, ...]``.

    Largest first, ties in column order (what pandas' stable descending sort gives).
    """
    if top_k <= 0 or effects.empty:
        return ["[]"] * len(effects)
    values = effects.to_numpy(dtype=np.float64)
    best = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :top_k]
    names = [str(c) for c in effects.columns]
    picked = np.round(np.take_along_axis(values, best, axis=1), 3)
    return [
        orjson.dumps(
            [{"name": names[j], "contribution": float(v)} for j, v in zip(row, vals, strict=True)]
        ).decode()
        for row, vals in zip(best.tolist(), picked.tolist(), strict=True)
    ]
