"""InfluxDB 1.x (Debian package) with its own config and data folders, users and the project's database.

Authentication is on (``auth-enabled``): an admin, the pipeline's writer and the dashboards' reader
(``forewarn-<role>``, passwords generated into ``<state>/forewarn.env``). The RPC port (backup and
restore, which InfluxDB 1.x cannot authenticate nor turn off) listens on loopback only.
"""

from __future__ import annotations

import shutil

import httpx

from forewarn.influx_admin import (
    GRANTS,
    InfluxAdminError,
    create_database,
    execute,
    quote_ident,
    quote_string,
)
from forewarn.settings import InfluxRole, InfluxSettings, role_user
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

    def env(self) -> dict[str, str]:
        """Go's collector less often, under a soft memory limit (``StackSettings.influx_gogc``)."""
        stack = self.ctx.stack
        return {"GOGC": str(stack.influx_gogc), "GOMEMLIMIT": f"{stack.influx_memory_limit_mb}MiB"}

    def check(self) -> Health:
        try:
            response = httpx.get(
                f"{self.ctx.influx.url}/ping", timeout=2.0, headers=self.ctx.influx.auth_headers()
            )
        except httpx.HTTPError as exc:
            return Health(False, f"not reachable: {type(exc).__name__}")
        version = response.headers.get("X-Influxdb-Version", "?")
        return Health(response.status_code == 204, f"/ping {response.status_code}, version {version}")

    def auth(self) -> str:
        roles = ", ".join(sorted(self.ctx.influx.users)) or "none generated"
        return f"basic auth (auth-enabled): {roles}; RPC port loopback only"

    def after_start(self) -> None:
        """Users (created, or their passwords re-set from the env file), the database and its grants.

        Idempotent: a second ``stack up`` keeps the users and their data.
        """
        influx = self.ctx.influx
        if not influx.users:
            create_database(influx, influx.database)  # a cluster whose users someone else manages
            return
        admin = influx.for_role(InfluxRole.ADMIN)
        _bootstrap_admin(admin)
        existing = {row[0] for row in _show_users(admin)}
        for role, password in sorted(influx.users.items()):
            user, secret = quote_ident(role_user(role)), quote_string(password.get_secret_value())
            if role_user(role) in existing:
                execute(admin, f"SET PASSWORD FOR {user} = {secret}")
            else:
                execute(admin, f"CREATE USER {user} WITH PASSWORD {secret}")
        for role in GRANTS:  # no leftover admin rights on the pipeline's users
            if role.value in influx.users:
                execute(admin, f"REVOKE ALL PRIVILEGES FROM {quote_ident(role_user(role))}")
        create_database(admin, influx.database)


def _bootstrap_admin(admin: InfluxSettings) -> None:
    """Create the admin while no admin exists: InfluxDB allows only that one statement unauthenticated.

    Once an admin exists the anonymous attempt is refused (401); the admin's own credentials then
    have to work, or the data folder belongs to other credentials (say so).
    """
    user = admin.username or role_user(InfluxRole.ADMIN)
    password = admin.password.get_secret_value() if admin.password else ""
    try:
        execute(
            admin,
            f"CREATE USER {quote_ident(user)} WITH PASSWORD {quote_string(password)} WITH ALL PRIVILEGES",
            anonymous=True,
        )
    except InfluxAdminError as exc:
        if "HTTP 401" not in str(exc):
            raise
    try:
        execute(admin, "SHOW USERS")
    except InfluxAdminError as exc:
        raise InfluxAdminError(
            f"{exc}: the admin {user} of FOREWARN_INFLUX_USERS in the env file does not match the "
            "users in the InfluxDB data folder (restore the env file or delete the folder)"
        ) from None


def _show_users(admin: InfluxSettings) -> list[list[object]]:
    body = execute(admin, "SHOW USERS").json()
    series = body["results"][0].get("series") or [{}]
    return list(series[0].get("values") or [])
