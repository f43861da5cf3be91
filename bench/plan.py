"""Planning benchmark (``make bench-plan``, issue 17), one JSON document:

- ``crew``: the CP-SAT crew scheduler against the greedy earliest-due-first baseline on 500 open
  work orders and 50 technicians over two weeks (``bench.plan_crew``);
- ``parts``: prediction-driven reordering against a static reorder point over a simulated year
  (``bench.plan_parts``, when present).

Usage: ``python -m bench.plan [--seed N] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

import orjson

from bench.plan_crew import crew_bench


def run(seed: int) -> dict[str, Any]:
    """Every planning benchmark with ``seed``."""
    result: dict[str, Any] = {"crew": crew_bench(seed), "crew_scarce": crew_bench(seed, technicians=25)}
    try:
        parts = importlib.import_module("bench.plan_parts")
    except ModuleNotFoundError as missing:
        if missing.name != "bench.plan_parts":
            raise
        return result
    result["parts"] = parts.parts_bench(seed)
    return result


def main() -> None:
    """Parse the options, run, write the JSON to ``--out`` and stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=17, help="instance seed")
    parser.add_argument("--out", type=Path, default=Path(".state/bench/plan.json"))
    args = parser.parse_args()
    text = orjson.dumps(run(args.seed), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(text)
    print(text.decode())


if __name__ == "__main__":
    main()
