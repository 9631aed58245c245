"""Mix It Up groups: every active student in a topic group mixed across modules and programs.

`form_groups` solves with OR-Tools CP-SAT in stages. Students with the same answers, module and program
are interchangeable for every rule but the last, and so are students of one module and program who did
not answer (or sit outside their answers); stages A and B count such students instead of placing each
one, which keeps the models small at 1,000 students.

A. Topics. How many students of each answer class, and of each (module, program) in the neutral pool,
   go to each topic, and how many groups each topic gets. Lexicographic, one solve per step, each
   keeping what the steps before it reached (so no weight can overflow): first choices, second
   choices, ...; then, to choose the groups per topic, lower bounds of single-module/program groups,
   of isolated students, the expected repeats (week 4), a lower bound of lone upper-module students,
   and last the distance of group sizes from the middle of the allowed range. Stage A is exact for
   the topic rule: every plan it accepts can be split into valid groups.
B. Composition. With the rank counts and groups per topic fixed: students of each (module, program)
   in each group. Fewest single-module and single-program groups, then fewest isolated lower-module
   students, then fewest groups whose one upper-module student is alone (weights make each dominate).
C. Seats, only when some students already met: who goes to which topic (fewest expected repeats),
   then, per topic, who sits in which group: fewest repeated pairs, never worse than stage B on the
   rules above. Small topics may change their composition for that; large ones keep it.

So each priority is optimised in order, but given the stages before it: `optimal` in the quality
means every stage proved its own optimum, not that the whole is a proved lexicographic optimum. One
simplification: the lone upper-module rule (the last, "only if it costs nothing") is settled in
stage B, before repeated pairs.

Determinism: every solve runs one worker with a fixed seed and stops on a deterministic time budget
(a count of work, not seconds) derived from `time_limit_seconds`; nothing depends on hash order. The
wall-clock limit is a safety net only: a run it cuts short may differ from the next one.

Pure: no I/O, no clock (solve times come from the solver's own report), no global random state.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

from ortools.sat.python import cp_model

from .errors import HomeroomError
from .models import Student

OPEN_TOPIC = "Open topic"

# Deterministic-time units per second of `time_limit_seconds`. A unit is meant to be about a second
# of work; on these models one costs 1 to 2 seconds of wall time on an idle machine (measured with
# bench/mixitup.py), and more on a busy one, so a low rate keeps the deterministic budget, not the
# wall clock, the limit that stops the solver.
DTIME_PER_SECOND = 0.3
# Shares of the remaining budget for each solve; the last solve of a formation takes what is left.
RANK_SHARE = 0.05
GROUP_COUNT_SHARE = 0.1
COMPOSITION_SHARE = 0.3
TOPIC_ASSIGNMENT_SHARE = 0.3
# A topic with at most this many (student, group) pairs is reseated freely in stage C; a larger one
# keeps stage B's seats per (module, program), which still leaves many ways to seat its students.
FREE_SEATING_LIMIT = 2500
# A pair sharing a topic with g groups meets again about once in g: weighed 840 // g (840 is the
# least common multiple of 1..8, so small topics weigh exactly).
EXPECTED_REPEAT_SCALE = 840

Kind = tuple[int, str]  # (module, program)
Expr = Any  # a CP-SAT linear expression (or a plain int)


class FormationError(HomeroomError, ValueError):
    """The input cannot be formed into groups; the message says why and what would fix it."""


@dataclass(frozen=True)
class FormedGroup:
    """One Mix It Up group: its number (1..n), its topic and its members' student ids, sorted."""

    number: int
    topic: str
    members: tuple[int, ...]


@dataclass(frozen=True)
class Quality:
    """How good a formation is; every field but `solve_seconds` is deterministic."""

    students: int
    groups: int
    answered: int
    first_choice_share: float  # of students who answered; 0.0 when nobody did
    top2_share: float
    groups_single_module: int
    groups_single_program: int
    isolated_students: int  # the only lower-module student of a group
    repeated_pairs: int
    solve_seconds: float
    optimal: bool
    gap: float  # relative gap between a solution and its proved bound; 0 when optimal
    status: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return {
            "students": self.students,
            "groups": self.groups,
            "answered": self.answered,
            "first_choice_share": self.first_choice_share,
            "top2_share": self.top2_share,
            "groups_single_module": self.groups_single_module,
            "groups_single_program": self.groups_single_program,
            "isolated_students": self.isolated_students,
            "repeated_pairs": self.repeated_pairs,
            "solve_seconds": self.solve_seconds,
            "optimal": self.optimal,
            "gap": self.gap,
            "status": self.status,
        }


@dataclass(frozen=True)
class Formation:
    """The groups, ordered by number, and their quality."""

    groups: tuple[FormedGroup, ...]
    quality: Quality


# -- input -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Class:
    """Students with the same answers, module and program."""

    prefs: tuple[str, ...]
    kind: Kind
    members: tuple[int, ...]


@dataclass(frozen=True)
class _Problem:
    """Validated, normalised input."""

    students: dict[int, Student]
    prefs: dict[int, tuple[str, ...]]  # answered students only
    topics: tuple[str, ...]
    low: int
    high: int
    upper_modules: frozenset[int]
    previous: frozenset[frozenset[int]]  # only pairs of students present
    classes: tuple[_Class, ...]  # students who answered
    neutral: dict[Kind, tuple[int, ...]]  # students who did not answer, by kind
    kinds: tuple[Kind, ...]

    @property
    def ranks(self) -> int:
        return max((len(p) for p in self.prefs.values()), default=0)

    def kind_of(self, student_id: int) -> Kind:
        student = self.students[student_id]
        return (student.module, student.program)

    def is_upper(self, student_id: int) -> bool:
        return self.students[student_id].module in self.upper_modules

    def kind_total(self, kind: Kind) -> int:
        return len(self.neutral.get(kind, ())) + sum(len(c.members) for c in self.classes if c.kind == kind)


def _prepare(
    students: Sequence[Student],
    preferences: Mapping[int, Sequence[str]],
    group_size: tuple[int, int],
    upper_modules: Collection[int],
    previous_pairs: Collection[frozenset[int]],
) -> _Problem:
    by_id = _students_by_id(students)
    low, high = _group_size(group_size)
    upper = frozenset(upper_modules)
    uppers = sum(1 for s in by_id.values() if s.module in upper)
    _check_numbers(len(by_id), low, high, uppers, sorted(upper))
    prefs = _normalise_preferences(preferences, by_id)
    classes: dict[tuple[tuple[str, ...], Kind], list[int]] = defaultdict(list)
    neutral: dict[Kind, list[int]] = defaultdict(list)
    for student_id, student in by_id.items():
        kind = (student.module, student.program)
        if student_id in prefs:
            classes[prefs[student_id], kind].append(student_id)
        else:
            neutral[kind].append(student_id)
    return _Problem(
        students=by_id,
        prefs=prefs,
        topics=tuple(sorted({t for p in prefs.values() for t in p})) or (OPEN_TOPIC,),
        low=low,
        high=high,
        upper_modules=upper,
        previous=frozenset(
            frozenset(pair) for pair in previous_pairs if len(pair) == 2 and all(i in by_id for i in pair)
        ),
        classes=tuple(_Class(key[0], key[1], tuple(ids)) for key, ids in sorted(classes.items())),
        neutral={kind: tuple(ids) for kind, ids in sorted(neutral.items())},
        kinds=tuple(sorted({(s.module, s.program) for s in by_id.values()})),
    )


def _students_by_id(students: Sequence[Student]) -> dict[int, Student]:
    by_id: dict[int, Student] = {}
    for student in students:
        if student.id is None:
            raise FormationError(f"student {student.email} has no id: save the roster before forming groups")
        if student.id in by_id:
            raise FormationError(f"student id {student.id} appears twice: pass each student once")
        by_id[student.id] = student
    return dict(sorted(by_id.items()))


def _group_size(group_size: tuple[int, int]) -> tuple[int, int]:
    low, high = group_size
    if not 1 <= low <= high:
        raise FormationError(
            f"group size {list(group_size)} is not [min, max] with 1 <= min <= max: fix mix_it_up.group_size"
        )
    return low, high


def _check_numbers(n: int, low: int, high: int, uppers: int, upper_modules: list[int]) -> None:
    """Raise FormationError when no grouping can exist, naming the numbers and a fix."""
    label = _modules_label(upper_modules)
    if n == 0:
        raise FormationError("there are no active students to group: import the roster first")
    if n < low:
        raise FormationError(
            f"{n} students cannot fill a group of at least {low}: lower the minimum group size "
            f"(mix_it_up.group_size) to {n} or wait for more students"
        )
    fewest, most = math.ceil(n / high), n // low
    if fewest > most:
        raise FormationError(
            f"{n} students cannot be split into groups of {low} to {high}: {most} group(s) hold at most "
            f"{most * high} and {fewest} need at least {fewest * low}; lower the minimum group size to "
            f"{n // fewest} or raise the maximum to {math.ceil(n / most)}"
        )
    if uppers == 0:
        raise FormationError(
            f"no active student is in an upper module ({label}) and every group needs one: "
            "add upper-module students or change mix_it_up.upper_modules"
        )
    if fewest > uppers:
        raise FormationError(
            f"{n} students in groups of at most {high} need at least {fewest} groups, each with an "
            f"upper-module student ({label}); only {uppers} are active: raise the maximum group size "
            f"to {math.ceil(n / uppers)} or add {fewest - uppers} upper-module students"
        )


def _modules_label(modules: list[int]) -> str:
    if not modules:
        return "none configured"
    word = "module" if len(modules) == 1 else "modules"
    return f"{word} {', '.join(str(m) for m in modules)}"


def _normalise_preferences(
    preferences: Mapping[int, Sequence[str]], students: Mapping[int, Student]
) -> dict[int, tuple[str, ...]]:
    """Stripped, de-duplicated topics, best first; answers of students not present are ignored."""
    prefs: dict[int, tuple[str, ...]] = {}
    for student_id, topics in preferences.items():
        if student_id not in students:
            continue  # answered the poll, then left: not in this week's groups
        if isinstance(topics, str):
            raise FormationError(
                f"the answer of student {student_id} is a single string, not a list of topics best first"
            )
        cleaned = tuple(dict.fromkeys(t.strip() for t in topics if t.strip()))
        if cleaned:
            prefs[student_id] = cleaned
    return dict(sorted(prefs.items()))


# -- solving -----------------------------------------------------------------------------------------


@dataclass
class _Runner:
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


@dataclass
class _TopicVars:
    """Students per topic: by answer class at a topic they listed, and by kind in the neutral pool.

    The pool holds students who did not answer and students placed outside their answers; splitting
    the pool by kind keeps one variable per (kind, topic) instead of one per student.
    """

    listed: dict[tuple[int, str], cp_model.IntVar]  # (class index, topic)
    pooled: dict[tuple[Kind, str], cp_model.IntVar]  # (kind, topic)

    @classmethod
    def build(cls, model: cp_model.CpModel, problem: _Problem, topics: Sequence[str]) -> _TopicVars:
        listed = {}
        outside: dict[Kind, list[Expr]] = defaultdict(list)
        for ci, c in enumerate(problem.classes):
            places = [t for t in c.prefs if t in topics]
            mine = [model.new_int_var(0, len(c.members), f"x{ci}_{t}") for t in places]
            listed.update(zip([(ci, t) for t in places], mine, strict=True))
            if mine:
                model.add(sum(mine) <= len(c.members))
            outside[c.kind].append(len(c.members) - sum(mine))
        pooled = {}
        for kind in problem.kinds:
            total = problem.kind_total(kind)
            variables = [model.new_int_var(0, total, f"p{kind}_{t}") for t in topics]
            pooled.update({(kind, t): v for t, v in zip(topics, variables, strict=True)})
            model.add(sum(variables) == len(problem.neutral.get(kind, ())) + sum(outside[kind]))
        return cls(listed, pooled)

    def of_kind(self, problem: _Problem, topic: str, kind: Kind) -> Expr:
        """Students of `kind` in `topic`."""
        listed = [v for (ci, t), v in self.listed.items() if t == topic and problem.classes[ci].kind == kind]
        return sum(listed) + self.pooled[kind, topic]

    def rank_terms(self, problem: _Problem) -> list[list[cp_model.IntVar]]:
        """For each rank r, the variables counting students placed in their r-th choice."""
        terms: list[list[cp_model.IntVar]] = [[] for _ in range(problem.ranks)]
        for ci, c in enumerate(problem.classes):
            for rank, topic in enumerate(c.prefs):
                if (ci, topic) in self.listed:
                    terms[rank].append(self.listed[ci, topic])
        return terms

    def hint(self, model: cp_model.CpModel, listed: Mapping[Any, int], pooled: Mapping[Any, int]) -> None:
        for key, var in self.listed.items():
            model.add_hint(var, listed.get(key, 0))
        for key, var in self.pooled.items():
            model.add_hint(var, pooled.get(key, 0))


# -- stage A: topics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TopicPlan:
    groups: dict[str, int]  # topic -> number of groups (0: no group)
    listed: dict[tuple[int, str], int]  # (class index, topic) -> students
    pooled: dict[tuple[Kind, str], int]  # (kind, topic) -> students
    rank_counts: tuple[int, ...]  # students placed in their choice of rank r, r = 0, 1, ...


class _TopicModel:
    """Stage A's model: students per topic (by answer class and by kind), groups per topic."""

    def __init__(self, problem: _Problem, runner: _Runner):
        self.problem, self.runner = problem, runner
        self.model = model = cp_model.CpModel()
        topics = problem.topics
        self.tv = _TopicVars.build(model, problem, topics)
        self.g = {t: model.new_int_var(0, len(problem.students) // problem.low, f"g_{t}") for t in topics}
        self.by_kind = {(t, k): self.tv.of_kind(problem, t, k) for t in topics for k in problem.kinds}
        for t in topics:
            size = sum(self.by_kind[t, k] for k in problem.kinds)
            model.add(size >= problem.low * self.g[t])
            model.add(size <= problem.high * self.g[t])
            uppers = sum(self.by_kind[t, k] for k in problem.kinds if k[0] in problem.upper_modules)
            model.add(uppers >= self.g[t])
        self.rank_terms = self.tv.rank_terms(problem)

    def step(
        self, objective: Expr, maximise: bool, share: float, stage: str, best: _TopicPlan
    ) -> _TopicPlan | None:
        """Optimise `objective` from `best`, then keep the value reached for the steps that follow.

        None when the solver found nothing in its budget.
        """
        model = self.model
        model.clear_hints()
        self.tv.hint(model, best.listed, best.pooled)
        for t, var in self.g.items():
            model.add_hint(var, best.groups[t])
        if maximise:
            model.maximize(objective)
        else:
            model.minimize(objective)
        solver = self.runner.solve(model, share, stage)
        if solver is None:
            return None
        value = round(solver.objective_value)
        model.add(objective >= value if maximise else objective <= value)
        return _TopicPlan(
            groups={t: solver.value(v) for t, v in self.g.items()},
            listed={key: solver.value(v) for key, v in self.tv.listed.items()},
            pooled={key: solver.value(v) for key, v in self.tv.pooled.items()},
            rank_counts=tuple(sum(solver.value(v) for v in terms) for terms in self.rank_terms),
        )


def _plan_topics(problem: _Problem, runner: _Runner, hint: _TopicPlan) -> _TopicPlan:
    """Stage A: students per topic and groups per topic; `hint` is a valid plan to improve on.

    Lexicographic: maximise first choices, then second choices, ...; then choose the groups per topic.
    Each step keeps the value its predecessors reached, so a higher priority always dominates; when a
    step finds nothing in its budget, the plan so far is kept and the later steps are skipped.
    """
    stage = _TopicModel(problem, runner)
    best: _TopicPlan | None = hint
    for terms in stage.rank_terms:
        plan = stage.step(sum(terms), True, RANK_SHARE, "topics", best)
        if plan is None:
            return best
        best = plan
    # Built only now: their extra constraints would slow down the solves above.
    for objective in _group_count_objectives(stage.model, problem, stage.g, stage.by_kind):
        plan = stage.step(objective, False, GROUP_COUNT_SHARE, "group counts", best)
        if plan is None:
            return best
        best = plan
    return best


def _group_count_objectives(
    model: cp_model.CpModel,
    problem: _Problem,
    g: Mapping[str, cp_model.IntVar],
    by_kind: Mapping[tuple[str, Kind], Expr],
) -> list[Expr]:
    """What chooses the number of groups per topic, most important first.

    1. A lower bound of single-module and single-program groups: a mixed group holds someone outside
       any one module (or program), so a topic with g groups, N students and M students of one
       module has at least g - (N - M) single-module groups.
    2. A lower bound of isolated students (see `_isolated_bound`).
    3. When students already met: the expected repeats of pairs who share their first choice (pairs
       in a topic with g groups share a group about once in g), so such topics get smaller groups.
    4. A lower bound of groups with a lone upper-module student: with g groups and U upper-module
       students, at least 2g - U of them.
    5. The distance of each topic's mean group size from the middle of the allowed range.

    Stage B then meets bounds 1, 2 and 4 in most cases, which is also what proves its optimum.
    """
    n, middle = len(problem.students), problem.low + problem.high
    bounds, isolated, lone, deviations = [], [], [], []
    for t in problem.topics:
        size = sum(by_kind[t, k] for k in problem.kinds)
        for attribute in (0, 1):  # the index of module and of program in a kind
            bound = model.new_int_var(0, n, f"single{attribute}_{t}")
            for value in sorted({k[attribute] for k in problem.kinds}, key=str):
                same = sum(by_kind[t, k] for k in problem.kinds if k[attribute] == value)
                model.add(bound >= g[t] - size + same)
            bounds.append(bound)
        uppers = sum(by_kind[t, k] for k in problem.kinds if k[0] in problem.upper_modules)
        isolated.append(_isolated_bound(model, problem, g[t], uppers, size - uppers, t))
        lone.append(model.new_int_var(0, n, f"lone_upper_{t}"))
        model.add(lone[-1] >= 2 * g[t] - uppers)
        # |2N - g (low + high)| is twice the distance of the topic's mean group size from the middle.
        deviation = model.new_int_var(0, n * (2 + middle), f"dev_{t}")
        model.add(deviation >= 2 * size - middle * g[t])
        model.add(deviation >= middle * g[t] - 2 * size)
        deviations.append(deviation)
    repeats = _expected_repeats(model, problem, g)
    repeat_steps = [repeats] if repeats is not None else []
    return [sum(bounds), sum(isolated), *repeat_steps, sum(lone), sum(deviations)]


def _isolated_bound(
    model: cp_model.CpModel,
    problem: _Problem,
    groups: cp_model.IntVar,
    uppers: Expr,
    lowers: Expr,
    topic: str,
) -> cp_model.IntVar:
    """A lower bound of a topic's groups with exactly one lower-module student.

    Its groups are all upper (a), hold two or more lower-module students (b) or exactly one (c); the
    counts must fit the topic's students within the group size, every group with an upper one.
    """
    low, high, n = problem.low, problem.high, len(problem.students)
    a, b, c = (model.new_int_var(0, n, f"{name}_{topic}") for name in ("all_upper", "several", "one"))
    model.add(a + b + c == groups)
    model.add(lowers >= 2 * b + c)
    model.add(lowers <= (high - 1) * (b + c))
    model.add(uppers >= low * a + b + c)
    model.add(uppers <= high * a + (high - 2) * b + (high - 1) * c)
    return c


def _expected_repeats(
    model: cp_model.CpModel, problem: _Problem, g: Mapping[str, cp_model.IntVar]
) -> Expr | None:
    """Pairs who already met and share a first choice, each weighed by 1 / (groups of that topic)."""
    first = {s: prefs[0] for s, prefs in problem.prefs.items()}
    together = Counter(first[a] for a, b in _pairs_among(problem, first) if first[a] == first[b])
    if not together:
        return None
    most = len(problem.students) // problem.low
    terms = []
    for t, pairs in sorted(together.items()):
        # No group at all means no repeat there; otherwise about pairs / groups of them meet again.
        table = [0] + [pairs * EXPECTED_REPEAT_SCALE // groups for groups in range(1, most + 1)]
        expected = model.new_int_var(0, max(table), f"repeats_{t}")
        model.add_element(g[t], table, expected)
        terms.append(expected)
    return sum(terms)


# -- stage B: composition ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Composition:
    topics: tuple[str, ...]  # per group
    seats: tuple[dict[Kind, int], ...]  # per group: students of each kind
    listed: dict[tuple[int, str], int]
    pooled: dict[tuple[Kind, str], int]

    def groups_of(self, topic: str) -> list[int]:
        return [j for j, t in enumerate(self.topics) if t == topic]


@dataclass(frozen=True)
class _Weights:
    """Penalty weights that make each rule dominate the ones below it, for `groups` groups."""

    groups: int

    @property
    def isolated(self) -> int:
        return self.groups + 1  # more than every lone-upper penalty together

    @property
    def mixing(self) -> int:
        return (self.isolated + 1) * self.groups + 1  # more than every penalty below it together

    def penalty(self, flags: Mapping[str, Expr]) -> Expr:
        return (
            self.mixing * (flags["single_module"] + flags["single_program"])
            + self.isolated * flags["isolated"]
            + flags["lone_upper"]
        )


def _flags_of(problem: _Problem, seats: Mapping[Kind, int]) -> dict[str, int]:
    """The penalty flags of a group with these seats per kind (1: the rule is broken)."""
    present = [k for k, count in seats.items() if count]
    uppers = sum(count for k, count in seats.items() if k[0] in problem.upper_modules)
    lowers = sum(seats.values()) - uppers
    return {
        "single_module": int(len({k[0] for k in present}) <= 1),
        "single_program": int(len({k[1] for k in present}) <= 1),
        "isolated": int(lowers == 1),
        "lone_upper": int(uppers == 1),
    }


def _add_group(
    model: cp_model.CpModel, problem: _Problem, seats: Mapping[Kind, Expr], hint: Mapping[Kind, int]
) -> dict[str, Expr]:
    """A group's hard rules (size, an upper-module student) and its penalty flags, hinted from `hint`.

    The hint covers every variable added here: the solver starts from a complete solution.
    """
    size = sum(seats.values())
    uppers = sum(v for k, v in seats.items() if k[0] in problem.upper_modules)
    model.add(size >= problem.low)
    model.add(size <= problem.high)
    model.add(uppers >= 1)
    hinted = _flags_of(problem, hint)
    isolated, lone_upper = model.new_bool_var("isolated"), model.new_bool_var("lone_upper")
    model.add(size - uppers != 1).only_enforce_if(~isolated)
    model.add(uppers != 1).only_enforce_if(~lone_upper)
    flags = {
        "single_module": _single(model, seats, 0, hint),
        "single_program": _single(model, seats, 1, hint),
        "isolated": isolated,
        "lone_upper": lone_upper,
    }
    for name, var in flags.items():
        model.add_hint(var, hinted[name])
    return flags


def _single(
    model: cp_model.CpModel, seats: Mapping[Kind, Expr], attribute: int, hint: Mapping[Kind, int]
) -> cp_model.IntVar:
    """A flag that may be 0 only when the group holds two values of the attribute (module, program)."""
    single = model.new_bool_var("single")
    present = []
    for value in sorted({k[attribute] for k in seats}, key=str):
        kinds = [k for k in seats if k[attribute] == value]
        here = model.new_bool_var(f"has_{value}")
        model.add(sum(seats[k] for k in kinds) >= 1).only_enforce_if(here)
        model.add(sum(seats[k] for k in kinds) == 0).only_enforce_if(~here)
        model.add_hint(here, any(hint.get(k, 0) for k in kinds))
        present.append(here)
    model.add(sum(present) >= 2).only_enforce_if(~single)
    return single


class _CompositionModel:
    """Stage B's model: students of each kind per group, with stage A's rank and group counts fixed.

    With `only`, one topic's groups with the plan's students of each kind fixed: a small model whose
    solution warm-starts the whole one, where students in the pool may still change topic.
    """

    def __init__(self, problem: _Problem, plan: _TopicPlan, hint: _Composition, only: str | None = None):
        self.problem, self.hint = problem, hint
        self.model = model = cp_model.CpModel()
        self.groups = [j for j, t in enumerate(hint.topics) if only in (None, t)]
        self.weights = _Weights(len(hint.topics))
        self.tv = None if only else _TopicVars.build(model, problem, list(dict.fromkeys(hint.topics)))
        supply = self._supply(plan)
        self.z = {
            (j, k): model.new_int_var(0, min(problem.high, problem.kind_total(k)), f"z{j}_{k}")
            for j in self.groups
            for k in problem.kinds
        }
        for (t, k), students in supply.items():
            model.add(sum(self.z[j, k] for j in self.groups if hint.topics[j] == t) == students)
        for (j, k), var in self.z.items():
            model.add_hint(var, hint.seats[j].get(k, 0))
        self.flags = {
            j: _add_group(model, problem, {k: self.z[j, k] for k in problem.kinds}, hint.seats[j])
            for j in self.groups
        }
        self._add_bounds(supply)
        self._break_symmetry()
        model.minimize(sum(self.weights.penalty(f) for f in self.flags.values()))

    def _supply(self, plan: _TopicPlan) -> dict[tuple[str, Kind], Expr]:
        """Students of each kind in each topic: variables, or the plan's numbers for one topic."""
        problem, topics = self.problem, dict.fromkeys(self.hint.topics[j] for j in self.groups)
        if self.tv is None:
            return {(t, k): _plan_count(problem, plan, t, k) for t in topics for k in problem.kinds}
        for rank, terms in enumerate(self.tv.rank_terms(problem)):
            if terms:
                self.model.add(sum(terms) == plan.rank_counts[rank])
        self.tv.hint(self.model, self.hint.listed, self.hint.pooled)
        return {(t, k): self.tv.of_kind(problem, t, k) for t in topics for k in problem.kinds}

    def _add_bounds(self, supply: Mapping[tuple[str, Kind], Expr]) -> None:
        """Redundant per-topic bounds that let the solver prove its optimum instead of searching.

        With g groups and U upper-module students, at least 2g - U groups have a lone one; with N
        students of whom M share a module (or program), at least g - (N - M) groups are single-module.
        """
        problem, model = self.problem, self.model
        for t in dict.fromkeys(t for t, _ in supply):
            members = [j for j in self.groups if self.hint.topics[j] == t]
            by_kind = {k: supply[t, k] for k in problem.kinds}
            uppers = sum(v for k, v in by_kind.items() if k[0] in problem.upper_modules)
            model.add(sum(self.flags[j]["lone_upper"] for j in members) >= 2 * len(members) - uppers)
            size = sum(by_kind.values())
            for attribute, flag in ((0, "single_module"), (1, "single_program")):
                singles = sum(self.flags[j][flag] for j in members)
                for value in sorted({k[attribute] for k in problem.kinds}, key=str):
                    same = sum(v for k, v in by_kind.items() if k[attribute] == value)
                    model.add(singles >= len(members) - size + same)

    def _break_symmetry(self) -> None:
        """A topic's groups are interchangeable: order them by a key of their seats."""
        weights = _key_weights(self.problem.kinds, self.problem.high)
        for j, k in pairwise(self.groups):
            if self.hint.topics[j] == self.hint.topics[k]:
                self.model.add(
                    sum(w * self.z[j, kind] for kind, w in weights)
                    >= sum(w * self.z[k, kind] for kind, w in weights)
                )

    def read(self, solver: cp_model.CpSolver) -> _Composition:
        """The hint with this model's groups (and, for the whole model, topic counts) replaced."""
        seats = list(self.hint.seats)
        for j in self.groups:
            seats[j] = {k: count for k in self.problem.kinds if (count := solver.value(self.z[j, k]))}
        if self.tv is None:
            return replace(self.hint, seats=tuple(seats))
        return _Composition(
            topics=self.hint.topics,
            seats=tuple(seats),
            listed={key: solver.value(v) for key, v in self.tv.listed.items()},
            pooled={key: solver.value(v) for key, v in self.tv.pooled.items()},
        )


def _plan_count(problem: _Problem, plan: _TopicPlan, topic: str, kind: Kind) -> int:
    """Students of `kind` in `topic` under the plan."""
    listed = sum(n for (ci, t), n in plan.listed.items() if t == topic and problem.classes[ci].kind == kind)
    return listed + plan.pooled.get((kind, topic), 0)


def _key_weights(kinds: Sequence[Kind], high: int) -> list[tuple[Kind, int]]:
    """Weights of a group's key that orders groups lexicographically by their seats per kind.

    Only as many kinds as keep the key small: ordering by any function of the seats breaks symmetry.
    """
    weights, weight = [], 1
    for kind in reversed(kinds):
        if weight > 2**40:
            break
        weights.append((kind, weight))
        weight *= high + 1
    return weights


def _compose(problem: _Problem, plan: _TopicPlan, runner: _Runner) -> _Composition:
    """Stage B: students of each kind per group, with the topic plan's rank counts and group counts.

    Each topic is first solved on its own with the plan's numbers (small, and usually optimal at
    once); the whole model then starts from those groups and may still move pooled students.
    """
    composition = _deal(problem, plan)
    sizes = {t: n for t, n in plan.groups.items() if n}
    for t, groups in sizes.items():
        stage = _CompositionModel(problem, plan, composition, only=t)
        share = COMPOSITION_SHARE / 2 * groups / sum(sizes.values())
        solver = runner.solve(stage.model, share, "composition", warm_up=True)
        if solver is not None:
            composition = stage.read(solver)
    stage = _CompositionModel(problem, plan, composition)
    solver = runner.solve(stage.model, COMPOSITION_SHARE, "composition")
    return stage.read(solver) if solver is not None else composition


def _deal(problem: _Problem, plan: _TopicPlan) -> _Composition:
    """A valid composition of the plan, each topic's kinds spread over its groups: stage B's warm start."""
    topics: list[str] = []
    seats: list[dict[Kind, int]] = []
    weights = _key_weights(problem.kinds, problem.high)
    for t in problem.topics:
        if not plan.groups[t]:
            continue
        counts = Counter({k: n for (k, tt), n in plan.pooled.items() if tt == t and n})
        for (ci, tt), n in plan.listed.items():
            if tt == t and n:
                counts[problem.classes[ci].kind] += n
        tables = _deal_topic(problem, counts, plan.groups[t])
        tables.sort(key=lambda table: sum(w * table[k] for k, w in weights), reverse=True)
        topics.extend([t] * len(tables))
        seats.extend(dict(table) for table in tables)
    return _Composition(tuple(topics), tuple(seats), dict(plan.listed), dict(plan.pooled))


def _deal_topic(problem: _Problem, counts: Mapping[Kind, int], groups: int) -> list[Counter[Kind]]:
    """Balanced groups: one upper-module student each, then a second where possible, then the others,
    each where its program and module are still missing."""
    total = sum(counts.values())
    capacity = [total // groups + (1 if j < total % groups else 0) for j in range(groups)]
    tables: list[Counter[Kind]] = [Counter() for _ in range(groups)]

    def uppers(j: int) -> int:
        return sum(n for k, n in tables[j].items() if k[0] in problem.upper_modules)

    def preference(j: int, kind: Kind, upper: bool) -> tuple[int, ...]:
        has_program = any(k[1] == kind[1] for k in tables[j])
        has_module = any(k[0] == kind[0] for k in tables[j])
        room = capacity[j] - sum(tables[j].values())
        return (uppers(j) if upper else 0, has_program, has_module, -room, j)

    for upper in (True, False):
        mine = {k: n for k, n in counts.items() if (k[0] in problem.upper_modules) == upper}
        for kind in _interleave(mine):
            free = [j for j in range(groups) if sum(tables[j].values()) < capacity[j]]
            tables[min(free, key=lambda j: preference(j, kind, upper))][kind] += 1
    return tables


def _interleave(counts: Mapping[Kind, int]) -> list[Kind]:
    """Kinds taken in turn, most numerous first: [a, b, c, a, b, a] for a=3, b=2, c=1."""
    left = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    order = []
    while left:
        for kind in list(left):
            order.append(kind)
            left[kind] -= 1
            if not left[kind]:
                del left[kind]
    return order


# -- stage C: seats ------------------------------------------------------------------------------------


def _seat(
    problem: _Problem, composition: _Composition, runner: _Runner, rng: random.Random
) -> dict[int, int]:
    """Stage C: student id -> group index, fewest pairs who already met (a seeded order breaks ties)."""
    order = _spread_order(problem, rng)
    topic_of = _assign_topics(problem, composition, runner, order)
    members: dict[str, list[int]] = defaultdict(list)
    for s in sorted(topic_of, key=order.__getitem__):
        members[topic_of[s]].append(s)
    work = {
        t: len(ids) * len(composition.groups_of(t))
        for t, ids in members.items()
        if _pairs_among(problem, ids)
    }
    seats: dict[int, int] = {}
    for t, ids in members.items():
        share = work[t] / sum(work.values()) if t in work else 0.0
        seats.update(_seat_topic(problem, composition, t, ids, runner, share))
        work.pop(t, None)
    return seats


def _spread_order(problem: _Problem, rng: random.Random) -> dict[int, int]:
    """A seeded order of the students in which those who already met come one after the other.

    Dealing students in turn then sends them to different topics and groups, so even a warm start
    or a fallback avoids most repeats (a plain seeded order would rebuild last time's groups).
    """
    shuffled = {s: i for i, s in enumerate(rng.sample(sorted(problem.students), len(problem.students)))}
    cluster = dict(shuffled)
    for first, second in _pairs_among(problem, problem.students):  # sorted: no hash order
        cluster[first] = cluster[second] = min(
            cluster[first], cluster[second], shuffled[first], shuffled[second]
        )
    ranked = sorted(problem.students, key=lambda s: (cluster[s], shuffled[s]))
    return {s: i for i, s in enumerate(ranked)}


def _in_turn(students: Iterable[int], counts: Mapping[str, int]) -> dict[int, str]:
    """Deal students to topics one at a time in turn, each topic taking `counts[topic]` of them."""
    left = {t: n for t, n in counts.items() if n}
    dealt: dict[int, str] = {}
    waiting = iter(students)
    while left:
        for t in list(left):
            dealt[next(waiting)] = t
            left[t] -= 1
            if not left[t]:
                del left[t]
    return dealt


def _pairs_among(problem: _Problem, students: Collection[int]) -> list[tuple[int, int]]:
    present = set(students)
    return sorted(tuple(sorted(pair)) for pair in problem.previous if pair <= present)


def _topic_options(problem: _Problem, composition: _Composition) -> dict[int, list[tuple[str, bool]]]:
    """Where each student may go: (topic, True) at a topic they listed, (topic, False) in the pool."""
    options: dict[int, list[tuple[str, bool]]] = {}
    open_topics = list(dict.fromkeys(composition.topics))
    for ci, c in enumerate(problem.classes):
        listed = [(t, True) for t in c.prefs if composition.listed.get((ci, t), 0)]
        outside = len(c.members) - sum(composition.listed.get((ci, t), 0) for t in c.prefs)
        pooled = [(t, False) for t in open_topics if outside and composition.pooled.get((c.kind, t), 0)]
        for s in c.members:
            options[s] = listed + pooled
    for kind, ids in problem.neutral.items():
        for s in ids:
            options[s] = [(t, False) for t in open_topics if composition.pooled.get((kind, t), 0)]
    return options


def _realise_topics(
    problem: _Problem, composition: _Composition, order: Mapping[int, int]
) -> dict[int, tuple[str, bool]]:
    """An option (topic, listed) per student matching the composition's counts, in the seeded order."""
    option_of: dict[int, tuple[str, bool]] = {}
    pool: dict[Kind, list[int]] = {
        k: sorted(problem.neutral.get(k, ()), key=order.__getitem__) for k in problem.kinds
    }
    for ci, c in enumerate(problem.classes):
        members = sorted(c.members, key=order.__getitem__)
        listed = {t: composition.listed.get((ci, t), 0) for t in c.prefs}
        dealt = _in_turn(members, listed)
        option_of.update((s, (t, True)) for s, t in dealt.items())
        pool[c.kind].extend(s for s in members if s not in dealt)  # outside their answers
    for kind, ids in pool.items():
        pooled = {t: composition.pooled.get((kind, t), 0) for t in problem.topics}
        option_of.update(
            (s, (t, False)) for s, t in _in_turn(sorted(ids, key=order.__getitem__), pooled).items()
        )
    return option_of


def _assign_topics(
    problem: _Problem, composition: _Composition, runner: _Runner, order: Mapping[int, int]
) -> dict[int, str]:
    """Stage C, first half: a topic per student, fewest expected repeats (pairs sharing a topic)."""
    default = _realise_topics(problem, composition, order)
    options = _topic_options(problem, composition)
    pairs = [
        (a, b)
        for a, b in _pairs_among(problem, problem.students)
        if len(options[a]) > 1 or len(options[b]) > 1
    ]
    if not pairs:
        return {s: t for s, (t, _) in default.items()}
    model = cp_model.CpModel()
    y = {(s, option): model.new_bool_var(f"y{s}_{option}") for s, opts in options.items() for option in opts}
    for s, opts in options.items():
        model.add_exactly_one(y[s, option] for option in opts)
    _match_counts(model, problem, composition, y)
    in_topic: dict[tuple[int, str], list[cp_model.IntVar]] = defaultdict(list)
    for (s, option), var in y.items():
        in_topic[s, option[0]].append(var)
        model.add_hint(var, default[s] == option)
    costs = []
    for a, b in pairs:
        for t in sorted({t for t, _ in options[a]} & {t for t, _ in options[b]}):
            both = model.new_bool_var(f"both{a}_{b}_{t}")
            model.add(sum(in_topic[a, t]) + sum(in_topic[b, t]) <= 1 + both)
            model.add_hint(both, default[a][0] == default[b][0] == t)
            costs.append(EXPECTED_REPEAT_SCALE // len(composition.groups_of(t)) * both)
    model.minimize(sum(costs))
    solver = runner.solve(model, TOPIC_ASSIGNMENT_SHARE, "topic assignment")
    if solver is None:
        return {s: t for s, (t, _) in default.items()}
    return {s: t for (s, (t, _)), var in y.items() if solver.value(var)}


def _match_counts(
    model: cp_model.CpModel,
    problem: _Problem,
    composition: _Composition,
    y: Mapping[tuple[int, tuple[str, bool]], cp_model.IntVar],
) -> None:
    """Students per (class, listed topic) and per (kind, pooled topic) equal the composition's counts."""
    class_of = {s: ci for ci, c in enumerate(problem.classes) for s in c.members}
    listed: dict[tuple[int, str], list[cp_model.IntVar]] = defaultdict(list)
    pooled: dict[tuple[Kind, str], list[cp_model.IntVar]] = defaultdict(list)
    for (s, (t, is_listed)), var in y.items():
        if is_listed:
            listed[class_of[s], t].append(var)
        else:
            pooled[problem.kind_of(s), t].append(var)
    for key, variables in listed.items():
        model.add(sum(variables) == composition.listed[key])
    for key, variables in pooled.items():
        model.add(sum(variables) == composition.pooled[key])


def _seat_topic(
    problem: _Problem,
    composition: _Composition,
    topic: str,
    students: Sequence[int],
    runner: _Runner,
    share: float,
) -> dict[int, int]:
    """Stage C, second half: the topic's students in its groups, fewest repeated pairs.

    First within stage B's seats per kind; then, in a small topic, freely from that solution, as long
    as no rule above repeated pairs gets worse.
    """
    groups = composition.groups_of(topic)
    seated = _fill_topic(problem, composition, groups, students, {})
    pairs = _pairs_among(problem, students)
    if not pairs:
        return seated
    free = len(students) * len(groups) <= FREE_SEATING_LIMIT
    # Only students with a partner who could meet them again need a variable in the seats model.
    involved = sorted({s for pair in pairs for s in pair}, key=students.index)
    model, b = _seating_model(problem, composition, groups, involved, pairs, seated, free=False)
    solver = runner.solve(model, share / 2 if free else share, "seats")
    if solver is not None:
        placed = {s: j for (s, j), var in b.items() if solver.value(var)}
        seated = _fill_topic(problem, composition, groups, students, placed)
    if free:
        model, b = _seating_model(problem, composition, groups, students, pairs, seated, free=True)
        # The first solve took about half of this topic's share; this one takes the other half.
        solver = runner.solve(model, share / (2 - share), "free seats")
        if solver is not None:
            seated = {s: j for (s, j), var in b.items() if solver.value(var)}
    return seated


def _seating_model(
    problem: _Problem,
    composition: _Composition,
    groups: Sequence[int],
    students: Sequence[int],
    pairs: Sequence[tuple[int, int]],
    hint: Mapping[int, int],
    *,
    free: bool,
) -> tuple[cp_model.CpModel, dict[tuple[int, int], cp_model.IntVar]]:
    """Seat `students` (the others keep free seats of their kind), fewest repeated pairs.

    `free` lets each group's kinds change within the group rules and stage B's penalties; otherwise
    each group keeps its seats per kind. `hint` is a valid seating to start from.
    """
    model = cp_model.CpModel()
    b = {}
    for s in students:
        kind = problem.kind_of(s)
        mine = [j for j in groups if free or composition.seats[j].get(kind, 0)]
        b.update({(s, j): model.new_bool_var(f"b{s}_{j}") for j in mine})
        model.add_exactly_one(b[s, j] for j in mine)
    if free:
        _keep_penalty(model, problem, composition, groups, b, hint)
    else:
        _cap_seats(model, problem, composition, b)
    repeats = []
    for first, second in pairs:
        repeat = model.new_bool_var(f"repeat{first}_{second}")
        for j in groups:
            if (first, j) in b and (second, j) in b:
                model.add(b[first, j] + b[second, j] <= 1 + repeat)
        model.add_hint(repeat, hint[first] == hint[second])
        repeats.append(repeat)
    for (s, j), var in b.items():
        model.add_hint(var, hint[s] == j)
    model.minimize(sum(repeats))
    return model, b


def _keep_penalty(
    model: cp_model.CpModel,
    problem: _Problem,
    composition: _Composition,
    groups: Sequence[int],
    b: Mapping[tuple[int, int], cp_model.IntVar],
    hint: Mapping[int, int],
) -> None:
    """Reseat freely, but keep the hard rules and never do worse than stage B on the rules above."""
    weights = _Weights(len(composition.topics))
    penalties = []
    for j in groups:
        seats: dict[Kind, list[cp_model.IntVar]] = defaultdict(list)
        for (s, jj), var in b.items():
            if jj == j:
                seats[problem.kind_of(s)].append(var)
        hinted = Counter(problem.kind_of(s) for s, jj in hint.items() if jj == j)
        flags = _add_group(model, problem, {k: sum(v) for k, v in seats.items()}, hinted)
        penalties.append(weights.penalty(flags))
    budget = sum(weights.penalty(_flags_of(problem, composition.seats[j])) for j in groups)
    model.add(sum(penalties) <= budget)


def _cap_seats(
    model: cp_model.CpModel,
    problem: _Problem,
    composition: _Composition,
    b: Mapping[tuple[int, int], cp_model.IntVar],
) -> None:
    """Seated students never exceed a group's seats of their kind."""
    by_seat: dict[tuple[int, Kind], list[cp_model.IntVar]] = defaultdict(list)
    for (s, j), var in b.items():
        by_seat[j, problem.kind_of(s)].append(var)
    for (j, kind), variables in by_seat.items():
        model.add(sum(variables) <= composition.seats[j][kind])


def _fill_topic(
    problem: _Problem,
    composition: _Composition,
    groups: Sequence[int],
    students: Sequence[int],
    placed: Mapping[int, int],
) -> dict[int, int]:
    """Complete `placed` (student -> group): the others take the free seats of their kind, in order."""
    assignment = dict(placed)
    seats = {j: Counter(composition.seats[j]) for j in groups}
    for s, j in placed.items():
        seats[j][problem.kind_of(s)] -= 1
    waiting: dict[Kind, list[int]] = defaultdict(list)
    for s in students:
        if s not in placed:
            waiting[problem.kind_of(s)].append(s)
    turn = 0
    for kind, ids in waiting.items():
        for s in ids:
            # Round the table, so consecutive students (who may have met) go to different groups.
            while seats[groups[turn % len(groups)]][kind] <= 0:
                turn += 1
            j = groups[turn % len(groups)]
            assignment[s] = j
            seats[j][kind] -= 1
            turn += 1
    return assignment


# -- greedy --------------------------------------------------------------------------------------------


def _greedy(problem: _Problem, rng: random.Random) -> list[tuple[str, list[int]]]:
    """Groups of balanced size, topics allotted by first choices, each student to their best open topic."""
    n = len(problem.students)
    uppers = sum(1 for s in problem.students if problem.is_upper(s))
    middle = round(2 * n / (problem.low + problem.high))
    count = min(max(middle, math.ceil(n / problem.high)), n // problem.low, uppers)
    capacity = [n // count + (1 if j < n % count else 0) for j in range(count)]
    topics = _allot_topics(problem, count)
    members: list[list[int]] = [[] for _ in range(count)]

    def room(j: int) -> tuple[int, int]:
        return (capacity[j] - len(members[j]), -j)

    def best(student: int, groups: list[int]) -> int | None:
        for topic in problem.prefs.get(student, ()):
            fitting = [j for j in groups if topics[j] == topic]
            if fitting:
                return max(fitting, key=room)
        return None

    order = rng.sample(sorted(problem.students), n)
    # First one upper-module student in each group, in their best topic still without one.
    anchors = set()
    for student in (s for s in order if problem.is_upper(s)):
        empty = [j for j in range(count) if not members[j]]
        if not empty:
            break
        choice = best(student, empty)
        members[empty[0] if choice is None else choice].append(student)
        anchors.add(student)
    waiting = []
    for student in (s for s in order if s not in anchors):
        choice = best(student, [j for j in range(count) if len(members[j]) < capacity[j]])
        if choice is None:
            waiting.append(student)
        else:
            members[choice].append(student)
    for student in waiting:
        members[max(range(count), key=room)].append(student)
    return list(zip(topics, members, strict=True))


def _allot_topics(problem: _Problem, count: int) -> list[str]:
    """Groups per topic in proportion to first choices (largest remainder), as a list of topics."""
    firsts = Counter(p[0] for p in problem.prefs.values())
    if not firsts:
        return [OPEN_TOPIC] * count
    total = sum(firsts.values())
    quotas = {t: count * firsts[t] / total for t in problem.topics}
    allotted = {t: math.floor(q) for t, q in quotas.items()}
    by_remainder = sorted(problem.topics, key=lambda t: (allotted[t] - quotas[t], t))
    for t in by_remainder[: count - sum(allotted.values())]:
        allotted[t] += 1
    return [t for t in problem.topics for _ in range(allotted[t])]


def _plan_of(problem: _Problem, groups: Sequence[tuple[str, Sequence[int]]]) -> _TopicPlan:
    """The topic plan of a valid grouping (a warm start for stage A)."""
    class_of = {s: ci for ci, c in enumerate(problem.classes) for s in c.members}
    listed: Counter[tuple[int, str]] = Counter()
    pooled: Counter[tuple[Kind, str]] = Counter()
    ranks = [0] * problem.ranks
    for topic, members in groups:
        for s in members:
            prefs = problem.prefs.get(s, ())
            if topic in prefs:
                listed[class_of[s], topic] += 1
                ranks[prefs.index(topic)] += 1
            else:
                pooled[problem.kind_of(s), topic] += 1
    count = Counter(topic for topic, _ in groups)
    return _TopicPlan(
        groups={t: count[t] for t in problem.topics},
        listed=dict(listed),
        pooled=dict(pooled),
        rank_counts=tuple(ranks),
    )


# -- results -------------------------------------------------------------------------------------------


def _formation(
    problem: _Problem,
    groups: Iterable[tuple[str, Sequence[int]]],
    *,
    solve_seconds: float,
    optimal: bool,
    gap: float,
    status: str,
) -> Formation:
    ordered = sorted((topic, tuple(sorted(members))) for topic, members in groups)
    formed = tuple(
        FormedGroup(number=i, topic=topic, members=members) for i, (topic, members) in enumerate(ordered, 1)
    )
    return Formation(formed, _quality(problem, formed, solve_seconds, optimal, gap, status))


def _quality(
    problem: _Problem,
    groups: Sequence[FormedGroup],
    solve_seconds: float,
    optimal: bool,
    gap: float,
    status: str,
) -> Quality:
    topic_of = {s: g.topic for g in groups for s in g.members}
    answered = len(problem.prefs)
    first = sum(1 for s, p in problem.prefs.items() if topic_of[s] == p[0])
    top2 = sum(1 for s, p in problem.prefs.items() if topic_of[s] in p[:2])
    flags = [_flags_of(problem, Counter(problem.kind_of(s) for s in g.members)) for g in groups]
    repeated = sum(
        1
        for g in groups
        for i, a in enumerate(g.members)
        for b in g.members[i + 1 :]
        if frozenset((a, b)) in problem.previous
    )
    return Quality(
        students=len(problem.students),
        groups=len(groups),
        answered=answered,
        first_choice_share=round(first / answered, 6) if answered else 0.0,
        top2_share=round(top2 / answered, 6) if answered else 0.0,
        groups_single_module=sum(f["single_module"] for f in flags),
        groups_single_program=sum(f["single_program"] for f in flags),
        isolated_students=sum(f["isolated"] for f in flags),
        repeated_pairs=repeated,
        solve_seconds=round(solve_seconds, 3),
        optimal=optimal,
        gap=round(gap, 6),
        status=status,
    )


# -- public --------------------------------------------------------------------------------------------


def form_groups(
    students: Sequence[Student],
    preferences: Mapping[int, Sequence[str]],
    *,
    group_size: tuple[int, int],
    upper_modules: Collection[int],
    previous_pairs: Collection[frozenset[int]] = (),
    seed: int = 0,
    time_limit_seconds: float = 10.0,
) -> Formation:
    """Form Mix It Up groups with CP-SAT: every hard rule met, the soft rules in priority order.

    `preferences` maps a student id to topics, best first (absent: did not answer); answers of
    students not in `students` are ignored. The same input and seed give the same groups.
    `time_limit_seconds` bounds the solver (building the models comes on top: well under a second
    at 1,000 students); the best groups found are returned, and `quality.optimal` and `quality.gap`
    say what was proved. Raises FormationError when no grouping exists, saying what would fix it.
    """
    if not time_limit_seconds > 0:
        raise FormationError(f"the time limit must be a positive number of seconds, not {time_limit_seconds}")
    problem = _prepare(students, preferences, group_size, upper_modules, previous_pairs)
    runner = _Runner(time_limit_seconds, seed)
    # The greedy's plan is a valid warm start, so the solver never returns fewer first choices.
    warm_start = _plan_of(problem, _greedy(problem, random.Random(seed)))
    plan = _plan_topics(problem, runner, warm_start)
    composition = _compose(problem, plan, runner)
    seats = _seat(problem, composition, runner, random.Random(seed))
    members: dict[int, list[int]] = defaultdict(list)
    for s, j in seats.items():
        members[j].append(s)
    return _formation(
        problem,
        ((composition.topics[j], members[j]) for j in range(len(composition.topics))),
        solve_seconds=runner.wall,
        optimal=runner.optimal,
        gap=runner.gap,
        status=runner.status,
    )


def greedy_baseline(
    students: Sequence[Student],
    preferences: Mapping[int, Sequence[str]],
    *,
    group_size: tuple[int, int],
    upper_modules: Collection[int],
    previous_pairs: Collection[frozenset[int]] = (),
    seed: int = 0,
    time_limit_seconds: float = 10.0,
) -> Formation:
    """A simple greedy with the inputs of `form_groups`, for the benchmark.

    Balanced group sizes, groups per topic in proportion to first choices, one upper-module student
    placed in each group first, then each student (in a seeded order) in their best topic with room.
    It ignores mixing and past pairs and proves nothing: status "GREEDY", gap 1.0, solve_seconds 0.
    `time_limit_seconds` is accepted for a common signature and unused. Raises FormationError like
    `form_groups`.
    """
    problem = _prepare(students, preferences, group_size, upper_modules, previous_pairs)
    groups = _greedy(problem, random.Random(seed))
    return _formation(problem, groups, solve_seconds=0.0, optimal=False, gap=1.0, status="GREEDY")
