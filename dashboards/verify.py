"""Run every query of a built board against InfluxDB, as Grafana would send it.

``board_queries`` lists the panel targets and annotation queries of a board JSON; ``resolve`` runs
the template-variable queries in order (a later variable may use an earlier one) and picks values;
``check_board`` expands each query with :mod:`dashboards.macros` and reports how many rows with a
value came back. The integration tests and ``forewarn dashboards verify`` both use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from dashboards.macros import MacroError, TimeRange, Variable, expand
from dashboards.render import iter_panels
from forewarn.settings import InfluxSettings


class Source(StrEnum):
    """Where in a board a query sits."""

    PANEL = "panel"
    ANNOTATION = "annotation"
    VARIABLE = "variable"


@dataclass(frozen=True)
class BoardQuery:
    """One InfluxQL query of a board and where it comes from."""

    board_uid: str
    source: Source
    title: str
    ref_id: str
    query: str
    max_data_points: int = 1000

    @property
    def label(self) -> str:
        return f"{self.board_uid} / {self.source.value} {self.title!r} {self.ref_id}".rstrip()


@dataclass(frozen=True)
class QueryResult:
    """What InfluxDB answered: rows that hold at least one non-null value, or an error."""

    query: BoardQuery
    sent: str
    rows: int
    error: str | None = None
    series: tuple[dict[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None and self.rows > 0


def board_queries(doc: Mapping[str, Any]) -> list[BoardQuery]:
    """Every panel target and annotation query of a board JSON (rows carry none)."""
    uid = str(doc.get("uid"))
    out = []
    for panel in iter_panels(dict(doc)):
        points = int(panel.get("maxDataPoints") or 1000)
        for target in panel.get("targets") or []:
            out.append(
                BoardQuery(
                    uid, Source.PANEL, str(panel.get("title")), target["refId"], target["query"], points
                )
            )
    for annotation in (doc.get("annotations") or {}).get("list", []):
        target = annotation.get("target") or {}
        if "query" in target:
            out.append(BoardQuery(uid, Source.ANNOTATION, annotation["name"], "", target["query"]))
    return out


def variable_specs(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The board's template variables in dependency (declaration) order."""
    return list((doc.get("templating") or {}).get("list", []))


class InfluxQL:
    """A tiny InfluxQL client over ``/query`` (GET for SHOW/SELECT), epoch milliseconds."""

    def __init__(self, settings: InfluxSettings, database: str) -> None:
        self.settings = settings
        self.database = database
        self._client = httpx.Client(timeout=settings.timeout_s, headers=settings.auth_headers())

    def series(self, query: str) -> list[dict[str, Any]]:
        """The series of the first statement's result; InfluxDB's error as ValueError."""
        params = {"db": self.database, "q": query, "epoch": "ms"}
        response = self._client.get(f"{self.settings.url}/query", params=params)
        body = response.json() if response.content else {}
        if response.status_code != 200 or "error" in body:
            raise ValueError(str(body.get("error") or f"HTTP {response.status_code}: {response.text[:200]}"))
        result = body["results"][0]
        if "error" in result:
            raise ValueError(str(result["error"]))
        return list(result.get("series", []))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> InfluxQL:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def rows_with_values(series: Sequence[Mapping[str, Any]]) -> int:
    """Rows in which some column other than ``time`` is not null."""
    count = 0
    for one in series:
        columns = one.get("columns", [])
        for row in one.get("values", []):
            if any(value is not None for name, value in zip(columns, row, strict=False) if name != "time"):
                count += 1
    return count


Chooser = Callable[[str, Sequence[str]], Sequence[str]]


def choose_all(_name: str, values: Sequence[str]) -> Sequence[str]:
    """Pick every value (multi-select) — or the first, for single-value variables."""
    return values


def resolve(
    doc: Mapping[str, Any], client: InfluxQL, time_range: TimeRange, choose: Chooser = choose_all
) -> tuple[dict[str, Variable], dict[str, list[str]]]:
    """Run each variable's query with the earlier ones filled in; chosen values and all options."""
    chosen: dict[str, Variable] = {}
    options: dict[str, list[str]] = {}
    for spec in variable_specs(doc):
        name = spec["name"]
        query = expand(str(spec["query"]), time_range, chosen)
        values = sorted(str(row[-1]) for series in client.series(query) for row in series.get("values", []))
        options[name] = values
        if not values:
            raise ValueError(f"variable ${name} resolved to no values: {query}")
        multi = bool(spec.get("multi")) or bool(spec.get("includeAll"))
        picked = tuple(choose(name, values)) if multi else (tuple(choose(name, values)) or (values[0],))[:1]
        chosen[name] = Variable(
            values=picked,
            multi=bool(spec.get("multi")),
            include_all=bool(spec.get("includeAll")),
            all_value=spec.get("allValue"),
        )
    return chosen, options


def check_board(
    doc: Mapping[str, Any], client: InfluxQL, time_range: TimeRange, variables: Mapping[str, Variable]
) -> list[QueryResult]:
    """Run every panel and annotation query of ``doc``; one result per query, errors as data."""
    results = []
    for query in board_queries(doc):
        try:
            sent = expand(query.query, time_range, variables, max_data_points=query.max_data_points)
        except MacroError as exc:
            results.append(QueryResult(query, query.query, 0, str(exc)))
            continue
        try:
            series = client.series(sent)
        except (ValueError, httpx.HTTPError) as exc:
            results.append(QueryResult(query, sent, 0, str(exc)))
            continue
        results.append(QueryResult(query, sent, rows_with_values(series), series=tuple(series)))
    return results


class _Rotate:
    """A chooser that picks the ``k``-th option of every single-value variable (all options of a
    multi-value one, whatever their order)."""

    def __init__(self, k: int) -> None:
        self.k = k

    def __call__(self, _name: str, values: Sequence[str]) -> Sequence[str]:
        k = self.k % len(values)
        return [*values[k:], *values[:k]]


def check_board_any_choice(
    doc: Mapping[str, Any], client: InfluxQL, time_range: TimeRange, tries: int = 25
) -> tuple[list[QueryResult], dict[str, Variable]]:
    """Each query's best result over the options of the board's single-value variables.

    A board with a single-value variable (the asset board's ``$asset``) shows one asset at a time;
    whether a panel works is whether it answers for *some* asset an operator could pick, not for the
    first in sort order (a healthy pump has no alerts to mark). Tries the first ``tries`` options in
    turn, stops once every query has rows, and keeps for each query the result with the most rows.

    Returns:
        One result per query (in :func:`board_queries` order) and the variables of the last try.

    Raises:
        ValueError: a variable resolved to no values.
    """
    best: list[QueryResult] = []
    variables: dict[str, Variable] = {}
    for k in range(tries):
        variables, options = resolve(doc, client, time_range, _Rotate(k))
        results = check_board(doc, client, time_range, variables)
        best = results if not best else [max(b, r, key=_rank) for b, r in zip(best, results, strict=True)]
        single = [len(values) for spec in variable_specs(doc) if not _is_multi(spec)
                  for values in [options.get(spec["name"], [])]]  # fmt: skip
        if all(r.ok for r in best) or k + 1 >= max(single, default=1):
            break
    return best, variables


def _rank(result: QueryResult) -> tuple[bool, int]:
    return (result.error is None, result.rows)


def _is_multi(spec: Mapping[str, Any]) -> bool:
    return bool(spec.get("multi")) or bool(spec.get("includeAll"))
