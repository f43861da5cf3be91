"""Benchmarks, hop by hop and end to end: tooling above the product, imported by no product code.

``python -m bench`` runs them all into one JSON (``make bench``); each hop also runs alone
(``python -m bench.ingest``, ``bench.stream``, ``bench.alerts``). Speed goals live here, as ratios
measured in one run, never in timed tests.
"""
