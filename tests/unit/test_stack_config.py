"""The local stack's generated files: credentials, Mosquitto ACL, config templates."""

from __future__ import annotations

from pathlib import Path

import pytest
from dotenv import dotenv_values

from forewarn.settings import StackSettings, load
from infra.stack.credentials import ensure_credentials
from infra.stack.mosquitto import acl_text
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
    )
    props = dict(
        line.split("=", 1) for line in out.read_text().splitlines() if line and not line.startswith("#")
    )
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
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
