"""Per-asset state of the scoring job: the last W readings, merged with what a micro-batch brings.

Pure numpy on ``seq`` arrays, so the rules are tested without Spark and cost microseconds per
asset. The Spark stateful operator calls :func:`merge` once per asset and micro-batch; the
rules, by ``seq`` (the per-asset duplicate key):

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

import numpy as np


@dataclass(frozen=True)
class Merge:
    """The outcome of one micro-batch for one asset (positions, not copies).

    Attributes:
        fresh: positions in ``incoming`` of the readings to score and keep (first of each seq).
        late: positions in ``incoming`` of readings too old for the window.
        duplicates: how many incoming readings were duplicates.
        order: positions in ``concat(window, incoming[fresh])`` sorted by seq: the scoring
            input; its last ``history`` are the window to keep.
    """

    fresh: np.ndarray
    late: np.ndarray
    duplicates: int
    order: np.ndarray


def merge(window_seq: np.ndarray, incoming_seq: np.ndarray, history: int) -> Merge:
    """Apply the duplicate and lateness rules (module docstring) to one asset's micro-batch.

    Args:
        window_seq: seqs of the readings in the state, oldest first (strictly rising).
        incoming_seq: seqs of the micro-batch's readings of this asset, in arrival order.
        history: W, the readings to keep.
    """
    if history < 1:
        raise ValueError(f"history must be at least 1 reading, got {history}")
    window_seq = np.asarray(window_seq, dtype=np.int64)
    incoming_seq = np.asarray(incoming_seq, dtype=np.int64)
    _, first = np.unique(incoming_seq, return_index=True)
    first = np.sort(first)  # first occurrence of each seq, in arrival order
    candidates = first[~np.isin(incoming_seq[first], window_seq)]
    duplicates = len(incoming_seq) - len(candidates)
    if len(window_seq) >= history:
        too_old = incoming_seq[candidates] < window_seq.min()
    else:
        too_old = np.zeros(len(candidates), dtype=bool)
    fresh, late = candidates[~too_old], candidates[too_old]
    combined = np.concatenate([window_seq, incoming_seq[fresh]])
    return Merge(fresh, late, int(duplicates), np.argsort(combined, kind="stable"))
