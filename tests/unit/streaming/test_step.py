"""The scoring job's Python step (``streaming.step``) without Spark: the same scores as the model
offline whatever the micro-batch split and however assets share a bucket; every reading accounted
for (scored, dead-lettered or a duplicate); hostile readings set apart without touching the other
assets' scores or their own window; explanations where an operator looks; risk records and dead
letters their contracts decode; output rows Spark accepts; state that survives Spark's round trip."""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forewarn.contracts import dead_letter
from forewarn.contracts.dead_letter import DeadLetter, ScoringReason, Stage
from forewarn.contracts.risk import RISK_FIELDS, RiskRecord, decode_risk
from forewarn.contracts.telemetry import MAX_INT64, MAX_TS_MS, Reading, decode_run, encode_run
from models.features import required_history
from streaming import scoring
from streaming import step as step_module
from streaming.scoring import top_features_json
from streaming.step import explained_rows, step
from streaming.window import BucketWindows
from tests import hostile
from tests.unit.streaming.stepping import (
    DLQ_TOPIC,
    REF,
    RISK_TOPIC,
    TOPIC,
    Job,
    Kafka,
    engine,
    offline,
    serve,
    step_config,
)


@pytest.fixture
def served(small_model: Any) -> Iterator[Any]:
    """``small_model`` is the champion, version 1 (``serve`` swaps in another)."""
    serve(small_model)
    yield serve
    scoring._CACHE.clear()


@dataclass(frozen=True)
class Letter:
    key: str
    reason: str
    letter: DeadLetter


def risk_records(out: pd.DataFrame) -> list[dict[str, Any]]:
    rows = out[out["kind"] == "risk"]
    assert set(rows["topic"]) <= {RISK_TOPIC}
    records = [orjson.loads(v) for v in rows["value"]]
    assert [r["asset_id"] for r in records] == rows["key"].tolist(), "keyed by asset"
    return records


def letters(out: pd.DataFrame) -> list[Letter]:
    rows = out[out["kind"] == "dead"]
    assert set(rows["topic"]) <= {DLQ_TOPIC}
    return [
        Letter(k, r, dead_letter.decode(v))
        for k, r, v in zip(rows["key"], rows["reason"], rows["value"], strict=True)
    ]


def stats(out: pd.DataFrame) -> pd.Series:
    return (
        out[out["kind"] == "stats"].drop(columns=["kind", "topic", "key", "value", "reason", "lines"]).sum()
    )


def assert_accounted(out: pd.DataFrame) -> None:
    """Every reading in is a risk record, a dead letter (late or unscorable) or a duplicate."""
    s = stats(out)
    assert s["scored"] + s["late"] + s["unscorable"] + s["duplicates"] == s["readings_in"]
    assert s["scored"] == (out["kind"] == "risk").sum()
    reasons = Counter(out.loc[out["kind"] == "dead", "reason"])
    assert reasons[ScoringReason.LATE_FOR_STATE] == s["late"]
    assert reasons[ScoringReason.UNSCORABLE] == s["unscorable"]
    assert reasons[ScoringReason.NOT_CANONICAL] == s["not_canonical"]


def assert_offline(records: list[dict[str, Any]], expected: pd.DataFrame, version: str = "1") -> None:
    for r in records:
        want = expected.loc[(r["asset_id"], r["seq"])]
        assert r["rul_cycles"] == pytest.approx(want["rul"], abs=1e-9), (r["asset_id"], r["seq"])
        assert r["risk"] == pytest.approx(want["risk"], abs=1e-12)
        assert r["model_version"] == version
        assert r["failure_mode"] == want["failure_mode"]
        if r["top_features"]:
            assert [f["name"] for f in r["top_features"]] == [
                f["feature"] for f in orjson.loads(want["top_features"])
            ]


# -- the same scores as offline, whatever the split --------------------------------------------

E5, E4, E3 = engine(5, range(1, 70)), engine(4, range(1, 60)), engine(3, range(1, 55), site="s2")
FLEET = [*E5, *E4, *E3]


@pytest.fixture(scope="module")
def fleet_offline(small_model: Any) -> pd.DataFrame:
    return offline(small_model, FLEET)


@st.composite
def deliveries(draw: st.DrawFn) -> list[list[list[Reading]]]:
    """FLEET as Kafka delivers it: each asset's readings in order in runs of 1 to 7, the assets
    interleaved, cut into micro-batches; a few records delivered twice (at least once upstream)."""
    runs: dict[str, list[list[Reading]]] = {}
    for asset in dict.fromkeys(r.asset_id for r in FLEET):
        mine = [r for r in FLEET if r.asset_id == asset]
        at = 0
        while at < len(mine):
            size = draw(st.integers(1, 7))
            runs.setdefault(asset, []).append(mine[at : at + size])
            at += size
    queues = {asset: list(rs) for asset, rs in runs.items()}
    arrival: list[list[Reading]] = []
    while any(queues.values()):
        asset = draw(st.sampled_from(sorted(a for a, q in queues.items() if q)))
        arrival.append(queues[asset].pop(0))
    for _ in range(draw(st.integers(0, 3))):
        again = draw(st.integers(0, len(arrival) - 1))
        arrival.insert(draw(st.integers(again + 1, min(again + 3, len(arrival)))), arrival[again])
    cuts = sorted(draw(st.sets(st.integers(1, len(arrival) - 1), max_size=12)))
    return [arrival[lo:hi] for lo, hi in zip([0, *cuts], [*cuts, len(arrival)], strict=True)]


BUCKETINGS = {
    "one bucket": lambda key: 0,
    "a bucket each": lambda key: zlib.crc32(str(key).encode()),
    "two buckets": lambda key: int(str(key)[-1]) % 2,
}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=deliveries(), bucketing=st.sampled_from(sorted(BUCKETINGS)))
def test_scores_equal_the_model_offline_whatever_the_split_and_the_buckets(
    served: Any, fleet_offline: pd.DataFrame, batches: list[list[list[Reading]]], bucketing: str
) -> None:
    kafka, job = Kafka(), Job(bucket=BUCKETINGS[bucketing])
    out = job.run(kafka.runs(batch) for batch in batches)
    records = risk_records(out)
    # every reading scored exactly once (a record delivered again is duplicates, or late once its
    # readings left the window), with the scores the model gives offline
    assert sorted((r["asset_id"], r["seq"]) for r in records) == sorted((r.asset_id, r.seq) for r in FLEET)
    assert_offline(records, fleet_offline)
    assert_accounted(out)
    delivered = sum(len(run) for batch in batches for run in batch)
    assert stats(out)["readings_in"] == delivered
    assert stats(out)["duplicates"] + stats(out)["late"] == delivered - len(FLEET)
    assert all(x.reason == ScoringReason.LATE_FOR_STATE for x in letters(out))


# -- hostile readings beside good ones ---------------------------------------------------------


def without(reading: Reading, name: str) -> Reading:
    return replace(reading, sensors={k: v for k, v in reading.sensors.items() if k != name})


def with_sensors(reading: Reading, **values: float) -> Reading:
    return replace(reading, sensors={**reading.sensors, **values})


def hostile_fleet() -> tuple[list[list[Reading]], dict[str, set[int]]]:
    """Runs of assets that each do something wrong once (and good readings after), and the seqs of
    each that the model cannot score."""
    huge = engine(3, range(1, 41), asset="huge")
    huge[19] = with_sensors(huge[19], sensor_7=1e308)  # finite, but no sensor's
    gap = engine(3, range(1, 41), asset="gap")
    gap[14] = without(gap[14], "sensor_7")  # JSON has no NaN, but a value can be missing
    never = [without(r, "sensor_7") for r in engine(4, range(1, 11), asset="never")]
    wide = engine(5, range(1, 31), asset="wide")
    wide[9] = with_sensors(wide[9], **{f"extra_{i}": float(i) for i in range(3000)})
    renamed = engine(5, range(1, 41), asset="renamed")
    for i in range(20, 25):  # the site renames a sensor for a while
        renamed[i] = with_sensors(without(renamed[i], "sensor_7"), sensor_7b=renamed[i].sensors["sensor_7"])
    bad = {"huge": {20}, "gap": {15}, "never": set(range(1, 11)), "renamed": set(range(21, 26))}
    return [huge[:25], gap[:25], never, wide, renamed[:30], huge[25:], gap[25:], renamed[30:]], bad


def test_hostile_readings_are_dead_letters_and_leave_the_good_assets_and_their_own_windows_alone(
    served: Any, small_model: Any
) -> None:
    good = engine(4, range(1, 41))
    runs, bad = hostile_fleet()
    kafka = Kafka()
    clean = Job().batch(kafka.runs([good]))
    out = Job().batch(kafka.runs([good[:20], *runs, good[20:]]))
    junk = Job().batch(kafka.records([("x", b"not json")]))  # and a record that is no telemetry
    assert_accounted(out)
    assert_accounted(junk)

    # the good asset's records: byte for byte those of a call where it is alone
    mine = out[(out["kind"] == "risk") & (out["key"] == "engine-4")]
    assert mine["value"].tolist() == clean.loc[clean["kind"] == "risk", "value"].tolist()

    # everything the model cannot score is an unscorable letter, and nothing else is
    dead = letters(out)
    assert all(x.reason == ScoringReason.UNSCORABLE for x in dead)
    got = {(x.letter.source) for x in dead}
    assert got == {dead_letter.reading_source(TOPIC, a, s) for a, seqs in bad.items() for s in seqs}
    by_source = {x.letter.source: x.letter for x in dead}
    firsts = {"huge": 20, "gap": 15, "never": 1, "renamed": 21}
    detail = {a: by_source[dead_letter.reading_source(TOPIC, a, s)].detail for a, s in firsts.items()}
    assert all("sensor_7" in text for text in detail.values()), detail
    assert "beyond what the model can score" in detail["huge"]
    assert "no value for" in detail["gap"]
    assert "no value for" in detail["renamed"]
    assert "lack" in detail["never"]

    # the rest of each asset is scored as offline on its readings without the unscorable ones
    sent = [r for run in [good, *runs] for r in run]
    kept = [r for r in sent if r.seq not in bad.get(r.asset_id, set())]
    records = risk_records(out)
    assert sorted((r["asset_id"], r["seq"]) for r in records) == sorted((r.asset_id, r.seq) for r in kept)
    assert_offline(records, offline(small_model, kept))


def test_an_unscorable_reading_is_a_letter_holding_its_canonical_run(served: Any) -> None:
    """What ``forewarn dlq replay`` revives: the contract decodes the letter; its payload is the
    very reading as a canonical run; its source names the reading, its time the Kafka record's."""
    readings = engine(4, range(1, 6))
    broken = without(readings[3], "sensor_2")
    kafka = Kafka(offset=40)
    out = Job().batch(kafka.runs([[*readings[:3], broken, readings[4]]]))
    [x] = letters(out)
    assert x.key == x.letter.source == dead_letter.reading_source(TOPIC, "engine-4", 4)
    assert (x.letter.stage, x.letter.reason, x.reason) == (
        Stage.SCORING,
        ScoringReason.UNSCORABLE,
        "unscorable",
    )
    assert decode_run(x.letter.payload) == [broken]
    assert int(x.letter.received_at.timestamp() * 1000) == 1_767_225_600_000 + 1000 * 40


def test_late_readings_are_letters_and_records_that_are_no_telemetry_keep_their_bytes(served: Any) -> None:
    kafka, job = Kafka(), Job()
    history = required_history(scoring._CACHE[REF].model.spec)
    job.batch(kafka.runs([engine(5, range(1, history + 11))]))
    late = engine(5, range(3, 5))
    junk = [b"not json", b"[]", orjson.dumps([{"schema": 2}]), encode_run(engine(4, range(1, 2)))]
    records = kafka.records([("engine-5", encode_run(late)), ("a", junk[0]), ("b", junk[1]), ("c", junk[2]),
                             ("not-engine-4", junk[3])])  # fmt: skip
    out = job.batch(records)
    assert_accounted(out)
    assert risk_records(out) == []
    got = letters(out)
    late_letters = [x for x in got if x.letter.reason == ScoringReason.LATE_FOR_STATE]
    assert [decode_run(x.letter.payload) for x in late_letters] == [[r] for r in late]
    assert [x.key for x in late_letters] == [dead_letter.reading_source(TOPIC, "engine-5", s) for s in (3, 4)]
    assert all(f"older than the {history} readings" in x.letter.detail for x in late_letters)
    refused = [x for x in got if x.letter.reason == ScoringReason.NOT_CANONICAL]
    assert [x.letter.payload for x in refused] == junk
    first = int(records["offset"].iloc[1])
    assert [x.key for x in refused] == [
        dead_letter.kafka_source(TOPIC, (first + i) % 3, first + i) for i in range(4)
    ]
    assert all(x.key == x.letter.source and x.letter.stage == Stage.SCORING for x in refused)
    assert "asset_id" in refused[-1].letter.detail, "a record keyed by another asset is not canonical"


# -- explanations, risk records, the model's version -------------------------------------------


@pytest.mark.parametrize("explain_at", [0.0, 0.2, 0.5, 1.01])
def test_explanations_are_for_risky_rows_and_each_assets_latest_reading_of_the_call(
    served: Any, explain_at: float
) -> None:
    kafka, job = Kafka(), Job(config=step_config(explain_at=explain_at, top_k=3))
    for batch in ([E5[:50], E4[:31], E3[:3]], [E5[50:], E4[31:], E3[3:]]):
        out = job.batch(kafka.runs(batch))
        records = risk_records(out)
        latest: dict[str, int] = {}
        for r in records:
            latest[r["asset_id"]] = max(latest.get(r["asset_id"], 0), r["seq"])
        explained = [bool(r["top_features"]) for r in records]
        want = [r["risk"] >= explain_at or r["seq"] == latest[r["asset_id"]] for r in records]
        assert explained == want
        assert all(len(r["top_features"]) == 3 for r in records if r["top_features"])
        assert stats(out)["explained"] == sum(want)
    none = Job(config=step_config(top_k=0)).batch(Kafka().runs([E5[:20]]))
    assert all(r["top_features"] == [] for r in risk_records(none))
    assert stats(none)["explained"] == 0


@settings(max_examples=200, deadline=None)
@given(
    codes=st.lists(st.integers(0, 4), min_size=1, max_size=30),
    risk=st.lists(st.floats(0, 1), min_size=30, max_size=30),
    explain_at=st.floats(0, 1.1),
)
def test_explained_rows_are_the_risky_and_each_assets_latest(
    codes: list[int], risk: list[float], explain_at: float
) -> None:
    seqs = np.random.default_rng(len(codes)).permutation(len(codes))
    got = explained_rows(np.array(codes), seqs, np.array(risk[: len(codes)]), explain_at)
    latest = {c: max(s for cc, s in zip(codes, seqs.tolist(), strict=True) if cc == c) for c in codes}
    assert got.tolist() == [risk[i] >= explain_at or seqs[i] == latest[c] for i, c in enumerate(codes)]


def test_risk_records_hold_exactly_the_contracts_fields_and_decode(served: Any, small_model: Any) -> None:
    readings = engine(3, range(1, 40), site="site-9")
    out = Job().batch(Kafka().runs([readings]))
    rows = out[out["kind"] == "risk"]
    assert len(rows) == len(readings)
    for raw, reading in zip(rows["value"], readings, strict=True):
        assert list(orjson.loads(raw)) == list(RISK_FIELDS)
        record = decode_risk(raw)
        assert isinstance(record, RiskRecord), record
        assert (record.asset_id, record.site, record.seq) == ("engine-3", "site-9", reading.seq)
        assert record.event_ts == reading.ts
        assert orjson.loads(raw)["event_ts"].endswith("Z")
        assert (record.model_name, record.model_version, record.model_alias) == (REF.name, "1", REF.alias)
        assert record.horizon_cycles == small_model.horizon_cycles
        assert 0.0 <= record.risk <= 1.0
        assert 0.0 <= (record.rul_cycles or 0.0) <= small_model.rul_cap_cycles


def test_a_hot_swap_scores_with_the_new_version_and_says_so(served: Any, moded_model: Any) -> None:
    if not getattr(moded_model, "modes", ()):
        pytest.skip("this models package trains no failure-mode classifier")
    kafka, job = Kafka(), Job()
    readings = engine(4, range(1, 61))
    before = risk_records(job.batch(kafka.runs([readings[:30]])))
    served(moded_model, "2")
    after = risk_records(job.batch(kafka.runs([readings[30:]])))
    assert {r["model_version"] for r in before} == {"1"}
    assert {r["failure_mode"] for r in before} == {"unspecified"}
    assert {r["model_version"] for r in after} == {"2"}
    assert_offline(after, offline(moded_model, readings), version="2")
    assert set(r["failure_mode"] for r in after) <= set(moded_model.modes)


@pytest.mark.parametrize("family", ["forest_model", "boosted_model"])
def test_trees_walked_in_c_score_and_explain_with_the_same_numbers(
    family: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``models.occlusion`` in the step: every record, explanations included, as without it."""
    from models.occlusion import OccludingForest, WalkedBoosting

    trained = request.getfixturevalue(family)
    walked = scoring.worker_model(trained, tmp_path_factory.mktemp("compiled"))
    assert isinstance(walked.regressor, OccludingForest | WalkedBoosting)
    plain = scoring.worker_model(trained, None)
    assert not isinstance(plain.regressor, OccludingForest | WalkedBoosting)
    batches = ([E5[:40], E4[:31], E3[:3]], [E5[40:], E4[31:], E3[3:]])
    runs: dict[str, list[list[dict[str, Any]]]] = {}
    try:
        for name, model in (("walked", walked), ("plain", plain)):
            serve(model)
            kafka, job = Kafka(), Job(config=step_config(explain_at=0.3, top_k=3))
            runs[name] = [risk_records(job.batch(kafka.runs(batch))) for batch in batches]
    finally:
        scoring._CACHE.clear()
    explained = [r for batch in runs["walked"] for r in batch if r["top_features"]]
    unexplained = [r for batch in runs["walked"] for r in batch if not r["top_features"]]
    assert explained  # the risky and each asset's latest
    assert unexplained  # and the others
    assert runs["walked"] == runs["plain"]


@dataclass(frozen=True)
class Refusing:
    """A model whose regressor raises on any matrix holding a row of the given age."""

    inner: Any
    age: float

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        if name == "regressor":
            return self
        return getattr(self.inner, name)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        if (matrix[:, 0] == self.age).any():
            raise ValueError("cannot score this row")
        return np.asarray(self.inner.regressor.predict(matrix))


def test_rows_the_model_refuses_are_letters_and_the_others_are_scored(served: Any, small_model: Any) -> None:
    served(Refusing(small_model, 13.0))
    readings = [*engine(4, range(1, 20)), *engine(5, range(1, 20))]
    out = Job().batch(Kafka().runs([readings[:19], readings[19:]]))
    assert_accounted(out)
    dead = letters(out)
    assert {x.letter.source for x in dead} == {
        dead_letter.reading_source(TOPIC, a, 13) for a in ("engine-4", "engine-5")
    }
    assert all(
        "the model refused its features: ValueError: cannot score this row" in x.letter.detail for x in dead
    )
    records = risk_records(out)
    assert len(records) == len(readings) - 2
    assert_offline(records, offline(small_model, readings))


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=3),
    width=st.integers(1, 5),
    chunk_bytes=st.integers(8, 400),
    bad=st.sets(st.integers(0, 119), max_size=6),
)
def test_predict_in_chunks_fails_only_the_rows_the_model_refuses(
    sizes: list[int], width: int, chunk_bytes: int, bad: set[int]
) -> None:
    """Blocks predicted in calls of a few rows: every row gets its own prediction, in block order,
    and a call that raises costs only its refused rows (row by row), whatever the chunking."""
    total = sum(sizes)
    ids = np.arange(total, dtype=np.float64)
    blocks, at = [], 0
    for n in sizes:
        blocks.append(np.repeat(ids[at : at + n, None], width, axis=1))
        at += n

    def predict(matrix: np.ndarray) -> np.ndarray:
        if any(int(v) in bad for v in matrix[:, 0]):
            raise ValueError("refused")
        return matrix[:, 0] * 2.0

    values, errors = step_module._predict_isolated(predict, *blocks, chunk_bytes=chunk_bytes)
    refused = np.array([i in bad for i in range(total)], dtype=bool)
    assert np.array_equal(values[~refused], ids[~refused] * 2.0)
    assert np.isnan(values[refused]).all()
    assert [e is not None for e in errors] == refused.tolist()


# -- state and output as Spark sees them --------------------------------------------------------


def test_the_state_keeps_each_assets_newest_readings_and_survives_spark(
    served: Any, small_model: Any
) -> None:
    history = required_history(small_model.spec)
    kafka = Kafka()
    job = Job(bucket=lambda key: 0)
    job.run([kafka.runs([E5[:40], E4[:11]]), kafka.runs([E5[40:], E4[11:], E3])])
    blob = job.states[0].get[0]
    assert isinstance(blob, bytes | bytearray)
    windows = BucketWindows.decode(bytes(blob))
    assert len(windows) == 3
    for asset in ("engine-5", "engine-4", "engine-3"):
        window = windows.get(asset)
        assert window is not None
        mine = [r for r in FLEET if r.asset_id == asset][-history:]
        assert window.seq.tolist() == [r.seq for r in mine]
        assert window.values.shape == (history, len(window.columns))
        first = dict(zip(window.columns, window.values[0].tolist(), strict=True))
        assert first == {**mine[0].settings, **mine[0].sensors}
    # the step from the decoded state and from the step's own windows: the same output
    more = kafka.runs([engine(5, range(70, 80))])
    _, windows_in_memory = step(more.iloc[:0], windows, scoring._CACHE[REF], step_config())
    a, _ = step(more, windows, scoring._CACHE[REF], step_config())
    b, _ = step(more, BucketWindows.decode(windows_in_memory.encode()), scoring._CACHE[REF], step_config())
    pd.testing.assert_frame_equal(a.drop(columns=["score_ms"]), b.drop(columns=["score_ms"]))


def test_one_stats_row_per_bucket_and_call(served: Any) -> None:
    kafka = Kafka()
    job = Job(bucket=lambda key: int(str(key)[-1]) % 2)
    out = job.batch(kafka.runs([E5[:5], E4[:6], E3[:2]]))
    rows = out[out["kind"] == "stats"]
    assert len(rows) == 2
    assert sorted(rows["assets"]) == [1, 2]
    assert rows["records"].sum() == 3
    assert rows["readings_in"].sum() == 13
    assert (rows["call_ms"] > 0).all()
    others = out[out["kind"] != "stats"]
    assert len(others) > 0
    assert (others[["records", "readings_in", "scored", "explained", "assets"]] == 0).all().all()
    assert (others[["call_ms", "score_ms"]] == 0.0).all().all()
    assert out["records"].dtype == np.int64
    assert out["call_ms"].dtype == np.float64


@settings(max_examples=100, deadline=None)
@given(
    calls=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(["risk", "dead", "stats"]), st.integers(-3, 10**12)),
        max_size=12,
    )
)
def test_output_rows_keep_their_numbers_in_place(calls: list[tuple[int, str, int]]) -> None:
    """``_Out``: each row's numbers where its call put them, 0 elsewhere, long and double columns."""
    out = step_module._Out()
    want_scored: list[int] = []
    want_kinds: list[str] = []
    for n, kind, number in calls:
        if kind == "stats":
            out.rows(n, kind=kind, scored=number, score_ms=float(number))
            want_scored += [number] * n
        else:
            out.rows(n, kind=kind, key=[f"k{i}" for i in range(n)])
            want_scored += [0] * n
        want_kinds += [kind] * n
    frame = out.frame()
    assert list(frame.columns) == step_module.OUTPUT_COLUMNS
    assert frame["kind"].tolist() == want_kinds
    assert frame["scored"].tolist() == want_scored
    assert frame["score_ms"].tolist() == [float(v) for v in want_scored]
    assert frame["scored"].dtype == np.int64
    assert frame["score_ms"].dtype == np.float64


def test_hostile_runs_never_raise_and_are_accounted(served: Any) -> None:
    """Whatever a record holds (``tests/hostile.py``'s readings), the call returns rows Spark takes,
    and every reading is accounted for."""

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(hostile.readings("pump-1", 1_767_225_600_000), min_size=1, max_size=6))
    def run(items: list[dict[str, Any]]) -> None:
        good = engine(4, range(1, 12), asset="pump-1")
        out = Job().batch(Kafka().records([("pump-1", encode_run(good)), ("pump-1", hostile.dumps(items))]))
        assert_accounted(out)
        assert stats(out)["scored"] >= len(good)

    run()


# -- failure modes and top features (pure helpers of the step) ----------------------------------


@dataclass(frozen=True)
class WithModes:
    """A model that names a failure mode per row (as models trained on several modes do)."""

    inner: Any

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def failure_modes(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        late_life = features["age_cycles"].to_numpy() > 40
        modes = np.where(late_life, "hpc_degradation", "fan_degradation").astype(object)
        return modes, np.full(len(features), 0.7)


@dataclass(frozen=True)
class WithoutModes:
    """A model registered before failure modes existed: no ``failure_modes`` at all."""

    inner: Any

    def __getattr__(self, name: str) -> Any:
        if name in ("inner", "failure_modes"):
            raise AttributeError(name)
        return getattr(self.inner, name)


def test_failure_mode_is_carried_when_the_model_names_one(served: Any, small_model: Any) -> None:
    served(WithModes(small_model))
    records = risk_records(Job().batch(Kafka().runs([engine(5, range(30, 51))])))
    assert [r["failure_mode"] for r in records] == [
        "hpc_degradation" if r["seq"] > 40 else "fan_degradation" for r in records
    ]


def test_failure_mode_is_unspecified_when_the_model_names_none(served: Any, small_model: Any) -> None:
    served(WithoutModes(small_model))
    records = risk_records(Job().batch(Kafka().runs([engine(5, range(30, 41))])))
    assert {r["failure_mode"] for r in records} == {"unspecified"}


def test_a_mode_the_risk_contract_would_refuse_becomes_unspecified() -> None:
    class Odd:
        def failure_modes(self, features: pd.DataFrame) -> np.ndarray:
            modes: np.ndarray = np.array(["", "x" * 101, "ok\x00", None, "seal"], dtype=object)
            return modes

    modes = scoring.failure_modes(Odd(), pd.DataFrame(index=range(5)))
    assert modes.tolist() == ["unspecified"] * 4 + ["seal"]


def test_top_features_follow_pandas_stable_descending_order_with_ties() -> None:
    effects = pd.DataFrame(
        [[0.0, -2.0, 2.0, 1.0], [0.0, 0.0, 0.0, 0.0], [3.0, -0.5, 0.25, -3.0]],
        columns=["a", "b", "c", "d"],
    )
    got = [[f["name"] for f in orjson.loads(t)] for t in top_features_json(effects, 3)]
    want = [
        list(row.abs().sort_values(ascending=False, kind="stable").index[:3]) for _, row in effects.iterrows()
    ]
    assert got == want == [["b", "c", "d"], ["a", "b", "c"], ["a", "d", "b"]]
    assert orjson.loads(top_features_json(effects, 1)[2]) == [{"name": "a", "contribution": 3.0}]


def test_failure_mode_of_a_model_trained_on_two_modes_matches_its_offline_predict(
    served: Any, moded_model: Any
) -> None:
    if not getattr(moded_model, "modes", ()):
        pytest.skip("this models package trains no failure-mode classifier")
    served(moded_model)
    readings = engine(4, range(1, 60))
    kafka, job = Kafka(), Job()
    records = risk_records(job.run([kafka.runs([readings[:25]]), kafka.runs([readings[25:]])]))
    expected = offline(moded_model, readings)
    assert set(expected["failure_mode"]) <= {"hpc_degradation", "fan_degradation"}
    assert [r["failure_mode"] for r in records] == [
        expected.loc[("engine-4", r["seq"]), "failure_mode"] for r in records
    ]


@pytest.mark.parametrize("ts_ms", [MAX_TS_MS + 1, MAX_INT64])
def test_an_event_time_past_what_influxdb_stores_is_never_a_risk_record(served: Any, ts_ms: int) -> None:
    """``ts`` beyond ``MAX_TS_MS`` is not canonical (the telemetry contract): a dead letter, also when
    the asset's names were seen before (the parser's fast path), never a risk record with a year
    the risk contract cannot read."""
    readings = engine(4, range(1, 4))
    beyond = replace(engine(4, range(4, 5))[0], ts_ms=ts_ms)
    out = Job().batch(Kafka().runs([readings, [beyond]]))
    assert all(isinstance(decode_risk(v), RiskRecord) for v in out.loc[out["kind"] == "risk", "value"])
    assert [r["seq"] for r in risk_records(out)] == [1, 2, 3]
    assert [x.letter.reason for x in letters(out)] == [ScoringReason.NOT_CANONICAL]
