"""The few Grafana HTTP API calls ``push`` makes, typed, over grafana-client.

grafana-client's methods are untyped; this adapter keeps ``Any`` at the edge. Errors stay
grafana-client's: ``GrafanaClientError`` (4xx, with ``status_code``) and ``GrafanaServerError``.
"""

from __future__ import annotations

from typing import Any, cast


class GrafanaHttp:
    """Folder, datasource and dashboard calls by uid."""

    def __init__(self, api: Any) -> None:
        self._api = api

    @classmethod
    def connect(cls, url: str, credential: str | tuple[str, str] | None, timeout_s: float) -> GrafanaHttp:
        """A client for ``url`` with a token or (user, password); no request is made yet."""
        from grafana_client.api import GrafanaApi

        return cls(GrafanaApi.from_url(url, credential=credential, timeout=timeout_s))

    def health(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._api.health.check())

    def get_folder(self, uid: str) -> dict[str, Any]:
        return cast(dict[str, Any], self._api.folder.get_folder(uid))

    def create_folder(self, uid: str, title: str) -> None:
        self._api.folder.create_folder(title, uid=uid)

    def rename_folder(self, uid: str, title: str) -> None:
        self._api.folder.update_folder(uid, title=title, overwrite=True)

    def get_datasource(self, uid: str) -> dict[str, Any]:
        return cast(dict[str, Any], self._api.datasource.get_datasource_by_uid(uid))

    def create_datasource(self, datasource: dict[str, Any]) -> None:
        self._api.datasource.create_datasource(datasource)

    def update_datasource(self, uid: str, datasource: dict[str, Any]) -> None:
        self._api.datasource.update_datasource_by_uid(uid, datasource)

    def get_dashboard(self, uid: str) -> dict[str, Any]:
        return cast(dict[str, Any], self._api.dashboard.get_dashboard(uid))

    def save_dashboard(self, payload: dict[str, Any]) -> None:
        self._api.dashboard.update_dashboard(payload)
