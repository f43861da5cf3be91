"""The state's rules and layout: duplicates dropped and counted, late readings set apart, order by seq,
for many assets at once exactly as a plain per-asset implementation does; and every window survives
the state's byte encoding and a partial replacement, whatever its columns."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streaming.window import STATE_FORMAT, BucketWindows, Group, assemble, classify


def seqs(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


# -- a per-asset reference of the rules (streaming/window.py's module docstring) ------------------


@dataclass(frozen=True)
class Verdict:
    duplicate: list[bool]
    late: list[bool]


def reference_classify(
    window: dict[int, list[int]], incoming: list[tuple[int, int]], history: int
) -> Verdict:
    """One reading at a time, one asset at a time: a seq already seen (in the window or earlier in
    the batch) is a duplicate; else, against a full window, older than its oldest is late."""
    seen = {asset: set(rows) for asset, rows in window.items()}
    duplicate, late = [], []
    for asset, seq in incoming:
        rows = window.get(asset, [])
        mine = seen.setdefault(asset, set())
        is_duplicate = seq in mine
        mine.add(seq)
        duplicate.append(is_duplicate)
        late.append(not is_duplicate and len(rows) >= history and seq < min(rows))
    return Verdict(duplicate, late)


def reference_windows(
    window: dict[int, list[int]], fresh: list[tuple[int, int]], history: int
) -> dict[int, tuple[list[int], list[int]]]:
    """Per asset: every row (window and fresh) by seq, and the newest ``history`` of them."""
    out: dict[int, tuple[list[int], list[int]]] = {}
    for asset in sorted({*window, *(a for a, _ in fresh)}):
        rows = sorted([*window.get(asset, []), *(s for a, s in fresh if a == asset)])
        out[asset] = (rows, rows[-history:])
    return out


@st.composite
def batches(draw: st.DrawFn) -> tuple[dict[int, list[int]], list[tuple[int, int]], int]:
    """Several assets' windows (rising seqs, at most ``history`` rows) and a batch of their readings
    interleaved in arrival order: repeats, readings older than the window, out of order, new."""
    history = draw(st.integers(1, 8))
    assets = draw(st.integers(1, 6))
    window: dict[int, list[int]] = {}
    for asset in range(assets):
        rows = draw(st.lists(st.integers(0, 40), max_size=history, unique=True))
        if rows:
            window[asset] = sorted(rows)
    incoming = draw(st.lists(st.tuples(st.integers(0, assets - 1), st.integers(0, 45)), max_size=40))
    return window, incoming, history


def window_arrays(window: dict[int, list[int]], asset_order: list[int]) -> tuple[np.ndarray, np.ndarray]:
    present = [a for a in asset_order if a in window]
    codes = [a for a in present for _ in window[a]]
    return np.array(codes, dtype=np.int64), np.array([s for a in present for s in window[a]], dtype=np.int64)


@settings(max_examples=300, deadline=None)
@given(batch=batches(), data=st.data())
def test_classify_and_assemble_on_many_assets_equal_the_per_asset_rules(
    batch: tuple[dict[int, list[int]], list[tuple[int, int]], int], data: st.DataObject
) -> None:
    window, incoming, history = batch
    # the windows' rows grouped by asset, the assets in any order
    order = data.draw(st.permutations(sorted(window)))
    w_asset, w_seq = window_arrays(window, list(order))
    in_asset = np.array([a for a, _ in incoming], dtype=np.int64)
    in_seq = np.array([s for _, s in incoming], dtype=np.int64)

    rules = classify(w_asset, w_seq, in_asset, in_seq, history)
    want = reference_classify(window, incoming, history)
    assert rules.duplicate.tolist() == want.duplicate
    assert rules.late.tolist() == want.late
    assert not (rules.duplicate & rules.late).any()

    fresh = ~rules.duplicate & ~rules.late
    plan = assemble(w_asset, w_seq, in_asset[fresh], in_seq[fresh], history)
    all_asset = np.concatenate([w_asset, in_asset[fresh]])[plan.order]
    all_seq = np.concatenate([w_seq, in_seq[fresh]])[plan.order]
    expected = reference_windows(
        window, [x for x, f in zip(incoming, fresh.tolist(), strict=True) if f], history
    )
    # rows by asset, then seq; each asset's first row; each fresh reading's place; the newest W kept
    assert list(zip(all_asset.tolist(), all_seq.tolist(), strict=True)) == [
        (a, s) for a, (rows, _) in expected.items() for s in rows
    ]
    first = {a: all_asset.tolist().index(a) for a in expected}
    assert plan.starts.tolist() == [first[a] for a in all_asset.tolist()]
    assert all_asset[plan.fresh].tolist() == in_asset[fresh].tolist()
    assert all_seq[plan.fresh].tolist() == in_seq[fresh].tolist()
    kept = {a: all_seq[plan.keep & (all_asset == a)].tolist() for a in expected}
    assert kept == {a: newest for a, (_, newest) in expected.items()}
    # every reading accounted: fresh + late + duplicates
    assert int(fresh.sum() + rules.late.sum() + rules.duplicate.sum()) == len(incoming)


def scoring_input(
    window: np.ndarray, incoming: np.ndarray, history: int
) -> tuple[list[int], list[int], list[int]]:
    """One asset: (fresh seqs in arrival order, late seqs, the seqs the features see in order)."""
    codes_w, codes_in = np.zeros(len(window), np.int64), np.zeros(len(incoming), np.int64)
    rules = classify(codes_w, window, codes_in, incoming, history)
    fresh = ~rules.duplicate & ~rules.late
    plan = assemble(codes_w, window, codes_in[fresh], incoming[fresh], history)
    ordered = np.concatenate([window, incoming[fresh]])[plan.order].tolist()
    return incoming[fresh].tolist(), incoming[rules.late].tolist(), ordered


def test_first_batch_is_all_fresh_and_the_window_keeps_the_newest() -> None:
    incoming = seqs(3, 1, 2, 4, 5)
    fresh, late, ordered = scoring_input(seqs(), incoming, history=3)
    assert sorted(fresh) == [1, 2, 3, 4, 5]
    assert late == []
    assert ordered == [1, 2, 3, 4, 5]
    plan = assemble(np.zeros(0, np.int64), seqs(), np.zeros(5, np.int64), incoming, 3)
    assert np.concatenate([seqs(), incoming])[plan.order][plan.keep].tolist() == [3, 4, 5]


def test_duplicates_within_the_batch_and_against_the_window_are_found_and_the_first_copy_kept() -> None:
    window, incoming = seqs(4, 5, 6), seqs(5, 7, 7, 6, 8)
    rules = classify(np.zeros(3, np.int64), window, np.zeros(5, np.int64), incoming, history=5)
    assert rules.duplicate.tolist() == [True, False, True, True, False]
    assert scoring_input(window, incoming, 5)[2] == [4, 5, 6, 7, 8]


def test_out_of_order_reading_inside_the_window_is_scored_in_place() -> None:
    fresh, late, ordered = scoring_input(seqs(10, 12, 13), seqs(11), history=5)
    assert (fresh, late, ordered) == ([11], [], [10, 11, 12, 13])


def test_reading_older_than_a_full_window_is_late_not_dropped() -> None:
    fresh, late, ordered = scoring_input(seqs(10, 11, 12), seqs(3, 13), history=3)
    assert (fresh, late) == ([13], [3])
    assert ordered == [10, 11, 12, 13]


def test_window_not_yet_full_accepts_older_readings() -> None:
    fresh, late, ordered = scoring_input(seqs(10, 11), seqs(3), history=5)
    assert (fresh, late, ordered) == ([3], [], [3, 10, 11])


def test_one_assets_window_does_not_make_anothers_reading_late_or_duplicate() -> None:
    rules = classify(np.array([0, 0, 0]), seqs(10, 11, 12), np.array([1, 1, 0]), seqs(3, 10, 10), history=3)
    assert rules.late.tolist() == [False, False, False]
    assert rules.duplicate.tolist() == [False, False, True]


def test_history_must_be_positive() -> None:
    with pytest.raises(ValueError, match="history"):
        classify(np.zeros(0, np.int64), seqs(), np.zeros(1, np.int64), seqs(1), history=0)


# -- BucketWindows: the bytes Spark stores per bucket --------------------------------------------

COLUMN_SETS = (("a", "b"), ("a", "b", "c"), ("x",), ("sensor 1", "🔥", "a,b=c"))
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 5e-324, 1.7976931348623157e308]
)


@st.composite
def windows(
    draw: st.DrawFn, names: st.SearchStrategy[str]
) -> dict[str, tuple[tuple[str, ...], list[int], list[list[float]]]]:
    """Assets → (columns, rising seqs, values): some sharing a column set, some not."""
    out = {}
    for asset in draw(st.lists(names, max_size=6, unique=True)):
        columns = draw(st.sampled_from(COLUMN_SETS))
        rows = sorted(draw(st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=5, unique=True)))
        values = draw(st.lists(st.lists(FLOATS, min_size=len(columns), max_size=len(columns)),
                               min_size=len(rows), max_size=len(rows)))  # fmt: skip
        out[asset] = (columns, rows, values)
    return out


def as_groups(state: dict[str, tuple[tuple[str, ...], list[int], list[list[float]]]]) -> list[Group]:
    """One group per asset (``replaced`` joins those of one column set)."""
    return [
        Group(columns, (asset,), np.array([len(rows)], np.int64), np.array(rows, np.int64),
              np.array(values, np.float64).reshape(len(rows), len(columns)))
        for asset, (columns, rows, values) in state.items()
    ]  # fmt: skip


def assert_holds(
    windows: BucketWindows, state: dict[str, tuple[tuple[str, ...], list[int], list[list[float]]]]
) -> None:
    assert len(windows) == len(state)
    for asset, (columns, rows, values) in state.items():
        got = windows.get(asset)
        assert got is not None, asset
        assert got.columns == columns
        assert windows.columns(asset) == columns
        assert got.seq.tolist() == rows
        # bit for bit: NaN, -0.0 and subnormals included
        assert got.values.tobytes() == np.array(values, np.float64).reshape(len(rows), len(columns)).tobytes()
    # one group per column set, no asset twice
    assert len({g.columns for g in windows.groups}) == len(windows.groups)
    every = [a for g in windows.groups for a in g.assets]
    assert sorted(every) == sorted(state)


ASSET_NAMES = st.text(min_size=1, max_size=10)


@settings(max_examples=200, deadline=None)
@given(old=windows(ASSET_NAMES), new=windows(ASSET_NAMES))
def test_replaced_keeps_the_untouched_windows_and_takes_the_new_ones_and_survives_encoding(
    old: dict[str, tuple[tuple[str, ...], list[int], list[list[float]]]],
    new: dict[str, tuple[tuple[str, ...], list[int], list[list[float]]]],
) -> None:
    state = BucketWindows().replaced(as_groups(old))
    assert_holds(state, old)
    after = state.replaced(as_groups(new))
    expected = {**old, **new}  # an asset in ``new`` may have changed its column set
    assert_holds(after, expected)
    assert_holds(state, old)  # replaced returns a new state
    decoded = BucketWindows.decode(after.encode())
    assert_holds(decoded, expected)
    assert decoded.encode() == after.encode()
    assert BucketWindows.decode(BucketWindows().encode()).groups == []
    for asset in ("never seen", *(a + "x" for a in expected if a + "x" not in expected)):
        assert decoded.get(asset) is None
        assert decoded.columns(asset) == ()


def test_assets_of_different_column_sets_share_a_bucket() -> None:
    pumps = Group(("load", "vib"), ("p1", "p2"), seqs(2, 1), seqs(1, 2, 7), np.arange(6.0).reshape(3, 2))
    engine = Group(("s1",), ("e1",), seqs(1), seqs(40), np.array([[518.67]]))
    state = BucketWindows.decode(BucketWindows().replaced([pumps, engine]).encode())
    p2, e1 = state.get("p2"), state.get("e1")
    assert p2 is not None
    assert e1 is not None
    assert (p2.columns, p2.seq.tolist(), p2.values.tolist()) == (("load", "vib"), [7], [[4.0, 5.0]])
    assert (e1.columns, e1.values.tolist()) == (("s1",), [[518.67]])
    # p1 gains a sensor: it leaves its group for the wider one, p2 stays
    wider = Group(("load", "vib", "temp"), ("p1",), seqs(1), seqs(3), np.array([[1.0, 2.0, 3.0]]))
    moved = state.replaced([wider])
    assert [(g.columns, g.assets) for g in moved.groups] == [
        (("load", "vib"), ("p2",)), (("s1",), ("e1",)), (("load", "vib", "temp"), ("p1",)),
    ]  # fmt: skip


def test_a_state_of_another_format_is_refused_with_what_to_do() -> None:
    blob = bytearray(BucketWindows().encode())
    blob[0] = STATE_FORMAT + 1
    with pytest.raises(ValueError, match="remove the checkpoint"):
        BucketWindows.decode(bytes(blob))


@pytest.mark.parametrize("old_format", [1, 2])
def test_a_state_of_an_older_format_is_still_read(old_format: int) -> None:
    """Format 1 (the arrays uncompressed: checkpoints written before Dec 2026) and format 2 (LZ4, the
    values row by row: until 5 Dec 2026) decode to the same windows; the next encode writes format 3."""
    pumps = Group(("load", "vib"), ("p1", "p2"), seqs(2, 1), seqs(1, 2, 7), np.arange(6.0).reshape(3, 2))
    engine = Group(("s1",), ("e1",), seqs(1), seqs(40), np.array([[518.67]]))
    state = BucketWindows().replaced([pumps, engine])
    header = orjson.dumps([{"columns": list(g.columns), "assets": list(g.assets)} for g in state.groups])
    arrays = [
        a.astype(d).tobytes()
        for g in state.groups
        for a, d in ((g.counts, "<i8"), (g.seq, "<i8"), (g.values, "<f8"))
    ]
    body = b"".join(arrays)
    if old_format == 1:
        old = struct.pack("<II", 1, len(header)) + header + body
    else:
        packed = pa.compress(body, codec="lz4", asbytes=True)
        old = struct.pack("<II", 2, len(header)) + header + struct.pack("<Q", len(body)) + packed
    decoded = BucketWindows.decode(old)
    assert [(g.columns, g.assets, g.seq.tolist(), g.values.tolist()) for g in decoded.groups] == [
        (g.columns, g.assets, g.seq.tolist(), g.values.tolist()) for g in state.groups
    ]
    assert decoded.encode() == state.encode()
    assert decoded.encode()[0] == STATE_FORMAT == 3
    assert len(state.encode()) < len(old) + 16
