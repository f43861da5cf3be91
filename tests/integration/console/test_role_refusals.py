"""What each role may not do, refused by the server whatever the page showed, in Debian's chromium.

A viewer sees no action and a post forged with their own session's CSRF token is refused (403); a
technician cannot start or complete another technician's work order; a post without the session's
CSRF token is refused; after logging out, every page leads to the login page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import pytest
from playwright.sync_api import APIResponse, Page, expect

from alerts.console.browser import Chromium
from tests.integration.console.conftest import Console, User

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ACTION_BUTTONS = re.compile(r"^(Acknowledge|Snooze|Approve|Schedule|Start|Complete|Close|Cancel work order)$")


def _csrf(page: Page) -> str:
    """The session's CSRF token, as every page of a logged-in user carries it."""
    return page.locator("input[name=csrf_token]").first.input_value()


def _post(
    user: User, path: str, form: Mapping[str, str | float | bool], headers: dict[str, str] | None = None
) -> APIResponse:
    """A forged form post from ``user``'s browser context (their cookies), redirects not followed."""
    return user.watched.context.request.post(path, form=dict(form), headers=headers or {}, max_redirects=0)


def _status(page: Page, work_order_id: int) -> str:
    page.goto(f"/console/work-orders/{work_order_id}")
    return page.locator("h1 .status").inner_text()


def test_a_viewer_sees_no_action_and_a_forged_post_is_refused(
    console: Console, login: Callable[[str], User]
) -> None:
    story, users = console.story, console.story.users
    wo, alert = story.work_order_id, story.alert_id
    vic = login(users.viewer)
    page = vic.page
    page.goto("/console/alerts")
    expect(page.locator("tbody tr", has_text="pump-101")).to_have_count(1)  # the board is there...
    expect(page.locator("details.act")).to_have_count(0)  # ...without Ack or Snooze
    expect(page.get_by_role("button", name=ACTION_BUTTONS)).to_have_count(0)
    page.goto(f"/console/alerts/{alert}")
    expect(page.get_by_role("button", name=ACTION_BUTTONS)).to_have_count(0)
    page.goto(f"/console/work-orders/{wo}")
    expect(page.get_by_role("button", name=ACTION_BUTTONS)).to_have_count(0)
    expect(page.get_by_text("Nothing you may do on this work order")).to_be_visible()

    csrf = _csrf(page)
    assert _post(vic, f"/console/work-orders/{wo}/approve", {"csrf_token": csrf}).status == 403
    ack = _post(vic, f"/console/alerts/{alert}/ack", {"csrf_token": csrf, "comment": "not mine to ack"})
    assert ack.status == 403
    # the REST API behind the console, with the same session and token, refuses too
    rest = vic.watched.context.request.post(
        f"/work-orders/{wo}/approve", data={}, headers={"X-CSRF-Token": csrf}
    )
    assert rest.status == 403
    assert rest.json()["code"] == "forbidden"

    dana = login(users.dispatcher)
    assert _status(dana.page, wo) == "requested"
    dana.page.goto(f"/console/alerts/{alert}")
    expect(dana.page.locator("h1 .state")).to_have_text("ACTIVE")


def test_a_technician_acts_only_on_their_own_work_orders(
    console: Console, login: Callable[[str], User]
) -> None:
    story, users = console.story, console.story.users
    wo = story.work_order_id
    dana = login(users.dispatcher)
    dana.page.goto(f"/console/work-orders/{wo}")
    csrf = _csrf(dana.page)
    assert _post(dana, f"/console/work-orders/{wo}/approve", {"csrf_token": csrf}).status == 303
    scheduled = _post(dana, f"/console/work-orders/{wo}/schedule",
                      {"csrf_token": csrf, "start_at": "2030-01-02T09:30",
                       "technician_id": str(story.technician_id)})  # fmt: skip
    assert scheduled.status == 303
    assert _status(dana.page, wo) == "scheduled"

    tess = login(users.other_technician)  # another technician: not her work order
    tess.page.goto(f"/console/work-orders/{wo}")
    expect(tess.page.get_by_role("button", name=ACTION_BUTTONS)).to_have_count(0)
    tess_csrf = _csrf(tess.page)
    assert _post(tess, f"/console/work-orders/{wo}/start", {"csrf_token": tess_csrf}).status == 403
    assert _status(dana.page, wo) == "scheduled"

    tom = login(users.technician)  # his: he starts it
    tom.page.goto(f"/console/work-orders/{wo}")
    tom.page.get_by_role("button", name="Start").click()
    expect(tom.page.locator("h1 .status")).to_have_text("in progress")

    outcome = {"csrf_token": tess_csrf, "fault_found": "yes", "failure_code": "bearing_wear",
               "time_on_site_min": "30", "notes": "not my job"}  # fmt: skip
    assert _post(tess, f"/console/work-orders/{wo}/complete", outcome).status == 403
    assert _status(dana.page, wo) == "in progress"


def test_a_post_without_the_sessions_csrf_token_is_refused(
    console: Console, login: Callable[[str], User]
) -> None:
    story, users = console.story, console.story.users
    wo, alert = story.work_order_id, story.alert_id
    dana = login(users.dispatcher)
    approve = f"/console/work-orders/{wo}/approve"
    assert _post(dana, approve, {}).status == 403
    assert _post(dana, approve, {"csrf_token": "forged-" + "x" * 40}).status == 403
    assert _post(dana, f"/console/alerts/{alert}/ack", {"comment": "no token"}).status == 403
    tom = login(users.technician)  # a valid token, but another session's
    dana.page.goto(f"/console/work-orders/{wo}")
    assert _post(dana, approve, {"csrf_token": _csrf(tom.page)}).status == 403
    assert _status(dana.page, wo) == "requested"
    assert _post(dana, approve, {"csrf_token": _csrf(dana.page)}).status == 303  # the real one works
    assert _status(dana.page, wo) == "approved"


def test_logged_out_every_page_leads_to_the_login(
    console: Console, login: Callable[[str], User], browser: Chromium
) -> None:
    story, users = console.story, console.story.users
    dana = login(users.dispatcher)
    page = dana.page
    page.goto("/console/work-orders")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/console/login"))
    for path in ("/console/alerts", f"/console/work-orders/{story.work_order_id}", "/console/kpis",
                 "/console/fleet", "/console/pipeline", "/console/assets/pump-101"):  # fmt: skip
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/console/login\?next="))
        expect(page.locator("input[name=password]")).to_be_visible()
    refused = _post(dana, f"/console/work-orders/{story.work_order_id}/approve", {"csrf_token": "x"})
    assert refused.status == 303
    assert refused.headers["location"].startswith("/console/login?next=")
    assert _status(login(users.dispatcher).page, story.work_order_id) == "requested"

    stranger = browser.context(console.base_url)  # never logged in
    try:
        page = stranger.context.new_page()
        page.goto("/console/alerts")
        expect(page).to_have_url(re.compile(r"/console/login\?next=/console/alerts$"))
        page.fill("input[name=username]", users.dispatcher)
        page.fill("input[name=password]", "wrong-password-123")
        page.press("input[name=password]", "Enter")
        expect(page.get_by_role("alert")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/console/login"))
    finally:
        stranger.context.close()
