"""The crew scheduler: OR-Tools CP-SAT assigns each open job a technician and a start.

The model, in whole minutes from ``problem.now``, is decomposed per shift: a *slot* is one shift of
one technician. A job may go to one of its candidate slots (``y[job, slot]``) with a start inside
the slot's window (not before its release, starting before the shift ends, ending at most
``max_overtime_min`` after it, the excess counted as overtime). Each slot is a small routing
problem: an ``AddCircuit`` over its candidate jobs and a depot (home at the shift's start) whose
arcs carry the travel between sites and order the starts; a job not in the slot loops on itself.
Per technician a ``NoOverlap`` over every optional interval (and fixed jobs) guards overtime that
runs into the next shift. Fixed jobs (pinned or started) are constants.

Why slots, and why candidates: the full model (every job on every qualified technician over two
weeks, routed as one circuit per technician) grows with jobs² per technician — 500 jobs by 50
technicians is far beyond 10 s. Routing inside a shift is small (a handful of jobs), and each job,
most urgent first, is offered only its ``max_slots_per_job`` earliest slots that are not already
overbooked ``overbook`` times in minutes, plus the slot the greedy baseline gave it. The greedy plan
is also the solver's hint, so CP-SAT starts from it and only improves: on small problems every
slot is a candidate and the answer is optimal.

The objective is lexicographic in spirit (one weighted sum). First the number of jobs starting
before their latest safe start: each weighs ``TIER_SAFE`` times (8 x the number of jobs + its
priority weight), more than any mix of priorities and placements can make up, so CP-SAT never has
fewer safe starts than the greedy plan it starts from. Then placing a job at all, ``TIER_SAFE``
times its priority weight; then ending before the SLA due, ``TIER_DUE`` times the weight; then every
minute of travel and overtime costs 1.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ortools.sat.python import cp_model

from alerts.planning import crew_greedy
from alerts.planning.crew_model import Job, Plan, Problem
from alerts.planning.crew_timeline import (
    MINUTE,
    Slot,
    assignments,
    figures,
    floor_min,
    slots,
    unplaced,
    window,
)

TIER_SAFE = 1_000_000
TIER_DUE = 1_000
SEED = 17


def priority_weight(priority: int) -> int:
    """P1 weighs 4, P2 3, P3 2, P4 and below 1."""
    return max(1, 5 - priority)


@dataclass
class Node:
    """A job as a circuit node of one slot."""

    job: Job
    start: cp_model.IntVar | int
    size: int
    lo: int
    hi: int
    present: cp_model.IntVar | None  # None: a fixed job, always there


@dataclass
class Build:
    """The model and the handles read back after the solve."""

    model: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    starts: dict[int, cp_model.IntVar] = field(default_factory=dict)
    choice: dict[int, list[tuple[Slot, cp_model.IntVar]]] = field(default_factory=dict)
    nodes: dict[tuple[int, int], list[Node]] = field(default_factory=dict)
    intervals: dict[int, list[cp_model.IntervalVar]] = field(default_factory=dict)
    gains: list[tuple[int, cp_model.IntVar]] = field(default_factory=list)
    costs: list[tuple[int, cp_model.IntVar]] = field(default_factory=list)
    arcs: int = 0


def candidates(
    problem: Problem, greedy: dict[int, tuple[int, int, int | None]], max_slots: int, overbook: float
) -> dict[int, list[tuple[Slot, int, int]]]:
    """Each open job's candidate slots with its start window there (see the module's docstring)."""
    tech_slots = {t.technician_id: slots(problem, t) for t in problem.technicians}
    load: dict[tuple[int, int], int] = {}
    out: dict[int, list[tuple[Slot, int, int]]] = {}
    for job in sorted((j for j in problem.jobs if j.fixed is None), key=crew_greedy.urgency):
        options = []
        for tech in problem.technicians:
            for slot in tech_slots[tech.technician_id]:
                span = window(problem, job, slot)
                if span is not None:
                    options.append((span[0], tech.technician_id, slot, span))
        options.sort(key=lambda o: (o[0], o[1], o[2].index))
        chosen: list[tuple[Slot, int, int]] = []
        given = greedy.get(job.work_order_id)
        for _, tech_id, slot, (lo, hi) in options:
            key = (tech_id, slot.index)
            room = overbook * (slot.end + problem.max_overtime_min - slot.start)
            is_given = given is not None and given[0] == tech_id and given[2] == slot.index
            if is_given or (len(chosen) < max_slots and load.get(key, 0) + job.duration_min <= room):
                chosen.append((slot, lo, hi))
                load[key] = load.get(key, 0) + job.duration_min
        if chosen:
            out[job.work_order_id] = chosen
    return out


def add_job(
    b: Build,
    problem: Problem,
    job: Job,
    options: list[tuple[Slot, int, int]],
    given: tuple[int, int, int | None] | None,
) -> None:
    """The job's start, its slot choice, its overtime and its objective terms; ``given`` is the
    greedy plan's (technician, start, shift index), hinted."""
    m, dur = b.model, job.duration_min
    start = m.new_int_var_from_domain(
        cp_model.Domain.from_intervals([[lo, hi] for _, lo, hi in options]), "s"
    )
    b.starts[job.work_order_id] = start
    if given is not None:
        m.add_hint(start, given[1])
    ot_max = max(max(hi + dur - s.end for s, _, hi in options), 0)
    overtime = m.new_int_var(0, ot_max, "ot") if ot_max else None
    picks = []
    ot_hint = 0
    for slot, lo, hi in options:
        y = m.new_bool_var("y")
        chosen = given is not None and given[0] == slot.technician.technician_id and given[2] == slot.index
        m.add_hint(y, chosen)
        picks.append((slot, y))
        m.add(start >= lo).only_enforce_if(y)
        m.add(start <= hi).only_enforce_if(y)
        if overtime is not None and hi + dur > slot.end:
            m.add(overtime >= start + dur - slot.end).only_enforce_if(y)
            if chosen and given is not None:
                ot_hint = max(0, given[1] + dur - slot.end)
        tech_id = slot.technician.technician_id
        b.intervals.setdefault(tech_id, []).append(m.new_optional_fixed_size_interval_var(start, dur, y, "i"))
        b.nodes.setdefault((tech_id, slot.index), []).append(Node(job, start, dur, lo, hi, y))
    b.choice[job.work_order_id] = picks
    m.add_at_most_one(y for _, y in picks)
    placed = sum(y for _, y in picks)
    weight = priority_weight(job.priority)
    is_placed = m.new_bool_var("placed")
    m.add(placed == is_placed)
    m.add_hint(is_placed, given is not None)
    b.gains.append((weight * TIER_SAFE, is_placed))
    lo_all = min(lo for _, lo, _ in options)
    if job.latest_safe_start is not None and (lss := floor_min(problem.now, job.latest_safe_start)) >= lo_all:
        safe = m.new_bool_var("safe")
        m.add_implication(safe, is_placed)
        m.add(start <= lss).only_enforce_if(safe)
        m.add_hint(safe, given is not None and given[1] <= lss)
        b.gains.append(((8 * len(problem.jobs) + weight) * TIER_SAFE, safe))
    if (due := floor_min(problem.now, job.due_by)) >= lo_all + dur:
        on_time = m.new_bool_var("due")
        m.add_implication(on_time, is_placed)
        m.add(start + dur <= due).only_enforce_if(on_time)
        m.add_hint(on_time, given is not None and given[1] + dur <= due)
        b.gains.append((weight * TIER_DUE, on_time))
    if overtime is not None:
        b.costs.append((1, overtime))
        m.add_hint(overtime, ot_hint)


def add_route(b: Build, problem: Problem, slot: Slot, nodes: Sequence[Node], hinted: Sequence[int]) -> None:
    """The slot's circuit: depot 0 (home at the shift's start), nodes 1..n; arcs order the starts
    and carry the travel (not enforced into a fixed job, which stays where it is). ``hinted``: the
    greedy plan's work orders in this slot, in order, hinted as the route."""
    m, home = b.model, slot.technician.home_site
    index = {n.job.work_order_id: i for i, n in enumerate(nodes, start=1)}
    route = [0, *(index[wo] for wo in hinted), 0]
    used = set(itertools.pairwise(route)) if hinted else {(0, 0)}
    arcs: list[tuple[int, int, cp_model.LiteralT]] = []

    def arc(i: int, k: int) -> cp_model.IntVar:
        lit = m.new_bool_var("a")
        m.add_hint(lit, (i, k) in used)
        arcs.append((i, k, lit))
        return lit

    if all(n.present is not None for n in nodes):
        empty = arc(0, 0)
        for n in nodes:
            assert n.present is not None
            m.add_implication(n.present, ~empty)
    for i, n in enumerate(nodes, start=1):
        if n.present is not None:
            arcs.append((i, i, ~n.present))
        drive = problem.travel(home, n.job.site)
        if drive is not None and (n.present is None or slot.start + drive <= n.hi):
            lit = arc(0, i)
            if n.present is not None:
                m.add(n.start >= slot.start + drive).only_enforce_if(lit)
            b.costs.append((drive, lit))
        arc(i, 0)
        for k, o in enumerate(nodes, start=1):
            drive = problem.travel(n.job.site, o.job.site)
            if k == i or drive is None:
                continue
            gap = 0 if o.present is None else drive
            if n.lo + n.size + gap > o.hi:
                continue
            lit = arc(i, k)
            m.add(o.start >= n.start + n.size + gap).only_enforce_if(lit)
            b.costs.append((drive, lit))
    b.arcs += len(arcs)
    m.add_circuit(arcs)


def fixed_nodes(b: Build, problem: Problem) -> None:
    """Fixed jobs as constants: a node of the slot holding their start, and in their technician's
    NoOverlap."""
    for job in problem.jobs:
        pinned = crew_greedy.fixed_entry(problem, job)
        if pinned is None:
            continue
        tech_id, e = pinned
        size = e.end - e.start
        b.intervals.setdefault(tech_id, []).append(b.model.new_fixed_size_interval_var(e.start, size, "f"))
        if e.slot is not None:
            b.nodes.setdefault((tech_id, e.slot), []).append(Node(job, e.start, size, e.start, e.start, None))


def solve(
    problem: Problem,
    *,
    time_limit_s: float = 10.0,
    workers: int = 2,
    max_slots_per_job: int = 8,
    overbook: float = 3.0,
) -> Plan:
    """The CP-SAT plan of ``problem`` within about ``time_limit_s`` (greedy start and model
    building included), on ``workers`` threads, with a fixed seed.

    Status: CP-SAT's (``OPTIMAL`` — for the candidate slots — or ``FEASIBLE``), or
    ``GREEDY_FALLBACK`` when the solver found nothing in time (then the greedy plan is returned).
    """
    began = time.perf_counter()
    greedy = crew_greedy.place(problem)
    b = Build()
    options = candidates(problem, greedy, max_slots_per_job, overbook)
    jobs = {j.work_order_id: j for j in problem.jobs}
    for wo, opts in options.items():
        add_job(b, problem, jobs[wo], opts, greedy.get(wo))
    fixed_nodes(b, problem)
    by_slot: dict[tuple[int, int], list[int]] = {}
    for wo, (tech_id, _, index) in sorted(greedy.items(), key=lambda kv: (kv[1][1], kv[0])):
        if index is not None:
            by_slot.setdefault((tech_id, index), []).append(wo)
    tech_slots = {(t.technician_id, s.index): s for t in problem.technicians for s in slots(problem, t)}
    for key, nodes in b.nodes.items():
        add_route(b, problem, tech_slots[key], nodes, by_slot.get(key, []))
    for intervals in b.intervals.values():
        b.model.add_no_overlap(intervals)
    b.model.maximize(sum(w * v for w, v in b.gains) - sum(w * v for w, v in b.costs))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = SEED
    # Probing and symmetry detection in presolve cost seconds on the two-week instance (measured:
    # 4 s of an 8 s budget) and find little in these routing slots; the hint-led search gains more.
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.symmetry_level = 0
    solver.parameters.max_time_in_seconds = max(0.2, time_limit_s - (time.perf_counter() - began) - 0.1)
    code = solver.solve(b.model)
    status = solver.status_name(code)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        plan = crew_greedy.schedule(problem)
        return Plan(
            plan.assignments, plan.unplaced, "GREEDY_FALLBACK", time.perf_counter() - began, plan.objective
        )
    starts: dict[int, tuple[int, datetime]] = {}
    for job in problem.jobs:
        if job.fixed is not None:
            starts[job.work_order_id] = (job.fixed.technician_id, job.fixed.start)
            continue
        for slot, y in b.choice.get(job.work_order_id, []):
            if solver.boolean_value(y):
                minute = solver.value(b.starts[job.work_order_id])
                starts[job.work_order_id] = (slot.technician.technician_id, problem.now + minute * MINUTE)
    rows = assignments(problem, starts)
    terms = figures(rows, len(problem.jobs)) | {
        "objective": solver.objective_value,
        "best_bound": solver.best_objective_bound,
        "candidate_slots": float(sum(len(o) for o in options.values())),
        "arcs": float(b.arcs),
    }
    return Plan(rows, unplaced(problem, starts), status, time.perf_counter() - began, terms)
