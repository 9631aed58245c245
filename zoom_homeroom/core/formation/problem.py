"""The formation problem and its measure: validated input (who, which answers, which kinds), the rules'
penalty flags of a group, and the Quality of a result.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import HomeroomError
from ..models import FormedGroup, Student

OPEN_TOPIC = "Open topic"
# A pair sharing a topic with g groups meets again about once in g: weighed 840 // g (840 is the
# least common multiple of 1..8, so small topics weigh exactly).
EXPECTED_REPEAT_SCALE = 840

Kind = tuple[int, str]  # (module, program)
Expr = Any  # a CP-SAT linear expression (or a plain int)


class FormationError(HomeroomError, ValueError):
    """The input cannot be formed into groups; the message says why and what would fix it."""


# The rules the solver proves or not, in priority order (group sizes only break ties).
TOPIC_CHOICES, MIXING, REPEATED_PAIRS, GROUP_SIZES = (
    "topic choices",
    "mixing",
    "repeated pairs",
    "group sizes",
)


@dataclass(frozen=True)
class Proof:
    """What the solver proved about one rule: its optimum, or how far from it the groups may be."""

    rule: str  # TOPIC_CHOICES, MIXING, REPEATED_PAIRS or GROUP_SIZES
    optimal: bool  # every solve of the rule proved its optimum (given the rules before it)
    # At most this fraction from the best possible (0 when optimal); None when the solver stopped
    # on its time limit without a bound that says anything (a bound of 0, or no solution of its own).
    gap: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "optimal": self.optimal, "gap": self.gap}


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
    gap: float | None  # the largest of `proof`'s gaps; None when one of them is None
    status: str  # "OPTIMAL", "FEASIBLE" (some rule not proved) or "GREEDY" (no solver)
    proof: tuple[Proof, ...]  # per rule, in priority order; empty for the greedy

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
            "proof": [proof.as_dict() for proof in self.proof],
        }


@dataclass(frozen=True)
class Formation:
    """The groups, ordered by number, and their quality."""

    groups: tuple[FormedGroup, ...]
    quality: Quality


# -- input -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerClass:
    """Students with the same answers, module and program."""

    prefs: tuple[str, ...]
    kind: Kind
    members: tuple[int, ...]


@dataclass(frozen=True)
class Problem:
    """Validated, normalised input."""

    students: dict[int, Student]
    prefs: dict[int, tuple[str, ...]]  # answered students only
    topics: tuple[str, ...]
    low: int
    high: int
    upper_modules: frozenset[int]
    previous: frozenset[frozenset[int]]  # only pairs of students present
    classes: tuple[AnswerClass, ...]  # students who answered
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


def prepare(
    students: Sequence[Student],
    preferences: Mapping[int, Sequence[str]],
    group_size: tuple[int, int],
    upper_modules: Collection[int],
    previous_pairs: Collection[frozenset[int]],
) -> Problem:
    """Validate and normalise the input; FormationError when no grouping can exist, saying why."""
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
    return Problem(
        students=by_id,
        prefs=prefs,
        topics=tuple(sorted({t for p in prefs.values() for t in p})) or (OPEN_TOPIC,),
        low=low,
        high=high,
        upper_modules=upper,
        previous=frozenset(
            frozenset(pair) for pair in previous_pairs if len(pair) == 2 and all(i in by_id for i in pair)
        ),
        classes=tuple(AnswerClass(key[0], key[1], tuple(ids)) for key, ids in sorted(classes.items())),
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


def pairs_among(problem: Problem, students: Collection[int]) -> list[tuple[int, int]]:
    """The pairs among `students` who already met, sorted (no hash order)."""
    present = set(students)
    return sorted(tuple(sorted(pair)) for pair in problem.previous if pair <= present)


# -- rules and results -------------------------------------------------------------------------------


def flags_of(problem: Problem, seats: Mapping[Kind, int]) -> dict[str, int]:
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


def formation_of(
    problem: Problem,
    groups: Iterable[tuple[str, Sequence[int]]],
    *,
    solve_seconds: float,
    proof: tuple[Proof, ...],
    status: str,
) -> Formation:
    """The groups (topic, members), numbered in topic order, with their quality."""
    ordered = sorted((topic, tuple(sorted(members))) for topic, members in groups)
    formed = tuple(
        FormedGroup(number=i, topic=topic, members=members) for i, (topic, members) in enumerate(ordered, 1)
    )
    return Formation(formed, _quality(problem, formed, solve_seconds, proof, status))


def _largest_gap(proof: Sequence[Proof], status: str) -> float | None:
    gaps = [p.gap for p in proof]
    if status == "GREEDY" or None in gaps:
        return None
    return round(max(gaps, default=0.0), 6)  # type: ignore[type-var]


def _quality(
    problem: Problem,
    groups: Sequence[FormedGroup],
    solve_seconds: float,
    proof: tuple[Proof, ...],
    status: str,
) -> Quality:
    topic_of = {s: g.topic for g in groups for s in g.members}
    answered = len(problem.prefs)
    first = sum(1 for s, p in problem.prefs.items() if topic_of[s] == p[0])
    top2 = sum(1 for s, p in problem.prefs.items() if topic_of[s] in p[:2])
    flags = [flags_of(problem, Counter(problem.kind_of(s) for s in g.members)) for g in groups]
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
        optimal=status == "OPTIMAL",
        gap=_largest_gap(proof, status),
        status=status,
        proof=proof,
    )
