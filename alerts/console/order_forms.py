"""The work-order page's forms read into what ``alerts.workorders.service`` takes, or a refusal.

Pure functions over the submitted text: a value the service can use, or :class:`FormError` with a
sentence for the person (the page shows it with 422). Limits are the REST API's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from alerts.workorders.service import Outcome

MAX_CODE = 100  # a SKU or failure code
MAX_NOTES = 10_000
MAX_REASON = 2000
MAX_QTY = 10_000
MAX_MINUTES = 100_000.0


class FormError(ValueError):
    """A form value the page refuses; the message says what to fix."""


def _text(value: str, what: str, limit: int, *, required: bool = False) -> str:
    if required and not value.strip():
        raise FormError(f"{what} is required.")
    if len(value) > limit:
        raise FormError(f"{what} is longer than {limit} characters.")
    if "\x00" in value:
        raise FormError(f"{what} contains a NUL character.")
    return value


def technician(value: str) -> int | None:
    """The technician chosen (None: let the service pick the assigned one or the best suggestion)."""
    if not value:
        return None
    if not value.isdigit() or not 0 < int(value) <= 2_147_483_647:
        raise FormError("Choose a technician from the list.")
    return int(value)


def _utc(value: str, what: str) -> datetime:
    """A ``datetime-local`` value (``2026-01-02T08:30``) read as UTC, as the page says; an offset
    given is honoured."""
    try:
        parsed = datetime.fromisoformat(value.strip())
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # not a time; an offset past year 1 or 9999
        raise FormError(f"Give {what} as a date and time (UTC), e.g. 2026-01-02T08:30.") from None


def start_at(value: str) -> datetime:
    """The planned start (required), read as UTC."""
    return _utc(value, "the planned start")


def fault_time(value: str) -> datetime | None:
    """When the fault happened, read as UTC (blank: the crew cannot tell).

    Only the form is checked here; whether the time fits the work order (a found fault, not after
    the completion, not long before the order) is the service's rule (``service.failure_time``).
    """
    if not value.strip():
        return None
    return _utc(value, "the failure time")


def reason(value: str) -> str:
    """A cancellation's reason (required)."""
    return _text(value, "A reason", MAX_REASON, required=True)


def outcome(
    fault_found: str,
    failure_code: str,
    time_on_site_min: str,
    notes: str,
    part_sku: Sequence[str],
    part_used: Sequence[str],
    failed_at: str = "",
) -> Outcome:
    """The completion form as the service's :class:`Outcome` (a blank quantity means none used, a
    blank failure time none reported)."""
    if fault_found not in ("yes", "no"):
        raise FormError("Say whether a fault was found.")
    code = _text(failure_code.strip(), "The failure code", MAX_CODE) or None
    minutes: float | None = None
    if time_on_site_min.strip():
        try:
            minutes = float(time_on_site_min)
        except ValueError:
            raise FormError("Time on site is a number of minutes.") from None
        if not math.isfinite(minutes) or not 0 <= minutes <= MAX_MINUTES:
            raise FormError(f"Time on site is between 0 and {MAX_MINUTES:.0f} minutes.")
    if len(part_sku) != len(part_used) or len(part_sku) > 1000:
        raise FormError("The parts lines do not match; reload the page.")
    used: dict[str, int] = {}
    for sku, qty in zip(part_sku, part_used, strict=True):
        _text(sku, "A part's SKU", MAX_CODE, required=True)
        if not qty.strip():
            continue
        if not qty.strip().isdigit() or int(qty) > MAX_QTY:
            raise FormError(f"Parts used of {sku} is a whole number from 0 to {MAX_QTY}.")
        if int(qty):
            used[sku] = int(qty)
    return Outcome(
        fault_found=fault_found == "yes",
        failure_code=code,
        notes=_text(notes, "Notes", MAX_NOTES),
        parts_used=used,
        time_on_site_min=minutes,
        failed_at=fault_time(failed_at),
    )
