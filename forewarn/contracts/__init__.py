"""The wire contracts between forewarn's components, each defined once and imported by both sides.

One module per wire format; producers and consumers import the same definitions, and derived shapes
(the Spark schema, the API models, the store's tables, the InfluxDB points) are generated from them
or checked against them by a test:

- ``telemetry``: Kafka ``telemetry``, a run of canonical readings of one asset (gateway → scoring job);
  the Spark schema derives from it.
- ``dead_letter``: ``telemetry.dlq`` and ``risk.dlq``, one format for every stage's refusals (gateway,
  scoring job, alert engine → ``forewarn dlq``).
- ``risk``: Kafka ``risk``, one scored reading (scoring job → alert engine).
- ``alert``: Kafka ``alerts`` and the alert's fields (alert engine → work orders, API, boards).
- ``work_order``: work-order statuses and priorities (work-order service → boards).
- ``labels``: training labels from work-order outcomes (``forewarn labels export`` → ``forewarn train
  --labels``).
- ``influx_schema``: InfluxDB measurements, bounded tags and fields (every producer → the dashboards).

This package is the ground: it imports no component (``lint-imports`` checks it).
"""
