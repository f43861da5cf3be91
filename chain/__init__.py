"""The whole system at once: the demo, the end-to-end accounting, the benchmark suite and the kill drill.

This package sits above the components: it starts them as separate processes (the way an operator
would), drives the fleet simulator, and judges the outcome from what the components publish
(Kafka topics, the work-order REST API) rather than by importing their internals.
"""
