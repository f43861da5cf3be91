"""Drive ``streaming.step`` as Spark does, without Spark: Kafka-shaped records in, buckets of assets,
state handed back through Spark's type check and a pickle round trip; and the offline scores to
compare with. Shared by the step's unit tests and the InfluxDB points' ones."""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql.types import StructType, _make_type_verifier

from forewarn.contracts.telemetry import Reading, encode_run
from ingest.cmapss import SENSOR_COLUMNS, SETTING_COLUMNS, read_run
from streaming import packed, scoring
from streaming.scoring import Champion, ModelRef
from streaming.step import INPUT_COLUMNS, OUTPUT, OUTPUT_COLUMNS, PACKED, STATE, StepConfig, make_update
from tests.conftest import CMAPSS_DIR

REF = ModelRef("http://registry", "http://registry", "forewarn-rul", "champion", refresh_s=3600.0)
TOPIC = "telemetry"
RISK_TOPIC = "risk"
DLQ_TOPIC = "telemetry.dlq"
T0_MS = 1_767_225_600_000


def serve(model: Any, version: str = "1") -> None:
    """Make ``model`` the worker's cached champion (what ``streaming.scoring.champion`` returns)."""
    scoring._CACHE[REF] = Champion(REF.name, REF.alias, version, model, time.monotonic())


def step_config(**changes: Any) -> StepConfig:
    return StepConfig(ref=REF, risk_topic=RISK_TOPIC, dlq_topic=DLQ_TOPIC, **{"top_k": 2, **changes})


@cache
def _fd001_test() -> pd.DataFrame:
    return read_run(CMAPSS_DIR / "test_FD001.txt.gz")


def engine(unit: int, cycles: Iterable[int], asset: str | None = None, site: str = "s1") -> list[Reading]:
    """Readings of one FD001 test engine (units 3, 4 and 5 run 126, 106 and 98 cycles): seq = cycle."""
    frame = _fd001_test()
    rows = frame[frame["unit"] == unit].set_index("cycle")
    return [
        Reading(
            asset or f"engine-{unit}",
            site,
            T0_MS + 60_000 * c,
            c,
            {k: float(rows.at[c, k]) for k in SETTING_COLUMNS},
            {k: float(rows.at[c, k]) for k in SENSOR_COLUMNS},
        )
        for c in cycles
    ]


@dataclass
class Kafka:
    """Records as Spark's Kafka source gives them to the step (``INPUT_COLUMNS``): each record's
    partition and offset, its timestamp a second after the previous one's."""

    offset: int = 0

    def records(self, values: Sequence[tuple[str | bytes | None, bytes | None]]) -> pd.DataFrame:
        rows = []
        for key, value in values:
            raw_key = key.encode() if isinstance(key, str) else key
            rows.append((raw_key, value, TOPIC, self.offset % 3, self.offset, T0_MS + 1000 * self.offset))
            self.offset += 1
        return pd.DataFrame(rows, columns=list(INPUT_COLUMNS))

    def runs(self, runs: Sequence[Sequence[Reading]]) -> pd.DataFrame:
        return self.records([(run[0].asset_id, encode_run(run)) for run in runs])


class State:
    """What ``applyInPandasWithState`` hands the function: ``exists``, ``get``, ``update``.

    ``update`` checks the value against ``STATE`` as Spark does on its way to the state store
    and hands back what a pickle round trip gives.
    """

    def __init__(self) -> None:
        self.value: tuple[Any, ...] | None = None
        self.verify = _make_type_verifier(STATE)

    @property
    def exists(self) -> bool:
        return self.value is not None

    @property
    def get(self) -> tuple[Any, ...]:
        assert self.value is not None
        return self.value

    def update(self, value: tuple[Any, ...]) -> None:
        self.verify(tuple(value))
        self.value = tuple(pickle.loads(pickle.dumps(STATE.toInternal(tuple(value)))))  # noqa: S301


_VERIFY = {id(OUTPUT): _make_type_verifier(OUTPUT), id(PACKED): _make_type_verifier(PACKED)}


def check_output(frame: pd.DataFrame, schema: StructType = OUTPUT) -> None:
    """Every output row passes pyspark's type check for ``schema`` (Python values, as Spark would see
    them), and every column converts to the Arrow type Spark asks for (what ``applyInPandasWithState``
    does: a long column holding a NaN would not)."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_type

    assert list(frame.columns) == schema.fieldNames()
    verify = _VERIFY[id(schema)]
    for row in frame.itertuples(index=False):
        verify(tuple(v.item() if isinstance(v, np.generic) else v for v in row))
    for f in schema.fields:
        pa.Array.from_pandas(frame[f.name], type=to_arrow_type(f.dataType))


def unpacked(frame: pd.DataFrame) -> pd.DataFrame:
    """What the JVM makes of the workers' packed rows (``streaming.packed.unpack``: one row per record,
    ``posexplode_outer``), in pandas: the step's rows (:data:`OUTPUT`) in their order."""
    rows: list[dict[str, Any]] = []
    for row in frame.to_dict("records"):
        base = {c: row[c] for c in OUTPUT_COLUMNS if c not in packed.PACKED_AS}
        keys = row["keys"]
        if keys is None:
            rows.append({**base, "key": None, "value": None, "reason": None})
            continue
        reasons = row["reasons"] if row["reasons"] is not None else [None] * len(keys)
        rows += [
            {**base, "key": k, "value": v, "reason": r}
            for k, v, r in zip(keys, row["values"], reasons, strict=True)
        ]
    out = pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
    for name in OUTPUT_COLUMNS:
        if name not in packed.PACKED_AS:
            out[name] = out[name].astype(frame[name].dtype)
    return out


@dataclass
class Job:
    """The job without Spark: each micro-batch's records grouped by bucket, one ``make_update`` call
    per bucket, each bucket's state kept as Spark keeps it."""

    config: StepConfig = field(default_factory=step_config)
    bucket: Callable[[str | None], int] = lambda key: 0
    states: dict[int, State] = field(default_factory=dict)

    def batch(self, records: pd.DataFrame) -> pd.DataFrame:
        update = make_update(self.config)
        keys = [k.decode() if isinstance(k, bytes) else k for k in records["key"]]
        buckets = np.asarray([self.bucket(k) for k in keys])
        out: list[pd.DataFrame] = []
        for b in dict.fromkeys(buckets.tolist()):
            part = records[buckets == b].reset_index(drop=True)
            out.extend(update((b,), iter([part]), self.states.setdefault(b, State())))
        frame = pd.concat(out, ignore_index=True)
        check_output(frame, PACKED)
        rows = unpacked(frame)
        check_output(rows)
        return rows

    def run(self, batches: Iterable[pd.DataFrame]) -> pd.DataFrame:
        return pd.concat([self.batch(b) for b in batches], ignore_index=True)


def offline(model: Any, readings: Sequence[Reading], top_k: int = 2) -> pd.DataFrame:
    """The model's own batch scoring (``RulRiskModel.predict``) of ``readings``, by (asset_id, seq)."""
    frame = pd.DataFrame(
        [{"asset_id": r.asset_id, "cycle": r.seq, **r.settings, **r.sensors} for r in readings]
    )
    return model.predict(frame, top_k=top_k).set_index(["asset_id", "cycle"])
