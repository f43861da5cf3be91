"""Apache Kafka 4.x in KRaft mode, run from the jars `make setup` resolved with Maven."""

from __future__ import annotations

import base64
import contextlib
import shutil
import subprocess
import uuid
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from infra.stack.process import port_open
from infra.stack.service import INFRA_DIR, Health, Service, render


def kafka_jars_dir(state: Path) -> Path:
    """Where `make setup` copies the broker's jars (``mvn dependency:copy-dependencies``)."""
    return state / "jars" / "kafka"


class Kafka(Service):
    name = "kafka"

    def listen(self) -> tuple[str, int]:
        return self.ctx.kafka.first_server()

    def _config(self) -> Path:
        return self.ctx.state / self.name / "server.properties"

    def _java(self) -> str:
        java = shutil.which("java")
        if not java:
            raise RuntimeError("java is not installed: run `make setup` (Kafka 4.x needs Java 17+)")
        return java

    def _classpath(self) -> str:
        jars = kafka_jars_dir(self.ctx.state)
        if not any(jars.glob("kafka_*.jar")):
            raise RuntimeError(f"Kafka jars are missing in {jars}: run `make setup` (Maven resolves them)")
        return f"{jars}/*"

    def _java_args(self, heap_mb: int) -> list[str]:
        return [
            self._java(),
            f"-Xms{min(heap_mb, 256)}m",
            f"-Xmx{heap_mb}m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={INFRA_DIR / 'kafka' / 'log4j2.properties'}",
            "-cp",
            self._classpath(),
        ]

    def prepare(self) -> None:
        data = self.data_dir()
        log_dirs = data / "data"
        host, port = self.listen()
        render(
            INFRA_DIR / "kafka" / "server.properties.tmpl",
            self._config(),
            host=host,
            port=port,
            controller_port=self.ctx.stack.kafka_controller_port,
            log_dirs=log_dirs,
        )
        if (log_dirs / "meta.properties").is_file():
            return
        # First start: format the storage with a fresh cluster id (kept for the record).
        cluster_id = _cluster_id()
        (data / "cluster.id").write_text(cluster_id + "\n")
        subprocess.run(
            [
                *self._java_args(256),
                "kafka.tools.StorageTool",
                "format",
                "--cluster-id",
                cluster_id,
                "--config",
                str(self._config()),
                "--ignore-formatted",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def argv(self) -> list[str]:
        return [*self._java_args(self.ctx.stack.kafka_heap_mb), "kafka.Kafka", str(self._config())]

    def check(self) -> Health:
        host, port = self.listen()
        if not port_open(host, port):
            return Health(False, "not listening")
        try:
            admin = self._admin()
        except KafkaError as exc:
            return Health(False, f"no metadata: {exc}")
        try:
            cluster = admin.describe_cluster()
            topics = set(admin.list_topics())
        except KafkaError as exc:
            return Health(False, f"no metadata: {exc}")
        finally:
            admin.close()
        missing = sorted(set(self.ctx.kafka.topic_partitions()) - topics)
        detail = f"cluster {cluster.get('cluster_id')}, {len(topics)} topics"
        return Health(True, detail + (f", missing {', '.join(missing)}" if missing else ""))

    def _admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(
            **self.ctx.kafka.client_config(),
            client_id="forewarn-stack",
            request_timeout_ms=10_000,
        )

    def after_start(self) -> None:
        kafka = self.ctx.kafka
        ensure_topics(
            self._admin(), kafka.topic_partitions(), kafka.replication_factor, kafka.topic_configs()
        )


def ensure_topics(
    admin: KafkaAdminClient,
    partitions: dict[str, int],
    replication_factor: int,
    configs: dict[str, dict[str, str]] | None = None,
) -> list[str]:
    """Create the topics that are missing, grow ones with fewer partitions, apply topic configs.

    Returns:
        The topics that were created or grown.
    """
    changed = []
    configs = configs or {}
    try:
        existing = admin.describe_topics(list(partitions))
        counts = {t["name"]: len(t["partitions"]) for t in existing if not t.get("error_code")}
        missing = [
            NewTopic(name, n, replication_factor, topic_configs=configs.get(name, {}))
            for name, n in partitions.items()
            if name not in counts
        ]
        existing_configs = [
            ConfigResource(ConfigResourceType.TOPIC, name, configs=values)
            for name, values in configs.items()
            if name in counts and values
        ]
        if existing_configs:  # topics created before a config was added get it too
            admin.alter_configs(existing_configs)
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another `up` won the race
                admin.create_topics(missing, wait_for_metadata=True)
            changed += [t.name for t in missing]

        grow = {
            name: NewPartitions(n) for name, n in partitions.items() if name in counts and counts[name] < n
        }
        if grow:
            admin.create_partitions(grow)
            changed += list(grow)
    finally:
        admin.close()
    return changed


def _cluster_id() -> str:
    """A random cluster id as Kafka writes them (URL-safe base64 of a UUID).

    Never one starting with "-": StorageTool would read it as an option (Kafka's own
    ``Uuid.randomUuid`` skips those for the same reason); one in 64 random ids does.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
