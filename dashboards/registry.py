"""Every board, by uid, in the order they are built and listed."""

from __future__ import annotations

from collections.abc import Callable

from grafana_foundation_sdk.builders import dashboard as dash

from dashboards.boards import asset, fleet, operations, pipeline_health, reliability, service_kpis

BOARDS: dict[str, Callable[[], dash.Dashboard]] = {
    operations.UID: operations.board,
    fleet.UID: fleet.board,
    asset.UID: asset.board,
    reliability.UID: reliability.board,
    service_kpis.UID: service_kpis.board,
    pipeline_health.UID: pipeline_health.board,
}
"""uid → builder function. A uid never changes once pushed: Grafana links and bookmarks use it."""
