"""Per-asset state of the scoring job: the last W readings, merged with what a micro-batch brings.

Pure pandas, so the rules are tested without Spark. The Spark stateful operator calls
:func:`merge` once per asset and micro-batch; the rules, by ``seq`` (the per-asset duplicate key):

* a reading whose ``seq`` is already in the window, or repeats within the batch, is a
  **duplicate**: dropped and counted (at-least-once delivery makes these normal);
* once the window holds W readings, a reading older than its oldest is **late**: it cannot be
  scored with the W readings before it any more, so it goes to the dead-letter topic with reason
  ``late_for_state`` (never silently dropped);
* everything else is **fresh**: scored with the window's readings before it (an out-of-order
  reading inside the window included), then kept; the window is trimmed back to the newest W.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

SEQ = "seq"


@dataclass(frozen=True)
class Merge:
    """The outcome of one micro-batch for one asset.

    Attributes:
        scoring_input: window plus fresh readings, ordered by seq: what the model scores.
        fresh_seqs: the seqs of ``scoring_input`` to emit scores for.
        window: the state to keep (the newest ``history`` readings).
        duplicates: how many incoming readings were duplicates.
        late: incoming readings too old for the window.
    """

    scoring_input: pd.DataFrame
    fresh_seqs: frozenset[int]
    window: pd.DataFrame
    duplicates: int
    late: pd.DataFrame


def merge(window: pd.DataFrame, incoming: pd.DataFrame, history: int) -> Merge:
    """Apply the duplicate and lateness rules (module docstring) to one asset's micro-batch."""
    if history < 1:
        raise ValueError(f"history must be at least 1 reading, got {history}")
    unique = incoming.drop_duplicates(subset=SEQ, keep="first")
    duplicates = len(incoming) - len(unique)
    known = set(window[SEQ].tolist()) if not window.empty else set()
    repeated = unique[SEQ].isin(known)
    duplicates += int(repeated.sum())
    candidates = unique[~repeated]
    if len(window) >= history:
        too_old = candidates[SEQ] < window[SEQ].min()
    else:
        too_old = pd.Series(False, index=candidates.index)
    late = candidates[too_old]
    fresh = candidates[~too_old]
    parts = [frame for frame in (window, fresh) if not frame.empty]
    combined = (
        pd.concat(parts, ignore_index=True).sort_values(SEQ, kind="stable").reset_index(drop=True)
        if parts
        else window.iloc[0:0]
    )
    return Merge(
        scoring_input=combined,
        fresh_seqs=frozenset(int(s) for s in fresh[SEQ].tolist()),
        window=combined.tail(history).reset_index(drop=True),
        duplicates=duplicates,
        late=late.reset_index(drop=True),
    )
