"""InfluxQL targets, annotations and variables for the foundation SDK.

The SDK ships no InfluxDB query type, so this module adds one: a ``Dataquery`` that serialises to
the JSON Grafana's InfluxDB datasource stores for a raw InfluxQL query, and a builder for it in the
SDK's style. Annotations use the target form Grafana migrates legacy InfluxDB annotations to
(``target.query`` with ``textColumn``/``tagsColumn``).
"""

from __future__ import annotations

from typing import Literal, Self

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as model

DATASOURCE_TYPE = "influxdb"
DATASOURCE_UID = "forewarn-influxdb"
"""The InfluxDB datasource's uid: the provisioning file and every panel use the same one."""

ResultFormat = Literal["time_series", "table"]


def datasource_ref() -> model.DataSourceRef:
    """The reference every panel, target, variable and annotation carries."""
    return model.DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)


class InfluxQuery(cogvariants.Dataquery):
    """One raw InfluxQL target as Grafana stores it."""

    def __init__(self) -> None:
        self.ref_id = "A"
        self.query = ""
        self.result_format: ResultFormat = "time_series"
        self.alias: str | None = None
        self.hide = False

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "datasource": datasource_ref(),
            "query": self.query,
            "rawQuery": True,
            "refId": self.ref_id,
            "resultFormat": self.result_format,
        }
        if self.alias:
            payload["alias"] = self.alias
        if self.hide:
            payload["hide"] = True
        return payload


class InfluxQL(cogbuilder.Builder[InfluxQuery]):
    """Builder for :class:`InfluxQuery`: ``InfluxQL("SELECT …").ref_id("B").table()``."""

    def __init__(self, query: str) -> None:
        self._internal = InfluxQuery()
        self._internal.query = query

    def build(self) -> InfluxQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def table(self) -> Self:
        """Rows instead of series: for tables, histograms and bar gauges over tags."""
        self._internal.result_format = "table"
        return self

    def alias(self, alias: str) -> Self:
        """Series name pattern, e.g. ``$tag_site`` or ``$col``."""
        self._internal.alias = alias
        return self


class _InfluxAnnotationTarget(model.AnnotationTarget):
    def __init__(self, query: str, text_column: str, tags_column: str) -> None:
        super().__init__()
        self.query = query
        self.text_column = text_column
        self.tags_column = tags_column

    def to_json(self) -> dict[str, object]:
        return {
            "fromAnnotations": True,
            "query": self.query,
            "rawQuery": True,
            "refId": "Anno",
            "resultFormat": "table",
            "tagsColumn": self.tags_column,
            "textColumn": self.text_column,
        }


class InfluxAnnotation(cogbuilder.Builder[model.AnnotationQuery]):
    """An annotation whose events come from an InfluxQL query on the dashboard's datasource."""

    def __init__(self, name: str, query: str, *, text_column: str, tags_column: str, color: str) -> None:
        self._internal = model.AnnotationQuery(
            name=name,
            datasource=datasource_ref(),
            enable=True,
            hide=False,
            icon_color=color,
            target=_InfluxAnnotationTarget(query, text_column, tags_column),
        )

    def build(self) -> model.AnnotationQuery:
        return self._internal

    @property
    def query(self) -> str:
        """The InfluxQL behind the annotation (the tests run it)."""
        target = self._internal.target
        assert isinstance(target, _InfluxAnnotationTarget)
        return target.query


def tag_values(
    name: str, label: str, query: str, *, multi: bool = False, include_all: bool = False
) -> dash.QueryVariable:
    """A template variable filled by an InfluxQL ``SHOW TAG VALUES`` query when the board loads."""
    variable = (
        dash.QueryVariable(name)
        .label(label)
        .datasource(datasource_ref())
        .query(query)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(include_all)
    )
    if include_all:
        variable = variable.all_value(".*")
    return variable
