"""Webhook notifications to a real loopback HTTP server: tiers, per-asset rate limit, failures counted."""

from __future__ import annotations

from alerts.config import RuleConfig, Tier
from alerts.notify import WebhookNotifier, allowed
from alerts.rules import tick
from tests.unit.alerts.helpers import at, run, series
from tests.unit.alerts.webhook_server import webhook_server


def test_allowed_is_per_asset_and_interval() -> None:
    last = {"pump-1": at(0)}
    assert not allowed(last, "pump-1", at(59), 60)
    assert allowed(last, "pump-1", at(60), 60)
    assert allowed(last, "pump-2", at(1), 60)


def test_notifications_go_to_tier_hooks_and_are_rate_limited_per_asset() -> None:
    with webhook_server() as (url, received):
        rules = RuleConfig(
            persistence_s=0,
            clear_s=0,
            cooldown_s=0,
            stale_after_s=None,
            ack_timeout_s=300,
            tiers=(
                Tier(name="on-call", webhook_url=f"{url}/oncall"),
                Tier(name="boss", webhook_url=f"{url}/boss"),
            ),
        )
        notifier = WebhookNotifier(rules, default_url=None, min_interval_s=120, timeout_s=5)
        # pump-1 raises at t=0, clears at t=60, raises again at t=120; pump-2 raises at t=0
        records = series([0.9, 0.1, 0.9], asset="pump-1") + series([0.9], asset="pump-2", start_s=1)
        state, changes = run(sorted(records, key=lambda r: r.event_ts), rules)
        for change in changes:
            notifier.notify([change], change.at)
        assert [(p, b["asset_id"], b["change"]) for p, b in received.posts] == [
            ("/oncall", "pump-1", "raised"),
            ("/oncall", "pump-2", "raised"),
            ("/oncall", "pump-1", "raised"),
        ]
        assert notifier.stats.suppressed == 1  # pump-1's clear at t=60, within 120 s of its raise
        state, escalations = tick(state, at(120 + 300), rules)
        notifier.notify(escalations, at(420))
        assert sorted((p, b["asset_id"], b["tier"]) for p, b in received.posts[3:]) == [
            ("/boss", "pump-1", "boss"),
            ("/boss", "pump-2", "boss"),
        ]
        received.fail = True
        _, more = tick(state, at(420 + 900), rules)
        notifier.notify(more, at(420 + 900))
        assert notifier.stats.failed == 2
        assert notifier.stats.sent == 5
        notifier.close()


def test_no_target_is_counted() -> None:
    rules = RuleConfig(persistence_s=0, stale_after_s=None)
    notifier = WebhookNotifier(rules, default_url=None, min_interval_s=0, timeout_s=1)
    _, changes = run(series([0.9]), rules)
    notifier.notify(changes, at(0))
    assert (notifier.stats.no_target, notifier.stats.sent) == (1, 0)
    notifier.close()
