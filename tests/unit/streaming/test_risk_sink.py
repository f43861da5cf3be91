"""The ``risk`` sink produces every field of the risk contract, and nothing the contract does not name.

The sink's JSON struct iterates the contract's fields; a field is either built by an expression of
``streaming.sinks.RISK_EXPRESSIONS`` or taken from the scored column of its name. Checked here without
Spark against the scored rows' schema (``streaming.state.OUTPUT``); the decoding of the job's real
output is checked in ``tests/integration/streaming/test_scoring_job.py``.
"""

from __future__ import annotations

import types
import typing

from pyspark.sql.types import DataType, DoubleType, LongType, StringType

from forewarn.contracts.risk import RISK_FIELDS, RiskRecord
from streaming.sinks import RISK_EXPRESSIONS
from streaming.state import OUTPUT

_SPARK_TYPE = {str: StringType(), int: LongType(), float: DoubleType()}


def _spark_type(field: str) -> DataType:
    """The Spark type a plain scored column must have to carry contract field ``field``."""
    (info,) = (i for n, i in RiskRecord.model_fields.items() if (i.alias or n) == field)
    annotation = info.annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (annotation,) = (a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return _SPARK_TYPE[typing.cast(type, annotation)]


def test_every_contract_field_has_a_spark_expression() -> None:
    scored = set(OUTPUT.fieldNames())
    missing = [f for f in RISK_FIELDS if f not in RISK_EXPRESSIONS and f not in scored]
    assert missing == [], f"risk contract fields the scoring job does not produce: {missing}"


def test_the_sink_builds_no_field_the_contract_does_not_name() -> None:
    assert set(RISK_EXPRESSIONS) <= set(RISK_FIELDS)


def test_plain_scored_columns_have_the_contract_types() -> None:
    scored = {f.name: f.dataType for f in OUTPUT.fields}
    plain = [f for f in RISK_FIELDS if f not in RISK_EXPRESSIONS]
    assert plain  # most fields are plain columns
    for field in plain:
        assert scored[field] == _spark_type(field), field
