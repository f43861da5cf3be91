"""The ``labels`` contract: the label file ``forewarn labels export`` writes and ``train --labels`` reads.

One row per work-order outcome (or any other labelled asset event), columns in this order:

| column | meaning |
| --- | --- |
| ``asset_id`` | the asset |
| ``ts`` | a fault: when it happened (``failed_at``), else seen (on site, else completion); UTC, ISO 8601 |
| ``failure_mode`` | the failure code (the crew's, else the alert's), or :data:`NO_FAILURE`: found sound |
| ``source`` | a :class:`LabelSource` (``work_order`` or ``false_alarm`` from the work-order store) |

A work order's fault label carries the failure's time when the crew reported it at completion, as
training reads it (the readings before it are the failing life's); a sound asset's label carries the
time the crew saw it sound (it had not failed by then).

CSV with a header, or Parquet (every column text) when the path ends in ``.parquet``. The alert service
writes it with :func:`write_label_file`; the models read it with :data:`LABEL_FILE_COLUMNS`, and
their label table accepts the same :class:`LabelSource` codes and :data:`NO_FAILURE`.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

NO_FAILURE = "none"
"""The failure mode of a label that says the asset was sound then (a false alarm, a sound inspection)."""


class LabelSource(StrEnum):
    """Where a label comes from."""

    RUN_TO_FAILURE = "run_to_failure"
    WORK_ORDER = "work_order"
    FALSE_ALARM = "false_alarm"
    SIMULATION = "simulation"


class Label(BaseModel):
    """One training label: the asset failed by ``failure_mode`` at ``ts`` (at the latest), or was sound
    then (``none``). Training reads a fault's ``ts`` as the failure's time: the readings before it are
    the failing life's, those after it the next life's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset_id: str = Field(min_length=1)
    ts: AwareDatetime
    failure_mode: str = Field(min_length=1)
    source: LabelSource

    def file_row(self) -> dict[str, str]:
        """The row of the label file (every value text; the time as ISO 8601 with its offset)."""
        return {
            name: value.isoformat() if isinstance(value, datetime) else str(value) for name, value in self
        }


LABEL_FILE_COLUMNS: tuple[str, ...] = tuple(Label.model_fields)
"""The label file's columns, in order: the record's fields."""


def write_label_file(labels: Sequence[Label], path: Path) -> None:
    """Write the label file: CSV, or Parquet when ``path`` ends in ``.parquet`` (needs pyarrow)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [label.file_row() for label in labels]
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(
            pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in LABEL_FILE_COLUMNS}), path
        )
        return
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=LABEL_FILE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
