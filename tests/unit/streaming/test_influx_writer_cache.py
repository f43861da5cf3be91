"""The InfluxDB sink keeps one writer per Python worker and settings (a new HTTP client per
partition built an SSL context each time); settings that differ, secrets included, never share one."""

from __future__ import annotations

from pydantic import SecretStr

from forewarn.settings import InfluxSettings
from streaming.sinks import _writer


def test_same_settings_reuse_one_writer_and_other_secrets_get_their_own() -> None:
    base = InfluxSettings(url="http://127.0.0.1:1", database="cache_test", password=SecretStr("a"))
    same = InfluxSettings(url="http://127.0.0.1:1", database="cache_test", password=SecretStr("a"))
    other_secret = base.model_copy(update={"password": SecretStr("b")})
    other_database = base.model_copy(update={"database": "cache_test_2"})

    first = _writer(base, 100, 1.0)
    assert _writer(same, 100, 1.0) is first
    assert _writer(other_secret, 100, 1.0) is not first
    assert _writer(other_database, 100, 1.0) is not first
    assert _writer(other_database, 100, 1.0).database == "cache_test_2"
    assert _writer(base, 50, 1.0) is not first  # batch size and retry budget are part of the key
