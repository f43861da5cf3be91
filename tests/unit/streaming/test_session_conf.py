"""The state store setting (FOREWARN_SPARK_STATE_STORE) becomes the session's Spark SQL settings.

The real behaviour (a stateful query on the RocksDB provider writing changelog files) is
``tests/integration/streaming/test_state_store.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from forewarn.settings import SettingsError, SparkSettings, load
from streaming.session import ROCKSDB_PROVIDER, java_options_conf, state_store_conf


def test_default_is_sparks_own_provider(tmp_path: Path) -> None:
    settings = load(SparkSettings, tmp_path)
    assert settings.state_store == "hdfs"
    assert state_store_conf(settings) == {}


def test_rocksdb_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FOREWARN_SPARK_STATE_STORE", "rocksdb")
    conf = state_store_conf(load(SparkSettings, tmp_path))
    assert conf == {
        "spark.sql.streaming.stateStore.providerClass": ROCKSDB_PROVIDER,
        "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
    }


def test_unknown_provider_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FOREWARN_SPARK_STATE_STORE", "memory")
    with pytest.raises(SettingsError, match="FOREWARN_SPARK_STATE_STORE"):
        load(SparkSettings, tmp_path)


def test_java_options_reach_driver_and_executors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FOREWARN_SPARK_JAVA_OPTIONS", " -XX:+UseSerialGC ")
    conf = java_options_conf(load(SparkSettings, tmp_path))
    assert conf == {
        "spark.driver.extraJavaOptions": "-XX:+UseSerialGC",
        "spark.executor.extraJavaOptions": "-XX:+UseSerialGC",
    }


def test_empty_java_options_leave_the_jvm_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FOREWARN_SPARK_JAVA_OPTIONS", "")
    assert java_options_conf(load(SparkSettings, tmp_path)) == {}


def test_default_java_options_compile_with_c1_alone(tmp_path: Path) -> None:
    conf = java_options_conf(load(SparkSettings, tmp_path))
    assert "-XX:TieredStopAtLevel=1" in conf["spark.driver.extraJavaOptions"].split()
    assert "-XX:TieredStopAtLevel=1" in conf["spark.executor.extraJavaOptions"].split()
