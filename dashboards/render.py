"""Turn the board builders into Grafana dashboard JSON: deterministic, sorted, with stable panel ids.

Two builds of the same code give byte-identical files, so a diff of the generated JSON is a review of
what changed on the boards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards.registry import BOARDS

SCHEMA_VERSION = 39
"""Grafana's dashboard JSON schema version the SDK's models follow (Grafana 10/11)."""


def to_json(board: dash.Dashboard) -> dict[str, Any]:
    """One board as plain JSON data, panels numbered 1.. in layout order (rows included)."""
    doc: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    doc["id"] = None
    doc["schemaVersion"] = SCHEMA_VERSION
    for number, panel in enumerate(iter_panels(doc), start=1):
        panel["id"] = number
    return doc


def iter_panels(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a board JSON, rows and the panels collapsed inside rows included."""
    for panel in doc.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dumps(doc: dict[str, Any]) -> str:
    """The canonical text of a board: keys sorted, two-space indent, UTF-8, trailing newline."""
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def build_all() -> dict[str, dict[str, Any]]:
    """uid → board JSON for every registered board; a builder whose uid drifted is an error."""
    boards = {}
    for uid, builder in BOARDS.items():
        doc = to_json(builder())
        if doc.get("uid") != uid:
            raise ValueError(f"board registered as {uid!r} builds with uid {doc.get('uid')!r}")
        boards[uid] = doc
    return boards
