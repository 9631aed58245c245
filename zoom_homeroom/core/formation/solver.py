"""The CP-SAT solves of a formation: one budget shared by every stage, and what the solves proved."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

# Deterministic-time units per second of `time_limit_seconds`. A unit is meant to be about a second
# of work; on these models one costs 1 to 2 seconds of wall time on an idle machine (measured with
# bench/mixitup.py), and more on a busy one, so a low rate keeps the deterministic budget, not the
# wall clock, the limit that stops the solver.
DTIME_PER_SECOND = 0.3


@dataclass
class Runner:
    """One budget shared by every CP-SAT solve of a formation, and what those solves proved."""

    seconds: float
    seed: int
    dtime: float = field(init=False)
    wall: float = 0.0
    optimal: bool = True
    # Per stage: the summed distance between each solution and its proved bound, and the summed values.
    unproved: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dtime = self.seconds * DTIME_PER_SECOND

    def solve(
        self, model: cp_model.CpModel, share: float, stage: str, *, warm_up: bool = False
    ) -> cp_model.CpSolver | None:
        """Solve with a share of the remaining budget; the solver, or None when it found no solution.

        A `warm_up` solve only prepares the start of a later solve of the same stage: what it proves
        or not does not count towards `optimal` and `gap`.
        """
        solver = cp_model.CpSolver()
        params = solver.parameters
        params.num_workers = 1  # one worker: the search path is a function of the model and the seed
        # CP-SAT would otherwise take over SIGINT and leave it killing the process after the solve,
        # so Ctrl-C could no longer stop the demo or the scheduler cleanly.
        params.catch_sigint_signal = False
        params.random_seed = self.seed % 2**31  # the solver's seed is a 32-bit int
        # Probing in presolve can spend a whole small budget on these mostly-linear models.
        params.cp_model_probing_level = 0
        # Stage A's optimum is proved by its LP bound, and presolve turns its small "at most n"
        # constraints into clauses that only level 2 keeps in the LP; elsewhere level 2 only slows.
        params.linearization_level = 2 if stage in ("topics", "group counts") else 1
        # Free seating starts from a solution that presolve may otherwise cut off, leaving the whole
        # budget to repairing it.
        params.keep_all_feasible_solutions_in_presolve = stage == "free seats"
        params.max_deterministic_time = max(self.dtime * share, 0.001)
        params.max_time_in_seconds = max(self.seconds - self.wall, 0.001)
        status = solver.solve(model)
        self.wall += solver.wall_time
        self.dtime = max(self.dtime - solver.deterministic_time, 0.0)
        found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        if warm_up:
            return solver if found else None
        self.optimal = self.optimal and status == cp_model.OPTIMAL
        sums = self.unproved.setdefault(stage, [0.0, 0.0])
        if found:
            sums[0] += abs(solver.objective_value - solver.best_objective_bound)
            sums[1] += abs(solver.objective_value)
        else:
            sums[0] = sums[1] = math.inf  # the stage kept its warm start: nothing proved
        return solver if found else None

    @property
    def gap(self) -> float:
        """The largest relative gap of a stage between its solutions and their proved bounds."""
        gaps = [1.0 if math.isinf(d) else d / max(1.0, v) for d, v in self.unproved.values()]
        return max(gaps, default=0.0)

    @property
    def status(self) -> str:
        return "OPTIMAL" if self.optimal else "FEASIBLE"
