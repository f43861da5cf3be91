"""The InfluxDB contract: measurements, their bounded tags and their fields with units, and the one
way a producer builds a point of them.

Every producer (the gateway's metrics, the scoring job's sinks, the alert engine and the work-order
service, the boards' seeder) builds its points with :meth:`Measurement.point` (or, for a reading,
:func:`telemetry_point`), which refuses a tag key or a field the measurement does not declare; every
board names only what is declared here (:func:`undeclared_names`, checked by a unit test). So a
renamed field fails the producer's tests instead of leaving a panel silently empty.

Tags are bounded (sites, assets, model versions, failure modes, severities, states, statuses,
reasons); ids that grow without end (alert id, work-order id) are string fields. Counters marked
*cumulative* rise from the producer's start and the boards take ``non_negative_derivative``;
*gauges* are the value now; *event* measurements get one point per change. A gauge broken down by
tags is written for every tag combination each interval, zeros included (e.g. ``alert_counts`` for
every site x severity x open state x kind): the boards take ``last()`` per series, which would
otherwise keep showing a count that has since dropped to zero.

``telemetry`` keeps a reading's settings and sensors apart by a field-name prefix:
``setting.<name>`` and ``sensor.<name>``, ``<name>`` as the reading has it (``sensor.vibration_mm_s``,
``sensor.sensor_11``, ``setting.load_frac``). Why:

- a board selects any fleet's sensors with one field regex (:data:`SENSOR_FIELD_REGEX`,
  ``/^sensor\\./``) and training tells settings from sensors without knowing the fleet's names;
- not a tag: one point holds one reading's settings and sensors (same series, same time), and a tag
  would name the whole point, so settings and sensors would need two points per reading;
- a dot, not ``sensor_``: a reading's names are free text and C-MAPSS calls its sensors ``sensor_1``…,
  so ``sensor_`` could not tell the prefix from a name; a dot needs no escaping in line protocol and
  InfluxQL takes it as is in regexes and quoted identifiers. Only the first dot separates
  (``sensor.a.b`` is the sensor ``a.b``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from forewarn.contracts.alert import AlertKind, AlertState, ChangeKind, Severity
from forewarn.contracts.dead_letter import GatewayReason, ScoringReason
from forewarn.contracts.work_order import OPEN_STATUSES, Priority, WorkOrderStatus
from forewarn.influx import FieldValue, escape_tag, line


class Kind(StrEnum):
    """The InfluxDB field type a producer writes."""

    FLOAT = "float"
    INT = "integer"
    STRING = "string"


@dataclass(frozen=True)
class FieldSpec:
    """One field: its name, type, unit (a Grafana unit id where one fits) and meaning.

    With ``prefix``, ``name`` is a prefix and the spec declares every field whose name starts with
    it and goes on (``telemetry``'s ``sensor.`` and ``setting.``: their names are the fleet's).
    """

    name: str
    kind: Kind
    unit: str
    meaning: str
    prefix: bool = False

    def declares(self, name: str) -> bool:
        """Whether this spec declares the field ``name``."""
        if self.prefix:
            return name.startswith(self.name) and len(name) > len(self.name)
        return name == self.name


@dataclass(frozen=True)
class Measurement:
    """One measurement: who writes it, how often, with which tags and fields."""

    name: str
    writer: str
    cadence: str
    tags: tuple[str, ...]
    fields: tuple[FieldSpec, ...]
    # What point() has checked already: the tag keys, and every field name declared by name or seen
    # under a declared prefix (bounded by the fleet's setting and sensor names).
    _tag_keys: frozenset[str] = dataclasses.field(init=False, repr=False, compare=False)
    _accepted: set[str] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tag_keys", frozenset(self.tags))
        object.__setattr__(self, "_accepted", set(self.field_names))

    def field(self, name: str) -> FieldSpec:
        """The spec declaring field ``name``; KeyError names the measurement when there is none."""
        for spec in self.fields:
            if spec.declares(name):
                return spec
        raise KeyError(f"measurement {self.name!r} has no field {name!r}")

    @property
    def field_names(self) -> tuple[str, ...]:
        """Every field declared by its exact name, in declaration order."""
        return tuple(spec.name for spec in self.fields if not spec.prefix)

    @property
    def field_prefixes(self) -> tuple[str, ...]:
        """The prefixes that declare a family of fields, in declaration order."""
        return tuple(spec.name for spec in self.fields if spec.prefix)

    def declares_field(self, name: str) -> bool:
        """Whether ``name`` is a field of this measurement (by name or under a prefix)."""
        return any(spec.declares(name) for spec in self.fields)

    def undeclared(self, tags: Iterable[str], fields: Iterable[str]) -> list[str]:
        """The tag keys and field names this measurement does not declare (empty when all are)."""
        problems = [f"tag {key!r}" for key in tags if key not in self._tag_keys]
        return problems + [f"field {name!r}" for name in fields if not self.declares_field(name)]

    def point(self, tags: Mapping[str, str], fields: Mapping[str, FieldValue], ts_ms: int) -> str | None:
        """This measurement's point in line protocol (:func:`forewarn.influx.line`: millisecond time,
        tags sorted, empty tags and unwritable values left out); None when no field is writable.

        Names cost a set lookup each: a field name is checked against the declaration once, the
        first time it comes, and remembered (this runs per reading in the scoring job).

        Raises:
            ValueError: a tag key or a field this measurement does not declare: a producer bug,
                which must fail its tests rather than write a name no board reads.
        """
        if not (tags.keys() <= self._tag_keys and fields.keys() <= self._accepted):
            problems = self.undeclared(tags, fields)
            if problems:
                raise ValueError(f"measurement {self.name!r} does not declare {', '.join(problems)}")
            if len(self._accepted) < _MAX_REMEMBERED_NAMES:  # names come from sites: keep memory bounded
                self._accepted.update(fields)
        return line(self.name, tags, fields, ts_ms)


_MAX_REMEMBERED_NAMES = 65_536
"""How many field names a producer process remembers as checked (beyond, they are checked each time)."""


def _f(name: str, unit: str, meaning: str, kind: Kind = Kind.FLOAT) -> FieldSpec:
    return FieldSpec(name, kind, unit, meaning)


# The value sets of the bounded tags, from the producers' own codes (forewarn.contracts).
SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)
ALERT_STATES: tuple[str, ...] = tuple(s.value for s in AlertState)
OPEN_ALERT_STATES: tuple[str, ...] = tuple(s.value for s in AlertState if s is not AlertState.CLEARED)
ALERT_KINDS: tuple[str, ...] = tuple(k.value for k in AlertKind)
ALERT_CHANGES: tuple[str, ...] = tuple(c.value for c in ChangeKind)
WORK_ORDER_STATUSES: tuple[str, ...] = tuple(s.value for s in WorkOrderStatus)
OPEN_WORK_ORDER_STATUSES: tuple[str, ...] = tuple(s.value for s in OPEN_STATUSES)
PRIORITIES: tuple[str, ...] = tuple(p.value for p in Priority)
PIPELINE_COMPONENTS: tuple[str, ...] = ("gateway", "streaming", "alerts")
DEAD_LETTER_REASONS: tuple[str, ...] = tuple(r.value for r in (*GatewayReason, *ScoringReason))
"""The ``pipeline`` points' ``reason`` tag: the gateway's and the scoring job's dead-letter reasons."""


class ValueKind(StrEnum):
    """Which part of a reading a ``telemetry`` field holds; its field-name prefix is the value and a dot."""

    SETTING = "setting"
    SENSOR = "sensor"

    @property
    def prefix(self) -> str:
        return f"{self.value}."


SETTING_PREFIX = ValueKind.SETTING.prefix
SENSOR_PREFIX = ValueKind.SENSOR.prefix
SENSOR_FIELD_REGEX = f"/^{re.escape(SENSOR_PREFIX)}/"
"""InfluxQL's field regex for every sensor of any fleet: ``SELECT mean(/^sensor\\./) FROM "telemetry"``."""


def value_field(kind: ValueKind, name: str) -> str:
    """The ``telemetry`` field of the setting or sensor ``name``."""
    return kind.prefix + name


def parse_value_field(field_name: str) -> tuple[ValueKind, str] | None:
    """(setting or sensor, the reading's name) of a ``telemetry`` field; None for another (``seq``)."""
    kind, dot, name = field_name.partition(".")
    if not dot or not name or kind not in _KINDS:
        return None
    return _KINDS[kind], name


_KINDS = {k.value: k for k in ValueKind}


class _Prefixed(dict[str, str]):
    """name → prefixed field name, made once per name: the same names come back in every reading,
    and a reused string keeps its hash for the lookups downstream."""

    def __init__(self, kind: ValueKind) -> None:
        super().__init__()
        self.kind = kind

    def __missing__(self, name: str) -> str:
        key = value_field(self.kind, name)
        if len(self) < _MAX_REMEMBERED_NAMES:  # a site may publish any names: keep memory bounded
            self[name] = key
        return key


_SETTING_FIELDS = _Prefixed(ValueKind.SETTING)
_SENSOR_FIELDS = _Prefixed(ValueKind.SENSOR)


def telemetry_point(
    site: str, asset_id: str, ts_ms: int, seq: int, settings: Mapping[str, Any], sensors: Mapping[str, Any]
) -> str | None:
    """One reading's ``telemetry`` point: ``setting.<name>`` and ``sensor.<name>`` fields, ``seq`` beside
    them; values line protocol cannot hold (null, lists, NaN) are left out.

    A canonical reading (every value a float, and finite: JSON has none other) takes
    :func:`telemetry_lines_fast`, the same line at a fraction of the cost (the scoring job writes
    one per reading); anything else is built field by field.
    """
    if all(type(v) is float and math.isfinite(v) for v in sensors.values()) and all(
        type(v) is float and math.isfinite(v) for v in settings.values()
    ):
        return telemetry_lines_fast(site, asset_id, ts_ms, int(seq), settings, sensors)
    return _general_telemetry_point(site, asset_id, ts_ms, seq, settings, sensors)


def _general_telemetry_point(
    site: str, asset_id: str, ts_ms: int, seq: int, settings: Mapping[str, Any], sensors: Mapping[str, Any]
) -> str | None:
    """:func:`telemetry_point` field by field, for any values (the reference :func:`telemetry_lines_fast`
    must equal)."""
    fields: dict[str, Any] = {_SETTING_FIELDS[k]: v for k, v in settings.items()}
    for k, v in sensors.items():
        fields[_SENSOR_FIELDS[k]] = v
    fields["seq"] = seq
    return TELEMETRY.point({"site": site, "asset_id": asset_id}, fields, ts_ms)


TELEMETRY = Measurement(
    name="telemetry",
    writer="streaming job (InfluxDB sink), one point per reading that is not a duplicate (telemetry_point)",
    cadence="event: one point per reading (or the last of each bucket, downsampled)",
    tags=("site", "asset_id"),
    fields=(
        FieldSpec(SETTING_PREFIX, Kind.FLOAT, "none", "each operating setting of the reading", prefix=True),
        FieldSpec(SENSOR_PREFIX, Kind.FLOAT, "none", "each sensor of the reading", prefix=True),
        _f("seq", "none", "the reading's sequence number per asset", Kind.INT),
    ),
)

RISK = Measurement(
    name="risk",
    writer="streaming job, one point per scored asset and micro-batch (the Kafka `risk` record)",
    cadence="event: one point per score",
    # failure_mode: the model's own bounded list; a model that scores several failure modes writes
    # one point per mode at the reading's time, which would overwrite each other without the tag.
    tags=("site", "asset_id", "model_name", "model_version", "model_alias", "failure_mode"),
    fields=(
        _f("risk", "percentunit", "P(failure within the horizon), 0..1"),
        _f("rul_cycles", "none", "predicted remaining useful life, in cycles"),
        _f("horizon_cycles", "none", "the horizon the risk refers to, in cycles"),
        _f("seq", "none", "the scored reading's sequence number per asset (the risk record's key)", Kind.INT),
    ),
)

ALERTS = Measurement(
    name="alerts",
    writer="alerts service, one point per alert change (the Kafka `alerts` record)",
    cadence="event: one point per change",
    # failure_mode: one alert is open per (asset, failure mode); two modes changing in the same
    # millisecond stay two points.
    tags=("site", "asset_id", "failure_mode", "severity", "state", "kind", "change", "model_version"),
    fields=(
        _f("alert_id", "none", "the alert's id (a field: ids grow without end)", Kind.STRING),
        _f("risk", "percentunit", "the risk that triggered or updated the alert"),
        _f("rul_cycles", "none", "the RUL that triggered or updated the alert, in cycles"),
        _f("occurrences", "none", "how many evaluations have matched so far", Kind.INT),
        _f("escalation_tier", "none", "how many escalation tiers have been notified", Kind.INT),
        _f("work_order_id", "none", "the work order opened for the alert, when there is one", Kind.STRING),
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
    writer="work-order service, one point per status change and per priority rise (escalation)",
    cadence="event: one point per status or priority change",
    tags=("site", "asset_id", "status", "priority", "failure_mode", "model_version"),
    fields=(
        _f("work_order_id", "none", "the work order's id (a field)", Kind.STRING),
        _f("sla_breached", "none", "1 when the change happened after the SLA deadline, else 0", Kind.INT),
        _f("fault_found", "none", "on `completed`: 1 when a fault was found, 0 when not", Kind.INT),
        _f("response_s", "s", "on `in_progress`: seconds from the source alert to on site"),
        _f("failure_code", "none", "on `completed`: the failure code the technician found", Kind.STRING),
        _f("time_on_site_min", "m", "on `completed`: minutes the technician spent on site"),
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
    writer="forewarn models watch (models.drift_job), drift of each key feature against the training ref.",
    cadence="gauge: every drift check (one point per site and feature, at the window's last event time)",
    # feature: a sensor the model normalises (its regime z-score) or `risk`; site: a site or `all`
    tags=("model_name", "model_version", "feature", "site"),
    fields=(
        _f("psi", "none", "population stability index against the training reference"),
        _f("mean_shift_sd", "none", "shift of the mean, in training standard deviations"),
        _f("rows", "none", "live values judged in the window", Kind.INT),
    ),
)

MODEL_EVENTS = Measurement(
    name="model_events",
    writer="models.events.record: forewarn models promote / rollback / approve / retrain / watch "
    "(drift alarms, retrains, gate results, promotions, approvals, rollbacks)",
    cadence="event: one point per model event (action tag: models.events.ModelAction)",
    tags=("model_name", "model_version", "action"),
    fields=(
        _f("note", "none", "what happened, who and why, for the annotation text", Kind.STRING),
        # drift_alarm: the worst feature of the drift check
        _f("psi", "none", "drift alarm: population stability index of the worst feature"),
        _f("mean_shift_sd", "none", "drift alarm: mean shift of the worst feature, training sds"),
        _f("drift_rows", "none", "drift alarm: live rows the worst feature was judged on"),
        # retrain: what the challenger was built and judged from
        _f("labels", "none", "retrain: labels read (work-order outcomes)"),
        _f("new_labels", "none", "retrain: labels since the champion's training"),
        _f("labelled_assets", "none", "retrain: assets with a label"),
        _f("train_assets", "none", "retrain: assets the challenger was trained on (base + labels)"),
        _f("base_assets", "none", "retrain: assets of the original training source"),
        _f("judge_assets", "none", "retrain/gate: recently labelled assets held out to judge on"),
        _f("train_seconds", "s", "retrain: training time"),
        # gate_passed / gate_refused / promoted / approved: both models on the judge assets
        _f("challenger_rmse", "none", "gate: challenger RMSE on the judge assets (RUL steps)"),
        _f("champion_rmse", "none", "gate: champion RMSE on the judge assets (RUL steps)"),
        _f("challenger_phm08_score", "none", "gate: challenger PHM08 score on the judge assets"),
        _f("champion_phm08_score", "none", "gate: champion PHM08 score on the judge assets"),
        _f("challenger_pr_auc", "none", "gate: challenger PR-AUC of the risk on the judge assets"),
        _f("champion_pr_auc", "none", "gate: champion PR-AUC of the risk on the judge assets"),
        _f("challenger_false_alarm_rate", "percentunit", "gate: share of healthy readings at risk >= 0.5"),
        _f("champion_false_alarm_rate", "percentunit", "gate: share of healthy readings at risk >= 0.5"),
        _f("challenger_missed_failures", "none", "gate: judged failures never warned (risk < 0.5)"),
        _f("champion_missed_failures", "none", "gate: judged failures never warned (risk < 0.5)"),
        _f("judged_failures", "none", "gate: confirmed failures on the judge assets"),
    ),
)

PIPELINE = Measurement(
    name="pipeline",
    writer="each hop (the gateway, the scoring job; the alerts service later): counters every interval",
    cadence="gauge/cumulative: every metrics interval (gateway: 10 s; scoring job: every micro-batch)",
    # gateway_id only on gateway points; reason (DEAD_LETTER_REASONS) only on the per-reason
    # dead-letter points, which carry nothing but `dead_letters`.
    tags=("component", "gateway_id", "reason"),
    fields=(
        _f("messages_in", "none", "MQTT messages received (cumulative)", Kind.INT),
        _f("readings_in", "none", "readings received (cumulative)", Kind.INT),
        _f("readings_out", "none", "readings handed on (scoring job: scored) (cumulative)", Kind.INT),
        _f("explained", "none", "scoring job: risk records with their top sensors (cumulative)", Kind.INT),
        _f("records_out", "none", "Kafka records produced (cumulative)", Kind.INT),
        _f("duplicates", "none", "readings dropped as duplicates by (asset_id, seq) (cumulative)", Kind.INT),
        _f("dead_letters", "none", "dead letters (cumulative; per reason on `reason` points)", Kind.INT),
        _f("stripped_sensors", "none", "sensor values dropped by the `strip` policy (cumulative)", Kind.INT),
        _f("spooled_records", "none", "records spooled while Kafka was away (cumulative)", Kind.INT),
        _f("forwarded_records", "none", "spooled records forwarded to Kafka since (cumulative)", Kind.INT),
        _f("spool_depth", "none", "records waiting in the store-and-forward spool (gauge)", Kind.INT),
        _f("produce_failures", "none", "failed produce attempts (cumulative)", Kind.INT),
        _f("produce_latency_ms_avg", "ms", "mean produce latency over the interval"),
        _f("produce_latency_ms_p99", "ms", "99th percentile produce latency over the interval"),
        _f("consumer_lag", "none", "records behind the log end, summed over partitions (gauge)", Kind.INT),
    ),
)

PARTS_PLAN = Measurement(
    name="parts_plan",
    writer="forewarn plan parts --write-influx (alerts.planning.parts_points), one point per SKU and site",
    cadence="gauge: every plan written (one point per SKU and site, zeros included)",
    tags=("sku", "site"),
    fields=(
        _f("expected_demand", "none", "units expected to be used over lead time + review, from predictions"),
        _f("demand_sd", "none", "standard deviation of that demand, units"),
        _f("safety_stock", "none", "z x demand_sd for the service level, units"),
        _f("free_stock", "none", "on hand minus reserved, units", Kind.INT),
        _f("suggested_qty", "none", "units to order now (0 when the stock covers the target)", Kind.INT),
        _f("lead_time_days", "d", "the supplier lead time, days"),
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
    PARTS_PLAN,
)
BY_NAME: dict[str, Measurement] = {m.name: m for m in MEASUREMENTS}


_FROM = re.compile(r'FROM\s+"(\w+)"')
_QUOTED = re.compile(r'"([\w.]+)"')
_ALIAS = re.compile(r'AS\s+"(\w+)"')
_FIELD_REGEX = re.compile(r"\((/\^[^/]*/)\)")


def undeclared_names(query: str) -> list[str]:
    """Names a query uses that this schema does not declare (empty when the query conforms).

    Checks ``FROM "measurement"`` against :data:`MEASUREMENTS`, every other double-quoted identifier
    against the tags and fields of the measurements the query reads (or an ``AS`` alias it defines),
    and a field regex like ``/^sensor\\./`` against the field prefixes of those measurements (it must
    select exactly one declared family: ``/^sensor\\./``, not ``/^sensor/`` nor ``/^sensor_/``).
    """
    measurements = _FROM.findall(query)
    problems = [f"measurement {name!r}" for name in measurements if name not in BY_NAME]
    read = [BY_NAME[name] for name in measurements if name in BY_NAME]
    known = set(_ALIAS.findall(query)) | set(measurements)
    for m in read:
        known.update(m.tags)
    for name in _QUOTED.findall(query):
        if name not in known and not any(m.declares_field(name) for m in read):
            problems.append(f"tag or field {name!r}")
    families = {f"/^{re.escape(prefix)}/" for m in read for prefix in m.field_prefixes}
    for regex in _FIELD_REGEX.findall(query):
        if regex not in families:
            problems.append(f"field regex {regex}")
    return problems


class PointCache:
    """Points of one measurement in bulk, for producers that write one per reading (the scoring job).

    :meth:`Measurement.point` checks and escapes every name of every point; here that work is done
    once per tag set and once per field-name set (through :meth:`Measurement.point` itself, so the
    same declarations are enforced), then each point is a join of cached prefixes and the values'
    ``repr``. For finite floats (what a canonical reading holds) the line is the one
    :meth:`Measurement.point` writes (a unit test checks so).
    """

    def __init__(self, measurement: Measurement) -> None:
        self.measurement = measurement
        self._tags: dict[tuple[str, ...], str] = {}
        self._fields: dict[tuple[str, ...], tuple[str, ...]] = {}

    def tags(self, values: Mapping[str, str]) -> str:
        """``measurement,tag=value,...`` for these tags (checked and escaped once per tag set)."""
        key = tuple(values.values())
        found = self._tags.get(key)
        if found is None:
            checked = self.measurement.point(values, {}, 0)  # raises for an undeclared tag key
            del checked
            found = escape_tag(self.measurement.name) + "".join(
                f",{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(values.items()) if v
            )
            if len(self._tags) >= _MAX_REMEMBERED_NAMES:
                self._tags.clear()
            self._tags[key] = found
        return found

    def fields(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """``name=`` prefixes (escaped) for these field names, in order (checked once per name set)."""
        found = self._fields.get(names)
        if found is None:
            self.measurement.point({}, dict.fromkeys(names, 0.0), 0)  # raises for an undeclared field
            found = tuple(f"{escape_tag(n)}=" for n in names)
            if len(self._fields) >= _MAX_REMEMBERED_NAMES:
                self._fields.clear()
            self._fields[names] = found
        return found


_TELEMETRY_LINES: PointCache | None = None


def telemetry_lines_fast(
    site: str,
    asset_id: str,
    ts_ms: int,
    seq: int,
    settings: Mapping[str, float],
    sensors: Mapping[str, float],
) -> str:
    """:func:`telemetry_point` for a canonical reading (every value a finite float), in bulk: the
    scoring job writes one per reading, and the per-name work was most of its cost."""
    global _TELEMETRY_LINES  # one cache per process (each Spark Python worker)
    cache = _TELEMETRY_LINES
    if cache is None:
        cache = _TELEMETRY_LINES = PointCache(TELEMETRY)
    names = (*(_SETTING_FIELDS[k] for k in settings), *(_SENSOR_FIELDS[k] for k in sensors))
    prefixes = cache.fields(names)
    values = ",".join(map(str.__add__, prefixes, map(repr, (*settings.values(), *sensors.values()))))
    return f"{cache.tags({'site': site, 'asset_id': asset_id})} {values},seq={seq}i {ts_ms}"


def telemetry_lines_bulk(
    site: Sequence[str],
    asset_id: Sequence[str],
    ts_ms: Sequence[int],
    seq: Sequence[int],
    settings: tuple[str, ...],
    sensors: tuple[str, ...],
    values: Sequence[Sequence[float]],
) -> list[str]:
    """:func:`telemetry_point` of many readings that name the same ``settings`` and ``sensors`` (in
    that order), ``values`` each reading's setting values then sensor values, every one a finite
    float (what a canonical reading holds: the telemetry contract refuses anything else).

    The scoring job writes one point per reading, and a ``repr`` and a join per value cost 23 µs a
    C-MAPSS reading (24 values) in :func:`telemetry_lines_fast`; here orjson writes every number of
    the batch in one call and one ``str.format`` lays them into the lines: 8 µs. The numbers are
    orjson's shortest round-trip text rather than ``repr``'s, the same doubles either way (line
    protocol reads ``1e-7`` and ``0.00001`` as it reads ``1e-07`` and ``1e-05``).

    Raises:
        ValueError: a value is not a finite float (orjson writes NaN and infinity as ``null``), or
            a row does not hold one value per name: the caller broke the precondition.
    """
    n, width = len(values), len(settings) + len(sensors)
    if not n:
        return []
    global _TELEMETRY_LINES  # one cache per process (each Spark Python worker)
    cache = _TELEMETRY_LINES
    if cache is None:
        cache = _TELEMETRY_LINES = PointCache(TELEMETRY)
    names = (*(_SETTING_FIELDS[k] for k in settings), *(_SENSOR_FIELDS[k] for k in sensors))
    # the escaped ``name=`` prefixes, braces doubled: a site may name a sensor "{0}"
    row = ",".join(p.replace("{", "{{").replace("}", "}}") + "{}" for p in cache.fields(names))
    if "\n" in row:  # the lines are laid out on newlines (the telemetry contract refuses them in names)
        raise ValueError("telemetry_lines_bulk cannot write a field name with a newline")
    text = orjson.dumps(values).decode()  # [[v,v,...],[v,v,...]]
    numbers = text[2:-2].replace("],[", ",").split(",") if width else []
    if len(numbers) != n * width or "null" in text or any(type(v) is not float for v in values[0]):
        raise ValueError(f"telemetry_lines_bulk needs {width} finite floats per reading")
    fields = "\n".join([row] * n).format(*numbers).split("\n") if width else [""] * n
    tags = [cache.tags({"site": s, "asset_id": a}) for s, a in zip(site, asset_id, strict=True)]
    sep = "," if width else ""
    return [f"{t} {f}{sep}seq={q}i {ms}" for t, f, q, ms in zip(tags, fields, seq, ts_ms, strict=True)]
