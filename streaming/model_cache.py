"""A Python worker's champion without MLflow's client: the alias asked over MLflow's REST API, and
each loaded version kept on local disk, ready to unpickle.

Spark starts Python workers when a job starts, after a failure, and whenever its worker pool has
been idle for a minute (``PythonWorkerFactory.IDLE_WORKER_TIMEOUT_NS``, fixed in Spark 4.2: a
fleet quiet for a minute). Each new worker loads the champion before it scores a reading.
Through MLflow's client a new worker spent 4.1-4.7 s of CPU before its first score on this machine
(5 Dec 2026, the FD001 champion): importing ``mlflow`` 1.1 s, downloading and loading the pyfunc
2.2 s. Asked over REST and unpickled from this cache, 2.9-3.3 s, most of it the imports any
worker pays (pandas, pyarrow, the step, scikit-learn).

A cached file is the model as ``mlflow.pyfunc`` loaded it, pickled again by a worker of this
machine. Its name hashes what makes it that model and loadable here: the registry, the model's
name, version, run and source, and the Python, NumPy and scikit-learn it was pickled with. A
registry rebuilt with a new version 1, or a new scikit-learn, is another file. The folder is the
job's own (the state folder), like the compiled trees beside it: created private, and a file is
unpickled only if this user owns it and nobody else can write it (a pickle runs code). A file that
does not unpickle is loaded from MLflow again and replaced.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import platform
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from forewarn.settings import mlflow_auth_headers

log = logging.getLogger(__name__)

REST_SCHEMES = ("http://", "https://")
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RegistryError(RuntimeError):
    """The registry did not answer, or answered with an error (its status and body)."""


def over_rest(registry_uri: str) -> bool:
    """Whether the registry is a tracking server this module can ask over HTTP (else: MLflow's client)."""
    return registry_uri.startswith(REST_SCHEMES)


def registry_get(
    registry_uri: str,
    endpoint: str,
    params: Mapping[str, str],
    env: Mapping[str, str],
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """GET ``/api/2.0/mlflow/<endpoint>`` as MLflow's client would: its user (``env``'s
    ``MLFLOW_TRACKING_*``), timeout and retry budget (``MLFLOW_HTTP_REQUEST_*``), and its TLS
    settings from the environment. A refusal (4xx but 429) raises at once; an outage is retried
    with a doubling back-off, then raises."""
    url = f"{registry_uri.rstrip('/')}/api/2.0/mlflow/{endpoint}"
    retries = int(env.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2"))
    timeout_s = float(env.get("MLFLOW_HTTP_REQUEST_TIMEOUT", "120"))
    verify: bool | str = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or (
        os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "false").lower() != "true"
    )
    delay_s = 1.0
    with httpx.Client(
        timeout=timeout_s, headers=mlflow_auth_headers(env), verify=verify, transport=transport
    ) as client:
        for attempt in range(retries + 1):
            try:
                response = client.get(url, params=dict(params))
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    body: dict[str, Any] = response.json()
                    return body
                problem = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code not in _RETRY_STATUSES:
                    raise RegistryError(f"MLflow refused GET {endpoint} {dict(params)}: {problem}")
            if attempt < retries:
                sleep(delay_s)
                delay_s *= 2
    raise RegistryError(f"MLflow at {registry_uri} did not answer GET {endpoint}: {problem}")


def alias_version(registry_uri: str, name: str, alias: str, env: Mapping[str, str]) -> str:
    """The version ``name@alias`` points at."""
    body = registry_get(registry_uri, "registered-models/alias", {"name": name, "alias": alias}, env)
    return str(body["model_version"]["version"])


def version_key(registry_uri: str, name: str, version: str, env: Mapping[str, str]) -> str:
    """The cache file's name for a model version as this machine loads it (see the module's docstring)."""
    found = registry_get(registry_uri, "model-versions/get", {"name": name, "version": version}, env)
    mv = found["model_version"]
    import sklearn

    parts = (
        registry_uri, name, version, mv.get("run_id", ""), mv.get("source", ""),
        str(mv.get("creation_timestamp", "")), platform.python_version(), np.__version__, sklearn.__version__,
    )  # fmt: skip
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def cached(folder: Path | None, key: str, load: Callable[[], Any]) -> Any:
    """The object pickled under ``key`` in ``folder``; else ``load()``'s, pickled there for the next
    worker (written to a temporary file and renamed, so a reader never sees half a file). A folder
    that cannot be written only costs the next worker the slow load (logged)."""
    if folder is None:
        return load()
    path = folder / f"{key}.pkl"
    try:
        with path.open("rb") as f:
            if not _private(os.fstat(f.fileno())):
                raise PermissionError("not owned by this user, or writable by others")
            return pickle.load(f)  # noqa: S301 (this user's own file: the module's docstring)
    except FileNotFoundError:
        pass
    except OSError as exc:  # the folder cannot be read, or the file is not private: load, replace below
        log.warning("model cache %s not used (%s): loading from MLflow", path, exc)
    except Exception as exc:  # a truncated or foreign file: load it again, and replace it below
        log.warning("model cache %s unreadable (%s: %s): loading from MLflow", path, type(exc).__name__, exc)
    obj = load()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{key}.", suffix=".tmp")
    except OSError as exc:
        log.warning("model cache %s not writable (%s): the next worker loads from MLflow", folder, exc)
        return obj
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except Exception as exc:  # a full disk, or an object that does not pickle: not cached
        Path(tmp).unlink(missing_ok=True)
        log.warning("model cache %s not written (%s: %s)", path, type(exc).__name__, exc)
    return obj


def _private(stat: os.stat_result) -> bool:
    """A file this process's user owns and only that user can write."""
    return stat.st_uid == os.getuid() and not stat.st_mode & 0o022
