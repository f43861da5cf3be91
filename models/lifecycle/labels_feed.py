"""Where the lifecycle gets the latest labels: the work-order store, through ``forewarn labels export``.

The models may not import the alert service (``alerts``: the import rules in ``pyproject.toml``
keep the data flow one way), and the labels contract between them is the label file
(:mod:`forewarn.contracts.labels`). So the lifecycle runs the alert service's own export, the one
``forewarn labels export`` command (``alerts.labels.from_store`` over the work-order store of
``FOREWARN_ALERTS_DATABASE_URL``), as a child process into a temporary file, and reads that file
like ``forewarn train --labels`` does. A label file given in settings
(``FOREWARN_LIFECYCLE_LABELS_FILE``) is read instead, for stores this machine cannot reach.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from models.lifecycle.watch import LabelTally
from models.sources import SourceError

log = logging.getLogger(__name__)

EXPORT_TIMEOUT_S = 120.0


def export_labels(out: Path, database_url: str | None = None, timeout_s: float = EXPORT_TIMEOUT_S) -> Path:
    """Write the work-order store's labels to ``out`` with ``forewarn labels export``; returns ``out``.

    Args:
        out: the label file to write (``.csv``).
        database_url: the work-order store; None: the child reads ``FOREWARN_ALERTS_DATABASE_URL``.
        timeout_s: how long the export may take.

    Raises:
        SourceError: the export failed (its last error line is in the message) or timed out.
    """
    command = [sys.executable, "-m", "chain", "labels", "export", "--out", str(out)]
    env = dict(os.environ)
    if database_url:
        env["FOREWARN_ALERTS_DATABASE_URL"] = database_url
    try:
        done = subprocess.run(command, env=env, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise SourceError(f"`forewarn labels export` took longer than {timeout_s:.0f}s") from None
    text = done.stderr.decode(errors="replace").strip().splitlines()
    if done.returncode != 0:
        raise SourceError(f"`forewarn labels export` failed (exit {done.returncode}): {(text or ['?'])[-1]}")
    if text:
        log.info("%s", text[-1])
    return out


def tally_labels(path: Path, seen: frozenset[str] = frozenset()) -> LabelTally:
    """The labels in a label file and how many assets a retrain on them would judge: every labelled
    asset the champion was not fitted on (``seen``), out of fold
    (:func:`models.lifecycle.retrain.judge_folds`); the retrain then drops labelled assets without
    telemetry, so this is an upper bound the watch waits for."""
    from models.feedback import read_label_file

    try:
        table = read_label_file(path)
    except SourceError as exc:
        if "holds no labels" in str(exc):
            return LabelTally(0, 0)
        raise
    return LabelTally(len(table), len(set(table["asset_id"].astype(str)) - seen))
