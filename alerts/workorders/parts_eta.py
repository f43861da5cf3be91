"""When a work order waiting for parts can expect them at its site, as a pure decision.

The crew planner places a waiting-parts order no earlier than ``work_orders.parts_available_at``
and leaves it unplaced (``parts_date_unknown``) without one, so the service sets it whenever an
order falls short (:func:`alerts.workorders.service.schedule`):

* the parts short are expected after the longest supplier lead time among them at the site
  (``part_policies.lead_time_days``): the kit is only whole when its slowest part arrives;
* a short part with no policy at the site makes the date unknown (None): guessing would plan a
  technician for a day the parts may well not be there;
* a date already set and still ahead is kept: the parts were ordered when the order first fell
  short (or a dispatcher entered the supplier's date), so a re-plan or a second scheduling attempt
  must not push it a whole lead time further each time it runs. A date that has passed with the
  parts still short is estimated again from now.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta


def parts_expected_at(
    short: Collection[str],
    lead_time_days: Mapping[str, float],
    *,
    now: datetime,
    known: datetime | None = None,
) -> datetime | None:
    """The date the ``short`` skus are expected at the site, None when it cannot be told.

    Args:
        short: the skus the order is short of (none: the parts are there, ``now``).
        lead_time_days: the site's supplier lead time per sku (a sku absent has no policy).
        now: the time of the scheduling attempt.
        known: the date already on the work order, if any.
    """
    if known is not None and known > now:
        return known
    if any(sku not in lead_time_days for sku in short):
        return None
    return now + timedelta(days=max((lead_time_days[sku] for sku in short), default=0.0))
