"""Provision the datasource, the folder and every board through Grafana's HTTP API, idempotently.

Run it twice and the second run changes nothing: the folder and datasource are found by uid, and a
board whose JSON already matches what Grafana holds (ignoring Grafana's own ``id``/``version``) is
left alone instead of getting a new version. Uids are fixed in code, so links survive a re-push.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from grafana_client.client import GrafanaClientError

from dashboards.grafana_http import GrafanaHttp

_GRAFANA_OWNED = ("id", "version")
PUSH_MESSAGE = "forewarn dashboards push"


class Outcome(StrEnum):
    """What a push did to one object."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass
class PushReport:
    """Per object (``folder:<uid>``, ``datasource:<uid>``, ``dashboard:<uid>``): what happened."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def changed(self) -> list[str]:
        return [name for name, outcome in self.outcomes.items() if outcome is not Outcome.UNCHANGED]


class PushError(RuntimeError):
    """Grafana refused something; the message names the object and Grafana's answer."""


def _missing(exc: GrafanaClientError) -> bool:
    return bool(exc.status_code == 404)


def _comparable(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in _GRAFANA_OWNED}


def ensure_folder(api: GrafanaHttp, uid: str, title: str) -> Outcome:
    """The folder ``uid`` exists with ``title``."""
    try:
        current = api.get_folder(uid)
    except GrafanaClientError as exc:
        if not _missing(exc):
            raise PushError(f"folder {uid}: {exc.message}") from exc
        api.create_folder(uid, title)
        return Outcome.CREATED
    if current.get("title") == title:
        return Outcome.UNCHANGED
    api.rename_folder(uid, title)
    return Outcome.UPDATED


def ensure_datasource(api: GrafanaHttp, datasource: Mapping[str, Any]) -> Outcome:
    """The datasource with ``datasource['uid']`` exists with these settings."""
    uid = str(datasource["uid"])
    try:
        current = api.get_datasource(uid)
    except GrafanaClientError as exc:
        if not _missing(exc):
            raise PushError(f"datasource {uid}: {exc.message}") from exc
        api.create_datasource(dict(datasource))
        return Outcome.CREATED
    visible = {k: v for k, v in datasource.items() if k != "secureJsonData"}
    if all(current.get(k) == v for k, v in visible.items()) and "secureJsonData" not in datasource:
        return Outcome.UNCHANGED
    api.update_datasource(uid, dict(datasource))
    return Outcome.UPDATED


def ensure_dashboard(api: GrafanaHttp, board: Mapping[str, Any], folder_uid: str) -> Outcome:
    """The board (by its uid) is in ``folder_uid`` with exactly this JSON."""
    uid = str(board["uid"])
    existed = True
    try:
        current = api.get_dashboard(uid)
    except GrafanaClientError as exc:
        if not _missing(exc):
            raise PushError(f"dashboard {uid}: {exc.message}") from exc
        existed = False
    else:
        same_folder = (current.get("meta") or {}).get("folderUid") == folder_uid
        if same_folder and _comparable(current.get("dashboard") or {}) == _comparable(board):
            return Outcome.UNCHANGED
    payload = {
        "dashboard": {**board, "id": None},
        "folderUid": folder_uid,
        "overwrite": True,
        "message": PUSH_MESSAGE,
    }
    try:
        api.save_dashboard(payload)
    except GrafanaClientError as exc:
        raise PushError(f"dashboard {uid}: {exc.message}") from exc
    return Outcome.UPDATED if existed else Outcome.CREATED


def push(
    api: GrafanaHttp,
    boards: Mapping[str, Mapping[str, Any]],
    *,
    folder_uid: str,
    folder_title: str,
    datasource: Mapping[str, Any] | None,
) -> PushReport:
    """Folder, then datasource, then every board; stops at the first refusal (PushError)."""
    report = PushReport()
    report.outcomes[f"folder:{folder_uid}"] = ensure_folder(api, folder_uid, folder_title)
    if datasource is not None:
        report.outcomes[f"datasource:{datasource['uid']}"] = ensure_datasource(api, datasource)
    for uid, board in boards.items():
        report.outcomes[f"dashboard:{uid}"] = ensure_dashboard(api, board, folder_uid)
    return report
