"""The work-order service seen from outside, through its REST API: list, and dispatch like an operator.

The demo plays the dispatcher: every new work order is approved and scheduled with the technician
the service suggests (the kit is reserved, or the order waits for parts). Work orders are read
back with their technician and parts for the summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

DISPATCHER = "demo-dispatcher"


@dataclass
class WorkOrderApi:
    """A bearer-token client of ``forewarn api serve``."""

    base_url: str
    token: str
    timeout_s: float = 10.0

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=self.timeout_s
        )

    def _pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        with self._client() as client:
            offset = 0
            while True:
                response = client.get(path, params={**params, "limit": 500, "offset": offset})
                response.raise_for_status()
                page = response.json()
                yield from page["items"]
                offset += len(page["items"])
                if not page["items"] or offset >= page["total"]:
                    return

    def work_orders(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self._pages("/work-orders", **filters))

    def alerts(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self._pages("/alerts", **filters))

    def technicians(self) -> dict[int, str]:
        return {t["id"]: t["name"] for t in self._pages("/technicians")}

    def kpis(self) -> dict[str, Any]:
        with self._client() as client:
            response = client.get("/kpis")
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result

    def dispatch(self, work_order: dict[str, Any]) -> dict[str, Any]:
        """requested → approved → scheduled with the suggested technician (or waiting_parts)."""
        with self._client() as client:
            wid = work_order["id"]
            current = work_order
            if current["status"] == "requested":
                current = _ok(client.post(f"/work-orders/{wid}/approve", json={"by": DISPATCHER}))
            if current["status"] == "approved":
                current = _ok(client.post(f"/work-orders/{wid}/schedule", json={"by": DISPATCHER}))
            return current


def _ok(response: httpx.Response) -> dict[str, Any]:
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result
