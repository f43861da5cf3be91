"""Gateway settings: env names, validation messages, and what they turn into."""

from __future__ import annotations

from pathlib import Path

import pytest

from forewarn.settings import SettingsError, load
from ingest.contract import UnknownSensorPolicy
from ingest.settings import GatewaySettings


def test_settings_come_from_the_environment_and_shape_the_gateway(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FOREWARN_GATEWAY_GATEWAY_ID", "gw-7")
    monkeypatch.setenv("FOREWARN_GATEWAY_SHARE_GROUP", "edge")
    monkeypatch.setenv("FOREWARN_GATEWAY_KNOWN_SENSORS", '["a", "b"]')
    monkeypatch.setenv("FOREWARN_GATEWAY_UNKNOWN_SENSORS", "strip")
    monkeypatch.setenv("FOREWARN_GATEWAY_MAX_AGE_S", "60")
    settings = load(GatewaySettings, tmp_path)
    assert settings.subscriptions() == ["$share/edge/forewarn/+/+/telemetry"]
    assert settings.client_id() == "forewarn-gateway-gw-7"
    assert settings.spool_path(tmp_path) == tmp_path / "ingest" / "spool" / "gw-7.sqlite"
    policy = settings.policy()
    assert (policy.known_sensors, policy.unknown_sensors, policy.max_age_s) == (
        frozenset({"a", "b"}), UnknownSensorPolicy.STRIP, 60.0,
    )  # fmt: skip
    assert settings.api_version() == (3, 9)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FOREWARN_GATEWAY_COMPRESSION_TYPE", "brotli", "must be one of"),
        ("FOREWARN_GATEWAY_SHARE_GROUP", "a/b", "without / + # $"),
        ("FOREWARN_GATEWAY_KAFKA_API_VERSION", "new", "'auto' or a version"),
        ("FOREWARN_GATEWAY_SPOOL_MAX_RECORDS", "0", "greater than 0"),
        ("FOREWARN_GATEWAY_UNKNOWN_SENSORS", "ignore", "accept"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable) as caught:
        load(GatewaySettings, tmp_path)
    assert message in str(caught.value)
