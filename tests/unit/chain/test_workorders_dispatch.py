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


def test_every_request_of_a_user_goes_through_one_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client per request cost the dispatcher an SSL context (~20 ms of CPU) each time."""
    made: list[httpx.Client] = []

    class Counted(httpx.Client):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(**kwargs)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr("chain.workorders.httpx.Client", Counted)
    seen: list[str] = []
    client = api(tmp_path, 200, seen)
    for wid in (7, 8, 9):
        client.dispatch({"id": wid, "status": "requested"})
    client.dispatch({"id": 10, "status": "scheduled"})
    assert len(seen) == 3
    assert len(made) == 1
    client.close()
    assert made[0].is_closed
    client.dispatch({"id": 11, "status": "requested"})
    assert len(made) == 2
    assert len(seen) == 4
