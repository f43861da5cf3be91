"""The ``risk`` contract (Kafka topic ``risk``): one scored reading of one asset, versioned.

Produced by the streaming scoring job (``streaming.step`` writes each record's JSON with
:data:`RISK_FIELDS`, in order), read by the alert engine. Decoding returns a record or a
:class:`RiskRejection` that keeps the original bytes and the reason (errors are data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

RISK_SCHEMA_VERSION = 1
UNSPECIFIED_FAILURE_MODE = "unspecified"
"""The failure mode of a risk record whose model does not name one (one alert per asset then)."""
FAILURE_MODE_MAX_CHARS = 100
"""The longest failure mode a risk record may carry (producers fall back to ``unspecified`` beyond)."""
_NO_NUL = r"^[^\x00]*$"  # text that every store (PostgreSQL included) can hold


class FeatureContribution(BaseModel):
    """One of the features that contributed most to this score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    contribution: float


class RiskRecord(BaseModel):
    """One risk score: P(failure within ``horizon_cycles``) and the remaining useful life of one asset.

    ``event_ts`` is the event time of the last reading the score used; rules use it for persistence
    and clearing, so replays evaluate the same way as live data.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = Field(default=1, alias="schema")
    asset_id: str = Field(min_length=1, max_length=200, pattern=_NO_NUL)
    site: str = Field(min_length=1, max_length=200, pattern=_NO_NUL)
    event_ts: AwareDatetime
    # The per-asset sequence number of that reading: with asset_id, the duplicate key downstream.
    seq: Annotated[int, Field(ge=0)] | None = None
    risk: Annotated[float, Field(ge=0.0, le=1.0)]
    rul_cycles: Annotated[float, Field(ge=0.0)] | None = None
    horizon_cycles: Annotated[float, Field(gt=0.0)]
    model_name: str = Field(min_length=1, max_length=200, pattern=_NO_NUL)
    model_version: str = Field(min_length=1, max_length=100, pattern=_NO_NUL)
    model_alias: str | None = Field(default=None, max_length=100, pattern=_NO_NUL)
    failure_mode: str = Field(
        default=UNSPECIFIED_FAILURE_MODE, min_length=1, max_length=FAILURE_MODE_MAX_CHARS, pattern=_NO_NUL
    )
    # The sensors that took the most remaining life away, largest first. Explaining costs one predict
    # per sensor, so the scoring job explains only the records an operator will look at: risk at or
    # above ``FOREWARN_STREAM_EXPLAIN_AT`` (set it to the lowest alert threshold: every alert carries
    # its reasons) and each asset's latest reading of a micro-batch (its page is current). Every
    # other record carries an empty list.
    top_features: tuple[FeatureContribution, ...] = ()

    @field_validator("event_ts")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def encode(self) -> bytes:
        """The canonical JSON encoding (what producers put on the ``risk`` topic)."""
        return orjson.dumps(self.model_dump(mode="json", by_alias=True))


RISK_FIELDS: tuple[str, ...] = tuple(info.alias or name for name, info in RiskRecord.model_fields.items())
"""The record's fields as they are named on the wire (``schema`` for ``schema_version``), in order."""


class RiskRejectReason(StrEnum):
    """Why a ``risk`` message was not turned into a record."""

    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_SCHEMA = "unknown_schema"
    INVALID = "invalid"


@dataclass(frozen=True)
class RiskRejection:
    """A ``risk`` message that could not be decoded: the reason, a human detail and the original bytes."""

    reason: RiskRejectReason
    detail: str
    raw: bytes


def decode_risk(raw: bytes) -> RiskRecord | RiskRejection:
    """Decode one ``risk`` message into a record, or say exactly why not."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return RiskRejection(RiskRejectReason.NOT_JSON, str(exc), raw)
    if not isinstance(data, dict):
        return RiskRejection(RiskRejectReason.NOT_AN_OBJECT, f"got {type(data).__name__}", raw)
    schema = data.get("schema", RISK_SCHEMA_VERSION)
    if schema != RISK_SCHEMA_VERSION:
        return RiskRejection(
            RiskRejectReason.UNKNOWN_SCHEMA, f"schema {schema!r}, expected {RISK_SCHEMA_VERSION}", raw
        )
    try:
        return RiskRecord.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return RiskRejection(RiskRejectReason.INVALID, problems, raw)
