"""A long-running service's startup objects kept out of the cycle collector's full passes.

CPython's collector walks every tracked object in a full (generation 2) pass, and runs one whenever
the objects that survived younger passes have grown by a quarter. A service that has imported its
libraries (SQLAlchemy, pydantic, kafka-python, paho) holds hundreds of thousands of such objects
for as long as it lives, and each pass walked them all again: in a replay of a ``bench.chain``
run's 600,600 ``risk`` records, the alert engine ran 67 full passes taking 4.0 s of its 36.8 s of
CPU (timed with ``gc.callbacks``, 5 Dec 2026).

``gc.freeze()`` moves every tracked object to a permanent generation no later pass visits; objects
still die by reference counting as before, only a cycle among frozen objects is never collected.
So a service freezes once it holds what it keeps (imports done, clients built, its first unit of
work done, which loads what the libraries load lazily), after a full pass that frees what is
already garbage. The Spark job's Python workers do the same per champion (``streaming.worker_gc``).
"""

from __future__ import annotations

import gc


def freeze() -> int:
    """Collect what is garbage now, then freeze every object still tracked.

    Returns:
        How many objects are frozen (``gc.get_freeze_count()``), for a log line.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
