"""The InfluxDB shape every dashboard queries: measurements, their tags and their fields with units.

This is the one place the boards, the seeder and the producers agree on. A producer that writes
InfluxDB (gateway, streaming job, alerts service, work-order service, model registry) writes exactly
these names; a dashboard panel only names what is declared here (a unit test checks it).

Tags are bounded (sites, assets, model versions, severities, states, statuses, reasons); ids that
grow without end (alert id, work-order id) are string fields. Counters marked *cumulative* rise
from the producer's start and the boards take ``non_negative_derivative``; *gauges* are the value
now; *event* measurements get one point per change. A gauge broken down by tags is written for
every tag combination each interval, zeros included (e.g. ``alert_counts`` for every site x
severity x open state x kind): the boards take ``last()`` per series, which would otherwise keep
showing a count that has since dropped to zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """The InfluxDB field type a producer writes."""

    FLOAT = "float"
    INT = "integer"
    STRING = "string"


@dataclass(frozen=True)
class FieldSpec:
    """One field: its name, type, unit (a Grafana unit id where one fits) and meaning."""

    name: str
    kind: Kind
    unit: str
    meaning: str


@dataclass(frozen=True)
class Measurement:
    """One measurement: who writes it, how often, with which tags and fields."""

    name: str
    writer: str
    cadence: str
    tags: tuple[str, ...]
    fields: tuple[FieldSpec, ...]

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``; KeyError names the measurement when there is none."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(f"measurement {self.name!r} has no field {name!r}")

    @property
    def field_names(self) -> tuple[str, ...]:
        """Every declared field name, in declaration order."""
        return tuple(spec.name for spec in self.fields)


def _f(name: str, unit: str, meaning: str, kind: Kind = Kind.FLOAT) -> FieldSpec:
    return FieldSpec(name, kind, unit, meaning)


# Value sets the boards and the seeder use; they mirror the producers' StrEnums
# (alerts.state.Severity/AlertState/AlertKind, alerts.workorders.lifecycle.WorkOrderStatus/Priority,
# ingest.reasons.Reason). Dashboards do not import those packages: nothing imports back into them.
SEVERITIES: tuple[str, ...] = ("CRITICAL", "MAJOR", "MINOR", "WARNING")
ALERT_STATES: tuple[str, ...] = ("ACTIVE", "ACKNOWLEDGED", "SNOOZED", "CLEARED")
ALERT_KINDS: tuple[str, ...] = ("risk", "stale")
ALERT_CHANGES: tuple[str, ...] = ("raised", "updated", "severity_changed", "acknowledged", "cleared")
WORK_ORDER_STATUSES: tuple[str, ...] = (
    "requested",
    "approved",
    "waiting_parts",
    "scheduled",
    "in_progress",
    "completed",
    "closed",
    "cancelled",
)
OPEN_WORK_ORDER_STATUSES: tuple[str, ...] = WORK_ORDER_STATUSES[:5]
PRIORITIES: tuple[str, ...] = ("P1", "P2", "P3", "P4")
PIPELINE_COMPONENTS: tuple[str, ...] = ("gateway", "streaming", "alerts")
SENSOR_FIELD_PREFIX = "sensor_"
"""Telemetry fields are the reading's sensor names (C-MAPSS: sensor_1 … sensor_21)."""

TELEMETRY = Measurement(
    name="telemetry",
    writer="streaming job (InfluxDB sink), one point per reading used for scoring",
    cadence="event: one point per reading",
    tags=("site", "asset_id"),
    fields=(
        _f("sensor_<n>", "none", "each sensor of the reading by its contract name (float)"),
        _f("setting_<n>", "none", "each operational setting of the reading (float)"),
        _f("seq", "none", "the reading's sequence number per asset", Kind.INT),
    ),
)

RISK = Measurement(
    name="risk",
    writer="streaming job, one point per scored asset and micro-batch (the Kafka `risk` record)",
    cadence="event: one point per score",
    tags=("site", "asset_id", "model_name", "model_version", "model_alias"),
    fields=(
        _f("risk", "percentunit", "P(failure within the horizon), 0..1"),
        _f("rul_cycles", "none", "predicted remaining useful life, in cycles"),
        _f("horizon_cycles", "none", "the horizon the risk refers to, in cycles"),
    ),
)

ALERTS = Measurement(
    name="alerts",
    writer="alerts service, one point per alert change (the Kafka `alerts` record)",
    cadence="event: one point per change",
    tags=("site", "asset_id", "severity", "state", "kind", "change", "model_version"),
    fields=(
        _f("alert_id", "none", "the alert's id (a field: ids grow without end)", Kind.STRING),
        _f("risk", "percentunit", "the risk that triggered or updated the alert"),
        _f("rul_cycles", "none", "the RUL that triggered or updated the alert, in cycles"),
        _f("occurrences", "none", "how many evaluations have matched so far", Kind.INT),
    ),
)

ALERT_COUNTS = Measurement(
    name="alert_counts",
    writer="alerts service, a snapshot of open alerts every minute, every combination incl. zeros",
    cadence="gauge: every 60 s",
    tags=("site", "severity", "state", "kind"),
    fields=(_f("open_alerts", "none", "alerts in this open state now (0 included; no CLEARED)", Kind.INT),),
)

WORK_ORDERS = Measurement(
    name="work_orders",
    writer="work-order service, one point per status change",
    cadence="event: one point per status change",
    tags=("site", "asset_id", "status", "priority", "failure_mode", "model_version"),
    fields=(
        _f("work_order_id", "none", "the work order's id (a field)", Kind.STRING),
        _f("sla_breached", "none", "1 when the change happened after the SLA deadline, else 0", Kind.INT),
        _f("fault_found", "none", "on `completed`: 1 when a fault was found, 0 when not", Kind.INT),
        _f("response_s", "s", "on `in_progress`: seconds from the source alert to on site"),
    ),
)

WORK_ORDER_COUNTS = Measurement(
    name="work_order_counts",
    writer="work-order service, open work orders every minute, every combination incl. zeros",
    cadence="gauge: every 60 s",
    tags=("site", "status", "priority"),
    fields=(
        _f("open_work_orders", "none", "work orders in this open status now", Kind.INT),
        _f("sla_breached", "none", "of those, how many are past their SLA deadline", Kind.INT),
    ),
)

SERVICE_KPIS = Measurement(
    name="service_kpis",
    writer="work-order service, alerts.kpis.Kpis every 5 minutes",
    cadence="gauge: every 300 s",
    tags=("site",),
    fields=(
        _f("mtbf_h", "h", "mean time between confirmed failures of an asset, hours"),
        _f("mttr_h", "h", "mean time from on site to completed, hours"),
        _f("first_time_fix_rate", "percentunit", "share of repairs with no revisit, 0..1"),
        _f("alert_to_work_order_s", "s", "mean seconds from alert to work order"),
        _f("alert_to_on_site_s", "s", "mean seconds from alert to technician on site"),
        _f("parts_availability", "percentunit", "share of scheduling attempts with the whole kit, 0..1"),
        _f("work_orders_open", "none", "open work orders", Kind.INT),
        _f("alerts_open", "none", "open alerts", Kind.INT),
    ),
)

MODEL_QUALITY = Measurement(
    name="model_quality",
    writer="work-order service, alert precision per model version every 5 minutes",
    cadence="gauge: every 300 s",
    tags=("model_name", "model_version"),
    fields=(
        _f("alerts_with_outcome", "none", "alert-driven work orders with an outcome", Kind.INT),
        _f("faults_found", "none", "of those, how many found a fault", Kind.INT),
        _f("precision", "percentunit", "faults_found / alerts_with_outcome"),
        _f("false_alarm_rate", "percentunit", "1 - precision"),
    ),
)

FEATURE_DRIFT = Measurement(
    name="feature_drift",
    writer="streaming job, drift of each key feature against the training reference",
    cadence="gauge: every micro-batch window",
    tags=("model_name", "model_version", "feature"),
    fields=(
        _f("psi", "none", "population stability index against the training reference"),
        _f("mean_shift_sd", "none", "shift of the mean, in training standard deviations"),
    ),
)

MODEL_EVENTS = Measurement(
    name="model_events",
    writer="models promote / rollback, one point per alias change",
    cadence="event: one point per promotion or rollback",
    tags=("model_name", "model_version", "action"),
    fields=(_f("note", "none", "who and why, for the annotation text", Kind.STRING),),
)

PIPELINE = Measurement(
    name="pipeline",
    writer="each hop (gateway now; streaming and alerts later): counters every metrics interval",
    cadence="gauge/cumulative: every metrics interval (gateway: 10 s)",
    # gateway_id only on gateway points; reason only on the per-reason dead-letter points.
    tags=("component", "gateway_id", "reason"),
    fields=(
        _f("messages_in", "none", "MQTT messages received (cumulative)", Kind.INT),
        _f("readings_in", "none", "readings received (cumulative)", Kind.INT),
        _f("readings_out", "none", "readings handed to the next hop (cumulative)", Kind.INT),
        _f("records_out", "none", "Kafka records produced (cumulative)", Kind.INT),
        _f("dead_letters", "none", "dead letters (cumulative; per reason on `reason` points)", Kind.INT),
        _f("spool_depth", "none", "records waiting in the store-and-forward spool (gauge)", Kind.INT),
        _f("produce_failures", "none", "failed produce attempts (cumulative)", Kind.INT),
        _f("produce_latency_ms_avg", "ms", "mean produce latency over the interval"),
        _f("produce_latency_ms_p99", "ms", "99th percentile produce latency over the interval"),
        _f("consumer_lag", "none", "records behind the log end, summed over partitions (gauge)", Kind.INT),
    ),
)

MEASUREMENTS: tuple[Measurement, ...] = (
    TELEMETRY,
    RISK,
    ALERTS,
    ALERT_COUNTS,
    WORK_ORDERS,
    WORK_ORDER_COUNTS,
    SERVICE_KPIS,
    MODEL_QUALITY,
    FEATURE_DRIFT,
    MODEL_EVENTS,
    PIPELINE,
)
BY_NAME: dict[str, Measurement] = {m.name: m for m in MEASUREMENTS}


_FROM = re.compile(r'FROM\s+"(\w+)"')
_QUOTED = re.compile(r'"(\w+)"')
_ALIAS = re.compile(r'AS\s+"(\w+)"')
_FIELD_REGEX = re.compile(r"\(/\^(\w+)/\)")


def undeclared_names(query: str) -> list[str]:
    """Names a query uses that this schema does not declare (empty when the query conforms).

    Checks ``FROM "measurement"`` against :data:`MEASUREMENTS`, every other double-quoted identifier
    against the tags and fields of the measurements the query reads (or an ``AS`` alias it defines),
    and a field regex like ``/^sensor_/`` against the telemetry sensor prefix.
    """
    measurements = _FROM.findall(query)
    problems = [f"measurement {name!r}" for name in measurements if name not in BY_NAME]
    known = {alias for alias in _ALIAS.findall(query)}
    for name in measurements:
        if name in BY_NAME:
            known.update(BY_NAME[name].tags)
            known.update(BY_NAME[name].field_names)
    for name in _QUOTED.findall(query):
        if name not in known and name not in measurements:
            problems.append(f"tag or field {name!r}")
    for prefix in _FIELD_REGEX.findall(query):
        if prefix != SENSOR_FIELD_PREFIX:
            problems.append(f"field regex /^{prefix}/")
    return problems
