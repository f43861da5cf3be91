"""The work-order service seen from outside, through its REST API: list, and dispatch like an operator.

The demo plays the dispatcher: every new work order is approved, and the crew planner (OR-Tools
CP-SAT, ``POST /plan/crew?apply=true``) gives approved orders a technician and a start within the
technicians' shifts (the kit is reserved, or the order waits for parts). Work orders are read
back with their technician and parts for the summary. It acts as the named user ``DISPATCHER``
with that user's own API token (read from the run's mode-600 token file), so the audit shows who.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

DISPATCHER = "demo-dispatcher"
# The console users a run creates, one per role (name, role); passwords go to the credentials file.
CONSOLE_USERS = (("dispatcher", "dispatcher"), ("technician", "technician"), ("viewer", "viewer"),
                 ("admin", "admin"))  # fmt: skip


@dataclass
class WorkOrderApi:
    """A bearer-token client of ``forewarn api serve``, as one named user.

    The token is read from ``token_file`` at the first request: a run creates the user and its token
    after this client exists.
    """

    base_url: str
    token_file: Path
    timeout_s: float = 10.0
    transport: httpx.BaseTransport | None = None  # tests: an httpx.MockTransport
    _http: httpx.Client | None = field(default=None, init=False, repr=False)

    def _client(self) -> httpx.Client:
        """One client (and its keep-alive connection) for every request of this user.

        A new ``httpx.Client`` builds an SSL context, loading the CA bundle, even for ``http://``:
        about 20 ms of CPU. The run's dispatcher polls every few seconds and approves each new
        order; with a client per request, the end-to-end bench's own process spent a third of its
        CPU there, on the cores the pipeline it measures runs on.
        """
        if self._http is None:
            token = self.token_file.read_text().strip()
            self._http = httpx.Client(
                base_url=self.base_url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=self.timeout_s,
                transport=self.transport,
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        client, offset = self._client(), 0
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
        response = self._client().get("/kpis")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def dispatch(self, work_order: dict[str, Any]) -> dict[str, Any]:
        """requested → approved: the crew planner (``plan``) then gives it a technician and a start.

        A 409 (the alert engine changed the order in the same instant, or it left ``requested``) is
        not an error of the run: the order is returned as it was given, and the next poll reads it
        again (and approves it then if it is still requested).
        """
        if work_order["status"] != "requested":
            return work_order
        response = self._client().post(f"/work-orders/{work_order['id']}/approve", json={})
        if response.status_code == httpx.codes.CONFLICT:
            return work_order
        return _ok(response)

    def plan(self) -> dict[str, Any]:
        """Plan the open work orders with the solver and apply the plan (``POST /plan/crew?apply=true``):
        technicians and starts within shifts, skills, travel and parts dates; kits reserved."""
        timeout = httpx.Timeout(max(self.timeout_s, 120.0))
        return _ok(self._client().post("/plan/crew", params={"apply": "true"}, timeout=timeout))

    def visit(self, work_order: dict[str, Any], outcome: dict[str, Any]) -> dict[str, Any]:
        """scheduled → in progress → completed with ``outcome`` (the CompleteIn body) → closed."""
        client, wid = self._client(), work_order["id"]
        _ok(client.post(f"/work-orders/{wid}/start", json={}))
        _ok(client.post(f"/work-orders/{wid}/complete", json=outcome))
        return _ok(client.post(f"/work-orders/{wid}/close", json={}))


def _ok(response: httpx.Response) -> dict[str, Any]:
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result
