"""Who may do what on Kafka: each component role's ACLs, as data.

The broker runs with ``StandardAuthorizer`` and ``allow.everyone.if.no.acl.found=false``: a user
with no ACL can do nothing, so every grant a component needs is listed here and nowhere else.
``forewarn-admin`` (the stack's scripts, operators' tools, tests) and the broker's own controller
user are super users and need none. Topic names come from the settings (a demo run has its own
topics and gets its own grants); Kafka lets READ and WRITE imply DESCRIBE, but DESCRIBE is listed
anyway so the table reads as what each role does.

Idempotent producers (the gateway, Spark's sink) need no ``IDEMPOTENT_WRITE`` on the cluster:
since Kafka 3.0 (KIP-679) WRITE on a topic is enough to get a producer id.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from forewarn.settings import KafkaRole, KafkaSettings, role_user

# The alert engine's consumer group when nothing names another (``FOREWARN_ALERTS_GROUP_ID``'s
# default; infra may not import alerts, so the name is repeated here).
DEFAULT_ALERTS_GROUP = "forewarn-alerts"
# Spark's Kafka source builds its group ids as "spark-kafka-source-<uuid>-<checkpoint hash>"
# (KafkaSourceProvider's default ``groupIdPrefix``), a new one per query start: only a prefix is stable.
SPARK_SOURCE_GROUP_PREFIX = "spark-kafka-source-"


class Resource(StrEnum):
    TOPIC = "topic"
    GROUP = "group"


class Pattern(StrEnum):
    LITERAL = "literal"  # exactly this name
    PREFIXED = "prefixed"  # every name starting with it


class Operation(StrEnum):
    READ = "read"
    WRITE = "write"
    DESCRIBE = "describe"


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW binding: ``User:<user>`` may ``operation`` on ``resource`` ``name``, from any host."""

    user: str
    resource: Resource
    name: str
    operation: Operation
    pattern: Pattern = Pattern.LITERAL

    @property
    def principal(self) -> str:
        return f"User:{self.user}"


def _topic(user: str, topic: str, *operations: Operation) -> list[Grant]:
    return [Grant(user, Resource.TOPIC, topic, op) for op in (*operations, Operation.DESCRIBE)]


def role_grants(
    kafka: KafkaSettings, alerts_group: str = DEFAULT_ALERTS_GROUP
) -> dict[KafkaRole, list[Grant]]:
    """Every component role's grants for the topics ``kafka`` names (the admin gets none: super user).

    Args:
        kafka: the topics (the stack's, or one run's).
        alerts_group: the alert engine's consumer group (``FOREWARN_ALERTS_GROUP_ID``).
    """
    gateway, scoring, alerts = (
        role_user(r) for r in (KafkaRole.GATEWAY, KafkaRole.SCORING, KafkaRole.ALERTS)
    )
    read, write = Operation.READ, Operation.WRITE
    return {
        KafkaRole.GATEWAY: [
            *_topic(gateway, kafka.telemetry_topic, write),
            *_topic(gateway, kafka.dlq_topic, write),
        ],
        KafkaRole.SCORING: [
            *_topic(scoring, kafka.telemetry_topic, read),
            Grant(scoring, Resource.GROUP, SPARK_SOURCE_GROUP_PREFIX, read, Pattern.PREFIXED),
            *_topic(scoring, kafka.risk_topic, write),
            *_topic(scoring, kafka.dlq_topic, write),
        ],
        KafkaRole.ALERTS: [
            *_topic(alerts, kafka.risk_topic, read),
            Grant(alerts, Resource.GROUP, alerts_group, read),
            *_topic(alerts, kafka.alerts_topic, write),
            *_topic(alerts, kafka.risk_dlq(), write),
        ],
    }


def all_grants(kafka: KafkaSettings, alerts_group: str = DEFAULT_ALERTS_GROUP) -> list[Grant]:
    """Every role's grants in one sorted list, without duplicates."""
    return sorted({g for grants in role_grants(kafka, alerts_group).values() for g in grants})
