"""Which solver plans the crew, by name: the one choice the CLI, the API and the console share."""

from __future__ import annotations

from enum import StrEnum

from alerts.planning.crew_store import Solver


class SolverName(StrEnum):
    """CP-SAT (the planner), or the greedy earliest-due-first baseline it is judged against."""

    CP_SAT = "cp-sat"
    GREEDY = "greedy"


def solver_of(name: SolverName, time_limit_s: float, workers: int) -> Solver:
    """The solve function for ``name`` (CP-SAT with its time limit and worker threads)."""
    if name is SolverName.GREEDY:
        from alerts.planning import crew_greedy

        return crew_greedy.schedule
    from alerts.planning import crew_solver

    return lambda problem: crew_solver.solve(problem, time_limit_s=time_limit_s, workers=workers)
