"""The stateful step and the batch scoring step, without Spark: the same scores as the model
offline, whatever the micro-batch split; duplicates, late and unscorable readings accounted for;
the failure mode carried when the model names one and ``unspecified`` when it does not."""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from pyspark.sql.types import _make_type_verifier

from ingest.cmapss import SENSOR_COLUMNS, SETTING_COLUMNS, read_run
from streaming import scoring
from streaming.scoring import Champion, ModelRef, top_features_json
from streaming.state import (
    OUTPUT_COLUMNS,
    STATE,
    STEP_COLUMNS,
    Window,
    make_scorer,
    make_update,
    parse_values,
)
from tests.conftest import CMAPSS_DIR

REF = ModelRef("http://registry", "http://registry", "forewarn-rul", "champion", refresh_s=3600.0)


class State:
    """What ``applyInPandasWithState`` hands the function: ``exists``, ``get``, ``update``.

    ``update`` checks the value against ``STATE`` as Spark does on its way to the state store
    (Spark stores a null for a field of the wrong type) and hands back what a pickle round trip gives.
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


@pytest.fixture
def serve(small_model: Any) -> Iterator[Any]:
    """Put ``small_model`` (or another) in the worker cache as version 1 of the champion."""

    def put(model: Any, version: str = "1") -> None:
        scoring._CACHE[REF] = Champion(REF.name, REF.alias, version, model, time.monotonic())

    put(small_model)
    yield put
    scoring._CACHE.clear()
    scoring._VERSIONS.clear()


def engine_rows(unit: int, cycles: range, site: str = "s1") -> pd.DataFrame:
    """Readings of one FD001 test engine as the parse step delivers them (JSON text objects).

    Units 3, 4 and 5 run 126, 106 and 98 cycles.
    """
    frame = read_run(CMAPSS_DIR / "test_FD001.txt.gz")
    engine = frame[frame["unit"] == unit].set_index("cycle")

    def obj(c: int, keys: tuple[str, ...]) -> str:
        return orjson.dumps({k: float(engine.at[c, k]) for k in keys}).decode()

    return pd.DataFrame(
        {
            "asset_id": f"engine-{unit}",
            "site": site,
            "ts": [1_000 * c for c in cycles],
            "seq": list(cycles),
            "settings": [obj(c, SETTING_COLUMNS) for c in cycles],
            "sensors": [obj(c, SENSOR_COLUMNS) for c in cycles],
        }
    )


def run_batches(batches: list[pd.DataFrame], states: dict[str, State], top_k: int = 2) -> pd.DataFrame:
    """Each batch: the stateful step per asset, then the scoring step on all its rows (as Spark does)."""
    update, score = make_update(REF, 0), make_scorer(REF, top_k)
    out = []
    for batch in batches:
        stepped = []
        for asset, readings in batch.groupby("asset_id", sort=False):
            state = states.setdefault(str(asset), State())
            stepped.extend(update((asset,), iter([readings.reset_index(drop=True)]), state))
        step = pd.concat(stepped, ignore_index=True)
        assert list(step.columns) == STEP_COLUMNS
        out.extend(score(iter([step])))
    result = pd.concat(out, ignore_index=True)
    assert list(result.columns) == OUTPUT_COLUMNS
    return result


def offline(model: Any, readings: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {"asset_id": a, "cycle": s, **orjson.loads(st), **orjson.loads(se)}
            for a, s, st, se in readings[["asset_id", "seq", "settings", "sensors"]].itertuples(index=False)
        ]
    )
    return model.predict(frame, top_k=2).set_index(["asset_id", "cycle"])


def test_scores_equal_the_model_offline_whatever_the_batch_split(serve: Any, small_model: Any) -> None:
    readings = pd.concat([engine_rows(5, range(1, 80)), engine_rows(4, range(1, 61))], ignore_index=True)
    rng = np.random.default_rng(3)
    # assets interleaved, each in order (Kafka keeps one key's order), batches of uneven size
    offset = readings["asset_id"].map({"engine-5": 0.0, "engine-4": 17.5}).to_numpy()
    arrival = readings.iloc[np.argsort(readings["seq"].to_numpy() + offset, kind="stable")]
    cuts = np.unique(rng.integers(1, len(arrival), 20))
    batches = [arrival.iloc[lo:hi] for lo, hi in zip([0, *cuts], [*cuts, len(arrival)], strict=True)]
    batches.insert(5, batches[2])  # a batch delivered twice (at least once upstream)
    states: dict[str, State] = {}
    result = run_batches(batches, states)
    risk = result[result["kind"] == "risk"]
    assert sorted(zip(risk["asset_id"], risk["seq"], strict=True)) == sorted(
        zip(readings["asset_id"], readings["seq"], strict=True)
    )
    stats = result[result["kind"] == "stats"]
    assert stats["readings_in"].sum() == len(readings) + len(batches[2])
    assert stats["duplicates"].sum() == len(batches[2])
    assert not (result["kind"].isin(["late", "unscorable"])).any()
    expected = offline(small_model, readings)
    for row in risk.itertuples():
        want = expected.loc[(row.asset_id, row.seq)]
        assert row.rul_cycles == pytest.approx(want["rul"], abs=1e-9)
        assert row.risk == pytest.approx(want["risk"], abs=1e-12)
        assert row.model_version == "1"
        assert row.model_name == REF.name
        assert row.model_alias == REF.alias
        assert row.failure_mode == "unspecified"
        assert [f["name"] for f in orjson.loads(row.top_features)] == [
            f["feature"] for f in orjson.loads(want["top_features"])
        ]


def test_state_is_compact_arrays_of_the_newest_readings(serve: Any, small_model: Any) -> None:
    states: dict[str, State] = {}
    run_batches([engine_rows(5, range(1, 70))], states)
    window = Window.decode(states["engine-5"].get)
    history = max(small_model.spec.windows)
    assert window.seq.tolist() == list(range(70 - history, 70))
    assert set(SENSOR_COLUMNS) <= set(window.columns)
    assert window.values.shape == (history, len(window.columns))
    assert isinstance(states["engine-5"].get[2], bytes), "values travel as float64 bytes, not JSON"


def test_late_and_unscorable_readings_become_dead_letters_and_leave_the_window_alone(serve: Any) -> None:
    states: dict[str, State] = {}
    run_batches([engine_rows(5, range(1, 60))], states)
    before = Window.decode(states["engine-5"].get)
    late = engine_rows(5, range(2, 3))
    broken = engine_rows(5, range(60, 62))
    broken.loc[1, "sensors"] = orjson.dumps({"sensor_2": 1.0}).decode()  # the others are missing
    result = run_batches([pd.concat([late, broken], ignore_index=True)], states)
    kinds = result.groupby("kind")["seq"].apply(list).to_dict()
    assert kinds["late"] == [2]
    assert sorted(kinds["unscorable"]) == [60, 61], "a batch the champion cannot score is set aside whole"
    assert "risk" not in kinds
    payload = orjson.loads(result.loc[result["kind"] == "unscorable", "payload"].iloc[1])
    assert payload[0]["asset_id"] == "engine-5"
    assert payload[0]["sensors"] == {"sensor_2": 1.0}
    assert "sensor_3" in result.loc[result["kind"] == "unscorable", "detail"].iloc[0]
    after = Window.decode(states["engine-5"].get)
    assert after.seq.tolist() == before.seq.tolist()
    # the next good readings are scored against the untouched window
    again = run_batches([engine_rows(5, range(60, 62))], states)
    assert again.loc[again["kind"] == "risk", "seq"].tolist() == [60, 61]


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


def test_failure_mode_is_carried_when_the_model_names_one(serve: Any, small_model: Any) -> None:
    serve(WithModes(small_model))
    result = run_batches([engine_rows(5, range(30, 51))], {})
    risk = result[result["kind"] == "risk"]
    expected = np.where(risk["seq"] > 40, "hpc_degradation", "fan_degradation")
    assert risk["failure_mode"].tolist() == expected.tolist()


def test_failure_mode_is_unspecified_when_the_model_names_none(serve: Any, small_model: Any) -> None:
    serve(WithoutModes(small_model))
    result = run_batches([engine_rows(5, range(30, 41))], {})
    assert set(result.loc[result["kind"] == "risk", "failure_mode"]) == {"unspecified"}


def test_a_mode_the_risk_contract_would_refuse_becomes_unspecified(small_model: Any) -> None:
    class Odd:
        def failure_modes(self, features: pd.DataFrame) -> np.ndarray:
            return np.array(["", "x" * 101, "ok\x00", None, "seal"], dtype=object)

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


def test_parse_values_widens_the_columns_and_marks_non_numbers_not_finite() -> None:
    columns, values = parse_values(['{"s1": 1}', None], ['{"a": 2.5, "z": 1}', '{"a": "x", "b": 4}'], ("a",))
    assert columns == ("a", "b", "s1", "z")
    assert values[0].tolist()[0] == 2.5
    assert np.isnan(values[0][1])
    assert values[0][2] == 1.0
    assert np.isnan(values[1][0])
    assert values[1][1] == 4.0
    with pytest.raises(ValueError, match="JSON objects"):
        parse_values([None], ["[1, 2]"], ())


def test_failure_mode_of_a_model_trained_on_two_modes_matches_its_offline_predict(
    serve: Any, moded_model: Any
) -> None:
    if not getattr(moded_model, "modes", ()):
        pytest.skip("this models package trains no failure-mode classifier")
    serve(moded_model)
    readings = engine_rows(4, range(1, 60))
    result = run_batches([readings.iloc[:25], readings.iloc[25:]], {})
    risk = result[result["kind"] == "risk"].set_index("seq")
    expected = offline(moded_model, readings)
    assert set(expected["failure_mode"]) <= {"hpc_degradation", "fan_degradation"}
    for seq, row in risk.iterrows():
        assert row["failure_mode"] == expected.loc[("engine-4", seq), "failure_mode"]
