"""The Kafka sink's producer settings stay valid for any retry budget (Kafka refuses
delivery.timeout.ms < linger.ms + request.timeout.ms at producer construction)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from forewarn.settings import KafkaSettings
from streaming.settings import StreamSettings
from streaming.sinks import kafka_options, producer_options


@pytest.mark.parametrize("budget_s", [0.5, 2.0, 30.0, 120.0, 3600.0])
def test_delivery_timeout_covers_linger_and_request(budget_s: float) -> None:
    options = producer_options(KafkaSettings(), StreamSettings(sink_retry_s=budget_s))
    delivery = int(options["kafka.delivery.timeout.ms"])
    assert delivery >= int(options["kafka.linger.ms"]) + int(options["kafka.request.timeout.ms"])
    assert delivery >= int(budget_s * 1000)
    assert options["kafka.acks"] == "all"


def test_scram_login_quotes_the_password_and_a_ca_file_becomes_a_pem_trust_store() -> None:
    """A password with a quote or backslash must not end the JAAS string early (Java's parser reads
    backslash escapes inside double quotes); SASL_SSL clusters are trusted through a PEM CA file."""
    kafka = KafkaSettings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="forewarn-scoring",
        sasl_password=SecretStr('p"a\\ss'),
        ssl_cafile=Path("/etc/kafka/ca.pem"),
    )
    options = kafka_options(kafka, StreamSettings())
    assert options["kafka.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="forewarn-scoring" password="p\\"a\\\\ss";'
    )
    assert options["kafka.ssl.truststore.type"] == "PEM"
    assert options["kafka.ssl.truststore.location"] == "/etc/kafka/ca.pem"
    assert kafka.client_config()["ssl_cafile"] == "/etc/kafka/ca.pem"
