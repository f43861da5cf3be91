"""Technician suggestion as a pure ranking: skills, then site/territory, then current load."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

GENERALIST_SKILL = "general"
"""A technician with this skill can take any failure mode (ranked after specialists)."""


@dataclass(frozen=True)
class Candidate:
    """What the ranking needs to know about one technician."""

    technician_id: int
    name: str
    skills: frozenset[str]
    site: str
    territory: frozenset[str]
    open_load: int  # open work orders assigned now
    active: bool = True


@dataclass(frozen=True)
class Suggestion:
    """A ranked technician with the reasons for the rank."""

    technician_id: int
    name: str
    score: tuple[int, int, int]  # lower is better: (skill, distance, load)
    reasons: tuple[str, ...]


def suggest(candidates: Iterable[Candidate], failure_mode: str, site: str) -> list[Suggestion]:
    """Eligible technicians, best first.

    Eligible: active, skilled for ``failure_mode`` (or generalist), and ``site`` is their home site or
    in their territory. Ranked by specialist before generalist, home site before territory, fewer open
    work orders, then id for a stable order.
    """
    ranked: list[Suggestion] = []
    for c in candidates:
        if not c.active:
            continue
        specialist = failure_mode in c.skills
        if not specialist and GENERALIST_SKILL not in c.skills:
            continue
        home = c.site == site
        if not home and site not in c.territory:
            continue
        reasons = (
            "specialist" if specialist else "generalist",
            "home site" if home else "in territory",
            f"{c.open_load} open work orders",
        )
        ranked.append(
            Suggestion(
                c.technician_id, c.name, (0 if specialist else 1, 0 if home else 1, c.open_load), reasons
            )
        )
    return sorted(ranked, key=lambda s: (s.score, s.technician_id))
