"""Kit reservation as a pure decision: reserve everything or wait for parts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Shortage:
    """A part the site does not have enough of."""

    sku: str
    needed: int
    available: int


def shortages(kit: Mapping[str, int], available: Mapping[str, int]) -> list[Shortage]:
    """Every kit line the site's available stock (on hand - reserved) cannot cover."""
    return [
        Shortage(sku, qty, available.get(sku, 0))
        for sku, qty in sorted(kit.items())
        if available.get(sku, 0) < qty
    ]
