"""The local stack's generated files: credentials, Mosquitto ACL, config templates."""

from __future__ import annotations

from pathlib import Path

import pytest
from dotenv import dotenv_values

from forewarn.settings import (
    InfluxRole,
    InfluxSettings,
    KafkaRole,
    KafkaSettings,
    MlflowRole,
    MlflowSettings,
    StackSettings,
    load,
)
from infra.stack.credentials import ensure_credentials
from infra.stack.mosquitto import acl_text, held_text
from infra.stack.service import INFRA_DIR, render


def test_credentials_are_kept_and_new_sites_added(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FOREWARN_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("FOREWARN_STACK_SITES", '["north"]')
    gateway, sites = ensure_credentials(load(StackSettings))
    assert set(sites) == {"north"}
    monkeypatch.setenv("FOREWARN_STACK_SITES", '["north", "south"]')
    gateway_again, sites_again = ensure_credentials(load(StackSettings))
    assert gateway_again == gateway
    assert sites_again["north"] == sites["north"]
    assert set(sites_again) == {"north", "south"}
    assert len({gateway, *sites_again.values()}) == 3, "every user gets its own password"
    env_file = tmp_path / "forewarn.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert dotenv_values(env_file)["FOREWARN_MQTT_PASSWORD"] == gateway


def test_every_service_gets_a_user_per_role_and_components_narrow_to_theirs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FOREWARN_STATE_DIR", str(tmp_path))
    ensure_credentials(load(StackSettings))
    first = dotenv_values(tmp_path / "forewarn.env")
    ensure_credentials(load(StackSettings))
    assert dotenv_values(tmp_path / "forewarn.env") == first, "passwords are kept across runs"

    kafka, influx, mlflow = load(KafkaSettings), load(InfluxSettings), load(MlflowSettings)
    assert kafka.security_protocol == "SASL_PLAINTEXT"
    assert kafka.sasl_mechanism == "SCRAM-SHA-512"
    assert set(kafka.users) == {r.value for r in KafkaRole}
    assert set(influx.users) == {r.value for r in InfluxRole}
    assert set(mlflow.users) == {r.value for r in MlflowRole}
    # plainly loaded settings are the admin (operators' tools); a component narrows to its role
    assert kafka.sasl_username == influx.username == mlflow.username == "forewarn-admin"
    gateway = kafka.for_role(KafkaRole.GATEWAY)
    assert gateway.client_config()["sasl_plain_username"] == "forewarn-gateway"
    assert gateway.client_config()["sasl_plain_password"] == kafka.users["gateway"].get_secret_value()
    assert influx.for_role(InfluxRole.READER).username == "forewarn-reader"
    reader_env = mlflow.for_role(MlflowRole.READER).client_env()
    assert reader_env["MLFLOW_TRACKING_USERNAME"] == "forewarn-reader"
    passwords = [p.get_secret_value() for s in (kafka, influx, mlflow) for p in s.users.values()]
    assert len(set(passwords)) == len(passwords), "no two users share a password"
    # settings for a cluster run elsewhere (no generated users) are left as they are
    external = KafkaSettings(sasl_mechanism="PLAIN", sasl_username="svc", sasl_password="x")
    assert external.for_role(KafkaRole.SCORING) is external


def test_acl_confines_each_site_to_its_own_topics() -> None:
    acl = acl_text("forewarn-gateway", ["south", "north"])
    blocks = [block.splitlines() for block in acl.split("\n\n") if "user " in block]
    rules = {
        next(line for line in b if line.startswith("user ")): [ln for ln in b if ln.startswith("topic")]
        for b in blocks
    }
    assert rules["user forewarn-gateway"] == ["topic read forewarn/+/+/telemetry"]
    assert rules["user north"] == ["topic write forewarn/north/#"]
    assert rules["user south"] == ["topic write forewarn/south/#"]


def test_kafka_config_template_fills_every_placeholder(tmp_path: Path) -> None:
    out = render(
        INFRA_DIR / "kafka" / "server.properties.tmpl",
        tmp_path / "server.properties",
        host="127.0.0.1",
        port=19092,
        controller_port=19093,
        log_dirs=tmp_path / "data",
        admin_user="forewarn-admin",
        admin_password="pw-admin",
        controller_user="forewarn-controller",
        controller_password="pw-controller",
    )
    props = dict(
        line.split("=", 1) for line in out.read_text().splitlines() if line and not line.startswith("#")
    )
    assert props["listeners"] == "CLIENT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["listener.security.protocol.map"] == "CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:forewarn-admin;User:forewarn-controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["process.roles"] == "broker,controller"
    assert props["auto.create.topics.enable"] == "false"
    assert "{" not in out.read_text()


def test_kafka_cluster_ids_never_start_with_a_dash() -> None:
    from infra.stack.kafka import _cluster_id

    ids = [_cluster_id() for _ in range(2000)]  # about 31 would start with "-" if drawn plainly
    assert not [i for i in ids if i.startswith("-")]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 22 for i in ids)


def test_the_broker_status_names_a_persistence_file_of_a_megabyte_or_more_and_how_to_end_sessions() -> None:
    assert held_text(0) == held_text(999_999) == "persistence file under 1 MB"
    text = held_text(195_332_091)
    assert text.startswith("persistence file 195 MB: messages queued for away sessions")
    assert "forewarn gateway leave --gateway-id" in text
