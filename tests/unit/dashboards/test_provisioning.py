"""Provisioning files follow Grafana's format and match the code; the API datasource carries secrets."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import SecretStr

from dashboards import provisioning_files as provisioning
from dashboards.influxql import DATASOURCE_TYPE, DATASOURCE_UID
from forewarn.settings import InfluxSettings

COMMITTED = Path(__file__).resolve().parents[3] / "dashboards" / "provisioning"


def test_committed_files_match_the_code() -> None:
    for relative, text in provisioning.files().items():
        assert (COMMITTED / relative).read_text(encoding="utf-8") == text, relative


def test_datasource_file_is_grafana_provisioning_v1() -> None:
    doc = yaml.safe_load((COMMITTED / "datasources/forewarn.yaml").read_text(encoding="utf-8"))
    assert doc["apiVersion"] == 1
    [entry] = doc["datasources"]
    assert (entry["type"], entry["uid"], entry["access"]) == (DATASOURCE_TYPE, DATASOURCE_UID, "proxy")
    assert entry["url"] == "${FOREWARN_INFLUX_URL}"
    assert entry["jsonData"] == {
        "dbName": "${FOREWARN_INFLUX_DATABASE}",
        "httpMode": "POST",
        "version": "InfluxQL",
    }
    # the read-only user, never the admin's FOREWARN_INFLUX_USERNAME/PASSWORD
    assert entry["user"] == "${FOREWARN_GRAFANA_INFLUX_USERNAME}"
    assert entry["secureJsonData"] == {"password": "${FOREWARN_GRAFANA_INFLUX_PASSWORD}"}


def test_dashboard_provider_reads_the_built_json() -> None:
    doc = yaml.safe_load((COMMITTED / "dashboards/forewarn.yaml").read_text(encoding="utf-8"))
    [provider] = doc["providers"]
    assert provider["type"] == "file"
    assert provider["folderUid"] == "forewarn"
    assert provider["options"]["path"] == "${FOREWARN_GRAFANA_DASHBOARDS_DIR}"


def test_api_datasource_without_credentials_has_no_secrets() -> None:
    doc = provisioning.datasource(InfluxSettings(url="http://influx.example:8086", database="fleet"))
    assert doc["url"] == "http://influx.example:8086"
    assert doc["jsonData"]["dbName"] == "fleet"
    assert "secureJsonData" not in doc
    assert "user" not in doc


def test_api_datasource_sends_password_and_token_as_secure_json() -> None:
    settings = InfluxSettings(username="grafana", password=SecretStr("pw"), token=SecretStr("tok"))
    doc = provisioning.datasource(settings)
    assert doc["user"] == "grafana"
    assert doc["secureJsonData"] == {"password": "pw", "httpHeaderValue1": "Token tok"}
    assert doc["jsonData"]["httpHeaderName1"] == "Authorization"
