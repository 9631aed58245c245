"""Stage A, topics: how many students of each answer class (and, in the neutral pool, of each kind) go to
each topic, and how many groups each topic gets. See the package's docstring for the order of rules.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from .problem import (
    EXPECTED_REPEAT_SCALE,
    GROUP_SIZES,
    MIXING,
    REPEATED_PAIRS,
    TOPIC_CHOICES,
    Expr,
    Kind,
    Problem,
    pairs_among,
)
from .solver import Runner

# Shares of the remaining budget for each solve; the last solve of a formation takes what is left.
RANK_SHARE = 0.05
GROUP_COUNT_SHARE = 0.1


@dataclass
class TopicVars:
    """Students per topic: by answer class at a topic they listed, and by kind in the neutral pool.

    The pool holds students who did not answer and students placed outside their answers; splitting
    the pool by kind keeps one variable per (kind, topic) instead of one per student.
    """

    listed: dict[tuple[int, str], cp_model.IntVar]  # (class index, topic)
    pooled: dict[tuple[Kind, str], cp_model.IntVar]  # (kind, topic)

    @classmethod
    def build(cls, model: cp_model.CpModel, problem: Problem, topics: Sequence[str]) -> TopicVars:
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

    def of_kind(self, problem: Problem, topic: str, kind: Kind) -> Expr:
        """Students of `kind` in `topic`."""
        listed = [v for (ci, t), v in self.listed.items() if t == topic and problem.classes[ci].kind == kind]
        return sum(listed) + self.pooled[kind, topic]

    def rank_terms(self, problem: Problem) -> list[list[cp_model.IntVar]]:
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


@dataclass(frozen=True)
class TopicPlan:
    groups: dict[str, int]  # topic -> number of groups (0: no group)
    listed: dict[tuple[int, str], int]  # (class index, topic) -> students
    pooled: dict[tuple[Kind, str], int]  # (kind, topic) -> students
    rank_counts: tuple[int, ...]  # students placed in their choice of rank r, r = 0, 1, ...


class _TopicModel:
    """Stage A's model: students per topic (by answer class and by kind), groups per topic."""

    def __init__(self, problem: Problem, runner: Runner):
        self.problem, self.runner = problem, runner
        self.model = model = cp_model.CpModel()
        topics = problem.topics
        self.tv = TopicVars.build(model, problem, topics)
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
        self, objective: Expr, maximise: bool, share: float, stage: str, rule: str, best: TopicPlan
    ) -> TopicPlan | None:
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
        solver = self.runner.solve(model, share, stage, rule)
        if solver is None:
            return None
        value = round(solver.objective_value)
        model.add(objective >= value if maximise else objective <= value)
        return TopicPlan(
            groups={t: solver.value(v) for t, v in self.g.items()},
            listed={key: solver.value(v) for key, v in self.tv.listed.items()},
            pooled={key: solver.value(v) for key, v in self.tv.pooled.items()},
            rank_counts=tuple(sum(solver.value(v) for v in terms) for terms in self.rank_terms),
        )


def plan_topics(problem: Problem, runner: Runner, hint: TopicPlan) -> TopicPlan:
    """Stage A: students per topic and groups per topic; `hint` is a valid plan to improve on.

    Lexicographic: maximise first choices, then second choices, ...; then choose the groups per topic.
    Each step keeps the value its predecessors reached, so a higher priority always dominates; when a
    step finds nothing in its budget, the plan so far is kept and the later steps are skipped.
    """
    stage = _TopicModel(problem, runner)
    best: TopicPlan | None = hint
    for terms in stage.rank_terms:
        plan = stage.step(sum(terms), True, RANK_SHARE, "topics", TOPIC_CHOICES, best)
        if plan is None:
            return best
        best = plan
    # Built only now: their extra constraints would slow down the solves above.
    for rule, objective in _group_count_objectives(stage.model, problem, stage.g, stage.by_kind):
        plan = stage.step(objective, False, GROUP_COUNT_SHARE, "group counts", rule, best)
        if plan is None:
            return best
        best = plan
    return best


def _group_count_objectives(
    model: cp_model.CpModel,
    problem: Problem,
    g: Mapping[str, cp_model.IntVar],
    by_kind: Mapping[tuple[str, Kind], Expr],
) -> list[tuple[str, Expr]]:
    """What chooses the number of groups per topic, most important first, each with its rule.

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
    repeat_steps = [(REPEATED_PAIRS, repeats)] if repeats is not None else []
    return [
        (MIXING, sum(bounds)),
        (MIXING, sum(isolated)),
        *repeat_steps,
        (MIXING, sum(lone)),
        (GROUP_SIZES, sum(deviations)),
    ]


def _isolated_bound(
    model: cp_model.CpModel,
    problem: Problem,
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
    model: cp_model.CpModel, problem: Problem, g: Mapping[str, cp_model.IntVar]
) -> Expr | None:
    """Pairs who already met and share a first choice, each weighed by 1 / (groups of that topic)."""
    first = {s: prefs[0] for s, prefs in problem.prefs.items()}
    together = Counter(first[a] for a, b in pairs_among(problem, first) if first[a] == first[b])
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
