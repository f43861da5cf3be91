"""``forewarn parts receive|issue|return|transfer|adjust|movements|stock|kpis|policy set``: the parts
inventory as movements, on the store directly (as the operator's OS user or ``--by``).

Each change is one transaction through ``alerts.workorders.inventory`` (the API's code path) and
validated by the API's request models, so both refuse the same input: a negative quantity, an
unknown SKU, more than is free, more returned than issued… is one ``error:`` line, exit 2, and
nothing changed. A receipt, return, transfer in or upward stock take releases the work orders
waiting for the part at that site, most urgent first, and says which.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from alerts.cli import By, DatabaseUrl, JsonOut, _fail, _invalid, _operator, _store
from alerts.plan_cli import parts_app

if TYPE_CHECKING:
    from pydantic import BaseModel
    from sqlalchemy.orm import Session

    from alerts.workorders.inventory import Moved

policy_app = typer.Typer(help="Lead time and reorder point of a part at a site.", no_args_is_help=True)
parts_app.add_typer(policy_app, name="policy")

SkuArg = Annotated[str, typer.Argument(metavar="SKU", help="The part number.")]
Site = Annotated[str, typer.Option("--site", help="The site whose stock moves.")]
Qty = Annotated[int, typer.Option("--qty", help="How many parts (a positive whole number).")]
Note = Annotated[
    str | None, typer.Option("--note", help="Free text kept with the movement.", show_default=False)
]
WorkOrder = Annotated[int, typer.Option("--work-order", help="The work order the parts go to or come from.")]


def _valid(model: type[BaseModel], **fields: Any) -> Any:
    """The request model of the API for these options, or exit 2 naming the bad option."""
    from pydantic import ValidationError

    try:
        return model.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise _fail(_invalid(exc).replace("_", "-"), 2) from None


@contextmanager
def _change(database_url: str | None) -> Iterator[Session]:
    """One transaction; a refusal rolls it back: exit 2 for bad input, 1 for a conflict."""
    from sqlalchemy.exc import OperationalError

    from alerts.store.db import transaction
    from alerts.workorders.errors import ErrorCode, WorkOrderError

    with _store(database_url) as sessions:
        try:
            with transaction(sessions) as session:
                yield session
        except WorkOrderError as exc:
            raise _fail(
                exc.detail, 2 if exc.code in (ErrorCode.INVALID, ErrorCode.NOT_FOUND) else 1
            ) from None
        except OperationalError as exc:  # PostgreSQL gave up on a deadlock: nothing was written
            raise _fail(
                f"the store refused the change ({type(exc.orig).__name__}); nothing changed, retry"
            ) from None


def _moved(
    database_url: str | None, json_out: bool, action: Callable[[Session, str, Any], Moved], by: str | None
) -> None:
    """Run a stock operation as the operator, then print what moved and what it released."""
    from alerts.api.schemas_parts import moved_out
    from alerts.clock import SystemClock

    actor = _operator(by)
    with _change(database_url) as session:
        out = moved_out(action(session, actor, SystemClock().now()))
    if json_out:
        typer.echo(out.model_dump_json(indent=2))
        return
    for m in out.movements:
        typer.echo(f"{m.kind.value:<12} {m.quantity:+d} {m.sku} @ {m.site}  (movement {m.id})")
    for b in out.stock:
        typer.echo(f"stock        {b.sku} @ {b.site}: {b.on_hand} on hand, {b.reserved} reserved")
    if out.released_work_orders:
        typer.echo("released     work orders " + ", ".join(map(str, out.released_work_orders)))


@parts_app.command("receive")
def receive(
    sku: SkuArg,
    site: Site,
    qty: Qty,
    note: Note = None,
    by: By = None,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """A delivery of a known part at a site; releases the work orders waiting there for it."""
    from alerts.api.schemas_parts import ReceiptIn
    from alerts.workorders import inventory

    body = _valid(ReceiptIn, sku=sku, site=site, quantity=qty, note=note)
    _moved(
        database_url,
        json_out,
        lambda s, actor, now: inventory.receive(
            s, body.sku, body.site, body.quantity, actor=actor, now=now, note=body.note
        ),
        by,
    )


@parts_app.command("issue")
def issue(
    sku: SkuArg,
    site: Site,
    qty: Qty,
    work_order: WorkOrder,
    note: Note = None,
    by: By = None,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Hand free parts to a work order at its site (its kit leaves stock when it completes)."""
    from alerts.api.schemas_parts import IssueIn
    from alerts.workorders import inventory

    body = _valid(IssueIn, sku=sku, site=site, quantity=qty, work_order_id=work_order, note=note)
    _moved(
        database_url,
        json_out,
        lambda s, actor, now: inventory.issue(
            s, body.sku, body.site, body.quantity, body.work_order_id, actor=actor, now=now, note=body.note
        ),
        by,
    )


@parts_app.command("return")
def return_parts(
    sku: SkuArg,
    site: Site,
    qty: Qty,
    work_order: WorkOrder,
    note: Note = None,
    by: By = None,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Unused parts back from a work order (at most what it was issued)."""
    from alerts.api.schemas_parts import ReturnIn
    from alerts.workorders import inventory

    body = _valid(ReturnIn, sku=sku, site=site, quantity=qty, work_order_id=work_order, note=note)
    _moved(
        database_url,
        json_out,
        lambda s, actor, now: inventory.return_parts(
            s, body.sku, body.site, body.quantity, body.work_order_id, actor=actor, now=now, note=body.note
        ),
        by,
    )


@parts_app.command("transfer")
def transfer(
    sku: SkuArg,
    from_site: Annotated[str, typer.Option("--from", help="The site the parts leave.")],
    to_site: Annotated[str, typer.Option("--to", help="The site they go to.")],
    qty: Qty,
    note: Note = None,
    by: By = None,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Free parts from one site to another; releases the work orders waiting at the destination."""
    from alerts.api.schemas_parts import TransferIn
    from alerts.workorders import inventory

    body = _valid(TransferIn, sku=sku, from_site=from_site, to_site=to_site, quantity=qty, note=note)
    _moved(
        database_url,
        json_out,
        lambda s, actor, now: inventory.transfer(
            s, body.sku, body.from_site, body.to_site, body.quantity, actor=actor, now=now, note=body.note
        ),
        by,
    )


@parts_app.command("adjust")
def adjust(
    sku: SkuArg,
    site: Site,
    counted: Annotated[int, typer.Option("--counted", help="What the stock take counted on hand.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the books are corrected.")],
    by: By = None,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """A stock take: on hand becomes --counted (never below what is reserved)."""
    from alerts.api.schemas_parts import AdjustmentIn
    from alerts.workorders import inventory

    body = _valid(AdjustmentIn, sku=sku, site=site, counted=counted, reason=reason)
    _moved(
        database_url,
        json_out,
        lambda s, actor, now: inventory.adjust(
            s, body.sku, body.site, body.counted, reason=body.reason, actor=actor, now=now
        ),
        by,
    )


@parts_app.command("movements")
def movements(
    sku: Annotated[str | None, typer.Option("--sku", help="Only this part.", show_default=False)] = None,
    site: Annotated[str | None, typer.Option("--site", help="Only this site.", show_default=False)] = None,
    work_order: Annotated[
        int | None, typer.Option("--work-order", help="Only this work order's.", show_default=False)
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=100_000, help="At most this many, newest first.")
    ] = 50,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """The movements, newest first."""
    from sqlalchemy import select

    from alerts.api.schemas_parts import MovementOut
    from alerts.store.tables import PartMovementRow

    q = select(PartMovementRow)
    if sku is not None:
        q = q.where(PartMovementRow.sku == sku)
    if site is not None:
        q = q.where(PartMovementRow.site == site)
    if work_order is not None:
        q = q.where(PartMovementRow.work_order_id == work_order)
    with _change(database_url) as session:
        rows = [
            MovementOut.model_validate(r)
            for r in session.scalars(q.order_by(PartMovementRow.id.desc()).limit(limit))
        ]
    if json_out:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    for r in rows:
        about = f" wo {r.work_order_id}" if r.work_order_id else ""
        about += f" transfer {r.transfer_id[:8]}" if r.transfer_id else ""
        typer.echo(
            f"{r.id:>6} {r.at:%Y-%m-%d %H:%M} {r.kind.value:<12} {r.quantity:+6d} {r.sku} @ {r.site}"
            f"{about}  by {r.actor}{f'  ({r.note})' if r.note else ''}"
        )


@parts_app.command("stock")
def stock(
    site: Annotated[str | None, typer.Option("--site", help="Only this site.", show_default=False)] = None,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Stock per site and part: on hand, reserved, free, and the reorder point where one is set."""
    from sqlalchemy import select

    from alerts.store.tables import PartPolicyRow, PartStockRow

    q = select(PartStockRow).order_by(PartStockRow.site, PartStockRow.sku)
    if site is not None:
        q = q.where(PartStockRow.site == site)
    with _change(database_url) as session:
        policies = {(p.sku, p.site): p for p in session.scalars(select(PartPolicyRow))}
        rows: list[dict[str, Any]] = [
            {
                "sku": r.sku,
                "site": r.site,
                "on_hand": r.on_hand,
                "reserved": r.reserved,
                "free": r.on_hand - r.reserved,
                "reorder_point": p.reorder_point if (p := policies.get((r.sku, r.site))) else None,
                "lead_time_days": p.lead_time_days if p else None,
            }
            for r in session.scalars(q)
        ]
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        low = row["reorder_point"] is not None and row["on_hand"] <= row["reorder_point"]
        typer.echo(
            f"{row['site']:<16} {row['sku']:<20} on hand {row['on_hand']:>6}  reserved {row['reserved']:>6}  "
            f"free {row['free']:>6}{'  AT/BELOW REORDER POINT' if low else ''}"
        )


@parts_app.command("kpis")
def kpis(json_out: JsonOut = False, database_url: DatabaseUrl = None) -> None:
    """Parts fill rate (kit lines free at the first scheduling) and work orders delayed by parts."""
    from alerts.api.schemas_parts import PartsKpisOut
    from alerts.clock import SystemClock
    from alerts.planning.parts_facts import load_facts
    from alerts.planning.parts_kpis import parts_kpis

    with _change(database_url) as session:
        out = PartsKpisOut.model_validate(parts_kpis(load_facts(session), SystemClock().now()))
    if json_out:
        typer.echo(out.model_dump_json(indent=2))
        return
    rate = "n/a" if out.fill_rate is None else f"{out.fill_rate:.1%}"
    typer.echo(f"fill rate           {rate} ({out.kit_lines_filled}/{out.kit_lines_scheduled} kit lines)")
    typer.echo(
        f"delayed by parts    {out.delayed_by_parts} work orders, "
        f"{out.hours_waiting_for_parts:.1f} h waiting ({out.still_waiting} still waiting)"
    )


@policy_app.command("set")
def policy_set(
    sku: SkuArg,
    site: Site,
    lead_time_days: Annotated[float, typer.Option("--lead-time-days", help="Supplier lead time in days.")],
    reorder_point: Annotated[
        int, typer.Option("--reorder-point", help="Reorder when on hand falls to this.")
    ],
    reorder_qty: Annotated[
        int | None, typer.Option("--reorder-qty", help="Fixed lot size (default: none).", show_default=False)
    ] = None,
    by: By = None,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Set a part's lead time and reorder point at a site (also how a new SKU is introduced)."""
    from alerts.api.schemas_parts import PolicyIn, PolicyOut
    from alerts.clock import SystemClock
    from alerts.workorders.part_policy import set_policy

    body = _valid(
        PolicyIn,
        sku=sku,
        site=site,
        lead_time_days=lead_time_days,
        reorder_point=reorder_point,
        reorder_qty=reorder_qty,
    )
    actor = _operator(by)
    with _change(database_url) as session:
        row = set_policy(
            session,
            body.sku,
            body.site,
            lead_time_days=body.lead_time_days,
            reorder_point=body.reorder_point,
            reorder_qty=body.reorder_qty,
            actor=actor,
            now=SystemClock().now(),
        )
        out = PolicyOut.model_validate(row)
    if json_out:
        typer.echo(out.model_dump_json(indent=2))
        return
    lot = f", lot {out.reorder_qty}" if out.reorder_qty else ""
    typer.echo(
        f"policy {out.sku} @ {out.site}: lead time {out.lead_time_days:g} d, "
        f"reorder point {out.reorder_point}{lot}"
    )
