"""The asset register's rules: every asset belongs to one site.

Pure functions, no I/O (the store is :mod:`ingest.asset_store`, the gateway's cache
:mod:`ingest.asset_gate`). The MQTT ACL already binds a site's user to ``forewarn/<site>/…``; the
register binds each asset id to one site, so a site cannot speak for another site's asset (a false
alert on its pump, or a high ``seq`` that makes the real readings duplicates downstream, where Kafka
keys and Spark groups by ``asset_id`` alone).

For each reading the gateway asks :func:`judge`::

    owner of asset_id in the register   verdict
    the reading's (topic's) site         ACCEPT
    another site                         FOREIGN   → dead letter ``foreign_asset``
    none                                 UNKNOWN   → the policy: register on first sight, or ``unknown_asset``
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from forewarn.contracts.telemetry import name_problem

FIRST_SIGHT = "gateway:first-sight"
"""``created_by`` of an asset the gateway registered to the site that first published it."""
MAX_TYPE_CHARS = 64


class Verdict(StrEnum):
    """What the register says about one reading's (site, asset)."""

    ACCEPT = "accept"
    """The asset is registered to the publishing site."""
    FOREIGN = "foreign"
    """The asset is registered to another site."""
    UNKNOWN = "unknown"
    """The asset is not registered."""


class UnknownAssetPolicy(StrEnum):
    """What the gateway does with a reading of an asset the register does not know."""

    REGISTER = "register"
    """Register it to the publishing site on first sight and forward (the default: a new pump
    reports without a manual step; the register still stops any other site from taking it)."""
    DEAD_LETTER = "dead_letter"
    """Dead-letter it with ``unknown_asset``: assets must be registered before they report."""


@dataclass(frozen=True, slots=True)
class Asset:
    """One entry of the register.

    Attributes:
        asset_id: the id readings carry (and the MQTT topic names).
        site: the one site whose readings of it are accepted.
        asset_type: what it is (``pump``, ``turbofan``…); None when registered on first sight.
        parent_id: the asset it is part of (a hierarchy: station → pump), on the same site.
        created_at: when it was registered (timezone-aware UTC).
        created_by: who registered it: ``simulator``, ``replay``, :data:`FIRST_SIGHT`, ``cli:<user>``,
            ``api:<user>``.
    """

    asset_id: str
    site: str
    asset_type: str | None
    parent_id: str | None
    created_at: datetime
    created_by: str


def judge(site: str, asset_id: str, owners: Mapping[str, str]) -> Verdict:
    """The verdict for a reading of ``asset_id`` published by ``site`` (``owners``: asset → site)."""
    owner = owners.get(asset_id)
    if owner is None:
        return Verdict.UNKNOWN
    return Verdict.ACCEPT if owner == site else Verdict.FOREIGN


def judge_all(pairs: Iterable[tuple[str, str]], owners: Mapping[str, str]) -> list[Verdict]:
    """:func:`judge` for each (site, asset_id) of a batch, in order."""
    return [judge(site, asset_id, owners) for site, asset_id in pairs]


def first_sight(pairs: Iterable[tuple[str, str]], owners: Mapping[str, str]) -> dict[str, str]:
    """The registrations a batch asks for under ``register``: each unknown asset → the site that
    published it first in the batch (arrival order decides within one gateway; between gateways the
    database's unique key does)."""
    claims: dict[str, str] = {}
    for site, asset_id in pairs:
        if asset_id not in owners and asset_id not in claims:
            claims[asset_id] = site
    return claims


def name_error(what: str, value: str) -> str | None:
    """Why ``value`` cannot be a site or asset id (the telemetry contract's name rule, and a topic
    level), or None. The register only holds names a reading could carry."""
    problem = name_problem(value)
    if problem is not None:
        return f"{what} {value[:40]!r} {problem}"
    if any(ch in value for ch in "/+#") or value.startswith("$"):
        return f"{what} {value[:40]!r} cannot be an MQTT topic level (no / + # or leading $)"
    return None


def type_error(asset_type: str | None) -> str | None:
    """Why ``asset_type`` is not a type name, or None."""
    if asset_type is None:
        return None
    if not asset_type or len(asset_type) > MAX_TYPE_CHARS or not asset_type.isprintable():
        return f"type must be 1 to {MAX_TYPE_CHARS} printable characters"
    return None


def parent_error(
    asset_id: str, site: str, parent_id: str | None, register: Mapping[str, Asset]
) -> str | None:
    """Why ``parent_id`` cannot be ``asset_id``'s parent on ``site``, or None.

    The parent must be registered, on the same site (a site's assets form its own tree), and not
    ``asset_id`` itself nor below it (no cycle). ``register`` holds at least the parent's ancestors.
    """
    if parent_id is None:
        return None
    seen = {asset_id}
    node: str | None = parent_id
    while node is not None:
        if node in seen:
            return f"parent {parent_id!r} would make a cycle through {asset_id!r}"
        entry = register.get(node)
        if entry is None:
            return f"parent {node!r} is not registered"
        if node == parent_id and entry.site != site:
            return f"parent {parent_id!r} belongs to site {entry.site!r}, not {site!r}"
        seen.add(node)
        node = entry.parent_id
    return None
