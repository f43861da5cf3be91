"""``WorkOrderApi.dispatch``: a requested order is approved; a 409 (the engine changed the order in
the same instant, or it moved on) leaves it for the next poll instead of ending the run; any other
refusal is still an error. The API answers through ``httpx.MockTransport``; the real API's approve is
exercised by the chain tests (``tests/integration/chain``)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from chain.workorders import WorkOrderApi


def api(tmp_path: Path, status: int, seen: list[str]) -> WorkOrderApi:
    token = tmp_path / "token"
    token.write_text("t0ken\n")

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path} {request.headers['Authorization']}")
        if status == 200:
            return httpx.Response(200, json={"id": 7, "status": "approved"})
        return httpx.Response(status, json={"code": "conflict", "detail": "read it again and retry"})

    return WorkOrderApi("http://api.test", token, transport=httpx.MockTransport(answer))


def test_a_requested_order_is_approved(tmp_path: Path) -> None:
    seen: list[str] = []
    assert api(tmp_path, 200, seen).dispatch({"id": 7, "status": "requested"}) == {
        "id": 7,
        "status": "approved",
    }
    assert seen == ["POST /work-orders/7/approve Bearer t0ken"]


def test_a_conflict_leaves_the_order_for_the_next_poll(tmp_path: Path) -> None:
    seen: list[str] = []
    order = {"id": 7, "status": "requested"}
    assert api(tmp_path, 409, seen).dispatch(order) == order
    assert len(seen) == 1


def test_an_order_past_requested_is_not_sent(tmp_path: Path) -> None:
    seen: list[str] = []
    order = {"id": 7, "status": "scheduled"}
    assert api(tmp_path, 200, seen).dispatch(order) == order
    assert seen == []


@pytest.mark.parametrize("status", [403, 404, 500])
def test_other_refusals_are_errors(tmp_path: Path, status: int) -> None:
    with pytest.raises(httpx.HTTPStatusError):
        api(tmp_path, status, []).dispatch({"id": 7, "status": "requested"})
