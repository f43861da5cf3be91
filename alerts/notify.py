"""Webhook notifications of alert changes, rate-limited per asset.

A suppressed or failed notification is counted, never silent: the change itself is stored and on the
``alerts`` topic either way, so the notification is a nudge, not the record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import httpx

from alerts.config import RuleConfig
from alerts.state import AlertChange, event_from_change
from forewarn.contracts.alert import ChangeKind

log = logging.getLogger(__name__)

NOTIFIED_CHANGES = frozenset(
    {
        ChangeKind.RAISED,
        ChangeKind.ESCALATED,
        ChangeKind.SEVERITY_CHANGED,
        ChangeKind.UNSNOOZED,
        ChangeKind.CLEARED,
    }
)


def allowed(last_sent: Mapping[str, datetime], asset_id: str, now: datetime, min_interval_s: float) -> bool:
    """Whether ``asset_id`` may be notified at ``now`` (at most once per ``min_interval_s``)."""
    last = last_sent.get(asset_id)
    return last is None or (now - last).total_seconds() >= min_interval_s


@dataclass
class NotifyStats:
    """What happened to notifications so far."""

    sent: int = 0
    suppressed: int = 0
    failed: int = 0
    no_target: int = 0


class WebhookNotifier:
    """POSTs each notified change as the ``alerts`` event JSON to the tier's webhook (or the default)."""

    def __init__(
        self,
        rules: RuleConfig,
        *,
        default_url: str | None,
        min_interval_s: float,
        timeout_s: float,
        client: httpx.Client | None = None,
    ) -> None:
        self._rules = rules
        self._default_url = default_url
        self._min_interval_s = min_interval_s
        self._client = client or httpx.Client(timeout=timeout_s)
        self._last_sent: dict[str, datetime] = {}
        self.stats = NotifyStats()

    def _target(self, change: AlertChange) -> str | None:
        tiers = self._rules.tiers
        tier = tiers[min(change.alert.escalation_tier, len(tiers) - 1)]
        return tier.webhook_url or self._default_url

    def notify(self, changes: Iterable[AlertChange], now: datetime) -> None:
        """Send what should be sent now; count the rest."""
        for change in changes:
            if change.kind not in NOTIFIED_CHANGES:
                continue
            url = self._target(change)
            if url is None:
                self.stats.no_target += 1
                continue
            asset = change.alert.asset_id
            if not allowed(self._last_sent, asset, now, self._min_interval_s):
                self.stats.suppressed += 1
                continue
            self._last_sent[asset] = now
            try:
                response = self._client.post(
                    url,
                    content=event_from_change(change).encode(),
                    headers={"Content-Type": "application/json"},
                )
                response.raise_for_status()
                self.stats.sent += 1
            except httpx.HTTPError as exc:
                self.stats.failed += 1
                log.warning("webhook %s for alert %s failed: %s", url, change.alert.alert_id, exc)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()
