"""Fixtures shared by every test tier.

Integration and end-to-end tests use the real local stack: started once per test session (or
reused when `make up` already runs it), with a fresh topic, database or model name per test, and
stopped at the end only if this session started it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from forewarn.paths import project_root
from infra.stack import stack as stack_ops
from infra.stack.service import StackContext

# The C-MAPSS data the team shares sits beside the checkout (``../shared``); CI clones next to it too.
CMAPSS_DIR = Path(
    os.environ.get("FOREWARN_CMAPSS_DIR") or project_root().parent / "shared" / "data" / "cmapss"
)


@pytest.fixture(autouse=True)
def _one_commands_logging() -> Iterator[None]:
    """A command run in-process (typer's CliRunner) sets up logging for its component; the next test's
    command must not write through it."""
    yield
    from forewarn import logs

    logs.reset()


def unique(prefix: str) -> str:
    """A name no other test uses: ``<prefix>-<8 hex>``."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def stack() -> Iterator[StackContext]:
    """The running local stack; started here (and stopped after the session) unless already up."""
    ctx = StackContext.prepared()
    already_up = all(row.health.ok for row in stack_ops.status(ctx))
    if not already_up:
        stack_ops.up(ctx, print)
    yield ctx
    if not already_up:
        stack_ops.down(ctx, print)


@pytest.fixture
def new_topic(stack: StackContext) -> Iterator[Callable[..., str]]:
    """Create uniquely named Kafka topics for one test; they are deleted afterwards."""
    admin = KafkaAdminClient(**stack.kafka.client_config(), client_id="forewarn-tests")
    created: list[str] = []

    def make(prefix: str = "test", partitions: int = 1) -> str:
        name = unique(prefix)
        admin.create_topics([NewTopic(name, partitions, 1)], wait_for_metadata=True)
        created.append(name)
        return name

    yield make
    if created:
        admin.delete_topics(created)
    admin.close()


@pytest.fixture
def influx_database(stack: StackContext) -> Iterator[str]:
    """A fresh InfluxDB database for one test, dropped afterwards.

    Created by the admin (``stack.influx``) with the writer's and the reader's grants on it, so a
    component under test that narrows itself to its role works on it as it does on the stack's.
    """
    from forewarn.influx_admin import create_database, drop_database

    name = unique("test").replace("-", "_")
    create_database(stack.influx, name)
    yield name
    drop_database(stack.influx, name)


@pytest.fixture(scope="session")
def spark(stack: StackContext) -> Iterator[Any]:
    """One local SparkSession per test session, with the pre-resolved Kafka connector."""
    from streaming.session import spark_session

    settings = stack.spark.model_copy(update={"master": "local[2]", "shuffle_partitions": 2})
    session = spark_session(settings, stack.state, "forewarn-tests")
    yield session
    session.stop()


@pytest.fixture
def mlflow_tracking(stack: StackContext) -> str:
    """Point MLflow at the stack's tracking server as its admin; yields a model name unique to the test."""
    import mlflow

    from models import tracking

    tracking.connect(stack.mlflow)  # the admin's credentials in MLflow's environment variables
    mlflow.set_tracking_uri(stack.mlflow.tracking_uri)
    mlflow.set_registry_uri(stack.mlflow.registry_uri or stack.mlflow.tracking_uri)
    return unique("test-model")
