"""The greedy baseline: balanced groups, topics allotted by first choices. It warm-starts stage A and is
the benchmark's point of comparison.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Collection, Mapping, Sequence

from ..models import Student
from .problem import OPEN_TOPIC, Formation, Kind, Problem, formation_of, prepare
from .topics import TopicPlan


def greedy(problem: Problem, rng: random.Random) -> list[tuple[str, list[int]]]:
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


def _allot_topics(problem: Problem, count: int) -> list[str]:
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


def plan_of(problem: Problem, groups: Sequence[tuple[str, Sequence[int]]]) -> TopicPlan:
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
    return TopicPlan(
        groups={t: count[t] for t in problem.topics},
        listed=dict(listed),
        pooled=dict(pooled),
        rank_counts=tuple(ranks),
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
    It ignores mixing and past pairs and proves nothing: status "GREEDY", no proof, solve_seconds 0.
    `time_limit_seconds` is accepted for a common signature and unused. Raises FormationError like
    `form_groups`.
    """
    problem = prepare(students, preferences, group_size, upper_modules, previous_pairs)
    groups = greedy(problem, random.Random(seed))
    return formation_of(problem, groups, solve_seconds=0.0, proof=(), status="GREEDY")
