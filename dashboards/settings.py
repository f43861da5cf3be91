"""Settings of the dashboards component: which Grafana to push to, and where the boards go."""

from __future__ import annotations

from pydantic import PositiveFloat, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from forewarn.settings import ForewarnSettings, http_url


class GrafanaSettings(ForewarnSettings):
    """A Grafana server reached over its HTTP API (``forewarn dashboards push``)."""

    model_config = SettingsConfigDict(env_prefix="FOREWARN_GRAFANA_")

    url: str = "http://127.0.0.1:3000"
    token: SecretStr | None = None
    """A service-account token (preferred); else ``username``/``password`` basic auth."""
    username: str | None = None
    password: SecretStr | None = None
    folder_uid: str = "forewarn"
    folder_title: str = "forewarn"
    timeout_s: PositiveFloat = 10.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return http_url(value)

    @field_validator("folder_uid")
    @classmethod
    def _folder_uid(cls, value: str) -> str:
        if not value or len(value) > 40 or not all(ch.isalnum() or ch in "-_" for ch in value):
            raise ValueError(f"must be 1-40 letters, digits, - or _ (a Grafana uid), got {value!r}")
        return value
