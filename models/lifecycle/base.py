"""The original training source of a retrain, and how its frame joins the labels' frame.

A retrained challenger learns from the latest work-order labels (with their assets' telemetry)
*and* from the data the champion was trained on, so the recent labels refine the model instead of
replacing a fleet's worth of history with a few dozen assets. Which data that was is recorded on
the champion: its ``forewarn.base_source`` tag (a retrained version) or ``forewarn.source`` (a
trained one), with the run's parameters (``sim_*`` of a simulated fleet; ``base_sim_*`` once
retrained). Pure functions here; building the source's frame is :func:`load_base`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from models.sources import SourceError, TrainingData

BASE_SOURCE_TAG = "forewarn.base_source"
BASE_PREFIX = "base_"
BASE_ASSET_PREFIX = "base:"
LABELS_ASSET_PREFIX = "labels:"


@dataclass(frozen=True)
class BaseSpec:
    """A rebuildable training source: ``fleet`` (simulation parameters) or ``cmapss`` (a subset)."""

    kind: str
    params: Mapping[str, Any]

    def describe(self) -> str:
        return f"{self.kind}:" + ",".join(f"{k}={v}" for k, v in self.params.items())


def parse_source(source: str, run_params: Mapping[str, str] | None = None) -> BaseSpec | None:
    """The rebuildable source behind a ``forewarn.source`` string, or None (a label file, unknown).

    ``fleet:assets=200,steps=400,interval_s=1,seed=0`` (``failing_share`` from the run's
    ``sim_failing_share`` or ``base_sim_failing_share``, else 0.5); ``cmapss:FD001``.

    Raises:
        SourceError: a fleet source missing a parameter or with a malformed one.
    """
    params = dict(run_params or {})
    kind, _, rest = source.strip().partition(":")
    if kind == "cmapss" and rest:
        return BaseSpec("cmapss", {"subset": rest.upper()})
    if kind != "fleet":
        return None
    pairs = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
    share = pairs.get(
        "failing_share", params.get("sim_failing_share", params.get(f"{BASE_PREFIX}sim_failing_share", "0.5"))
    )
    try:
        return BaseSpec(
            "fleet",
            {
                "assets": int(pairs["assets"]),
                "steps": int(pairs["steps"]),
                "interval_s": float(pairs["interval_s"]),
                "seed": int(pairs["seed"]),
                "failing_share": float(share),
            },
        )
    except (KeyError, ValueError) as exc:
        raise SourceError(f"cannot rebuild the fleet source {source!r}: {exc!r}") from None


def champion_base(tags: Mapping[str, str], run_params: Mapping[str, str]) -> tuple[BaseSpec | None, str]:
    """The champion's original training source (None when it cannot be rebuilt) and why."""
    recorded = tags.get(BASE_SOURCE_TAG) or tags.get("forewarn.source", "")
    spec = parse_source(recorded, run_params)
    if spec is None:
        return None, f"the champion's source {recorded or '(none recorded)'!r} cannot be rebuilt"
    return spec, f"the champion's source {recorded!r}"


def load_base(
    spec: BaseSpec, rul_cap_steps: int, data_dir: Path | None, setting_decimals: tuple[int, ...]
) -> TrainingData:
    """Build the source's training data (simulate the fleet again, or read the C-MAPSS subset).

    Raises:
        SourceError: a C-MAPSS source without ``FOREWARN_LIFECYCLE_CMAPSS_DATA_DIR``.
        CmapssFormatError: the subset's files are missing or malformed.
    """
    from models import sources

    if spec.kind == "fleet":
        p = spec.params
        return sources.fleet(
            p["assets"], p["steps"], p["interval_s"], p["seed"], p["failing_share"], rul_cap_steps
        )
    if data_dir is None:
        raise SourceError(
            f"the base source {spec.describe()} needs its files: set FOREWARN_LIFECYCLE_CMAPSS_DATA_DIR"
        )
    return sources.cmapss(data_dir, str(spec.params["subset"]), None, setting_decimals)


def _prefixed(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    return frame.assign(asset_id=prefix + frame["asset_id"].astype(str))


def same_columns(base: TrainingData, labels: TrainingData) -> bool:
    """Whether both sources read the same settings and sensors (by name, in any order)."""
    return set(base.columns.settings) == set(labels.columns.settings) and set(base.columns.sensors) == set(
        labels.columns.sensors
    )


def combine(base: TrainingData | None, labels: TrainingData) -> tuple[TrainingData, str]:
    """One training source of both, asset ids prefixed (``base:``, ``labels:``) so none collide.

    The labels' settings and sensors must be the base's (any order), else the labels are used alone
    and the note says why. The combined frame keeps the columns both frames have; the base's
    columns (their order and rounding) are the model's; ``cycle`` is age only if it is in both.
    Source parameters of the base are recorded with a ``base_`` prefix (the unit of RUL stays the
    labels' reading step, which the streaming job scores in).

    Returns:
        (the training data, a note for the event and the JSON line).
    """
    if base is None:
        return labels, "labels only"
    if not same_columns(base, labels):
        mine = sorted(base.columns.settings + base.columns.sensors)
        theirs = sorted(labels.columns.settings + labels.columns.sensors)
        note = f"labels only: the base source {base.source} reads {mine}, the labelled telemetry {theirs}"
        return labels, note
    left, right = _prefixed(base.frame, BASE_ASSET_PREFIX), _prefixed(labels.frame, LABELS_ASSET_PREFIX)
    shared = [c for c in right.columns if c in left.columns]
    frame = pd.concat([left[shared], right[shared]], ignore_index=True)
    tables = [
        _prefixed(t, p)
        for t, p in ((base.labels, BASE_ASSET_PREFIX), (labels.labels, LABELS_ASSET_PREFIX))
        if t is not None
    ]
    columns = dataclasses.replace(
        base.columns, cycle_is_age=base.columns.cycle_is_age and labels.columns.cycle_is_age
    )
    params = {
        **labels.params,
        **{f"{BASE_PREFIX}{k}": v for k, v in base.params.items()},
        "base_source": base.source,
        "base_assets": int(base.frame["asset_id"].nunique()),
    }
    data = TrainingData(
        frame,
        columns,
        f"{labels.source}+{base.source}",
        params,
        labels=pd.concat(tables, ignore_index=True) if tables else None,
        step_s=labels.step_s,
    )
    return data, f"labels + {base.source}"
