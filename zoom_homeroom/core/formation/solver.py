"""The CP-SAT solves of a formation: one budget shared by every stage, and what the solves proved."""

from __future__ import annotations

from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from .problem import Proof

# Deterministic-time units per second of `time_limit_seconds`. A unit is meant to be about a second
# of work; on these models one costs 1 to 2 seconds of wall time on an idle machine (measured with
# bench/mixitup.py), and more on a busy one, so a low rate keeps the deterministic budget, not the
# wall clock, the limit that stops the solver.
DTIME_PER_SECOND = 0.3
# The wall clock is only a safety net, at this multiple of the time limit: were it the limit, a busy
# machine would stop the search at a different point than an idle one, and the same input and seed
# would no longer give the same groups.
WALL_SAFETY_FACTOR = 3.0


@dataclass
class _RuleSums:
    """The solves of one rule so far: whether each proved its optimum, their summed values and bounds."""

    optimal: bool = True
    found: bool = True  # every solve found a solution of its own (else it kept its warm start)
    value: float = 0.0
    bound: float = 0.0

    def add(self, solver: cp_model.CpSolver | None, optimal: bool) -> None:
        self.optimal = self.optimal and optimal
        if solver is None:
            self.found = False
            return
        self.value += solver.objective_value
        self.bound += solver.best_objective_bound

    def proof(self, rule: str) -> Proof:
        if self.optimal:
            return Proof(rule, True, 0.0)
        # For a minimum the best possible lies in [bound, value], for a maximum in [value, bound], so
        # |value - bound| / |bound| bounds the distance from it. A bound of 0 bounds nothing, and a
        # gap of 100% or more says no more than "not proved".
        if not self.found or self.bound == 0:
            return Proof(rule, False, None)
        gap = abs(self.value - self.bound) / abs(self.bound)
        return Proof(rule, False, round(gap, 6) if gap < 1 else None)


@dataclass
class Runner:
    """One budget shared by every CP-SAT solve of a formation, and what those solves proved."""

    seconds: float
    seed: int
    dtime: float = field(init=False)
    wall: float = 0.0
    rules: dict[str, _RuleSums] = field(default_factory=dict)  # in the order of their first solve

    def __post_init__(self) -> None:
        self.dtime = self.seconds * DTIME_PER_SECOND

    def solve(
        self, model: cp_model.CpModel, share: float, stage: str, rule: str, *, warm_up: bool = False
    ) -> cp_model.CpSolver | None:
        """Solve with a share of the remaining budget; the solver, or None when it found no solution.

        `stage` tunes the solver; `rule` is what the solve decides (TOPIC_CHOICES, ...). A `warm_up`
        solve only prepares the start of a later solve of the same stage: what it proves or not does
        not count towards the proof.
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
        params.max_time_in_seconds = max(self.seconds * WALL_SAFETY_FACTOR - self.wall, 0.001)
        status = solver.solve(model)
        self.wall += solver.wall_time
        self.dtime = max(self.dtime - solver.deterministic_time, 0.0)
        found = solver if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None
        if not warm_up:
            # A solution equal to its bound is optimal, whichever limit stopped the search.
            optimal = status == cp_model.OPTIMAL or (
                found is not None and solver.objective_value == solver.best_objective_bound
            )
            self.rules.setdefault(rule, _RuleSums()).add(found, optimal)
        return found

    @property
    def proof(self) -> tuple[Proof, ...]:
        """What the solves proved of each rule, in priority order."""
        return tuple(sums.proof(rule) for rule, sums in self.rules.items())

    @property
    def status(self) -> str:
        return "OPTIMAL" if all(sums.optimal for sums in self.rules.values()) else "FEASIBLE"
