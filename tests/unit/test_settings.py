"""Settings: typed values from FOREWARN_* variables, the generated env file, errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from forewarn.settings import InfluxSettings, KafkaSettings, MqttSettings, SettingsError, StackSettings, load


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FOREWARN_KAFKA_BOOTSTRAP_SERVERS", "broker-a:9092,broker-b:9093")
    monkeypatch.setenv("FOREWARN_KAFKA_TELEMETRY_PARTITIONS", "12")
    kafka = load(KafkaSettings, tmp_path)
    assert kafka.client_config()["bootstrap_servers"] == ["broker-a:9092", "broker-b:9093"]
    assert kafka.topic_partitions()["telemetry"] == 12
    assert kafka.first_server() == ("broker-a", 9092)


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FOREWARN_KAFKA_TELEMETRY_PARTITIONS", "zero")
    with pytest.raises(SettingsError, match="FOREWARN_KAFKA_TELEMETRY_PARTITIONS"):
        load(KafkaSettings, tmp_path)
    monkeypatch.delenv("FOREWARN_KAFKA_TELEMETRY_PARTITIONS")
    monkeypatch.setenv("FOREWARN_KAFKA_BOOTSTRAP_SERVERS", "no-port-here")
    with pytest.raises(SettingsError, match=r"FOREWARN_KAFKA_BOOTSTRAP_SERVERS: .*host:port"):
        load(KafkaSettings, tmp_path)
    monkeypatch.setenv("FOREWARN_INFLUX_URL", "ftp://nope")
    with pytest.raises(SettingsError, match="FOREWARN_INFLUX_URL"):
        load(InfluxSettings, tmp_path)


def test_state_dir_and_sites_are_validated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FOREWARN_STATE_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("FOREWARN_STACK_SITES", '["north", "south"]')
    stack = load(StackSettings)
    assert stack.state_dir == tmp_path / "elsewhere"
    assert stack.sites == ["north", "south"]
    monkeypatch.setenv("FOREWARN_STACK_SITES", '["north", "a/b"]')
    with pytest.raises(SettingsError, match="FOREWARN_STACK_SITES"):
        load(StackSettings)


def test_env_file_supplies_generated_credentials_and_secrets_stay_redacted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("FOREWARN_MQTT_PASSWORD", raising=False)
    monkeypatch.delenv("FOREWARN_MQTT_SITE_PASSWORDS", raising=False)
    (tmp_path / "forewarn.env").write_text(
        "FOREWARN_MQTT_PASSWORD='s3cret-gateway'\n"
        'FOREWARN_MQTT_SITE_PASSWORDS=\'{"site-1": "s3cret-site"}\'\n'
    )
    mqtt = load(MqttSettings, tmp_path)
    assert mqtt.password.get_secret_value() == "s3cret-gateway"
    assert mqtt.site_password("site-1") == "s3cret-site"
    shown = repr(mqtt.redacted())
    assert "s3cret" not in shown
    assert "FOREWARN_MQTT_PASSWORD" in shown
    with pytest.raises(SettingsError, match="no user for site 'site-9'"):
        mqtt.site_password("site-9")


def test_environment_wins_over_env_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "forewarn.env").write_text("FOREWARN_MQTT_PASSWORD='from-file'\n")
    monkeypatch.setenv("FOREWARN_MQTT_PASSWORD", "from-env")
    assert load(MqttSettings, tmp_path).password.get_secret_value() == "from-env"


def test_settings_are_frozen(tmp_path: Path) -> None:
    kafka = load(KafkaSettings, tmp_path)
    with pytest.raises(ValueError, match="frozen"):
        kafka.bootstrap_servers = "elsewhere:9092"  # type: ignore[misc]


def test_a_bad_secret_is_named_never_echoed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pydantic import SecretStr, field_validator
    from pydantic_settings import SettingsConfigDict

    from forewarn.settings import ForewarnSettings

    class Service(ForewarnSettings):
        model_config = SettingsConfigDict(env_prefix="FOREWARN_TESTSVC_")
        token: SecretStr | None = None
        name: str = "x"

        @field_validator("token", "name")
        @classmethod
        def _long(cls, value: SecretStr | str | None) -> SecretStr | str | None:
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if text is not None and len(text) < 5:
                raise ValueError("must have at least 5 characters")
            return value

    monkeypatch.setenv("FOREWARN_TESTSVC_TOKEN", "abc")
    monkeypatch.setenv("FOREWARN_TESTSVC_NAME", "xyz")
    with pytest.raises(SettingsError) as caught:
        load(Service, tmp_path)
    message = str(caught.value)
    assert "FOREWARN_TESTSVC_TOKEN: Value error, must have at least 5 characters;" in message
    assert "'abc'" not in message
    assert "FOREWARN_TESTSVC_NAME: Value error, must have at least 5 characters (got 'xyz')" in message
