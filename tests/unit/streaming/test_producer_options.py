"""The Kafka sink's producer settings stay valid for any retry budget (Kafka refuses
delivery.timeout.ms < linger.ms + request.timeout.ms at producer construction)."""

from __future__ import annotations

import pytest

from forewarn.settings import KafkaSettings
from streaming.settings import StreamSettings
from streaming.sinks import producer_options


@pytest.mark.parametrize("budget_s", [0.5, 2.0, 30.0, 120.0, 3600.0])
def test_delivery_timeout_covers_linger_and_request(budget_s: float) -> None:
    options = producer_options(KafkaSettings(), StreamSettings(sink_retry_s=budget_s))
    delivery = int(options["kafka.delivery.timeout.ms"])
    assert delivery >= int(options["kafka.linger.ms"]) + int(options["kafka.request.timeout.ms"])
    assert delivery >= int(budget_s * 1000)
    assert options["kafka.acks"] == "all"
