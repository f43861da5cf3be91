"""The end-of-run summary: the numbers as JSON and as the few lines a person reads first."""

from __future__ import annotations

from typing import Any

from chain.ledger import Accounting
from chain.outcomes import Outcomes


def summary(
    accounting: Accounting,
    letters: dict[str, dict[str, int]],
    outcomes: Outcomes,
    orders: list[dict[str, Any]],
    technicians: dict[int, str],
    alerts_raised: int,
) -> dict[str, Any]:
    """Everything the run produced, in one JSON-able dict."""
    return {
        "accounting": {**accounting.numbers, "ok": accounting.ok, "failures": list(accounting.failures)},
        "dead_letters": letters,
        "alerts_raised": alerts_raised,
        "work_orders": [
            {
                "id": wo["id"],
                "asset_id": wo["asset_id"],
                "site": wo["site"],
                "failure_mode": wo["failure_mode"],
                "severity": wo["severity"],
                "priority": wo["priority"],
                "status": wo["status"],
                "due_by": wo["due_by"],
                "technician": technicians.get(wo["technician_id"]) if wo.get("technician_id") else None,
                "parts": {p["sku"]: p["quantity"] for p in wo.get("parts", [])},
                "model_version": wo.get("model_version"),
            }
            for wo in sorted(orders, key=lambda w: w["id"])
        ],
        "outcomes": outcomes.summary(),
    }


def render(result: dict[str, Any], addresses: dict[str, str], show_orders: int = 12) -> str:
    """The summary for a terminal."""
    a = result["accounting"]
    o = result["outcomes"]
    lines = [
        "",
        "== forewarn demo: summary",
        f"readings published  {a['published_readings']:,} ({a['published_distinct_readings']:,} distinct)"
        f" + {a['published_malformed_messages']} malformed messages",
        f"readings ingested   {a['telemetry_readings']:,} on telemetry"
        f" ({a['telemetry_duplicate_readings']} duplicates)",
        f"dead letters        gateway {result['dead_letters']['gateway'] or 0}"
        f", scoring job {result['dead_letters']['stream'] or 0}",
        f"readings scored     {a['scored_distinct_readings']:,} ({a['risk_records']:,} risk records)",
        f"accounted for       {'yes' if a['ok'] else 'NO: ' + '; '.join(a['failures'])}",
        f"alerts raised       {result['alerts_raised']}",
        f"work orders         {len(result['work_orders'])}",
    ]
    for wo in result["work_orders"][:show_orders]:
        parts = ", ".join(f"{sku} x{n}" for sku, n in wo["parts"].items()) or "no parts"
        lines.append(
            f"  #{wo['id']:<4} {wo['asset_id']:<10} {wo['site']:<8} {wo['failure_mode']:<19}"
            f" {wo['priority']:<3} {wo['status']:<13} {wo['technician'] or '-':<18} {parts}"
        )
    if len(result["work_orders"]) > show_orders:
        lines.append(f"  … {len(result['work_orders']) - show_orders} more (GET /work-orders)")
    lead = o["lead_s_median"]
    lines += [
        f"failures in the run {o['failures']}: warned {o['warned']} ({o['warned_in_time']} in time),"
        f" missed {o['missed']}, failure mode right {o['mode_right']},"
        f" median lead {'-' if lead is None else f'{lead / 60:.0f} min'}",
        f"repeat work orders  {o['repeat_work_orders']} (a second crew for one failure)",
        f"false alarms        {o['false_alarms']}"
        f" (and {o['warnings_of_failures_ahead']} warnings of failures still ahead)",
        *_crew_plan_lines(result.get("crew_plan")),
        "",
        *(f"{name:<19} {address}" for name, address in addresses.items()),
    ]
    return "\n".join(lines)


def _crew_plan_lines(plan: dict[str, Any] | None) -> list[str]:
    """The crew planner's last plan (OR-Tools CP-SAT) in two lines, when the run made one."""
    if not plan:
        return []
    f = plan["figures"]
    reasons: dict[str, int] = {}
    for u in plan.get("unplaced", []):
        reasons[u["reason"]] = reasons.get(u["reason"], 0) + 1
    why = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items())) or "none"
    return [
        f"crew plan (CP-SAT)  {plan['status']} in {plan['solve_s']:.1f} s: {f['placed']} of {f['jobs']}"
        f" open work orders placed in the technicians' shifts; before the latest safe start"
        f" {f['before_latest_safe_start']} of {f['with_latest_safe_start']}, before the SLA due"
        f" {f['before_due']}",
        f"                    travel {f['travel_min']} min, overtime {f['overtime_min']} min;"
        f" unplaced: {why}",
    ]
