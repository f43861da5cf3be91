"""Grafana dashboards as code, datasource provisioning and the provisioner."""
