"""The crew and parts catalogue (technicians, parts, kits) and seeding it into the store, idempotently.

``forewarn alerts seed --site S ...`` reads a TOML catalogue (``alerts/catalog.default.toml`` by
default) and makes the store hold it for the given sites: technicians that are missing are added,
kits are set to the catalogue's, stock is created for parts a site does not stock yet, and a part
with a ``lead_time_days`` gets a replenishment policy at each site that has none. Running it again
changes nothing; stock and policies already there are never reset (work orders reserve and use the
stock; an admin may have set a policy since, e.g. a new supplier's lead time).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.store.tables import PartKitRow, PartPolicyRow, PartStockRow, TechnicianRow
from alerts.workorders.part_policy import MAX_LEAD_TIME_DAYS, set_policy
from alerts.workorders.service import add_technician, set_kit, set_stock

if TYPE_CHECKING:
    from alerts.planning.crew_admin import PlanningDefaults

DEFAULT_CATALOG = Path(__file__).resolve().parent / "catalog.default.toml"


class TechnicianSpec(BaseModel):
    """A role staffed at every seeded site."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: str = Field(min_length=1, max_length=150)
    skills: tuple[str, ...] = Field(min_length=1)
    cover_other_sites: bool = False

    def name_at(self, site: str) -> str:
        """The technician's name at ``site``."""
        return f"{self.role} ({site})"


class PartSpec(BaseModel):
    """A spare part, how many each site holds when first seeded, and how it is replenished.

    ``lead_time_days`` (the supplier's) seeds the part's policy at every site that has none: a work
    order short of the part then expects it that long after it fell short, which the crew planner
    needs to place it (without a policy the date is unknown and the order is left unplaced).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str = Field(min_length=1, max_length=100)
    description: str = ""
    stock_per_site: Annotated[int, Field(ge=0)]
    lead_time_days: Annotated[float, Field(ge=0, le=MAX_LEAD_TIME_DAYS, allow_inf_nan=False)] | None = None
    reorder_point: Annotated[int, Field(ge=0)] | None = None  # 0 when a lead time is given without it

    @model_validator(mode="after")
    def _policy_has_lead_time(self) -> PartSpec:
        if self.reorder_point is not None and self.lead_time_days is None:
            raise ValueError(f"part {self.sku}: a reorder_point needs a lead_time_days (its policy)")
        return self


class PlanningSpec(BaseModel):
    """Crew-planning defaults a seed gives what has none yet (``alerts.planning.crew_admin.seed_defaults``):
    a weekly shift for every seeded technician, a travel time between every two seeded sites, a
    repair duration per failure mode."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weekdays: str = "mon-fri"  # mon..sun, a range or a list
    shift_from: str = "08:00"
    shift_to: str = "16:00"
    timezone: str = "UTC"
    travel_min_between_sites: Annotated[int, Field(ge=0, le=7 * 24 * 60)] = 60
    durations_min: dict[str, Annotated[int, Field(ge=1, le=7 * 24 * 60)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _times(self) -> PlanningSpec:
        self.defaults()  # raises a CalendarError (a ValueError) naming the bad value
        return self

    def defaults(self) -> PlanningDefaults:
        """The defaults as the planner's store functions take them."""
        from alerts.planning.crew_admin import PlanningDefaults
        from alerts.planning.crew_calendar import WeeklyShift, check_weekly, parse_clock, parse_weekdays

        start, end = parse_clock(self.shift_from), parse_clock(self.shift_to, end=True)
        days = parse_weekdays(self.weekdays)
        check_weekly([], WeeklyShift(days[0], start, end, self.timezone))
        return PlanningDefaults(
            days, start, end, self.timezone, self.travel_min_between_sites, dict(self.durations_min)
        )


class Catalog(BaseModel):
    """Technicians, parts and one kit per failure mode; a kit may only name listed parts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    technicians: tuple[TechnicianSpec, ...] = ()
    parts: tuple[PartSpec, ...] = ()
    kits: dict[str, dict[str, Annotated[int, Field(ge=1)]]] = Field(default_factory=dict)
    planning: PlanningSpec | None = None  # crew-planning defaults (shifts, travel, durations)

    @model_validator(mode="after")
    def _kits_name_parts(self) -> Catalog:
        skus = [p.sku for p in self.parts]
        if len(set(skus)) != len(skus):
            raise ValueError("parts: a sku is listed twice")
        roles = [t.role for t in self.technicians]
        if len(set(roles)) != len(roles):
            raise ValueError("technicians: a role is listed twice")
        for mode, lines in self.kits.items():
            unknown = sorted(set(lines) - set(skus))
            if unknown:
                raise ValueError(f"kits.{mode} names parts not in [[parts]]: {', '.join(unknown)}")
        return self


class CatalogError(ValueError):
    """The catalogue file is missing, not TOML, or invalid (the message says where)."""


def load_catalog(path: Path = DEFAULT_CATALOG) -> Catalog:
    """Read and validate a TOML catalogue; CatalogError naming the problem otherwise."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"catalogue {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"catalogue {path} is not valid TOML: {exc}") from None
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '?'}: {e['msg']}" for e in exc.errors())
        raise CatalogError(f"catalogue {path}: {problems}") from None


class SeedReport(BaseModel):
    """What one seed run did (all zeros but ``*_existing`` on a repeated run)."""

    sites: list[str]
    technicians_added: int = 0
    technicians_existing: int = 0
    kits_set: int = 0
    kits_unchanged: int = 0
    stock_added: int = 0
    stock_existing: int = 0
    policies_added: int = 0  # part policies given to (part, site) pairs that had none
    policies_existing: int = 0
    shifts_seeded: int = 0  # weekly shifts given to technicians that had none
    travel_seeded: int = 0  # travel times between seeded sites that had none
    durations_seeded: int = 0  # repair durations of failure modes that had none


def seed(
    session: Session, catalog: Catalog, sites: Sequence[str], *, actor: str, now: datetime
) -> SeedReport:
    """Make the store hold ``catalog`` for ``sites`` (in the caller's transaction; audited)."""
    if not sites:
        raise CatalogError("name at least one site to seed")
    report = SeedReport(sites=list(sites))
    for spec in catalog.technicians:
        for site in sites:
            name = spec.name_at(site)
            exists = session.scalar(
                select(TechnicianRow.id).where(TechnicianRow.name == name, TechnicianRow.site == site)
            )
            if exists is not None:
                report.technicians_existing += 1
                continue
            territory = [s for s in sites if s != site] if spec.cover_other_sites else []
            add_technician(
                session, name=name, skills=spec.skills, site=site, territory=territory, actor=actor, now=now
            )
            report.technicians_added += 1
    for mode, lines in sorted(catalog.kits.items()):
        current = {
            r.sku: r.quantity
            for r in session.scalars(select(PartKitRow).where(PartKitRow.failure_mode == mode))
        }
        if current == lines:
            report.kits_unchanged += 1
            continue
        set_kit(session, mode, lines, actor=actor, now=now)
        report.kits_set += 1
    for part in catalog.parts:
        for site in sites:
            if session.get(PartStockRow, (part.sku, site)) is not None:
                report.stock_existing += 1
                continue
            set_stock(session, part.sku, site, part.stock_per_site, actor=actor, now=now)
            report.stock_added += 1
    for part in catalog.parts:
        if part.lead_time_days is None:
            continue
        for site in sites:
            if session.get(PartPolicyRow, (part.sku, site)) is not None:
                report.policies_existing += 1  # never overwritten: someone may have set it since
                continue
            set_policy(
                session,
                part.sku,
                site,
                lead_time_days=part.lead_time_days,
                reorder_point=part.reorder_point or 0,
                actor=actor,
                now=now,
            )
            report.policies_added += 1
    if catalog.planning is not None:
        from alerts.planning.crew_admin import seed_defaults

        seeded = seed_defaults(session, catalog.planning.defaults(), sites, actor=actor, now=now)
        report.shifts_seeded, report.travel_seeded = seeded.shifts, seeded.travel
        report.durations_seeded = seeded.durations
    return report
