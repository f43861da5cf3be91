"""InfluxDB 1.x (Debian package) with its own config and data folders, and the project's database."""

from __future__ import annotations

import shutil

import httpx

from infra.stack.service import INFRA_DIR, Health, Service, render


class InfluxDB(Service):
    name = "influxdb"

    def listen(self) -> tuple[str, int]:
        return self.ctx.influx.host_port()

    def address(self) -> str:
        return self.ctx.influx.url

    def prepare(self) -> None:
        data = self.data_dir()
        host, port = self.listen()
        render(
            INFRA_DIR / "influxdb" / "influxdb.conf.tmpl",
            data / "influxdb.conf",
            host=host,
            port=port,
            rpc_port=self.ctx.stack.influx_rpc_port,
            data=data,
        )

    def argv(self) -> list[str]:
        influxd = shutil.which("influxd") or "/usr/bin/influxd"
        if not shutil.which(influxd):
            raise RuntimeError("influxd is not installed: run `make setup` (Debian package influxdb)")
        return [influxd, "-config", str(self.ctx.state / self.name / "influxdb.conf")]

    def check(self) -> Health:
        try:
            response = httpx.get(
                f"{self.ctx.influx.url}/ping", timeout=2.0, headers=self.ctx.influx.auth_headers()
            )
        except httpx.HTTPError as exc:
            return Health(False, f"not reachable: {type(exc).__name__}")
        version = response.headers.get("X-Influxdb-Version", "?")
        return Health(response.status_code == 204, f"/ping {response.status_code}, version {version}")

    def after_start(self) -> None:
        influx = self.ctx.influx
        response = httpx.post(
            f"{influx.url}/query",
            params={"q": f'CREATE DATABASE "{influx.database}"', **influx.auth_params()},
            headers=influx.auth_headers(),
            timeout=influx.timeout_s,
        )
        response.raise_for_status()
