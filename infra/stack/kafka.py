"""Apache Kafka 4.x in KRaft mode, run from the jars `make setup` resolved with Maven.

Secured like a production cluster: SASL/SCRAM-SHA-512 for every client, one user per component
role (``forewarn-<role>``, passwords generated into ``<state>/forewarn.env``), StandardAuthorizer
with nothing allowed by default, and each role's ACLs from :mod:`infra.stack.kafka_acls`.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ConfigResource,
    ConfigResourceType,
    NewPartitions,
    NewTopic,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from kafka.errors import KafkaError, SaslAuthenticationFailedError, TopicAlreadyExistsError

from forewarn.settings import KafkaRole, KafkaSettings, role_user
from infra.stack.kafka_acls import DEFAULT_ALERTS_GROUP, Grant, Pattern, Resource, all_grants
from infra.stack.process import port_open
from infra.stack.service import INFRA_DIR, Health, Service

MECHANISM = "SCRAM-SHA-512"
CONTROLLER_USER = role_user("controller")  # the broker itself on the KRaft controller listener
# Written beside the storage when it is formatted with SCRAM users: storage without it predates auth.
AUTH_MARKER = "forewarn-auth"


class KafkaAuthError(RuntimeError):
    """The broker's storage or credentials do not fit its authentication; the message says what to do."""


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

    def _credentials(self) -> dict[str, str]:
        """Every SCRAM user the broker gets (``forewarn-<role>`` → password): the roles' and the admin."""
        kafka = self.ctx.kafka
        users = {role_user(role): password.get_secret_value() for role, password in kafka.users.items()}
        admin = kafka.for_role(KafkaRole.ADMIN)
        if admin.sasl_username and admin.sasl_password:
            users[admin.sasl_username] = admin.sasl_password.get_secret_value()
        return users

    def _admin_login(self) -> tuple[str, str]:
        admin = self.ctx.kafka.for_role(KafkaRole.ADMIN)
        controller = self.ctx.stack.kafka_controller_password
        if not (admin.sasl_username and admin.sasl_password and controller):
            raise KafkaAuthError(
                "Kafka runs with SASL/SCRAM but no admin or controller password is set: run "
                "`forewarn stack up` (it generates them into <state>/forewarn.env)"
            )
        return admin.sasl_username, admin.sasl_password.get_secret_value()

    def prepare(self) -> None:
        data = self.data_dir()
        log_dirs = data / "data"
        host, port = self.listen()
        admin_user, admin_password = self._admin_login()
        controller_password = self.ctx.stack.kafka_controller_password
        assert controller_password is not None  # _admin_login checked
        write_private(
            self._config(),
            (INFRA_DIR / "kafka" / "server.properties.tmpl")
            .read_text()
            .format(
                host=host,
                port=port,
                controller_port=self.ctx.stack.kafka_controller_port,
                log_dirs=log_dirs,
                admin_user=admin_user,
                admin_password=jaas_value(admin_password),
                controller_user=CONTROLLER_USER,
                controller_password=jaas_value(controller_password.get_secret_value()),
            ),
        )
        if (log_dirs / "meta.properties").is_file():
            if not (data / AUTH_MARKER).is_file():
                raise KafkaAuthError(
                    f"Kafka's storage in {log_dirs} was formatted before authentication existed: it "
                    f"has no {admin_user} user, so the broker would refuse every client. Nothing was "
                    f"deleted. To start afresh (this loses the local topics' records), stop the stack "
                    f"and delete the local Kafka data: `forewarn stack down && rm -r {data}`, then "
                    f"`forewarn stack up`"
                )
            return
        # First start: format the storage with a fresh cluster id (kept for the record) and the users.
        cluster_id = _cluster_id()
        (data / "cluster.id").write_text(cluster_id + "\n")
        scram = [
            f"{MECHANISM}=[name={user},password={pw}]" for user, pw in sorted(self._credentials().items())
        ]
        arguments = ["kafka.tools.StorageTool", "format", "--cluster-id", cluster_id]
        arguments += ["--config", str(self._config()), "--ignore-formatted"]
        for entry in scram:
            arguments += ["--add-scram", entry]
        # The passwords go through a java @argfile (mode 600, deleted at once), never the command line.
        argfile = data / "format.args"
        write_private(argfile, "\n".join(argfile_quoted(a) for a in arguments) + "\n")
        try:
            subprocess.run(
                [*self._java_args(256), f"@{argfile}"], check=True, capture_output=True, timeout=120
            )
        finally:
            argfile.unlink(missing_ok=True)
        (data / AUTH_MARKER).write_text(f"{MECHANISM}\n")

    def argv(self) -> list[str]:
        return [*self._java_args(self.ctx.stack.kafka_heap_mb), "kafka.Kafka", str(self._config())]

    def check(self) -> Health:
        host, port = self.listen()
        if not port_open(host, port):
            return Health(False, "not listening")
        try:
            admin = self._admin()
        except SaslAuthenticationFailedError as exc:
            return Health(False, f"authentication failed as {self.ctx.kafka.sasl_username}: {exc}")
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
        admin = self._admin()
        try:
            ensure_users(admin, self._credentials())
            if kafka.users:  # roles exist: each gets its grants (a cluster run elsewhere has its own)
                ensure_acls(admin, all_grants(kafka))
        finally:
            admin.close()

    def auth(self) -> str:
        """The mechanism, the authorizer and, from the live broker when it answers, users and ACLs."""
        kafka = self.ctx.kafka
        if not kafka.sasl_mechanism:
            return "none"
        words = f"{kafka.security_protocol} {kafka.sasl_mechanism}, ACLs (StandardAuthorizer)"
        try:
            admin = self._admin()
        except KafkaError:
            return f"{words}, {len(self._credentials())} users configured"
        try:
            users = admin.describe_user_scram_credentials()
            acls, _ = admin.describe_acls(_ANY_ACL)
        except KafkaError:
            return f"{words}, {len(self._credentials())} users configured"
        finally:
            admin.close()
        return f"{words}, {len(users)} users, {len(acls)} ACLs"


_ANY_ACL = ACLFilter(
    principal=None,
    host=None,
    operation=ACLOperation.ANY,
    permission_type=ACLPermissionType.ANY,
    resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
)


def _acl(grant: Grant) -> ACL:
    resource = ResourceType.TOPIC if grant.resource is Resource.TOPIC else ResourceType.GROUP
    pattern = (
        ACLResourcePatternType.PREFIXED
        if grant.pattern is Pattern.PREFIXED
        else ACLResourcePatternType.LITERAL
    )
    return ACL(
        principal=grant.principal,
        host="*",
        operation=ACLOperation[grant.operation.name],
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePattern(resource, grant.name, pattern),
    )


def ensure_acls(admin: KafkaAdminClient, grants: list[Grant]) -> int:
    """Create the ACLs of ``grants`` the broker does not have yet (idempotent; nothing is removed).

    Returns:
        How many were created.

    Raises:
        KafkaAuthError: the broker refused one (it names the first error).
    """
    existing, _ = admin.describe_acls(_ANY_ACL)
    have = set(existing)
    missing = [acl for acl in (_acl(g) for g in grants) if acl not in have]
    if not missing:
        return 0
    result = admin.create_acls(missing)
    if result["failed"]:
        raise KafkaAuthError(f"Kafka refused {len(result['failed'])} ACLs: {result['failed'][0]}")
    return len(missing)


def grant_roles(
    admin_settings: KafkaSettings, topics: KafkaSettings, alerts_group: str = DEFAULT_ALERTS_GROUP
) -> int:
    """Give each component role its ACLs on the topics ``topics`` names (a run's or a test's own).

    ``admin_settings`` authenticate as a super user. Nothing happens when ``topics`` has no role
    users (a cluster whose operators manage its ACLs): the components then use one shared user.

    Returns:
        How many ACLs were created.
    """
    if not topics.users:
        return 0
    admin = KafkaAdminClient(
        **admin_settings.client_config(), client_id="forewarn-acls", request_timeout_ms=10_000
    )
    try:
        return ensure_acls(admin, all_grants(topics, alerts_group))
    finally:
        admin.close()


def revoke_roles(
    admin_settings: KafkaSettings, topics: KafkaSettings, alerts_group: str = DEFAULT_ALERTS_GROUP
) -> None:
    """Remove what :func:`grant_roles` gave on ``topics`` (a test's topics, deleted after it).

    Only :func:`revocable` grants: the stack's own stay, whatever names ``topics`` shares with it.
    """
    if not topics.users:
        return
    admin = KafkaAdminClient(
        **admin_settings.client_config(), client_id="forewarn-acls", request_timeout_ms=10_000
    )
    try:
        admin.delete_acls([_acl(g) for g in revocable(admin_settings, topics, alerts_group)])
    finally:
        admin.close()


def revocable(
    admin_settings: KafkaSettings, topics: KafkaSettings, alerts_group: str = DEFAULT_ALERTS_GROUP
) -> list[Grant]:
    """The grants on ``topics`` that :func:`revoke_roles` may remove.

    A run's or a test's settings usually rename only some topics (a bench's own ``telemetry``, the
    stack's ``risk``) and keep the default engine group: the grants the stack gives at start on its
    own names (``admin_settings``'s, :func:`all_grants`) are kept, or the running stack would lose
    them. Prefixed grants (Spark's source groups) are every scoring job's, whatever its topics: kept.
    """
    stack = set(all_grants(admin_settings))
    return [g for g in all_grants(topics, alerts_group) if g.pattern is Pattern.LITERAL and g not in stack]


def ensure_users(admin: KafkaAdminClient, users: dict[str, str]) -> list[str]:
    """Create the SCRAM users the broker lacks (a role added after the storage was formatted).

    Existing users keep their credentials: a password is only ever set once, at creation.

    Returns:
        The users created.
    """
    described = admin.describe_user_scram_credentials(list(users))
    missing = sorted(user for user in users if described.get(user, {}).get("error") or user not in described)
    if not missing:
        return []
    errors = admin.alter_user_scram_credentials(
        [UserScramCredentialUpsertion(user, ScramMechanism.SCRAM_SHA_512, users[user]) for user in missing]
    )
    failed = {user: error for user, error in errors.items() if error}
    if failed:
        raise KafkaAuthError(f"Kafka refused to create SCRAM users: {failed}")
    return missing


def jaas_value(value: str) -> str:
    """A value inside a JAAS option's double quotes, as a Java properties file holds it.

    JAAS reads backslash escapes inside quotes, and so does the properties parser before it.
    """
    jaas = value.replace("\\", "\\\\").replace('"', '\\"')
    return jaas.replace("\\", "\\\\")


def argfile_quoted(value: str) -> str:
    """One argument of a java launcher @argfile (double quotes; backslash escapes inside them)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` readable by its owner only (it holds passwords); mode 600 from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.read_text() == text:
        path.chmod(0o600)
        return path
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    tmp.chmod(0o600)
    tmp.replace(path)
    return path


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
