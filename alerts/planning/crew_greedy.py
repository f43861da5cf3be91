"""The baseline the CP-SAT scheduler is judged against: earliest due first, each job to whoever can
start it earliest.

Jobs are taken by their latest safe start when they have one, else their SLA due time (then
priority, then id); each goes to the qualified technician and the slot in one of their shifts where
it can start soonest, between the jobs already there, with travel from the job before (home at the
start of a shift) and to the job after. Fixed jobs are placed first, exactly where they are. It is
also the CP-SAT model's starting point (its hint), so the solver never does worse than this.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from alerts.planning.crew_model import Job, Plan, Problem
from alerts.planning.crew_timeline import (
    MINUTE,
    Slot,
    assignments,
    ceil_min,
    figures,
    floor_min,
    release_min,
    slots,
    unplaced,
    window,
)


@dataclass(frozen=True)
class Entry:
    """A job on a technician's timeline, in minutes from now."""

    start: int
    end: int
    site: str
    work_order_id: int
    slot: int | None  # the shift index it sits in, None for a fixed job outside every shift


class Timeline:
    """One technician's placed jobs, by shift, for the insertion search."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        self.entries.sort(key=lambda e: (e.start, e.work_order_id))

    def in_slot(self, index: int) -> list[Entry]:
        return [e for e in self.entries if e.slot == index]

    def clashes(self, start: int, end: int, index: int) -> Entry | None:
        """A job of another slot (or outside every shift) overlapping ``[start, end)``."""
        for e in self.entries:
            if e.slot != index and e.start < end and start < e.end:
                return e
        return None


def earliest_in_slot(problem: Problem, job: Job, slot: Slot, timeline: Timeline) -> int | None:
    """The earliest start of ``job`` in ``slot`` between the jobs already there, or None."""
    span = window(problem, job, slot)
    if span is None:
        return None
    latest = span[1]
    seq = timeline.in_slot(slot.index)
    home = slot.technician.home_site
    best: int | None = None
    for k in range(len(seq) + 1):
        prev_end, prev_site = (seq[k - 1].end, seq[k - 1].site) if k else (slot.start, home)
        drive = problem.travel(prev_site, job.site)
        if drive is None:
            continue
        start = max(prev_end + drive, release_min(problem, job))
        while start <= latest:
            end = start + job.duration_min
            if k < len(seq):
                out = problem.travel(job.site, seq[k].site)
                if out is None or end + out > seq[k].start:
                    break
            clash = timeline.clashes(start, end, slot.index)
            if clash is None:
                best = start if best is None else min(best, start)
                break
            start = clash.end
    return best


def fixed_entry(problem: Problem, job: Job) -> tuple[int, Entry] | None:
    """A fixed job as ``(technician_id, entry)`` in minutes, in the slot of the shift holding its start."""
    if job.fixed is None:
        return None
    start = floor_min(problem.now, job.fixed.start)
    end = ceil_min(problem.now, job.fixed.start + job.duration_min * MINUTE)
    tech = next((t for t in problem.technicians if t.technician_id == job.fixed.technician_id), None)
    index = None
    if tech is not None:
        index = next((s.index for s in slots(problem, tech) if s.start <= start < s.end), None)
    return job.fixed.technician_id, Entry(start, end, job.site, job.work_order_id, index)


def urgency(job: Job) -> tuple[datetime, int, int]:
    """Earliest due first: the latest safe start if there is one, else the SLA due time."""
    key = job.latest_safe_start if job.latest_safe_start is not None else job.due_by
    return (key, job.priority, job.work_order_id)


def place(problem: Problem) -> dict[int, tuple[int, int, int | None]]:
    """``{work_order_id: (technician_id, start minute, shift index)}`` for every job placed."""
    timelines = {t.technician_id: Timeline() for t in problem.technicians}
    tech_slots = {t.technician_id: slots(problem, t) for t in problem.technicians}
    placed: dict[int, tuple[int, int, int | None]] = {}
    for job in problem.jobs:
        pinned = fixed_entry(problem, job)
        if pinned is not None:
            tech_id, entry = pinned
            timelines.setdefault(tech_id, Timeline()).add(entry)
            placed[job.work_order_id] = (tech_id, entry.start, entry.slot)
    for job in sorted((j for j in problem.jobs if j.fixed is None), key=urgency):
        best: tuple[int, int, Slot] | None = None
        for tech in problem.technicians:
            if not tech.qualified(job.failure_mode, job.site):
                continue
            for slot in tech_slots[tech.technician_id]:
                if best is not None and slot.start > best[0]:
                    break
                start = earliest_in_slot(problem, job, slot, timelines[tech.technician_id])
                if start is not None and (best is None or (start, tech.technician_id) < best[:2]):
                    best = (start, tech.technician_id, slot)
        if best is not None:
            start, tech_id, slot = best
            timelines[tech_id].add(
                Entry(start, start + job.duration_min, job.site, job.work_order_id, slot.index)
            )
            placed[job.work_order_id] = (tech_id, start, slot.index)
    return placed


def schedule(problem: Problem) -> Plan:
    """The greedy plan (status ``GREEDY``)."""
    began = time.perf_counter()
    placed = place(problem)
    starts: dict[int, tuple[int, datetime]] = {}
    for job in problem.jobs:
        if job.work_order_id in placed:
            tech_id, start, _ = placed[job.work_order_id]
            at = job.fixed.start if job.fixed else problem.now + start * MINUTE
            starts[job.work_order_id] = (tech_id, at)
    rows = assignments(problem, starts)
    return Plan(
        assignments=rows,
        unplaced=unplaced(problem, starts),
        status="GREEDY",
        solve_s=time.perf_counter() - began,
        objective=figures(rows, len(problem.jobs)),
    )
