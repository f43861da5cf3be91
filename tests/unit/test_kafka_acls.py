"""The ACL table: each component role gets exactly what its job needs, on the topics settings name."""

from __future__ import annotations

from forewarn.settings import KafkaRole, KafkaSettings
from infra.stack.kafka import argfile_quoted, jaas_value, revocable
from infra.stack.kafka_acls import (
    SPARK_SOURCE_GROUP_PREFIX,
    Grant,
    Operation,
    Pattern,
    Resource,
    all_grants,
    role_grants,
)

R, W, D = Operation.READ, Operation.WRITE, Operation.DESCRIBE


def _table(grants: list[Grant]) -> set[tuple[str, str, str, str]]:
    return {(g.resource.value, g.name, g.operation.value, g.pattern.value) for g in grants}


def _topic(name: str, *ops: Operation) -> set[tuple[str, str, str, str]]:
    return {("topic", name, op.value, "literal") for op in ops}


def test_each_role_gets_its_job_and_nothing_else() -> None:
    grants = role_grants(KafkaSettings(), alerts_group="forewarn-alerts")
    assert set(grants) == {KafkaRole.GATEWAY, KafkaRole.SCORING, KafkaRole.ALERTS}  # admin: super user
    assert _table(grants[KafkaRole.GATEWAY]) == _topic("telemetry", W, D) | _topic("telemetry.dlq", W, D)
    assert _table(grants[KafkaRole.SCORING]) == (
        _topic("telemetry", R, D)
        | {("group", SPARK_SOURCE_GROUP_PREFIX, "read", "prefixed")}
        | _topic("risk", W, D)
        | _topic("telemetry.dlq", W, D)
    )
    assert _table(grants[KafkaRole.ALERTS]) == (
        _topic("risk", R, D)
        | {("group", "forewarn-alerts", "read", "literal")}
        | _topic("alerts", W, D)
        | _topic("risk.dlq", W, D)
    )


def test_grants_belong_to_the_roles_users() -> None:
    for role, grants in role_grants(KafkaSettings()).items():
        assert {g.principal for g in grants} == {f"User:forewarn-{role.value}"}


def test_topic_names_and_the_engine_group_come_from_settings() -> None:
    run = KafkaSettings(
        telemetry_topic="r1.telemetry",
        dlq_topic="r1.telemetry.dlq",
        risk_topic="r1.risk",
        alerts_topic="r1.alerts",
    )
    grants = all_grants(run, alerts_group="alerts-r1")
    names = {g.name for g in grants if g.resource is Resource.TOPIC}
    assert names == {"r1.telemetry", "r1.telemetry.dlq", "r1.risk", "r1.alerts", "r1.risk.dlq"}
    groups = {(g.name, g.pattern) for g in grants if g.resource is Resource.GROUP}
    assert groups == {("alerts-r1", Pattern.LITERAL), (SPARK_SOURCE_GROUP_PREFIX, Pattern.PREFIXED)}
    assert grants == sorted(set(grants))  # one of each, in a stable order


def test_revoking_a_runs_grants_keeps_the_stacks_own() -> None:
    stack = KafkaSettings()
    # a bench's own telemetry topics; risk, alerts and the engine group: the stack's
    bench = stack.model_copy(update={"telemetry_topic": "bench-t", "dlq_topic": "bench-d"})
    revoked = revocable(stack, bench)
    assert {g.name for g in revoked} == {"bench-t", "bench-d"}
    assert not set(revoked) & set(all_grants(stack))
    assert all(g.pattern is Pattern.LITERAL for g in revoked)  # Spark's prefixed group grant stays
    own = stack.model_copy(update={"risk_topic": "r1.risk", "alerts_topic": "r1.alerts"})
    names = {g.name for g in revocable(stack, own, alerts_group="alerts-r1")}
    assert names == {"r1.risk", "r1.alerts", "r1.risk.dlq", "alerts-r1"}


def test_secrets_survive_the_properties_file_and_the_argfile_quoting() -> None:
    # properties unescape (\\ → \), then JAAS unescapes inside quotes (\" → ", \\ → \)
    assert jaas_value('a"b\\c') == 'a\\\\"b\\\\\\\\c'
    assert jaas_value("plain-Token_123") == "plain-Token_123"
    assert argfile_quoted('x"y\\z') == '"x\\"y\\\\z"'
