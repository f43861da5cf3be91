"""Template variables and the WHERE fragments that use them, shared by the boards."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from dashboards.influxql import tag_values

SITES_FILTER = '"site" =~ /^$site$/'
"""For boards with a multi-select ``site`` (All = ``.*``)."""
ONE_SITE_FILTER = "\"site\" = '$site'"
ONE_ASSET_FILTER = "\"site\" = '$site' AND \"asset_id\" = '$asset'"
"""For the drill-down, where ``site`` and ``asset`` are single values."""


def sites(*, multi: bool) -> dash.QueryVariable:
    """``site``: every site that has scored assets (multi-select with All on fleet-wide boards)."""
    return tag_values(
        "site", "Site", 'SHOW TAG VALUES FROM "risk" WITH KEY = "site"', multi=multi, include_all=multi
    )


def assets() -> dash.QueryVariable:
    """``asset``: the assets of the chosen site."""
    return tag_values(
        "asset", "Asset", 'SHOW TAG VALUES FROM "risk" WITH KEY = "asset_id" WHERE "site" = \'$site\''
    )
