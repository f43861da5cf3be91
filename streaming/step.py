"""The scoring job's one Python step: a bucket of assets' Kafka records in, finished output out.

``groupBy(bucket).applyInPandasWithState`` calls :func:`make_update` once per bucket (a bounded hash
of the asset id) and micro-batch, with the raw Kafka records of all the bucket's assets. One call:

1. parses the records (:mod:`streaming.runs`: orjson, checked against the telemetry contract);
2. merges every asset's readings into its window (:mod:`streaming.window`: duplicates, late);
3. checks each fresh reading can be scored by the champion (its values present, finite and within
   :data:`MAX_ABS_Z` of its regime's training distribution) — what cannot is a dead letter and does
   not enter the window, so it poisons no later score;
4. computes the feature rows of all fresh readings of all the bucket's assets in one vectorised
   pass (:func:`models.features.window_features`, the function training uses);
5. scores them with one ``predict`` per model call, explains the rows an operator will look at
   (:func:`explained_rows`), and
6. returns finished rows: ``risk`` Kafka records (JSON built here), dead letters (the contract's
   encoder), InfluxDB lines (``telemetry`` and ``risk`` points) and one ``stats`` row.

The JVM then only moves bytes: no JSON parsing in Spark; the records cross to it packed, a few
thousand to a row, and become one row each only for the Kafka write (:mod:`streaming.packed`). The state
(:class:`streaming.window.BucketWindows`) is checkpointed by Spark with the Kafka offsets, so after
a crash every reading is merged exactly once.

Nothing a record holds can raise out of a call: what the contract refuses, what the model cannot
score, a ``predict`` that fails on some rows — each is a dead letter with its reason. An error that
is not about a record (the registry down before the first model loaded) still fails the micro-batch,
which is retried from the checkpoint.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
from pyspark.sql.types import BinaryType, DoubleType, LongType, StringType, StructField, StructType

from forewarn.contracts import dead_letter
from forewarn.contracts.dead_letter import DeadLetter, ScoringReason, Stage
from forewarn.contracts.influx_schema import RISK, PointCache
from forewarn.contracts.risk import RISK_FIELDS, RISK_SCHEMA_VERSION
from models.features import feature_names, window_features
from streaming import packed, worker_gc, worker_heap
from streaming.runs import Readings, read_records
from streaming.scoring import Champion, ModelRef, champion, failure_modes, required_history, top_features_json
from streaming.sinks import COUNTERS, DEAD_LETTER_SAMPLES, MAX_LETTER_PAYLOAD, PointsSink, TelemetryPoints
from streaming.window import BucketWindows, Group, assemble, classify

MAX_ABS_Z = 1e30
"""The largest regime z-score of a value the model is asked to score. Beyond it the window's
statistics could leave float32, where scikit-learn's trees compare features; such a reading
(a finite number, but no sensor's) is ``unscorable``."""

RISK_POINT_FIELDS = ("risk", "rul_cycles", "horizon_cycles", "seq")
"""The ``risk`` point's fields, in the order :func:`risk_line` writes them."""
_RISK_POINTS = PointCache(RISK)


def risk_line(tags: str, risk: float, rul: float, horizon: float, seq: int, ts_ms: int) -> str:
    """One ``risk`` point after its tags (``PointCache.tags``): what ``RISK.point`` writes for
    these fields (:data:`RISK_POINT_FIELDS`), a unit test checks, at a fraction of its cost."""
    return f"{tags} risk={risk!r},rul_cycles={rul!r},horizon_cycles={horizon!r},seq={seq}i {ts_ms}"


INPUT_COLUMNS = ("key", "value", "topic", "partition", "offset", "kafka_ms")
"""What the job hands the step per Kafka record (``streaming.job``)."""

OUTPUT = StructType(
    [
        StructField("kind", StringType()),  # risk | dead | points | stats
        StructField("topic", StringType()),  # risk and dead rows: the Kafka topic to write to
        StructField("key", StringType()),
        StructField("value", BinaryType()),
        StructField("reason", StringType()),  # dead rows: the reason header
        # points rows: InfluxDB line protocol; stats rows: a few dead letters, [[reason, source], …]
        StructField("lines", StringType()),
        StructField("records", LongType()),
        StructField("readings_in", LongType()),
        StructField("duplicates", LongType()),
        StructField("scored", LongType()),
        StructField("explained", LongType()),
        StructField("late", LongType()),
        StructField("unscorable", LongType()),
        StructField("not_canonical", LongType()),
        StructField("sink_refused", LongType()),  # points InfluxDB refused (written by the worker)
        StructField("assets", LongType()),
        StructField("call_ms", DoubleType()),
        StructField("score_ms", DoubleType()),
    ]
)
OUTPUT_COLUMNS = [f.name for f in OUTPUT.fields]
PACKED = packed.packed_schema(OUTPUT)
"""What the Python workers hand the JVM: :data:`OUTPUT` with the records packed (:mod:`streaming.packed`)."""

STATE = StructType([StructField("windows", BinaryType())])


@dataclass(frozen=True)
class StepConfig:
    """What the step needs besides the records: built at the job's edge, pickled to the workers."""

    ref: ModelRef
    risk_topic: str
    dlq_topic: str
    history_readings: int = 0  # 0: what the champion's features need
    top_k: int = 3
    explain_at: float = 0.5
    points: TelemetryPoints = field(default_factory=TelemetryPoints)
    lines_per_row: int = 5000
    # the job's: each call writes its points from the worker (None: they stay ``points`` rows)
    points_sink: PointsSink | None = None


@dataclass
class _Out:
    """The call's output rows, column by column.

    Numeric columns are 0 on rows that are not ``stats`` rows (a column of numbers and nulls is a
    float column to pandas, which Arrow will not hand Spark as a long one). They are kept as the few
    values that are not 0 and made numpy arrays at the end: as lists of a Python 0 per risk record,
    pandas spent 6 % of the step's CPU converting them (py-spy on the end-to-end bench's workload).
    """

    n: int = 0
    columns: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in _TEXT})
    numbers: dict[str, list[tuple[int, list[Any]]]] = field(default_factory=lambda: {c: [] for c in _ZERO})

    def rows(self, n: int, **values: Any) -> None:
        for name, column in self.columns.items():
            given = values.get(name)
            if isinstance(given, list):
                column.extend(given)
            else:
                column.extend([given] * n)
        for name, found in self.numbers.items():
            given = values.get(name)
            if given is not None and (isinstance(given, list) or given != 0):
                found.append((self.n, given if isinstance(given, list) else [given] * n))
        self.n += n

    def frame(self) -> pd.DataFrame:
        data: dict[str, Any] = dict(self.columns)
        for name, found in self.numbers.items():
            column: np.ndarray = np.zeros(self.n, dtype=_ZERO[name])
            for at, given in found:
                column[at : at + len(given)] = given
            data[name] = column
        return pd.DataFrame(data, columns=OUTPUT_COLUMNS)


_ZERO: dict[str, type] = {**dict.fromkeys(COUNTERS, np.int64), "call_ms": np.float64, "score_ms": np.float64}
"""The numeric output columns and their types."""
_TEXT: list[str] = [c for c in OUTPUT_COLUMNS if c not in _ZERO]


@dataclass
class _Letters:
    """Dead letters of the call: key (source), value (the contract's encoding), reason."""

    topic: str
    keys: list[str] = field(default_factory=list)
    values: list[bytes] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(self, reason: ScoringReason, detail: str, source: str, payload: bytes, received_ms: int,
            record: str | None = None) -> None:  # fmt: skip
        """One letter; a payload too large for a Kafka record stays where it is (``record``, or the
        source itself: a whole telemetry record is never lost, the letter says where it is)."""
        if len(payload) > MAX_LETTER_PAYLOAD:
            detail = (
                f"{detail} (its {len(payload):,} bytes are not copied here: they stay at {record or source})"
            )
            payload = b""
        letter = DeadLetter(
            stage=Stage.SCORING,
            reason=reason,
            detail=detail,
            source=source,
            payload=payload,
            received_at=datetime.fromtimestamp(received_ms / 1000, tz=UTC),
        )
        self.keys.append(source)
        self.values.append(dead_letter.encode(letter))
        self.reasons.append(reason.value)


@dataclass
class _Fresh:
    """The fresh, scorable readings of the call and their feature rows (all column groups)."""

    reading: list[np.ndarray] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)


def _event_ts(ts_ms: np.ndarray) -> list[str]:
    """RFC 3339 with milliseconds and ``Z``: the risk record's ``event_ts``."""
    return list(np.datetime_as_string(ts_ms.astype("datetime64[ms]"), unit="ms", timezone="UTC"))


def explained_rows(
    asset_codes: np.ndarray, seqs: np.ndarray, risk: np.ndarray, explain_at: float
) -> np.ndarray:
    """Which scored rows get their top contributing sensors: risk at or above ``explain_at`` (the
    lowest alert threshold: what an alert will show) and each asset's latest reading of the call
    (what the asset page shows). The risk contract says so (``top_features``)."""
    latest = np.zeros(len(seqs), dtype=bool)
    if len(seqs):
        order = np.lexsort((seqs, asset_codes))
        last = np.ones(len(order), dtype=bool)
        last[:-1] = asset_codes[order][1:] != asset_codes[order][:-1]
        latest[order[last]] = True
    return latest | (risk >= explain_at)


PREDICT_CHUNK_BYTES = 2 << 20
"""Feature bytes per ``predict`` call. scikit-learn's boosted trees walk all rows of a call one tree
at a time, so a call's rows should stay in cache while 600 trees read them; each call also costs
one Python-level pass over the trees (5.4 ms for one row). Measured on the FD001 model (466 features,
one thread): 84 µs per row in one call of 105k rows, 75 µs at 8,192 rows, 37-43 µs at 256-1,124
rows (about 2 MB), 90 µs at 64."""


def _float32_finite(features: np.ndarray, rows: int = 4096) -> np.ndarray:
    """Rows whose every feature is finite in float32 (where scikit-learn's trees compare them); in
    slices, so a backlog's feature rows are not copied whole."""
    finite = np.empty(len(features), dtype=bool)
    with np.errstate(all="ignore"):
        for first in range(0, len(features), rows):
            part = features[first : first + rows].astype(np.float32)
            finite[first : first + rows] = np.isfinite(part).all(axis=1)
    return finite


def _predict_isolated(
    predict: Callable[[np.ndarray], np.ndarray], *blocks: np.ndarray, chunk_bytes: int = PREDICT_CHUNK_BYTES
) -> tuple[np.ndarray, list[str | None]]:
    """``predict`` on the rows of ``blocks`` (one after the other, none copied into one matrix), in
    calls of about ``chunk_bytes``; a call that raises is redone row by row, so only the
    rows it cannot take fail.

    Returns the values (NaN where a row failed) and per row the error (None where it worked).
    """
    total = sum(len(b) for b in blocks)
    values = np.full(total, np.nan)
    errors: list[str | None] = [None] * total
    at = 0
    for block in blocks:
        width = block.shape[1] if block.ndim == 2 else 1
        size = max(1, chunk_bytes // (8 * max(1, width)))
        for first in range(0, len(block), size):
            chunk = block[first : first + size]
            try:
                values[at : at + len(chunk)] = np.asarray(predict(chunk), dtype=np.float64)
            except Exception:
                for i in range(len(chunk)):
                    try:
                        values[at + i] = float(np.asarray(predict(chunk[i : i + 1]), dtype=np.float64)[0])
                    except Exception as exc:
                        errors[at + i] = f"{type(exc).__name__}: {str(exc)[:200]}"
            at += len(chunk)
    return values, errors


def _explains_alone(model: Any) -> bool:
    """Whether the model's regressor predicts occluded rows itself (``models.occlusion``)."""
    return callable(getattr(model.regressor, "predict_occluded", None))


def _as_healthy(model: Any, rows: np.ndarray) -> np.ndarray:
    """Predictions of ``rows`` with one sensor at a time made healthy (sensor-major), NaN where the
    model cannot predict one; the forest's own walk when it has one (``models.occlusion``)."""
    if _explains_alone(model):
        with contextlib.suppress(Exception):  # rows it refuses: predicted one by one below
            return np.asarray(model.as_healthy(rows), dtype=np.float64)
    values, _ = _predict_isolated(model.regressor.predict, model.occluded(rows))
    return values


class _Call:
    """One bucket's micro-batch (see the module docstring). Pure: state in, rows and state out."""

    def __init__(
        self, frame: pd.DataFrame, windows: BucketWindows, model: Champion, config: StepConfig
    ) -> None:
        self.frame = frame
        self.windows = windows
        self.model = model
        self.config = config
        self.spec = model.model.spec
        self.normaliser = model.model.normaliser
        self.history = config.history_readings or required_history(model.model)
        self.letters = _Letters(config.dlq_topic)
        self.out = _Out()
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.lines: list[str] = []
        self.risk_points = _RISK_POINTS
        self.topics = frame["topic"].tolist() if len(frame) else []
        self.partitions = [int(p) for p in frame["partition"].tolist()] if len(frame) else []
        self.offsets = [int(o) for o in frame["offset"].tolist()] if len(frame) else []
        self.kafka_ms = frame["kafka_ms"].to_numpy(dtype=np.int64) if len(frame) else np.empty(0, np.int64)

    def run(self) -> tuple[pd.DataFrame, BucketWindows]:
        frame = self.frame
        self.counts["records"] = len(frame)
        keys = [
            k.decode("utf-8", "replace") if isinstance(k, bytes | bytearray) else k
            for k in frame["key"].tolist()
        ]
        readings, refused = read_records(keys, frame["value"].tolist())
        values = frame["value"].tolist()
        for r in refused:
            source = dead_letter.kafka_source(
                self.topics[r.record], self.partitions[r.record], self.offsets[r.record]
            )
            payload = bytes(values[r.record]) if values[r.record] is not None else b""
            self.letters.add(
                ScoringReason.NOT_CANONICAL, r.detail, source, payload, int(self.kafka_ms[r.record])
            )
        self.counts["not_canonical"] = len(refused)
        self.counts["readings_in"] = len(readings)
        windows = self.windows
        score_ms = 0.0
        if len(readings):
            windows, score_ms = self._readings(readings)
        self._finish(score_ms)
        return self.out.frame(), windows

    # -- readings ------------------------------------------------------------------------------

    def _readings(self, readings: Readings) -> tuple[BucketWindows, float]:
        codes: dict[str, int] = {}
        asset_code = np.fromiter((codes.setdefault(a, len(codes)) for a in readings.asset), dtype=np.int64,
                                 count=len(readings))  # fmt: skip
        assets = list(codes)
        self.counts["assets"] = len(assets)
        merged = [readings.values(i) for i in range(len(readings))]
        names = [tuple(m) for m in merged]
        # each asset's columns: its window's, then names new to it (sorted)
        seen: dict[int, set[tuple[str, ...]]] = {}
        for code, n in zip(asset_code.tolist(), names, strict=True):
            seen.setdefault(code, set()).add(n)
        columns_of: list[tuple[str, ...]] = []
        for code, asset in enumerate(assets):
            known = self.windows.columns(asset)
            new = {name for n in seen[code] for name in n} - set(known)
            columns_of.append((*known, *sorted(new)) if new else known)
        groups: dict[tuple[str, ...], list[int]] = {}
        for code, columns in enumerate(columns_of):
            groups.setdefault(columns, []).append(code)
        fresh = _Fresh()
        new_groups: list[Group] = []
        telemetry = np.zeros(len(readings), dtype=bool)  # not a duplicate: an InfluxDB point
        for columns, members in groups.items():
            group = self._group(
                readings, asset_code, assets, merged, names, columns, members, fresh, telemetry
            )
            if group is not None:
                new_groups.append(group)
        self._telemetry(readings, telemetry)
        score_ms = self._score(readings, asset_code, fresh)
        return self.windows.replaced(new_groups), score_ms

    def _group(self, readings: Readings, asset_code: np.ndarray, assets: list[str],
               merged: list[dict[str, float]],
               names: list[tuple[str, ...]], columns: tuple[str, ...], members: list[int], fresh: _Fresh,
               telemetry: np.ndarray) -> Group | None:  # fmt: skip
        """Merge, check, featurise one set of assets that share a column set; their new windows."""
        local = np.full(len(assets), -1, dtype=np.int64)
        local[members] = np.arange(len(members))
        incoming = np.flatnonzero(local[asset_code] >= 0)
        in_local = local[asset_code[incoming]]
        in_seq = np.asarray([readings.seq[i] for i in incoming.tolist()], dtype=np.int64)
        in_values = _matrix(
            [merged[i] for i in incoming.tolist()], [names[i] for i in incoming.tolist()], columns
        )
        # the members' windows, widened to the group's columns
        w_local, w_seq, w_values = [], [], []
        for j, code in enumerate(members):
            window = self.windows.get(assets[code])
            if window is None or not len(window.seq):
                continue
            w_local.append(np.full(len(window.seq), j, dtype=np.int64))
            w_seq.append(window.seq)
            if window.columns == columns:
                w_values.append(window.values)
            else:
                wide = np.full((len(window.seq), len(columns)), np.nan)
                wide[:, : len(window.columns)] = window.values
                w_values.append(wide)
        win_local = np.concatenate(w_local) if w_local else np.empty(0, np.int64)
        win_seq = np.concatenate(w_seq) if w_seq else np.empty(0, np.int64)
        win_values = np.vstack(w_values) if w_values else np.empty((0, len(columns)))
        rules = classify(win_local, win_seq, in_local, in_seq, self.history)
        self.counts["duplicates"] += int(rules.duplicate.sum())
        telemetry[incoming[~rules.duplicate]] = True
        for i in incoming[rules.late].tolist():
            self._dead(
                readings,
                i,
                ScoringReason.LATE_FOR_STATE,
                f"older than the {self.history} readings kept for this asset",
            )
        self.counts["late"] += int(rules.late.sum())
        candidate = ~rules.duplicate & ~rules.late
        z_in, problems = self._scorable(in_values, columns)
        for position in np.flatnonzero(candidate & (problems != "")).tolist():
            self._dead(readings, int(incoming[position]), ScoringReason.UNSCORABLE, str(problems[position]))
            self.counts["unscorable"] += 1
        take = np.flatnonzero(candidate & (problems == ""))
        if not len(take) and not len(win_seq):
            return None
        z_win, _ = self._scorable(win_values, columns)
        plan = assemble(win_local, win_seq, in_local[take], in_seq[take], self.history)
        all_seq = np.concatenate([win_seq, in_seq[take]])[plan.order]
        if len(take):
            z_all = np.vstack([z_win, z_in[take]])[plan.order]
            ends = plan.fresh
            block = window_features(z_all, ends, plan.starts[ends], all_seq.astype(np.float64), self.spec)
            fresh.reading.append(incoming[take])
            fresh.features.append(block)
        all_local = np.concatenate([win_local, in_local[take]])[plan.order]
        all_values = np.vstack([win_values, in_values[take]])[plan.order]
        keep = plan.keep
        counts = np.bincount(all_local[keep], minlength=len(members)).astype(np.int64)
        present = counts > 0
        return Group(
            columns,
            tuple(assets[members[j]] for j in np.flatnonzero(present).tolist()),
            counts[present],
            all_seq[keep],
            all_values[keep],
        )

    def _scorable(self, values: np.ndarray, columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """The regime z-scores of the model's sensors for each row, and per row why it cannot be
        scored (an empty string where it can)."""
        spec, normaliser = self.spec, self.normaliser
        position = {c: i for i, c in enumerate(columns)}
        needed = (*normaliser.settings, *spec.sensors)
        missing = [c for c in needed if c not in position]
        rows = len(values)
        if missing:
            problem = f"the model needs {_names(missing)}, which this asset's readings lack"
            return np.full((rows, len(spec.sensors)), np.nan), np.full(rows, problem, dtype=object)
        settings = values[:, [position[c] for c in normaliser.settings]]
        sensors = values[:, [position[c] for c in spec.sensors]]
        with np.errstate(all="ignore"):
            z = normaliser.normalise(settings, sensors, spec.sensors)
            ok_values = np.isfinite(settings).all(axis=1) & np.isfinite(sensors).all(axis=1)
            ok_range = (np.abs(z) <= MAX_ABS_Z).all(axis=1)
        problems = np.full(rows, "", dtype=object)
        for i in np.flatnonzero(~(ok_values & ok_range)).tolist():
            absent = [
                c
                for c, v in zip(needed, values[i, [position[c] for c in needed]], strict=True)
                if not np.isfinite(v)
            ]
            if absent:
                problems[i] = f"no value for {_names(absent)} (the model needs it)"
            else:
                far = [c for c, v in zip(spec.sensors, z[i], strict=True) if not abs(v) <= MAX_ABS_Z]
                problems[i] = (
                    f"{_names(far)} beyond what the model can score "
                    f"(more than {MAX_ABS_Z:g} standard deviations from training)"
                )
        return z, problems

    def _dead(self, readings: Readings, i: int, reason: ScoringReason, detail: str) -> None:
        record = readings.record[i]
        source = dead_letter.reading_source(self.topics[record], readings.asset[i], readings.seq[i])
        where = dead_letter.kafka_source(self.topics[record], self.partitions[record], self.offsets[record])
        self.letters.add(reason, detail, source, readings.canonical(i), int(self.kafka_ms[record]), where)

    def _telemetry(self, readings: Readings, take: np.ndarray) -> None:
        points = self.config.points
        if not points.enabled:
            return
        rows = np.flatnonzero(take).tolist()
        if len(rows) == len(readings):
            self.lines += points.lines(readings.asset, readings.site, readings.ts, readings.seq,
                                       readings.settings, readings.sensors)  # fmt: skip
            return
        self.lines += points.lines(
            [readings.asset[i] for i in rows], [readings.site[i] for i in rows],
            [readings.ts[i] for i in rows], [readings.seq[i] for i in rows],
            [readings.settings[i] for i in rows], [readings.sensors[i] for i in rows],
        )  # fmt: skip

    # -- scoring -------------------------------------------------------------------------------

    def _score(self, readings: Readings, asset_code: np.ndarray, fresh: _Fresh) -> float:
        if not fresh.reading:
            return 0.0
        started = time.perf_counter()
        model, config = self.model.model, self.config
        which = np.concatenate(fresh.reading)
        features = fresh.features[0] if len(fresh.features) == 1 else np.vstack(fresh.features)
        finite = _float32_finite(features)
        for i in which[~finite].tolist():
            self._dead(readings, i, ScoringReason.UNSCORABLE,
                       "features not finite: a reading in its window lacks a value the model needs",
                       )  # fmt: skip
        self.counts["unscorable"] += int((~finite).sum())
        if not finite.all():  # a copy of every feature row otherwise (hundreds of MB in a backlog)
            which, features = which[finite], features[finite]
        names = feature_names(self.spec)
        seqs = np.asarray([readings.seq[i] for i in which.tolist()], dtype=np.int64)
        codes = asset_code[which]
        explaining = config.top_k > 0
        # Each asset's latest reading is explained whatever its risk: its occluded rows go under the
        # rows to score, so one ``predict`` call does both (a boosted model's call costs tens of
        # milliseconds whatever its rows); readings explained for their risk alone take a second call.
        # A forest with ``predict_occluded`` (models.occlusion) explains them on its own instead.
        latest = (
            explained_rows(codes, seqs, np.zeros(len(seqs)), np.inf)
            if explaining
            else np.zeros(len(seqs), bool)
        )
        stacked = latest.any() and not _explains_alone(model)
        occluded = model.occluded(features[latest]) if stacked else np.empty((0, features.shape[1]))
        raw, errors = _predict_isolated(model.regressor.predict, features, occluded)
        failed = np.asarray([e is not None for e in errors[: len(which)]], dtype=bool)
        for i, error in zip(
            which[failed].tolist(), [e for e in errors[: len(which)] if e is not None], strict=True
        ):
            self._dead(readings, i, ScoringReason.UNSCORABLE, f"the model refused its features: {error}")
        self.counts["unscorable"] += int(failed.sum())
        rul = np.clip(raw[: len(which)], 0.0, float(model.rul_cap_cycles))
        top: list[Any] = [[] for _ in range(len(which))]
        groups = list(model.sensor_groups())
        if latest.any():
            rows = np.flatnonzero(latest)
            as_healthy = raw[len(which) :] if stacked else _as_healthy(model, features[rows])
            broken = ~np.isfinite(as_healthy.reshape(len(groups), len(rows))).all(axis=0)
            self._explain(top, rows[~broken], model.effects(as_healthy, rul[rows])[~broken], groups)
        if failed.any():
            keep = ~failed
            which, features, rul = which[keep], features[keep], rul[keep]
            seqs, codes = seqs[keep], codes[keep]
            top = [t for t, k in zip(top, keep.tolist(), strict=True) if k]
            latest = latest[keep]
        if not len(which):
            return (time.perf_counter() - started) * 1000
        frame = pd.DataFrame(features, columns=names, copy=False)
        risk = np.asarray(model.risk(rul), dtype=np.float64)
        modes = failure_modes(model, frame)
        ts = np.asarray([readings.ts[i] for i in which.tolist()], dtype=np.int64)
        explain = latest.copy()
        if explaining:
            risky = np.flatnonzero((risk >= config.explain_at) & ~latest)
            if len(risky):
                as_healthy = _as_healthy(model, features[risky])
                broken = ~np.isfinite(as_healthy.reshape(len(groups), len(risky))).all(axis=0)
                self._explain(top, risky[~broken], model.effects(as_healthy, rul[risky])[~broken], groups)
                explain[risky] = True
        self.counts["explained"] += int(explain.sum())
        self.counts["scored"] += len(which)
        self._risk_rows(readings, which, ts, seqs, rul, risk, modes, top)
        return (time.perf_counter() - started) * 1000

    def _explain(self, top: list[Any], rows: np.ndarray, effects: np.ndarray, groups: list[str]) -> None:
        """The top ``top_k`` sensors of ``rows`` from their effects (rows x sensors)."""
        if not len(rows):
            return
        texts = top_features_json(pd.DataFrame(effects, columns=groups), self.config.top_k)
        for row, text in zip(rows.tolist(), texts, strict=True):
            top[row] = orjson.loads(text)

    def _risk_rows(self, readings: Readings, which: np.ndarray, ts: np.ndarray, seqs: np.ndarray,
                   rul: np.ndarray,
                   risk: np.ndarray, modes: np.ndarray, top: list[Any]) -> None:  # fmt: skip
        ref, version = self.config.ref, self.model.version
        horizon = float(self.model.model.horizon_cycles)
        self.risk_points.fields(RISK_POINT_FIELDS)  # the names checked against the schema (once)
        event_ts = _event_ts(ts)
        # the record's fields in the contract's order; the per-row values go in by update, which keeps it
        template: dict[str, Any] = dict.fromkeys(RISK_FIELDS)
        template.update(schema=RISK_SCHEMA_VERSION, horizon_cycles=horizon, model_name=ref.name,
                        model_version=version, model_alias=ref.alias)  # fmt: skip
        tags_of: dict[tuple[str, str, str], str] = {}  # per asset, site and failure mode, in this call
        keys, values = [], []
        asset, site, lines = readings.asset, readings.site, self.lines
        rows = zip(which.tolist(), seqs.tolist(), risk.tolist(), rul.tolist(), ts.tolist(),
                   [str(m) for m in modes], strict=True)  # fmt: skip
        for j, (i, seq, risk_j, rul_j, ts_j, mode) in enumerate(rows):
            record = template.copy()
            record.update(asset_id=asset[i], site=site[i], event_ts=event_ts[j], seq=seq, risk=risk_j,
                          rul_cycles=rul_j, failure_mode=mode, top_features=top[j])  # fmt: skip
            keys.append(asset[i])
            values.append(orjson.dumps(record))
            tag_key = (asset[i], site[i], mode)
            tags = tags_of.get(tag_key)
            if tags is None:
                tags = tags_of[tag_key] = self.risk_points.tags(
                    {"site": site[i], "asset_id": asset[i], "model_name": ref.name,
                     "model_version": version, "model_alias": ref.alias or "", "failure_mode": mode}
                )  # fmt: skip
            lines.append(risk_line(tags, risk_j, rul_j, horizon, seq, ts_j))
        self.out.rows(len(keys), kind="risk", topic=self.config.risk_topic, key=keys, value=values)

    # -- output --------------------------------------------------------------------------------

    def _finish(self, score_ms: float) -> None:
        letters = self.letters
        if letters.keys:
            self.out.rows(len(letters.keys), kind="dead", topic=letters.topic, key=letters.keys,
                          value=letters.values, reason=letters.reasons)  # fmt: skip
        size = self.config.lines_per_row
        for start in range(0, len(self.lines), size):
            self.out.rows(1, kind="points", lines="\n".join(self.lines[start : start + size]))
        samples = list(itertools.islice(zip(letters.reasons, letters.keys, strict=True), DEAD_LETTER_SAMPLES))
        named = orjson.dumps(samples).decode() if samples else None  # the driver logs a few
        self.out.rows(1, kind="stats", score_ms=score_ms, lines=named, **self.counts)


def _names(names: list[str]) -> str:
    """A few names for a dead letter's detail (``repr``: a name may hold anything a site sent)."""
    return ", ".join(repr(n) for n in names[:5]) + (" …" if len(names) > 5 else "")


def _matrix(
    rows: list[dict[str, float]], names: list[tuple[str, ...]], columns: tuple[str, ...]
) -> np.ndarray:
    """Readings as a (readings, columns) float64 matrix, NaN where a reading lacks a column.

    Per set of names (``names[i]`` is ``rows[i]``'s keys in order; a call holds one or a few), the
    values are read in their own order and put in place with one column index. Looking each column
    up per reading cost 4 % of the step: a new asset's columns are sorted, so C-MAPSS readings
    (``sensor_1, sensor_2, ..., sensor_10``) never matched them in order.
    """
    if not rows:
        return np.empty((0, len(columns)))
    if all(n == columns for n in names):  # every reading names the window's columns, in order
        return _values(rows, len(columns))
    out = np.full((len(rows), len(columns)), np.nan)
    position = {c: j for j, c in enumerate(columns)}
    by_names: dict[tuple[str, ...], list[int]] = {}
    for i, n in enumerate(names):
        by_names.setdefault(n, []).append(i)
    for n, members in by_names.items():
        # a name the columns lack is dropped, as the per-column lookup dropped it
        kept = [k for k, c in enumerate(n) if c in position]
        values = _values([rows[i] for i in members], len(n))
        out[np.asarray(members)[:, None], np.asarray([position[n[k]] for k in kept], dtype=np.int64)] = (
            values[:, kept]
        )
    return out


def _values(rows: list[dict[str, float]], width: int) -> np.ndarray:
    """Rows of ``width`` values each (dict order) as a matrix: one ``fromiter`` over them all, a
    third of the time of a list per row (0.9 against 2.6 µs a C-MAPSS reading)."""
    flat = itertools.chain.from_iterable(r.values() for r in rows)
    return np.fromiter(flat, dtype=np.float64, count=len(rows) * width).reshape(len(rows), width)


def step(
    frame: pd.DataFrame, windows: BucketWindows, model: Champion, config: StepConfig
) -> tuple[pd.DataFrame, BucketWindows]:
    """One bucket's micro-batch without Spark: the records (:data:`INPUT_COLUMNS`) and the bucket's
    windows in; the output rows (:data:`OUTPUT`) and the new windows out."""
    with gc_paused():
        return _Call(frame, windows, model, config).run()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cycle collector off for one call, back as it was after.

    A call keeps a few dicts and strings per reading alive until it returns (the parsed readings,
    the risk records), so the collector's full passes walked hundreds of thousands of objects that
    reference counting frees anyway: 20 full passes cost 2.9 s of CPU in 400,000 C-MAPSS readings,
    a tenth of the step (``gc.callbacks``). Nothing in the step builds reference cycles on purpose;
    any a library makes are collected by the next pass after the call.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def make_update(
    config: StepConfig,
) -> Callable[[tuple[Any, ...], Iterator[pd.DataFrame], Any], Iterator[pd.DataFrame]]:
    """The function for ``groupBy("bucket").applyInPandasWithState``; pickled to the workers."""

    def update(key: tuple[Any, ...], frames: Iterator[pd.DataFrame], state: Any) -> Iterator[pd.DataFrame]:
        started = time.perf_counter()
        model = champion(config.ref)
        worker_heap.keep_freed_memory()  # once per worker: later calls reuse the pages freed
        worker_gc.WORKER.settle(model)  # before the call's own objects exist: none of them is frozen
        parts = list(frames)
        frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        windows = BucketWindows.decode(bytes(state.get[0])) if state.exists else BucketWindows()
        out, new = step(frame, windows, model, config)
        state.update((new.encode(),))
        out.loc[out["kind"] == "stats", "call_ms"] = (time.perf_counter() - started) * 1000
        if config.points_sink is not None:
            out = config.points_sink.write(out, datetime.now(UTC))
        yield packed.pack(out)

    return update
