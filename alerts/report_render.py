"""The report's page: one PNG figure and an HTML page that embeds it with its tables.

Three panels on one event-time axis: the sensors that trend most (each scaled 0..1 over the window,
its range in the legend), risk (0..1) and RUL in the model's unit; every alert and work order is a
vertical line across all three. Built on matplotlib's ``Figure`` without pyplot: no global state,
so the API can draw reports in its worker threads.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from alerts.report import Marker, MarkerKind, ReportData, scaled

MARKER_STYLE = {
    MarkerKind.ALERT: {"color": "#d62728", "linestyle": "--"},
    MarkerKind.WORK_ORDER: {"color": "#1f77b4", "linestyle": ":"},
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ReportFormat(StrEnum):
    """What ``--out`` writes, by its suffix."""

    HTML = "html"
    PNG = "png"

    @classmethod
    def of(cls, path: Path) -> ReportFormat:
        """The format of ``path``'s suffix; ValueError for another."""
        suffix = path.suffix.lower().lstrip(".")
        if suffix == "htm":
            return cls.HTML
        try:
            return cls(suffix)
        except ValueError:
            raise ValueError(
                f"{path}: the report is .html or .png, not {path.suffix or 'no suffix'!r}"
            ) from None


def _times(times_ms: tuple[int, ...]) -> list[datetime]:
    return [datetime.fromtimestamp(t / 1000, UTC) for t in times_ms]


def title(data: ReportData) -> str:
    """``pump-0007 (site-1): 2026-12-01T00:00:00Z → 2026-12-02T00:00:00Z``."""
    site = f" ({data.site})" if data.site else ""
    since = data.window.since.isoformat(timespec="seconds").replace("+00:00", "Z")
    until = data.window.until.isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"{data.asset_id}{site}: {since} → {until}"


def render_png(data: ReportData, dpi: int = 100) -> bytes:
    """The report's figure as PNG bytes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 9), layout="constrained")
    ax_sensors, ax_risk, ax_rul = fig.subplots(3, 1, sharex=True, height_ratios=[2, 1, 1])
    fig.suptitle(title(data), fontsize=12)

    for curve in data.sensors:
        label = f"{curve.name} ({min(curve.values):.4g}…{max(curve.values):.4g})"
        ax_sensors.plot(_times(curve.times_ms), scaled(curve.values), linewidth=1, label=label)
    ax_sensors.set_ylabel("sensors (each scaled 0-1\nover the window)")
    if data.sensors:
        ax_sensors.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    else:
        _empty(ax_sensors, "no telemetry in InfluxDB for this window")

    horizons = {s.horizon for s in data.scores if s.horizon is not None}
    within = f" within {horizons.pop():g} {data.unit.label()}" if len(horizons) == 1 else ""
    for score in data.scores:
        times = _times(score.times_ms)
        ax_risk.plot(
            times, [float("nan") if v is None else v for v in score.risk], linewidth=1.2, label=score.label
        )
        ax_rul.plot(
            times, [float("nan") if v is None else v for v in score.rul], linewidth=1.2, label=score.label
        )
    ax_risk.set_ylim(-0.02, 1.02)
    ax_risk.set_ylabel("risk")
    ax_risk.set_title(f"risk: the probability of a failure{within}", fontsize=9, loc="left")
    ax_rul.set_ylabel(f"RUL\n({data.unit.label()})")
    ax_rul.set_title(data.unit.axis("remaining useful life"), fontsize=9, loc="left")
    if data.scores:
        ax_risk.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    else:
        _empty(ax_risk, "no scores in InfluxDB for this window")
        _empty(ax_rul, "")
    ax_rul.set_xlabel("event time (UTC)")

    for marker in data.markers:
        for ax in (ax_sensors, ax_risk, ax_rul):
            ax.axvline(marker.at, linewidth=1, **MARKER_STYLE[marker.kind])
        ax_sensors.annotate(
            marker.label, (marker.at, 1.0), xycoords=("data", "axes fraction"), rotation=90,
            fontsize=7, va="top", ha="right", color=MARKER_STYLE[marker.kind]["color"],
        )  # fmt: skip
    if not (data.sensors or data.scores) and data.markers:
        ax_rul.set_xlim(data.window.since, data.window.until)
    for ax in (ax_sensors, ax_risk, ax_rul):
        ax.grid(alpha=0.3)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _empty(ax: object, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="grey")  # type: ignore[attr-defined]


def _table(rows: list[dict[str, str]], empty: str) -> str:
    if not rows:
        return f"<p>{html.escape(empty)}</p>"
    head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in r.values()) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _rows(markers: list[Marker], kind: MarkerKind) -> list[dict[str, str]]:
    return [m.row for m in markers if m.kind is kind]


def render_html(data: ReportData, png: bytes) -> str:
    """A self-contained page: the figure (embedded PNG), the models behind the scores, the alerts
    and the work orders."""
    image = base64.b64encode(png).decode("ascii")
    note = f'<p class="note">{html.escape(data.unit_note)}</p>' if data.unit_note else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>forewarn report: {html.escape(title(data))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
th {{ background: #f3f3f3; }} .note {{ color: #a33; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>{html.escape(title(data))}</h1>
<p>Sensors, risk and remaining useful life (RUL, in {html.escape(data.unit.label())}) by event time;
alerts are dashed red lines, work orders dotted blue ones.</p>
{note}
<img alt="sensors, risk and RUL of {html.escape(data.asset_id)}" src="data:image/png;base64,{image}">
<h2>Models behind the scores</h2>
{_table(data.models(), "No scores in this window.")}
<h2>Alerts</h2>
{_table(_rows(data.markers, MarkerKind.ALERT), "No alerts in this window.")}
<h2>Work orders</h2>
{_table(_rows(data.markers, MarkerKind.WORK_ORDER), "No work orders in this window.")}
</body></html>
"""


def render(data: ReportData, fmt: ReportFormat) -> bytes:
    """The report in ``fmt``, as bytes to write or serve."""
    png = render_png(data)
    return png if fmt is ReportFormat.PNG else render_html(data, png).encode()


def write(data: ReportData, path: Path) -> ReportFormat:
    """Write the report to ``path`` in the format its suffix names; return that format."""
    fmt = ReportFormat.of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render(data, fmt))
    return fmt
