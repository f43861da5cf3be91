"""Kafka's doors on the real broker: who gets in, and what each component role may do once inside.

Every check runs both ways: a role is refused outside its ACLs *and* does its own job, so a broker
that lets everyone in and one that lets no one in both fail. The topics are this test's own, granted
to the roles exactly as `forewarn stack up` grants the stack's (and a demo run its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaTimeoutError,
    SaslAuthenticationFailedError,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr

from forewarn.settings import KafkaRole, KafkaSettings
from infra.stack.kafka import Kafka, ensure_acls, grant_roles, revoke_roles
from infra.stack.kafka_acls import all_grants
from infra.stack.service import StackContext
from tests.conftest import unique

pytestmark = pytest.mark.integration

REFUSED = (TopicAuthorizationFailedError, GroupAuthorizationFailedError)


@dataclass(frozen=True)
class Doors:
    """The stack's Kafka settings pointed at this test's topics, with each role's grants on them."""

    kafka: KafkaSettings
    alerts_group: str

    def role(self, role: KafkaRole) -> KafkaSettings:
        return self.kafka.for_role(role)


@pytest.fixture
def doors(stack: StackContext, new_topic: Callable[..., str]) -> Iterator[Doors]:
    if not stack.kafka.users:
        pytest.skip("the stack's Kafka has no role users (FOREWARN_KAFKA_USERS)")
    names = {
        "telemetry_topic": new_topic("telemetry"),
        "dlq_topic": new_topic("telemetry-dlq"),
        "risk_topic": new_topic("risk"),
        "alerts_topic": new_topic("alerts"),
        "risk_dlq_topic": new_topic("risk-dlq"),
    }
    kafka = stack.kafka.model_copy(update={**names, "bootstrap_timeout_s": 5.0})
    group = unique("alerts-group")
    grant_roles(stack.kafka, kafka, group)
    yield Doors(kafka, group)
    revoke_roles(stack.kafka, kafka, group)


def produce(kafka: KafkaSettings, topic: str, value: bytes = b"x") -> None:
    """One idempotent, fully acknowledged record (how the gateway and Spark's sink produce)."""
    producer = KafkaProducer(**kafka.client_config(), acks="all", enable_idempotence=True, max_block_ms=5000)
    try:
        producer.send(topic, key=b"asset-1", value=value).get(timeout=10)
    finally:
        producer.close(timeout=5)


def consume(kafka: KafkaSettings, topic: str, group: str | None = None, commit: bool = False) -> list[bytes]:
    """Every value of partition 0 from the start (a group one commits its position, like the engine)."""
    consumer = KafkaConsumer(**kafka.client_config(), group_id=group, enable_auto_commit=False)
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        values = [r.value for records in consumer.poll(timeout_ms=5000).values() for r in records]
        if commit:
            consumer.commit()
        return values
    finally:
        consumer.close()


def cannot_read(kafka: KafkaSettings, topic: str) -> bool:
    """True when ``kafka``'s user gets no record of ``topic``: refused at fetch (it may describe the
    topic, like the gateway its own), or never told where the topic is (no ACL on it at all)."""
    try:
        return consume(kafka, topic) == []
    except TopicAuthorizationFailedError:
        return True


def test_no_credentials_are_refused(doors: Doors) -> None:
    anonymous = doors.kafka.model_copy(
        update={"security_protocol": "PLAINTEXT", "sasl_mechanism": None, "sasl_password": None}
    )
    with pytest.raises(KafkaTimeoutError):  # the SASL listener never answers a plaintext client
        produce(anonymous, doors.kafka.telemetry_topic)
    produce(doors.role(KafkaRole.GATEWAY), doors.kafka.telemetry_topic)  # the same door, with credentials


def test_a_wrong_password_is_refused(doors: Doors) -> None:
    gateway = doors.role(KafkaRole.GATEWAY)
    assert gateway.sasl_username == "forewarn-gateway"
    wrong = gateway.model_copy(update={"sasl_password": SecretStr("not-the-password")})
    with pytest.raises((SaslAuthenticationFailedError, KafkaTimeoutError)):
        produce(wrong, doors.kafka.telemetry_topic)
    produce(gateway, doors.kafka.telemetry_topic)


def test_gateway_writes_telemetry_and_dead_letters_only(doors: Doors) -> None:
    gateway, k = doors.role(KafkaRole.GATEWAY), doors.kafka
    produce(gateway, k.telemetry_topic, b"reading")
    produce(gateway, k.dlq_topic, b"dead letter")
    with pytest.raises(TopicAuthorizationFailedError):
        produce(gateway, k.risk_topic)
    assert cannot_read(gateway, k.telemetry_topic)
    assert consume(k, k.telemetry_topic) == [b"reading"]  # the admin sees what it wrote


def test_scoring_reads_telemetry_and_writes_risk_not_alerts(doors: Doors) -> None:
    scoring, k = doors.role(KafkaRole.SCORING), doors.kafka
    produce(k, k.telemetry_topic, b"reading")
    assert consume(scoring, k.telemetry_topic, group=f"spark-kafka-source-{unique('q')}") == [b"reading"]
    produce(scoring, k.risk_topic, b"risk")
    produce(scoring, k.dlq_topic, b"dead letter")
    with pytest.raises(TopicAuthorizationFailedError):
        produce(scoring, k.alerts_topic)
    with pytest.raises(REFUSED):  # only Spark's source groups are its own
        consume(scoring, k.telemetry_topic, group=doors.alerts_group, commit=True)


def test_alerts_reads_risk_in_its_group_and_writes_alerts_not_telemetry(doors: Doors) -> None:
    alerts, k = doors.role(KafkaRole.ALERTS), doors.kafka
    produce(k, k.risk_topic, b"risk")
    assert consume(alerts, k.risk_topic, group=doors.alerts_group, commit=True) == [b"risk"]
    produce(alerts, k.alerts_topic, b"alert")
    produce(alerts, k.risk_dlq(), b"dead letter")
    with pytest.raises(TopicAuthorizationFailedError):
        produce(alerts, k.telemetry_topic)
    with pytest.raises(REFUSED):
        consume(alerts, k.risk_topic, group=unique("another-group"), commit=True)
    produce(k, k.telemetry_topic, b"reading")
    assert cannot_read(alerts, k.telemetry_topic)
    assert consume(k, k.telemetry_topic) == [b"reading"]


def test_stack_up_granted_each_role_on_the_stack_topics(stack: StackContext) -> None:
    """`forewarn stack up` gave every role its grants on the stack's own topics (and ``auth`` says so)."""
    if not stack.kafka.users:
        pytest.skip("the stack's Kafka has no role users (FOREWARN_KAFKA_USERS)")
    admin = KafkaAdminClient(**stack.kafka.client_config(), client_id="forewarn-tests")
    try:
        assert ensure_acls(admin, all_grants(stack.kafka)) == 0  # nothing was missing
        users = admin.describe_user_scram_credentials()
    finally:
        admin.close()
    assert {f"forewarn-{role.value}" for role in KafkaRole} <= set(users)
    assert Kafka(stack).auth().startswith("SASL_PLAINTEXT SCRAM-SHA-512, ACLs (StandardAuthorizer)")
