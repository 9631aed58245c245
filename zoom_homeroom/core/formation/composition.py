"""Stage B, composition: how many students of each (module, program) sit in each group, with stage A's
rank counts and groups per topic fixed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from ortools.sat.python import cp_model

from .problem import MIXING, Expr, Kind, Problem, flags_of
from .solver import Runner
from .topics import TopicPlan, TopicVars

# Share of the remaining solver budget (see solver.Runner).
COMPOSITION_SHARE = 0.3


@dataclass(frozen=True)
class Composition:
    topics: tuple[str, ...]  # per group
    seats: tuple[dict[Kind, int], ...]  # per group: students of each kind
    listed: dict[tuple[int, str], int]
    pooled: dict[tuple[Kind, str], int]

    def groups_of(self, topic: str) -> list[int]:
        return [j for j, t in enumerate(self.topics) if t == topic]


@dataclass(frozen=True)
class Weights:
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


def add_group(
    model: cp_model.CpModel, problem: Problem, seats: Mapping[Kind, Expr], hint: Mapping[Kind, int]
) -> dict[str, Expr]:
    """A group's hard rules (size, an upper-module student) and its penalty flags, hinted from `hint`.

    The hint covers every variable added here: the solver starts from a complete solution.
    """
    size = sum(seats.values())
    uppers = sum(v for k, v in seats.items() if k[0] in problem.upper_modules)
    model.add(size >= problem.low)
    model.add(size <= problem.high)
    model.add(uppers >= 1)
    hinted = flags_of(problem, hint)
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

    def __init__(self, problem: Problem, plan: TopicPlan, hint: Composition, only: str | None = None):
        self.problem, self.hint = problem, hint
        self.model = model = cp_model.CpModel()
        self.groups = [j for j, t in enumerate(hint.topics) if only in (None, t)]
        self.weights = Weights(len(hint.topics))
        self.tv = None if only else TopicVars.build(model, problem, list(dict.fromkeys(hint.topics)))
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
            j: add_group(model, problem, {k: self.z[j, k] for k in problem.kinds}, hint.seats[j])
            for j in self.groups
        }
        self._add_bounds(supply)
        self._break_symmetry()
        model.minimize(sum(self.weights.penalty(f) for f in self.flags.values()))

    def _supply(self, plan: TopicPlan) -> dict[tuple[str, Kind], Expr]:
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

    def read(self, solver: cp_model.CpSolver) -> Composition:
        """The hint with this model's groups (and, for the whole model, topic counts) replaced."""
        seats = list(self.hint.seats)
        for j in self.groups:
            seats[j] = {k: count for k in self.problem.kinds if (count := solver.value(self.z[j, k]))}
        if self.tv is None:
            return replace(self.hint, seats=tuple(seats))
        return Composition(
            topics=self.hint.topics,
            seats=tuple(seats),
            listed={key: solver.value(v) for key, v in self.tv.listed.items()},
            pooled={key: solver.value(v) for key, v in self.tv.pooled.items()},
        )


def _plan_count(problem: Problem, plan: TopicPlan, topic: str, kind: Kind) -> int:
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


def compose(problem: Problem, plan: TopicPlan, runner: Runner) -> Composition:
    """Stage B: students of each kind per group, with the topic plan's rank counts and group counts.

    Each topic is first solved on its own with the plan's numbers (small, and usually optimal at
    once); the whole model then starts from those groups and may still move pooled students.
    """
    composition = _deal(problem, plan)
    sizes = {t: n for t, n in plan.groups.items() if n}
    for t, groups in sizes.items():
        stage = _CompositionModel(problem, plan, composition, only=t)
        share = COMPOSITION_SHARE / 2 * groups / sum(sizes.values())
        solver = runner.solve(stage.model, share, "composition", MIXING, warm_up=True)
        if solver is not None:
            composition = stage.read(solver)
    stage = _CompositionModel(problem, plan, composition)
    solver = runner.solve(stage.model, COMPOSITION_SHARE, "composition", MIXING)
    return stage.read(solver) if solver is not None else composition


def _deal(problem: Problem, plan: TopicPlan) -> Composition:
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
    return Composition(tuple(topics), tuple(seats), dict(plan.listed), dict(plan.pooled))


def _deal_topic(problem: Problem, counts: Mapping[Kind, int], groups: int) -> list[Counter[Kind]]:
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
