"""streaming.model_cache without a registry: the disk cache's rules, and the REST client's retries.

The same client against the real MLflow server (answers, refusals, the job's workers loading
through the cache): tests/integration/streaming/test_model_cache.py.
"""

from __future__ import annotations

import base64
import os
import pickle
import stat
from pathlib import Path

import httpx
import pytest

from forewarn.settings import MlflowSettings, mlflow_auth_headers
from streaming.model_cache import RegistryError, cached, registry_get


class Loads:
    """A slow load, counted."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, list[float]]:
        self.calls += 1
        return {"weights": [0.5, 1.5], "call": [float(self.calls)]}


def test_a_version_is_loaded_once_per_machine_then_unpickled(tmp_path: Path) -> None:
    load = Loads()
    first = cached(tmp_path, "k1", load)
    again = cached(tmp_path, "k1", load)
    assert load.calls == 1
    assert again == first
    assert [p.name for p in tmp_path.iterdir()] == ["k1.pkl"], "no temporary file left beside it"
    assert cached(tmp_path, "k2", load)["call"] == [2.0], "another key is another load"


def test_a_truncated_file_is_loaded_again_and_replaced(tmp_path: Path) -> None:
    load = Loads()
    good = pickle.dumps(cached(tmp_path, "k", load))
    (tmp_path / "k.pkl").write_bytes(good[: len(good) // 2])
    assert cached(tmp_path, "k", load)["call"] == [2.0]
    assert pickle.loads((tmp_path / "k.pkl").read_bytes())["call"] == [2.0]  # noqa: S301


def test_a_file_others_could_have_written_is_not_unpickled(tmp_path: Path) -> None:
    load = Loads()
    cached(tmp_path, "k", load)
    assert stat.S_IMODE((tmp_path / "k.pkl").stat().st_mode) == 0o600
    (tmp_path / "k.pkl").chmod(0o666)  # anyone could have put a pickle (code) there
    assert cached(tmp_path, "k", load)["call"] == [2.0]
    assert stat.S_IMODE((tmp_path / "k.pkl").stat().st_mode) == 0o600, "replaced by a private file"
    if os.getuid() == 0:  # another user's file, however private
        os.chown(tmp_path / "k.pkl", 4242, -1)
        assert cached(tmp_path, "k", load)["call"] == [3.0]
    models = tmp_path / "new" / "models"
    cached(models, "k", load)
    assert stat.S_IMODE(models.stat().st_mode) == 0o700, "a folder it creates is private"


def test_a_folder_that_cannot_be_written_still_gives_the_model(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    load = Loads()
    assert cached(blocked / "models", "k", load)["weights"] == [0.5, 1.5]
    assert cached(None, "k", load)["call"] == [2.0], "no folder: every call loads"


def test_an_object_that_does_not_pickle_is_returned_and_not_cached(tmp_path: Path) -> None:
    assert cached(tmp_path, "k", lambda: lambda: 1)() == 1
    assert list(tmp_path.iterdir()) == []


def transport(answers: list[int], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = answers.pop(0)
        return httpx.Response(status, json={"model_version": {"version": "7"}} if status == 200 else {})

    return httpx.MockTransport(handle)


def test_an_outage_is_retried_with_a_doubling_back_off() -> None:
    seen: list[httpx.Request] = []
    slept: list[float] = []
    env = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2"}
    got = registry_get("http://r", "registered-models/alias", {"name": "m", "alias": "champion"}, env,
                       sleep=slept.append, transport=transport([503, 429, 200], seen))  # fmt: skip
    assert got["model_version"]["version"] == "7"
    assert slept == [1.0, 2.0]
    assert seen[0].url.path == "/api/2.0/mlflow/registered-models/alias"
    assert dict(seen[0].url.params) == {"name": "m", "alias": "champion"}


def test_an_outage_longer_than_the_retries_raises() -> None:
    with pytest.raises(RegistryError, match="did not answer"):
        registry_get("http://r", "x", {}, {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1"}, sleep=lambda _: None,
                     transport=transport([502, 502], []))  # fmt: skip


def test_a_refusal_raises_at_once() -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(RegistryError, match="HTTP 404"):
        registry_get("http://r", "x", {}, {}, sleep=lambda _: None, transport=transport([404, 200], seen))
    assert len(seen) == 1


def test_auth_headers_are_what_mlflows_client_sends() -> None:
    user = MlflowSettings(username="forewarn-reader", password="p:w", token="t")  # type: ignore[arg-type]
    assert user.auth_headers() == {
        "Authorization": "Basic " + base64.b64encode(b"forewarn-reader:p:w").decode()
    }
    assert mlflow_auth_headers({"MLFLOW_TRACKING_TOKEN": "t"}) == {"Authorization": "Bearer t"}
    assert mlflow_auth_headers({"MLFLOW_TRACKING_USERNAME": "u"}) == {}
