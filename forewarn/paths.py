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
