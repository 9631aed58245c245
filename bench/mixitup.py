"""Mix It Up benchmark: CP-SAT `form_groups` against `greedy_baseline` on generated cohorts.

    .venv/bin/python bench/mixitup.py [--sizes 120,400,1000] [--time-limit 10] [--seed 7] [--week4]

Each cohort has 4 modules (a quarter of the students in the upper modules 3 and 4), programs FE and
BE, 10 topics whose skewed popularity differs between upper and lower modules, and ranked answers
(up to 3) from about 70% of the students.
Both methods get the same input; the hard rules are checked for both. With --week4, each size is formed
again with the solver's groups as the pairs who already met.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zoom_homeroom.core.formation import (  # noqa: E402
    OPEN_TOPIC,
    Formation,
    form_groups,
    greedy_baseline,
)
from zoom_homeroom.core.models import Student  # noqa: E402

GROUP_SIZE = (4, 6)
UPPER_MODULES = (3, 4)
MODULE_SHARES = (0.40, 0.35, 0.13, 0.12)
# Skewed popularity that differs by module: upper modules care about the job search, lower modules
# about learning; the two niche topics at the end rarely gather a group of their own.
TOPIC_WEIGHTS_LOWER = {
    "Portfolio": 30,
    "Algorithms": 20,
    "Side projects": 16,
    "Burnout": 10,
    "Open source": 8,
    "Interviews": 6,
    "Networking": 4,
    "Freelancing": 3,
    "Accessibility": 2,
    "Game jams": 1,
}
TOPIC_WEIGHTS_UPPER = {
    "Interviews": 30,
    "Networking": 20,
    "Freelancing": 14,
    "Portfolio": 12,
    "Burnout": 8,
    "Open source": 6,
    "Side projects": 4,
    "Algorithms": 3,
    "Accessibility": 2,
    "Game jams": 1,
}
ANSWER_RATE = 0.7


Cohort = tuple[list[Student], dict[int, list[str]]]


def make_cohort(size: int, seed: int) -> Cohort:
    """A seeded cohort and its ranked poll answers (1 to 3 topics, mostly 3)."""
    rng = random.Random(seed)
    students = []
    for i in range(size):
        module = rng.choices((1, 2, 3, 4), weights=MODULE_SHARES)[0]
        program = "FE" if rng.random() < 0.55 else "BE"
        email = f"student{i}@students.example.org"
        students.append(
            Student(email=email, name=f"Student {i}", module=module, program=program, group=1, id=i + 1)
        )
    answers = {}
    for student in students:
        if rng.random() < ANSWER_RATE:
            weights = TOPIC_WEIGHTS_UPPER if student.module in UPPER_MODULES else TOPIC_WEIGHTS_LOWER
            answers[student.id] = _ranked(rng, weights, rng.choice((1, 2, 3, 3, 3)))
    return students, answers


def _ranked(rng: random.Random, weights: dict[str, int], count: int) -> list[str]:
    left, ranked = dict(weights), []
    for _ in range(count):
        topic = rng.choices(list(left), weights=list(left.values()))[0]
        ranked.append(topic)
        del left[topic]
    return ranked


def hard_rule_problems(
    formation: Formation, students: Sequence[Student], answers: Mapping[int, Sequence[str]]
) -> list[str]:
    """Every broken hard rule, one line each (empty: all met)."""
    problems = []
    seen = [s for g in formation.groups for s in g.members]
    if sorted(seen) != sorted(s.id for s in students):
        problems.append("not every student is in exactly one group")
    module = {s.id: s.module for s in students}
    chosen = {t for ranked in answers.values() for t in ranked} or {OPEN_TOPIC}
    for group in formation.groups:
        if not GROUP_SIZE[0] <= len(group.members) <= GROUP_SIZE[1]:
            problems.append(f"group {group.number} has {len(group.members)} students")
        if not any(module[s] in UPPER_MODULES for s in group.members):
            problems.append(f"group {group.number} has no upper-module student")
        if group.topic not in chosen:
            problems.append(f"group {group.number}'s topic {group.topic!r} was chosen by nobody")
    return problems


def met_pairs(formation: Formation) -> Collection[frozenset[int]]:
    return {frozenset(pair) for g in formation.groups for pair in combinations(g.members, 2)}


@dataclass(frozen=True)
class Run:
    formation: Formation
    seconds: float  # wall time of the whole call: model building and every solve
    problems: list[str]


def run(method: Callable[..., Formation], cohort: Cohort, args: argparse.Namespace, previous=()) -> Run:
    students, answers = cohort
    start = time.perf_counter()
    formation = method(
        students,
        answers,
        group_size=GROUP_SIZE,
        upper_modules=UPPER_MODULES,
        previous_pairs=previous,
        seed=args.seed,
        time_limit_seconds=args.time_limit,
    )
    seconds = time.perf_counter() - start
    return Run(formation, seconds, hard_rule_problems(formation, students, answers))


def cells(result: Run, *, solver: bool) -> list[str]:
    q = result.formation.quality
    row = [
        f"{result.seconds:.2f}",
        f"{q.first_choice_share:.1%}",
        f"{q.top2_share:.1%}",
        str(q.groups),
        str(q.groups_single_module),
        str(q.groups_single_program),
        str(q.isolated_students),
        str(q.repeated_pairs),
    ]
    if solver:
        not_proved = [proof.rule for proof in q.proof if not proof.optimal]
        row += ["-" if q.gap is None else f"{q.gap:.3f}", q.status, ", ".join(not_proved) or "-"]
    return row


@dataclass(frozen=True)
class Comparison:
    solved: Run
    row: list[str]


def compare(size: int, week: str, cohort: Cohort, args: argparse.Namespace, previous) -> Comparison:
    """Both methods on the same input, as one table row."""
    solved = run(form_groups, cohort, args, previous)
    greedy = run(greedy_baseline, cohort, args, previous)
    problems = solved.problems + [f"greedy: {p}" for p in greedy.problems]
    row = [str(size), week, *cells(solved, solver=True), "|", *cells(greedy, solver=False)]
    return Comparison(solved, row + ["ok" if not problems else "; ".join(problems[:2])])


SOLVER_HEADER = [
    "seconds",
    "1st",
    "top-2",
    "groups",
    "1-mod",
    "1-prog",
    "isolated",
    "repeats",
    "gap",
    "status",
    "not proved",
]
GREEDY_HEADER = ["seconds", "1st", "top-2", "groups", "1-mod", "1-prog", "isolated", "repeats"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="120,400,1000", help="comma-separated cohort sizes")
    parser.add_argument("--time-limit", type=float, default=10.0, help="form_groups time limit, seconds")
    parser.add_argument("--seed", type=int, default=7, help="seed of the cohorts and of the solver")
    parser.add_argument("--week4", action="store_true", help="also form week 4 avoiding week 2's pairs")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}")
    print(
        f"group size {GROUP_SIZE}, upper modules {UPPER_MODULES}, time limit {args.time_limit:g} s, seed {args.seed}"
    )
    print(
        "seconds: wall time of the call; 1-mod/1-prog: single-module/-program groups; hard rules: both methods"
    )
    rows = [["students", "week", *SOLVER_HEADER, "|", *GREEDY_HEADER, "hard rules"]]
    for size in (int(s) for s in args.sizes.split(",")):
        cohort = make_cohort(size, args.seed)
        week2 = compare(size, "2", cohort, args, ())
        rows.append(week2.row)
        if args.week4:  # pairs who met in the solver's week 2 groups
            rows.append(compare(size, "4", cohort, args, met_pairs(week2.solved.formation)).row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
