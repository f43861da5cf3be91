"""MLflow tracking server and model registry: SQLite backend, artifacts served from the state folder."""

from __future__ import annotations

import httpx

from infra.stack.service import Health, Service


class MlflowServer(Service):
    name = "mlflow"

    def listen(self) -> tuple[str, int]:
        return self.ctx.mlflow.host_port()

    def address(self) -> str:
        return self.ctx.mlflow.tracking_uri

    def prepare(self) -> None:
        (self.data_dir() / "artifacts").mkdir(exist_ok=True)

    def argv(self) -> list[str]:
        data = self.ctx.state / self.name
        host, port = self.listen()
        return [
            self.ctx.python,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{data / 'mlflow.db'}",
            # Clients upload and download artifacts through the server (no shared file system needed).
            "--serve-artifacts",
            "--artifacts-destination",
            str(data / "artifacts"),
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(self.ctx.mlflow.workers),
        ]

    def env(self) -> dict[str, str]:
        return {
            # The server itself must not try to talk to a tracking server.
            "MLFLOW_TRACKING_URI": "",
            "PYTHONUNBUFFERED": "1",
            # The job runner serves GenAI features forewarn does not use; it costs seven worker
            # processes (~2 GB) on a 2-core machine.
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        }

    def check(self) -> Health:
        try:
            response = httpx.get(f"{self.ctx.mlflow.tracking_uri}/health", timeout=2.0)
        except httpx.HTTPError as exc:
            return Health(False, f"not reachable: {type(exc).__name__}")
        return Health(response.status_code == 200, f"/health {response.status_code}")
