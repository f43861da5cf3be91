"""The console's pure pieces: URL queries, snooze choices, parts status, form reading, audit lines."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.console import alert_board as ab
from alerts.console import dispatch, order_forms
from alerts.console.order_detail import available, changes, next_hour
from alerts.console.respond import safe_back, utc_minutes
from alerts.identity.roles import Action, Principal, Role
from alerts.store.tables import WorkOrderPartRow


def test_board_queries_fall_back_to_their_defaults() -> None:
    assert ab.parse_query({}) == ab.BoardQuery()
    bad = ab.parse_query({"severity": "HUGE", "state": "x", "sort": "name", "page": "-3", "size": "99999"})
    assert (bad.severity, bad.state, bad.sort, bad.page, bad.size) == ("", "open", "severity", 1, ab.MAX_SIZE)
    q = ab.parse_query({"site": "s", "severity": "MAJOR", "state": "all", "sort": "rul", "dir": "desc"})
    assert ab.parse_query(q.params()) == q  # a URL the board makes reads back as the same query
    assert q.url(page=2) == "/console/alerts?site=s&severity=MAJOR&state=all&sort=rul&dir=desc&page=2"


@given(
    st.dictionaries(st.sampled_from(["site", "severity", "state", "sort", "dir", "page", "size"]), st.text())
)
def test_any_board_url_reads_as_a_query_that_round_trips(params: dict[str, str]) -> None:
    q = ab.parse_query(params)
    assert 1 <= q.size <= ab.MAX_SIZE
    assert q.page >= 1
    assert ab.parse_query(q.params()) == q


def test_dispatch_queries_round_trip() -> None:
    q = dispatch.parse_query({"status": "waiting_parts", "overdue": "1", "due_before": "2026-02-01",
                              "sort": "due", "dir": "desc", "size": "500"})  # fmt: skip
    assert (q.status, q.overdue, q.due_before, q.sort, q.desc, q.size) == (
        "waiting_parts", True, date(2026, 2, 1), "due", True, 500
    )  # fmt: skip
    assert dispatch.parse_query(q.params()) == q
    assert dispatch.parse_query({"due_before": "someday", "status": "done"}) == dispatch.DispatchQuery()


@pytest.mark.parametrize(
    ("max_h", "last", "count"),
    [(4, 240, 5), (24, 1440, 8), (5.5, 330, 6), (0.1, 6, 1), (10_000, 600_000, len(ab.SNOOZE_STEPS_MIN) + 1)],
)
def test_snooze_choices_stop_at_the_maximum_and_offer_it(max_h: float, last: int, count: int) -> None:
    choices = ab.snooze_choices(max_h)
    assert choices[-1][0] == last
    assert len(choices) == count
    assert all(minutes <= max_h * 60 for minutes, _ in choices)


@pytest.mark.parametrize(
    ("minutes", "label"), [(15, "15 min"), (90, "1 h 30 min"), (120, "2 h"), (1440, "1 d"), (1800, "1 d 6 h"),
                           (1830, "1 d 6 h 30 min"), (10080, "1 w"), (43200, "30 d")],
)  # fmt: skip
def test_duration_labels(minutes: int, label: str) -> None:
    assert ab.duration_label(minutes) == label


def part(sku: str, quantity: int, reserved: int = 0, used: int = 0) -> WorkOrderPartRow:
    return WorkOrderPartRow(sku=sku, quantity=quantity, reserved_qty=reserved, used_qty=used)


@pytest.mark.parametrize(
    ("status", "lines", "kind", "text"),
    [
        ("requested", [], "none", "no parts"),
        ("approved", [part("A", 2), part("B", 1)], "unreserved", "not reserved yet"),
        ("scheduled", [part("A", 2, 2), part("B", 1, 1)], "reserved", "reserved"),
        ("approved", [part("A", 2, 2), part("B", 1)], "partly", "partly reserved (1/2)"),
        ("waiting_parts", [part("A", 2, 2), part("B", 1)], "waiting", "waiting: B"),
        ("completed", [part("A", 2, 0, 2), part("B", 1)], "used", "2 used"),
        ("closed", [part("A", 2)], "used", "none used"),
        ("cancelled", [part("A", 2)], "released", "released"),
    ],
)
def test_parts_status(status: str, lines: list[WorkOrderPartRow], kind: str, text: str) -> None:
    assert dispatch.parts_status(status, lines) == dispatch.PartsStatus(kind, text)


def test_the_outcome_form_reads_into_the_services_outcome() -> None:
    outcome = order_forms.outcome("yes", " bearing ", "95", "pitted", ["A", "B", "C"], ["2", "", "0"])
    assert (outcome.fault_found, outcome.failure_code, outcome.time_on_site_min) == (True, "bearing", 95.0)
    assert dict(outcome.parts_used) == {"A": 2}
    assert order_forms.outcome("no", "", "", "", [], []).failure_code is None


def test_the_failure_time_is_read_as_utc_and_optional() -> None:
    def failed_at(value: str) -> datetime | None:
        return order_forms.outcome("yes", "bearing", "", "", [], [], value).failed_at

    assert failed_at("2026-01-02T08:30") == datetime(2026, 1, 2, 8, 30, tzinfo=UTC)  # naive: UTC
    assert failed_at(" 2026-01-02T08:30+02:00 ") == datetime(2026, 1, 2, 6, 30, tzinfo=UTC)
    assert failed_at("") is None  # the crew cannot tell
    assert failed_at("  ") is None
    assert order_forms.outcome("yes", "bearing", "", "", [], []).failed_at is None  # a form without it
    for bad in ("yesterday", "2026-13-01T08:00", "9999-12-31T23:59-14:00"):
        with pytest.raises(order_forms.FormError, match="Give the failure time as a date and time"):
            failed_at(bad)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("", "", "", "", [], []), "whether a fault"),
        (("no", "", "-1", "", [], []), "between 0 and"),
        (("no", "", "nan", "", [], []), "between 0 and"),
        (("no", "", "ten", "", [], []), "number of minutes"),
        (("no", "", "", "", ["A"], ["-2"]), "whole number"),
        (("no", "", "", "", ["A"], []), "do not match"),
        (("no", "x" * 101, "", "", [], []), "longer than 100"),
        (("no", "", "", "a\x00b", [], []), "NUL"),
    ],
)
def test_a_bad_outcome_form_says_what_to_fix(args: tuple[str, str, str, str, list[str], list[str]],
                                             says: str) -> None:  # fmt: skip
    with pytest.raises(order_forms.FormError, match=says):
        order_forms.outcome(*args)


def test_the_planned_start_is_read_as_utc() -> None:
    assert order_forms.start_at("2026-01-02T08:30") == datetime(2026, 1, 2, 8, 30, tzinfo=UTC)
    assert order_forms.start_at("2026-01-02T08:30+02:00") == datetime(2026, 1, 2, 6, 30, tzinfo=UTC)
    with pytest.raises(order_forms.FormError):
        order_forms.start_at("")
    assert order_forms.technician("") is None
    assert order_forms.technician("7") == 7
    with pytest.raises(order_forms.FormError):
        order_forms.technician("99999999999")


def who(role: Role, technician_id: int | None = None) -> Principal:
    return Principal(1, "p", role, technician_id, "session", "t")


def test_the_actions_offered_follow_the_status_and_the_role() -> None:
    dispatcher = who(Role.DISPATCHER)
    assert available("requested", dispatcher, None) == [Action.APPROVE, Action.CANCEL]
    assert available("waiting_parts", dispatcher, 3) == [Action.SCHEDULE, Action.CANCEL]
    assert available("completed", dispatcher, 3) == [Action.CLOSE]
    assert available("closed", dispatcher, 3) == []
    assert available("scheduled", who(Role.TECHNICIAN, 3), 3) == [Action.START]
    assert available("in_progress", who(Role.TECHNICIAN, 3), 3) == [Action.COMPLETE]
    assert available("in_progress", who(Role.TECHNICIAN, 4), 3) == []
    assert available("requested", who(Role.VIEWER), None) == []


def test_audit_changes_name_what_moved() -> None:
    before = {"status": "approved", "technician_id": None, "updated_at": "1", "version": 1}
    after = {"status": "scheduled", "technician_id": 3, "updated_at": "2", "version": 2}
    assert changes(before, after) == "status: approved → scheduled; technician_id: - → 3"
    assert changes(None, after) == "created"


def test_back_links_stay_in_the_console() -> None:
    assert safe_back("/console/alerts?site=a", "/d") == "/console/alerts?site=a"
    for bad in ("", "https://x/console/", "//x/console/", "/console\\..", "/docs", "/console/a\nb"):
        assert safe_back(bad, "/d") == "/d"


def test_times_are_utc_minutes() -> None:
    assert utc_minutes(datetime(2026, 1, 2, 3, 4, 59, tzinfo=UTC)) == "2026-01-02T03:04Z"
    assert utc_minutes(None) == "-"
    assert next_hour(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)) == "2026-01-02T04:00"
