"""Where forewarn keeps what it writes at run time.

Everything a local stack writes (service data, logs, pid files, generated credentials, resolved
jars) lives under one git-ignored *state folder*, so ``make clean`` is one ``rm -rf`` and two
checkouts never share state by accident.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "FOREWARN_STATE_DIR"


def project_root() -> Path:
    """The checkout this package was installed from (editable install), else the working directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def default_state_dir() -> Path:
    """``$FOREWARN_STATE_DIR`` if set, else ``<checkout>/.state``.

    This is the one environment read outside the settings classes: the settings themselves are
    loaded from an env file *inside* the state folder, so its location has to be known first.
    """
    configured = os.environ.get(STATE_DIR_ENV)
    return Path(configured).expanduser().resolve() if configured else project_root() / ".state"


def env_file(state_dir: Path | None = None) -> Path:
    """The generated ``forewarn.env`` holding local development credentials."""
    return (state_dir or default_state_dir()) / "forewarn.env"


def spark_jars_dir(state_dir: Path, configured: Path | None = None) -> Path:
    """Spark's Kafka connector jars: ``FOREWARN_SPARK_JARS_DIR`` (``configured``) or ``<state>/jars/spark``.

    Resolved by `make setup` (Maven, ``infra/spark/pom.xml``) so a streaming job starts without a
    resolver; the stack reports them and the job puts them on its class path.
    """
    return configured or state_dir / "jars" / "spark"


def connector_jars(state_dir: Path, configured: Path | None = None) -> list[Path]:
    """The connector and its run-time jars; raises if `make setup` has not resolved them."""
    folder = spark_jars_dir(state_dir, configured)
    jars = sorted(folder.glob("*.jar"))
    if not any(j.name.startswith("spark-sql-kafka-0-10_") for j in jars):
        raise RuntimeError(f"spark-sql-kafka-0-10 is missing in {folder}: run `make setup`")
    return jars
