"""A Spark Python worker's long-lived objects kept out of the cycle collector's passes.

pyspark's daemon runs a reused worker's ``gc.collect()`` after every task (``pyspark/daemon.py``,
``manager``), a full pass over every object the collector tracks. A scoring worker holds about
360,000 of them for as long as it lives (pandas, scikit-learn, MLflow, numba, the champion's
model) and a pass walked them all: 180 to 200 ms of CPU per task (``gc.collect()`` timed in a process
that loaded the champion and ran the step once), every micro-batch, in each worker. py-spy over a
pump-shape run (warm-up and two capacity drains, 4 Dec 2026) put 16 % of the workers' CPU samples
under that one call.

``gc.freeze()`` moves every tracked object to a permanent generation that no later pass visits;
objects still die by reference counting as before, only a cycle among frozen objects is never
collected. So the worker freezes when what it holds for long is loaded: at the first two calls
with a champion (the second one also holds what the first call loaded lazily: numba's kernels,
the InfluxDB client, pyarrow's serializers), after a full pass that frees what is already garbage.
A new champion (hot swap) unfreezes first, so the old model's cycles are collected once.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

from forewarn import long_lived

SETTLING_CALLS = 2
"""Calls with one champion that end in a freeze: its first, and the one after it."""


@dataclass
class LongLived:
    """When this worker freezes its objects (:meth:`settle`, at the start of each step call)."""

    model: object | None = None
    calls: int = 0

    def settle(self, model: object) -> bool:
        """Called at the start of a step call with the champion it scores with; whether it froze.

        Returns:
            True when the call collected every unreachable cycle and froze what is left: one of the
            first :data:`SETTLING_CALLS` calls with ``model``.
        """
        if model is not self.model:
            self.model, self.calls = model, 0
        self.calls += 1
        if self.calls > SETTLING_CALLS:
            return False
        gc.unfreeze()
        long_lived.freeze()
        return True


WORKER = LongLived()
"""The one per Python worker process (module state: a worker imports the step once)."""
